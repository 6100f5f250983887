"""What the fitting sees of a synthetic scene: its clean observations, degraded by a noise level.

Three levels, `NOISE_LEVELS`; the numbers are those of the table below. Ground truth is always
the clean scene; only the inputs a perception stage would produce are degraded.

| input | none | low | high |
|---|---|---|---|
| masks: erosion or dilation (each mask, 50/50) by a random radius up to | 0 px | 2 px | 6 px |
| keypoints: Gaussian pixel noise, std | 0 | 2 px | 8 px |
| keypoints: dropped (confidence 0), each with probability | 0 | 0.05 | 0.15 |
| keypoints: confidence of the others, uniform in | 1 | [0.8, 1] | [0.5, 1] |
| depth: per-pixel relative noise, std | 0 | 1 % | 5 % |
| depth: global scale error, uniform within | 0 | +-3 % | +-15 % |
| body init: joint rotations, axis-angle noise per component, std | 0 | 0.05 rad | 0.2 rad |
| body init: global orientation, per component, std | 0 | 2 deg | 10 deg |
| body init: translation, per axis, std | 0 | 3 cm | 15 cm |
| contact: false negatives (each true contact vertex or pair dropped) | 0 | 5 % | 20 % |
| contact: false positives (that fraction of the true contact vertices) | 0 | 5 % | 20 % |

Masks are degraded before the boxes are taken from them. The body's shape and hands are not
perturbed. False-positive contact vertices are drawn among the non-contact vertices within
`FALSE_POSITIVE_RADIUS` of a true one, the way an estimate bleeds over the edge of a contact
area, rather than anywhere on the mesh.

`monocular_depth` degrades depth the way a monocular estimator errs instead (the photo protocol,
see `scenes`): the constants `MONO_*` below, in this order:

| step | amount |
|---|---|
| edges: blurred across person/object/background boundaries, Gaussian std | 1 % of longer side |
| global scale: depth multiplied by a factor log-uniform within | 1/1.25 .. 1.25 |
| global shift: then offset by, uniform within | +-0.2 m |
| holes: zero in smooth random blobs (std 4 % of shorter side) covering | 10 % of support |

The background (no mesh, depth 0) is taken as a wall `MONO_WALL_M` behind the farthest surface
for the blur, so edges bleed towards the far background as an estimator's do; pixels without a
mesh stay 0 (unknown).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch
from scipy import ndimage
from scipy.spatial import cKDTree

from reconstruction.body_models import BodyParams
from reconstruction.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from reconstruction.sample_io import ContactPairs

FALSE_POSITIVE_RADIUS = 0.05
"""Metres: how far from true contact false-positive contact vertices may lie."""

MONO_BLUR = 0.01
"""Std of the edge blur of monocular depth, as a fraction of the longer image side."""
MONO_SCALE = 1.25
"""Largest factor (or its inverse) of monocular depth's global scale error."""
MONO_SHIFT_M = 0.2
"""Largest global shift of monocular depth, metres."""
MONO_HOLES = 0.1
"""Fraction of the depth's support that monocular depth leaves as holes (zeros)."""
MONO_HOLE_SIZE = 0.04
"""Smoothing std of the hole pattern, as a fraction of the shorter image side (blob size)."""
MONO_WALL_M = 1.0
"""How far behind the farthest surface the background is taken to be for the edge blur."""


@dataclass(frozen=True)
class NoiseLevel:
    """Degradation of the inputs; see the module docstring for the meaning of each number.

    Attributes:
        name: "none", "low" or "high".
        mask_px: largest erosion or dilation radius, pixels.
        keypoint_px: keypoint noise std, pixels.
        keypoint_drop: probability that a keypoint is dropped.
        keypoint_confidence: (low, high) confidence of the kept keypoints.
        depth_relative: per-pixel relative depth noise std.
        depth_scale: largest relative global depth scale error.
        pose_rad: joint rotation noise std per axis-angle component, radians.
        orient_deg: global orientation noise std per component, degrees.
        transl_m: translation noise std per axis, metres.
        contact_error: fraction of contact false negatives and of false positives.
    """

    name: str
    mask_px: int
    keypoint_px: float
    keypoint_drop: float
    keypoint_confidence: tuple[float, float]
    depth_relative: float
    depth_scale: float
    pose_rad: float
    orient_deg: float
    transl_m: float
    contact_error: float


NOISE_LEVELS = {
    level.name: level
    for level in (
        NoiseLevel("none", 0, 0.0, 0.0, (1.0, 1.0), 0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
        NoiseLevel("low", 2, 2.0, 0.05, (0.8, 1.0), 0.01, 0.03, 0.05, 2.0, 0.03, 0.05),
        NoiseLevel("high", 6, 8.0, 0.15, (0.5, 1.0), 0.05, 0.15, 0.2, 10.0, 0.15, 0.2),
    )
}


def noisy_mask(mask: np.ndarray, level: NoiseLevel, rng: np.random.Generator) -> np.ndarray:
    """(H, W) bool mask eroded or dilated by a random radius in [0, level.mask_px]."""
    radius = int(rng.integers(0, level.mask_px + 1))
    dilate = bool(rng.integers(2))
    if radius == 0:
        return mask.copy()
    y, x = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    disk = x**2 + y**2 <= radius**2
    operation = ndimage.binary_dilation if dilate else ndimage.binary_erosion
    return operation(mask, structure=disk)


def noisy_keypoints(
    keypoints: np.ndarray, level: NoiseLevel, rng: np.random.Generator
) -> np.ndarray:
    """Noisy COCO-17 keypoints (17, 3) (u, v, confidence) from clean ones.

    Keypoints with confidence 0 (outside the image) stay at 0; dropped ones get confidence 0.
    """
    out = keypoints.astype(np.float64).copy()
    out[:, :2] += rng.normal(0.0, level.keypoint_px, (len(out), 2))
    visible = out[:, 2] > 0
    dropped = rng.random(len(out)) < level.keypoint_drop
    confidence = rng.uniform(*level.keypoint_confidence, len(out))
    out[:, 2] = np.where(visible & ~dropped, confidence, 0.0)
    return out.astype(np.float32)


def noisy_depth(depth: np.ndarray, level: NoiseLevel, rng: np.random.Generator) -> np.ndarray:
    """(H, W) float32 depth with a global scale error and per-pixel noise; 0 stays 0."""
    scale = 1.0 + rng.uniform(-level.depth_scale, level.depth_scale)
    noise = 1.0 + rng.normal(0.0, level.depth_relative, depth.shape)
    return np.where(depth > 0, depth * scale * np.clip(noise, 0.5, 1.5), 0.0).astype(np.float32)


def monocular_depth(depth: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Depth as a monocular estimator gives it: blurred edges, scale and shift, holes.

    Args:
        depth: (H, W) clean depth, metres, 0 where no mesh is seen.
        rng: random generator.

    Returns:
        (H, W) float32 metres; 0 where `depth` is 0 and in the holes (see the module docstring).
    """
    support = depth > 0
    if not support.any():
        return np.zeros_like(depth, dtype=np.float32)
    filled = np.where(support, depth, depth.max() + MONO_WALL_M)
    blurred = ndimage.gaussian_filter(filled.astype(np.float64), MONO_BLUR * max(depth.shape))
    scale = np.exp(rng.uniform(-np.log(MONO_SCALE), np.log(MONO_SCALE)))
    estimate = blurred * scale + rng.uniform(-MONO_SHIFT_M, MONO_SHIFT_M)
    pattern = ndimage.gaussian_filter(
        rng.normal(size=depth.shape), MONO_HOLE_SIZE * min(depth.shape)
    )
    holes = pattern > np.quantile(pattern[support], 1 - MONO_HOLES)
    # A negative shift must not turn near pixels into "unknown" (0) or behind the camera.
    estimate = np.maximum(estimate, 0.05)
    return np.where(support & ~holes, estimate, 0.0).astype(np.float32)


def noisy_body_params(
    params: BodyParams, level: NoiseLevel, rng: np.random.Generator
) -> BodyParams:
    """Batch-1 body parameters with noisy joint rotations, global orientation and translation.

    Each rotation is composed with a random rotation whose axis-angle components have the
    level's std; the translation gets Gaussian noise per axis. Level "none" returns `params`.
    """
    if level.pose_rad == level.orient_deg == level.transl_m == 0:
        return params
    p = params.to_axis_angle()

    def perturb(rotations: torch.Tensor, std: float) -> torch.Tensor:
        noise = torch.as_tensor(rng.normal(0.0, std, tuple(rotations.shape)), dtype=torch.float64)
        matrices = axis_angle_to_matrix(noise) @ axis_angle_to_matrix(rotations.double())
        return matrix_to_axis_angle(matrices).to(rotations)

    transl_noise = torch.as_tensor(rng.normal(0.0, level.transl_m, 3), dtype=p.transl.dtype)
    return dataclasses.replace(
        p,
        global_orient=perturb(p.global_orient, np.radians(level.orient_deg)),
        body_pose=perturb(p.body_pose, level.pose_rad),
        transl=p.transl + transl_noise.to(p.transl.device),
    )


def noisy_contact(
    contact: np.ndarray, positions: np.ndarray, level: NoiseLevel, rng: np.random.Generator
) -> np.ndarray:
    """Per-vertex contact (V,) in {0, 1} with false negatives and nearby false positives.

    Args:
        contact: (V,) clean contact in {0, 1}.
        positions: (V, 3) the vertices, to find those near true contact.
        level: the noise level.
        rng: random generator.

    Returns:
        (V,) float32 in {0, 1}.
    """
    truth = contact > 0.5
    out = truth & (rng.random(len(truth)) >= level.contact_error)
    count = int(round(level.contact_error * truth.sum()))
    if count and truth.any():
        tree = cKDTree(positions[truth])
        distance = tree.query(positions[~truth], distance_upper_bound=FALSE_POSITIVE_RADIUS)[0]
        candidates = np.flatnonzero(~truth)[np.isfinite(distance)]
        chosen = rng.choice(candidates, min(count, len(candidates)), replace=False)
        out[chosen] = True
    return out.astype(np.float32)


def noisy_pairs(pairs: ContactPairs, level: NoiseLevel, rng: np.random.Generator) -> ContactPairs:
    """The pairs, each dropped with probability `level.contact_error`."""
    keep = rng.random(len(pairs)) >= level.contact_error
    return ContactPairs(
        body_vertex=pairs.body_vertex[keep],
        object_face=pairs.object_face[keep],
        object_bary=pairs.object_bary[keep],
        part=[p for p, k in zip(pairs.part, keep, strict=True) if k],
        body_topology=pairs.body_topology,
    )
