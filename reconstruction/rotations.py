"""Rotations: axis-angle, 3x3 matrices, the continuous 6D representation, and point alignment.

The 6D representation (Zhou et al., CVPR 2019) is the first two columns of the rotation matrix;
it is what the optimizer updates, because it has no singularities. Stored rotations are
axis-angle or matrices. The best rotation between two point sets is `kabsch`.
"""

import torch
from torch import Tensor


def rotation_6d_to_matrix(d6: Tensor) -> Tensor:
    """Map 6D rotations to rotation matrices by Gram-Schmidt.

    Args:
        d6: (..., 6), the two first columns of a rotation matrix, concatenated.

    Returns:
        (..., 3, 3) rotation matrices.
    """
    a1, a2 = d6[..., :3], d6[..., 3:]
    b1 = torch.nn.functional.normalize(a1, dim=-1)
    b2 = torch.nn.functional.normalize(a2 - (b1 * a2).sum(-1, keepdim=True) * b1, dim=-1)
    b3 = torch.cross(b1, b2, dim=-1)
    return torch.stack((b1, b2, b3), dim=-1)


def matrix_to_rotation_6d(matrix: Tensor) -> Tensor:
    """Inverse of `rotation_6d_to_matrix`: (..., 3, 3) -> (..., 6)."""
    return torch.cat((matrix[..., :, 0], matrix[..., :, 1]), dim=-1)


def axis_angle_to_matrix(axis_angle: Tensor) -> Tensor:
    """Rodrigues' formula, with a Taylor expansion near zero so gradients stay finite.

    Args:
        axis_angle: (..., 3), rotation axis times angle in radians.

    Returns:
        (..., 3, 3) rotation matrices.
    """
    angle2 = (axis_angle * axis_angle).sum(-1, keepdim=True)[..., None]  # (..., 1, 1)
    small = angle2 < 1e-8
    safe2 = torch.where(small, torch.ones_like(angle2), angle2)
    angle = safe2.sqrt()
    # sin(t)/t and (1-cos(t))/t^2, exact away from zero and by series near it.
    a = torch.where(small, 1 - angle2 / 6, torch.sin(angle) / angle)
    b = torch.where(small, 0.5 - angle2 / 24, (1 - torch.cos(angle)) / safe2)
    x, y, z = axis_angle.unbind(-1)
    zero = torch.zeros_like(x)
    skew = torch.stack((zero, -z, y, z, zero, -x, -y, x, zero), dim=-1).reshape(
        axis_angle.shape[:-1] + (3, 3)
    )
    eye = torch.eye(3, dtype=axis_angle.dtype, device=axis_angle.device)
    return eye + a * skew + b * (skew @ skew)


def matrix_to_axis_angle(matrix: Tensor) -> Tensor:
    """Rotation matrices (..., 3, 3) to axis-angle (..., 3), angles in [0, pi].

    Goes through quaternions, which is stable at every angle including 0 and pi.
    """
    return quaternion_to_axis_angle(matrix_to_quaternion(matrix))


def matrix_to_quaternion(matrix: Tensor) -> Tensor:
    """Rotation matrices (..., 3, 3) to unit quaternions (..., 4), real part first, w >= 0."""
    m = matrix
    trace = m[..., 0, 0] + m[..., 1, 1] + m[..., 2, 2]
    # Four candidate formulas; each is well conditioned where its pivot is largest.
    pivots = torch.stack(
        (
            1 + trace,
            1 + m[..., 0, 0] - m[..., 1, 1] - m[..., 2, 2],
            1 - m[..., 0, 0] + m[..., 1, 1] - m[..., 2, 2],
            1 - m[..., 0, 0] - m[..., 1, 1] + m[..., 2, 2],
        ),
        dim=-1,
    )
    candidates = torch.stack(
        (
            torch.stack(
                (
                    pivots[..., 0],
                    m[..., 2, 1] - m[..., 1, 2],
                    m[..., 0, 2] - m[..., 2, 0],
                    m[..., 1, 0] - m[..., 0, 1],
                ),
                -1,
            ),
            torch.stack(
                (
                    m[..., 2, 1] - m[..., 1, 2],
                    pivots[..., 1],
                    m[..., 1, 0] + m[..., 0, 1],
                    m[..., 0, 2] + m[..., 2, 0],
                ),
                -1,
            ),
            torch.stack(
                (
                    m[..., 0, 2] - m[..., 2, 0],
                    m[..., 1, 0] + m[..., 0, 1],
                    pivots[..., 2],
                    m[..., 2, 1] + m[..., 1, 2],
                ),
                -1,
            ),
            torch.stack(
                (
                    m[..., 1, 0] - m[..., 0, 1],
                    m[..., 0, 2] + m[..., 2, 0],
                    m[..., 2, 1] + m[..., 1, 2],
                    pivots[..., 3],
                ),
                -1,
            ),
        ),
        dim=-2,
    )  # (..., 4 candidates, 4)
    best = pivots.argmax(-1)
    q = torch.gather(candidates, -2, best[..., None, None].expand(best.shape + (1, 4)))[..., 0, :]
    q = q / (2 * pivots.gather(-1, best[..., None]).clamp_min(1e-12).sqrt())
    q = torch.nn.functional.normalize(q, dim=-1)
    return torch.where(q[..., :1] < 0, -q, q)


def quaternion_to_axis_angle(quaternion: Tensor) -> Tensor:
    """Unit quaternions (..., 4), real part first, to axis-angle (..., 3)."""
    w, xyz = quaternion[..., :1], quaternion[..., 1:]
    sin_half = xyz.norm(dim=-1, keepdim=True)
    angle = 2 * torch.atan2(sin_half, w)
    small = sin_half < 1e-6
    # angle / sin(angle/2) -> 2 as the angle goes to zero.
    scale = torch.where(small, 2 / w.clamp_min(1e-12), angle / sin_half.clamp_min(1e-12))
    return xyz * scale


def kabsch(source: Tensor, target: Tensor, weights: Tensor) -> Tensor:
    """Best rotations taking centred `source` onto centred `target` (batched, no reflection).

    Args:
        source: (K, P, 3) centred points.
        target: (K, P, 3) centred points.
        weights: (P,) non-negative.

    Returns:
        (K, 3, 3) rotations R minimizing sum_p w_p |R s_p - t_p|^2.
    """
    cov = (target * weights[None, :, None]).transpose(1, 2) @ source  # (K, 3, 3)
    u, _, vh = torch.linalg.svd(cov)
    sign = torch.sign(torch.linalg.det(u @ vh))
    fix = torch.ones_like(cov[:, 0])
    fix[:, 2] = torch.where(sign == 0, torch.ones_like(sign), sign)
    return u @ torch.diag_embed(fix) @ vh
