"""Silhouette losses: soft IoU with a mask, occlusion-aware validity, and mask centroids."""

import torch
from torch import Tensor

EMPTY_AREA = 1e-6
"""Pixels. A soft silhouette or mask whose total coverage is at most this counts as empty."""


def silhouette_iou_loss(soft: Tensor, target_mask: Tensor, valid: Tensor | None = None) -> Tensor:
    """One minus the soft intersection-over-union of a rendered silhouette and a mask.

    Soft IoU = sum(s t) / sum(s + t - s t) over the valid pixels, which is the IoU for binary
    inputs and differentiable in s.

    Args:
        soft: (B, H, W) rendered soft silhouettes in [0, 1].
        target_mask: (H, W) or (B, H, W) bool or float in [0, 1], the observed mask.
        valid: (H, W) or (B, H, W) bool, the pixels that count (see `occlusion_valid_mask`);
            None for all.

    Returns:
        (B,) in [0, 1], unitless. 0 when both the render and the mask are empty over the valid
        pixels; 1 (with a zero gradient) when only one of them is.
    """
    target = target_mask.to(soft)
    if valid is not None:
        target = target * valid.to(soft)
        soft = soft * valid.to(soft)
    intersection = (soft * target).sum((-2, -1))
    union = (soft + target - soft * target).sum((-2, -1))
    nonempty = union > 0
    return torch.where(nonempty, 1 - intersection / torch.where(nonempty, union, 1), 0)


def occlusion_valid_mask(own_mask: Tensor, other_mask: Tensor) -> Tensor:
    """The pixels where a mesh's silhouette can be compared with its own mask.

    Where the other instance's mask covers a pixel that this instance's mask does not, this
    instance may be hidden behind the other, so its silhouette there is neither right nor
    wrong: the pixel is ignored. Use `occlusion_valid_mask(object_mask, person_mask)` for the
    object and `occlusion_valid_mask(person_mask, object_mask)` for the body.

    Args:
        own_mask: (..., H, W) bool, the mask of the instance being compared.
        other_mask: (..., H, W) bool, the mask of the instance that may occlude it.

    Returns:
        (..., H, W) bool, False exactly where other_mask and not own_mask.
    """
    return ~(other_mask.bool() & ~own_mask.bool())


def mask_centroid(weights: Tensor) -> tuple[Tensor, Tensor]:
    """(..., 2) weighted mean pixel (x, y) of (..., H, W) weights, and whether it is defined."""
    height, width = weights.shape[-2:]
    ys = torch.arange(height, device=weights.device, dtype=weights.dtype)
    xs = torch.arange(width, device=weights.device, dtype=weights.dtype)
    total = weights.sum((-2, -1))
    defined = total > EMPTY_AREA
    safe_total = torch.where(defined, total, 1)
    x = (weights.sum(-2) * xs).sum(-1) / safe_total
    y = (weights.sum(-1) * ys).sum(-1) / safe_total
    return torch.stack((x, y), dim=-1), defined


def mask_centroid_loss(soft: Tensor, mask: Tensor) -> Tensor:
    """Squared distance between the centroids of a soft silhouette and a mask.

    Pulls a rendered object towards its mask even where the two do not overlap yet, where the
    IoU has no gradient.

    Args:
        soft: (B, H, W) rendered soft silhouettes in [0, 1].
        mask: (H, W) or (B, H, W) bool or float, the observed mask.

    Returns:
        (B,) squared centroid distance divided by the squared image diagonal, unitless (a
        1-pixel offset in a 300 x 400 image is 1 / 500^2). 0 when either is empty.
    """
    height, width = soft.shape[-2:]
    rendered, rendered_defined = mask_centroid(soft)
    target, target_defined = mask_centroid(mask.to(soft))
    squared = ((rendered - target) ** 2).sum(-1) / (height**2 + width**2)
    return torch.where(rendered_defined & target_defined, squared, 0)
