"""Priors on the body pose, the body shape and the object's scale."""

import math

import torch
from torch import Tensor

from optim.losses.robust import safe_norm
from optim.size_priors import typical_height, typical_size
from reconstruction.rotations import axis_angle_to_matrix

DEFAULT_ANGLE_LIMIT = math.pi / 2
"""Radians: by default a joint may rotate this far from the rest pose before it is penalized."""


def _matrices(pose: Tensor) -> Tensor:
    """(B, J, 3, 3) matrices from (B, J, 3) axis-angle (radians) or (B, J, 3, 3) matrices."""
    if pose.ndim == 3 and pose.shape[-1] == 3:
        return axis_angle_to_matrix(pose)
    if pose.ndim == 4 and pose.shape[-2:] == (3, 3):
        return pose
    raise ValueError(
        "expected a body pose (B, J, 3) axis-angle or (B, J, 3, 3) matrices, "
        f"got {tuple(pose.shape)}"
    )


def rotation_angle(rotation: Tensor) -> Tensor:
    """Angle in [0, pi] of rotation matrices, differentiable everywhere (zero gradient at 0, pi).

    atan2(sin, cos) with sin from the skew-symmetric part's (safe) norm: acos of the trace
    would have an infinite derivative at 0 and pi.

    Args:
        rotation: (..., 3, 3) rotation matrices.

    Returns:
        (...) angles, radians.
    """
    skew = rotation - rotation.transpose(-1, -2)
    axis = torch.stack((skew[..., 2, 1], skew[..., 0, 2], skew[..., 1, 0]), dim=-1)  # 2 sin * u
    sin = safe_norm(axis) / 2
    cos = (rotation.diagonal(dim1=-2, dim2=-1).sum(-1) - 1) / 2
    return torch.atan2(sin, cos)


def pose_prior(
    body_pose: Tensor,
    init_pose: Tensor | None = None,
    angle_limit_rad: float | Tensor = DEFAULT_ANGLE_LIMIT,
    weight_init: float = 1.0,
) -> Tensor:
    """Keep the body pose near its initialization and each joint within an angle limit.

    Two terms, summed over joints, in radians^2:
    - weight_init * ||R - R0||_F^2 / 2 = weight_init * 2 (1 - cos theta) with theta the geodesic
      angle between the joint's rotation and its initialization: theta^2 for small angles,
      smooth everywhere (a squared geodesic angle would need an arccos, singular at 0);
    - relu(alpha - limit)^2 with alpha the joint's own rotation angle (relative to its parent,
      away from the rest pose): a generic joint-angle limit, per joint when given as a tensor.

    Args:
        body_pose: (B, J, 3) axis-angle (radians) or (B, J, 3, 3) rotation matrices, the local
            joint rotations (`BodyParams.body_pose`).
        init_pose: the initialization in the same form as body_pose, batched or (J, 3) /
            (J, 3, 3) shared by the batch; None to drop the first term.
        angle_limit_rad: a float or (J,) tensor of angle limits, radians; pi or more disables.
        weight_init: weight of the first term relative to the second.

    Returns:
        (B,) radians^2. 0 at the initialization when no joint exceeds its limit.
    """
    rotation = _matrices(body_pose)  # (B, J, 3, 3)
    angle = rotation_angle(rotation)  # (B, J)
    limit = torch.as_tensor(angle_limit_rad, device=angle.device, dtype=angle.dtype)
    loss = (torch.relu(angle - limit) ** 2).sum(-1)
    if init_pose is not None:
        init = init_pose.to(rotation)
        init = _matrices(init if init.ndim == body_pose.ndim else init[None])
        loss = loss + weight_init * ((rotation - init) ** 2).sum((-3, -2, -1)) / 2
    return loss


def shape_prior(
    betas: Tensor, default: Tensor | None = None, scale: Tensor | float = 1.0
) -> Tensor:
    """Squared, scaled distance of the shape coefficients from a default shape.

    Args:
        betas: (B, S) shape coefficients (SMPL betas, or Anny phenotypes).
        default: (S,) the shape to stay near (`BodyModel.default_betas`); None for zeros.
        scale: (S,) or a float, the spread of each coefficient (1 for SMPL betas, which are in
            standard deviations; about 0.1-0.2 for Anny's [0, 1] phenotypes).

    Returns:
        (B,) sum over coefficients of ((betas - default) / scale)^2, unitless.
    """
    offset = betas if default is None else betas - default.to(betas)
    scale = torch.as_tensor(scale, device=betas.device, dtype=betas.dtype)
    return ((offset / scale) ** 2).sum(-1)


def scale_prior(
    log_scale: Tensor,
    mesh_extent: float,
    category: str | None = None,
    mesh_height: float | None = None,
) -> Tensor:
    """Log-normal prior on the object's real size, from its category (`optim.size_priors`).

    The object's largest extent is s * mesh_extent with s = exp(log_scale); the loss is the
    squared z-score of its log against the category's typical size:
    ((log_scale + log(mesh_extent) - log(size)) / log_std)^2. For a category with a standard
    height (`size_priors.HEIGHTS`: tables, chairs, ...) and a `mesh_height`, the squared z-score
    of its height s * mesh_height is added.

    Args:
        log_scale: (B, 1) or (B,) the object's log scale (`ObjectPose.log_scale`).
        mesh_extent: the mesh's largest bounding-box extent at scale 1, metres.
        category: the object's category, free-form (normalized by `typical_size`); None or an
            unknown name uses `size_priors.DEFAULT_SIZE`.
        mesh_height: the mesh's extent along its up axis (y) at scale 1, metres, or None.

    Returns:
        (B,) unitless, 0 at the typical size (and height).
    """
    size, log_std = typical_size(category)
    log_s = log_scale.reshape(log_scale.shape[0], -1)[:, 0]
    loss = ((log_s + math.log(mesh_extent) - math.log(size)) / log_std) ** 2
    height = typical_height(category)
    if height is not None and mesh_height is not None and mesh_height > 0:
        typical, height_std = height
        loss = loss + ((log_s + math.log(mesh_height) - math.log(typical)) / height_std) ** 2
    return loss
