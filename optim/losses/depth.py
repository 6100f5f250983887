"""Depth losses: rendered depth against a depth map, and the ordinal (front/back) term."""

import torch
import torch.nn.functional as F
from torch import Tensor

from optim.losses.robust import weighted_mean

ROBUST = ("huber", "l1", "l2")

SCALE_SHIFT_EPS = 1e-6
"""Squared units of the rendered depth (1 mm standard deviation): regularizes the least-squares
scale so that a flat rendered depth gives scale 0 (the residual is then the target's spread)
instead of a division by zero."""

ORDINAL_SOFTNESS = 0.01
"""Metres: the width of the soft hinge in `ordinal_depth_loss`."""


def inner_pixels(mask: Tensor) -> Tensor:
    """The mask's pixels one step in from its edge (a 3x3 erosion).

    A monocular depth map blurs its edges into the background, so depth is compared there.

    Args:
        mask: (H, W) bool.

    Returns:
        (H, W) bool.
    """
    return -F.max_pool2d(-mask.float()[None, None], 3, 1, 1)[0, 0] > 0.5


MIN_INNER_PIXELS = 10
"""Inner pixels (`inner_pixels`) a mask needs for depth to be compared there only; a smaller
one (a cup a few pixels wide at the fitting's resolution) is compared over all of it."""


def depth_pixels(mask: Tensor) -> Tensor:
    """The pixels of a mask where a mesh's depth is compared with a depth map.

    Those one step in from its edge (`inner_pixels`), which a monocular map blurs into what lies
    behind them, or all of the mask where fewer than `MIN_INNER_PIXELS` are.

    Args:
        mask: (H, W) bool.

    Returns:
        (H, W) bool.
    """
    inner = inner_pixels(mask)
    return inner if int(inner.sum()) >= MIN_INNER_PIXELS else mask


def _robust(residual: Tensor, robust: str, delta: float) -> Tensor:
    if robust == "huber":
        # The smooth-L1 form: quadratic below delta, |r| - delta / 2 above, units of r.
        absolute = residual.abs()
        return torch.where(absolute < delta, 0.5 * residual**2 / delta, absolute - 0.5 * delta)
    if robust == "l1":
        return residual.abs()
    if robust == "l2":
        return residual**2
    raise ValueError(f"robust must be one of {ROBUST}, got {robust!r}")


def _align(rendered: Tensor, target: Tensor, weights: Tensor) -> Tensor:
    """The render mapped by the weighted least-squares scale and shift onto the target."""
    mean_r = weighted_mean(rendered, weights, dim=-1)[:, None]
    mean_t = weighted_mean(target, weights, dim=-1)[:, None]
    covariance = weighted_mean((rendered - mean_r) * (target - mean_t), weights, dim=-1)
    variance = weighted_mean((rendered - mean_r) ** 2, weights, dim=-1)
    scale = (covariance / (variance + SCALE_SHIFT_EPS))[:, None]
    return scale * (rendered - mean_r) + mean_t


def depth_loss(
    rendered_depth: Tensor,
    rendered_mask: Tensor,
    target_depth: Tensor,
    target_mask: Tensor,
    robust: str = "huber",
    scale_shift: bool = False,
    delta: float = 0.05,
) -> Tensor:
    """Robust difference between rendered depth and a depth map, over the pixels both cover.

    With `scale_shift`, each batch's rendered depth is first mapped by the least-squares scale
    and shift onto the target (closed form over the compared pixels, differentiable): for a
    relative depth map, known only up to an affine transform. The rendered depth is fitted to
    the target and not the reverse, so the residual cannot vanish by flattening the render.

    Args:
        rendered_depth: (B, H, W) camera-frame z in metres (`render_depth`), any value off the
            silhouette.
        rendered_mask: (B, H, W) bool or float weights in [0, 1], where the render is defined.
        target_depth: (H, W) or (B, H, W) observed depth (metres, or relative units with
            scale_shift); 0 (unknown, a depth map's holes), negative and non-finite values are
            ignored.
        target_mask: (H, W) or (B, H, W) bool or float, the pixels of the instance in the image.
        robust: "huber" (smooth L1: 0.5 r^2 / delta below delta, |r| - delta / 2 above, units
            of r), "l1" (|r|) or "l2" (r^2, squared units).
        scale_shift: align the render to the target first.
        delta: Huber threshold, units of the target.

    Returns:
        (B,) mean over the compared pixels (weighted by the two masks) of the robust residual,
        units of the target (squared for "l2"). 0 when no pixel is covered by both.
    """
    if robust not in ROBUST:
        raise ValueError(f"robust must be one of {ROBUST}, got {robust!r}")
    batch = rendered_depth.shape[0]
    target = torch.broadcast_to(target_depth.to(rendered_depth), rendered_depth.shape)
    weights = rendered_mask.to(rendered_depth) * target_mask.to(rendered_depth)
    weights = torch.where(torch.isfinite(target) & (target > 0), weights, 0)
    # Off the compared pixels the values may be anything (inf, NaN): zero them so that
    # 0 * value stays 0 in the sums and their gradients.
    compared = weights > 0
    target = torch.where(compared, target, 0).reshape(batch, -1)
    rendered = torch.where(compared, rendered_depth, 0).reshape(batch, -1)
    weights = weights.reshape(batch, -1)
    if scale_shift:
        rendered = _align(rendered, target, weights)
    return weighted_mean(_robust(rendered - target, robust, delta), weights)


def ordinal_depth_loss(
    depth_body: Tensor,
    mask_body_rendered: Tensor,
    depth_object: Tensor,
    mask_object_rendered: Tensor,
    person_mask: Tensor,
    object_mask: Tensor,
    target_depth: Tensor | None = None,
    softness: float = ORDINAL_SOFTNESS,
) -> Tensor:
    """Depth order of body and object where both renders cover a pixel, as the image shows it.

    At a pixel rendered by both meshes, the image tells which one is in front: the body where
    only the person mask covers it, the object where only the object mask does. Where both
    masks cover it, `target_depth` (if given) decides: the mesh whose rendered depth is nearer
    the observed depth is taken to be in front (a decision without gradient); without it, and
    where neither mask covers the pixel, the pixel is skipped. Each labelled pixel costs
    softness * softplus((z_front - z_back) / softness), a hinge on z_front - z_back rounded
    over `softness` metres: about z_front - z_back when the order is wrong, near 0 once the
    right mesh is in front by a few times `softness`.

    Args:
        depth_body: (B, H, W) rendered body depth, camera-frame z in metres.
        mask_body_rendered: (B, H, W) bool or float, where the body is rendered.
        depth_object: (B, H, W) rendered object depth, metres.
        mask_object_rendered: (B, H, W) bool or float, where the object is rendered.
        person_mask: (H, W) or (B, H, W) bool, the person in the image.
        object_mask: (H, W) or (B, H, W) bool, the object in the image.
        target_depth: (H, W) or (B, H, W) observed depth in metres, or None.
        softness: metres, the rounding of the hinge.

    Returns:
        (B,) metres, the mean over the labelled pixels. 0 when no pixel is labelled.
    """
    both = (mask_body_rendered.to(depth_body) > 0.5) & (mask_object_rendered.to(depth_body) > 0.5)
    person, thing = person_mask.bool(), object_mask.bool()
    body_front = both & person & ~thing
    object_front = both & thing & ~person
    if target_depth is not None:
        observed = target_depth.to(depth_body)
        ambiguous = both & person & thing & torch.isfinite(observed)
        nearer_body = (depth_body - observed).abs() <= (depth_object - observed).abs()
        body_front = body_front | (ambiguous & nearer_body.detach())
        object_front = object_front | (ambiguous & ~nearer_body.detach())
    labelled = body_front | object_front
    gap = torch.where(body_front, depth_body - depth_object, depth_object - depth_body)
    gap = torch.where(labelled, gap, 0)  # off the labelled pixels depths may be anything
    cost = softness * F.softplus(gap / softness)
    batch = depth_body.shape[0]
    return weighted_mean(cost.reshape(batch, -1), labelled.reshape(batch, -1))
