"""2D keypoint reprojection loss."""

import torch
from torch import Tensor

from optim.losses.robust import geman_mcclure, weighted_mean

KEYPOINT_SIGMA_PX = 100.0
"""Default Geman-McClure scale in pixels: residuals beyond it pull with a fading force."""

MIN_KEYPOINT_CONFIDENCE = 0.1
"""Default threshold: keypoints detected with a lower confidence are ignored."""


def keypoint_loss(
    projected: Tensor,
    target: Tensor,
    sigma: float = KEYPOINT_SIGMA_PX,
    min_conf: float = MIN_KEYPOINT_CONFIDENCE,
    image_diag: float | None = None,
) -> Tensor:
    """Confidence-weighted robust reprojection error of 2D keypoints (e.g. COCO-17).

    Args:
        projected: (B, K, 2) model keypoints projected to pixels (u, v) (`project_points`).
        target: (K, 3) or (B, K, 3) detections (u, v, confidence), pixels; the confidence is in
            [0, 1], and a keypoint below `min_conf` is ignored.
        sigma: Geman-McClure scale in pixels.
        min_conf: confidence threshold.
        image_diag: if given, the result is divided by image_diag^2, so that it is unitless and
            the same for an image at any resolution (sigma stays in pixels).

    Returns:
        (B,) the confidence-weighted mean of sigma^2 r^2 / (r^2 + sigma^2) over keypoints, r the
        pixel distance: px^2 (unitless with image_diag). 0 when no keypoint passes the
        threshold.
    """
    target = torch.broadcast_to(target.to(projected), projected.shape[:-1] + (3,))
    confidence = target[..., 2]
    weights = torch.where(confidence >= min_conf, confidence, 0)
    residual = torch.where(weights[..., None] > 0, projected - target[..., :2], 0)
    loss = weighted_mean(geman_mcclure((residual**2).sum(-1), sigma), weights)
    return loss if image_diag is None else loss / image_diag**2
