"""The floor plane in the camera frame: from the body's feet, refined from depth where there is one.

A plane is a (4,) tensor (n, d) with n the unit normal pointing up (roughly -y in the OpenCV camera
frame, whose y points down) and d the offset: a camera-frame point x lies n . x + d metres above
the floor, so the floor is n . x + d = 0. The body's feet give a first plane: its normal is the
world's up as the body's pose shows it (`pose_up`) and it passes through the lowest foot vertex.
Where a depth map covers the floor, the pixels near that plane, outside the person and the
object, are back-projected and a plane is fitted to them robustly; the feet's plane is kept when
too few pixels agree or the fitted plane tilts too far from it (a wall, a table top).
"""

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from reconstruction.rotations import kabsch

DEPTH_BAND_M = 0.3
"""Metres: depth points farther than this from the feet's plane are not floor candidates."""
INLIER_M = 0.03
"""Metres: a depth point within this of the fitted plane counts as on the floor."""
MIN_INLIERS = 50
"""Depth points on the fitted plane needed to trust it over the feet."""
MAX_TILT_DEG = 30.0
"""Degrees: a fitted plane tilting more than this from the feet's plane is not the floor."""


@dataclass
class FloorEstimate:
    """A floor plane and where it came from.

    Attributes:
        plane: (4,) (n, d): unit normal pointing up and offset, camera frame, metres; a point x is
            n . x + d metres above the floor.
        source: "feet", "depth", or "lying" for a lying body: its feet are not on the floor,
            which is then normal to the body's world up at an unknown height (offset NaN: only
            the tilt can be judged).
        inliers: depth points on the plane (0 for "feet").
    """

    plane: Tensor
    source: str
    inliers: int = 0


CAMERA_UP = (0.0, -1.0, 0.0)
"""The world's up in the camera frame of a level photo (y points down)."""
MAX_BODY_TILT_DEG = 45.0
"""A body whose root axis is further than this from the world's up lies (`lies`)."""
LOWEST_QUANTILE = 0.05
"""For a lying body, the floor is sought from a plane normal to the world's up through this
quantile of the depth points' heights (the floor is the lowest wide surface in view)."""


def body_up(global_orient: Tensor) -> Tensor:
    """The body's up axis in the camera frame.

    Body models are y-up in their own frame (`reconstruction.body_models.base`), so the up axis
    is the second column of the global orientation.

    Args:
        global_orient: (3, 3) rotation matrix, body frame to camera frame.

    Returns:
        (3,) unit vector.
    """
    return global_orient[:, 1] / global_orient[:, 1].norm()


def pose_up(vertices: Tensor, poses: Tensor) -> Tensor | None:
    """The world's up as a fitted body shows it: that of the canonical pose nearest to it.

    A body fitted to keypoints shares a lean between its root and its spine and legs, so its
    root's axis (`body_up`) can be off the vertical while the body as a whole is not (the initial
    bodies of the photo protocol's 18 scenes, seed 0: 6.8 degrees median against 5.3 for this);
    and a lying body's root axis is no vertical at all (87 and 91 degrees off, against 5 and 9).
    Each canonical pose is rigidly aligned to the body (`reconstruction.rotations.kabsch`); the
    world's up is the y axis of the one left nearest, turned by its alignment. Only alignments
    whose up lies within `MAX_BODY_TILT_DEG` of the camera's up count: a standing pose laid
    down matches a lying body about as well as the lying pose does, and photos are taken about
    level.

    Args:
        vertices: (V, 3) body vertices, camera frame.
        poses: (N, V, 3) canonical poses of the same body model, y up
            (`reconstruction.interaction_library.pose_library`).

    Returns:
        (3,) unit vector, camera frame; None when no alignment's up is near the camera's (a
        photo taken from far above or below).
    """
    poses = poses.to(vertices)
    source = poses - poses.mean(1, keepdim=True)
    target = (vertices - vertices.mean(0)).expand_as(source)
    rotations = kabsch(source, target, vertices.new_ones(vertices.shape[0]))
    residual = ((source @ rotations.transpose(1, 2) - target) ** 2).sum(-1).mean(-1)
    ups = rotations[:, :, 1]  # (N, 3)
    level = ups @ ups.new_tensor(CAMERA_UP) >= math.cos(math.radians(MAX_BODY_TILT_DEG))
    if not level.any():
        return None
    return ups[int(torch.where(level, residual, math.inf).argmin())]


def lies(axis: Tensor, up: Tensor) -> bool:
    """Whether a body lies: its root's axis (`body_up`) over `MAX_BODY_TILT_DEG` from `up`."""
    cosine = float(axis @ up) / float(axis.norm() * up.norm())
    return cosine < math.cos(math.radians(MAX_BODY_TILT_DEG))


def floor_from_feet(vertices: Tensor, up: Tensor, feet: Tensor | None = None) -> Tensor:
    """The plane under the body's lowest foot vertex, normal to the body's up axis.

    Args:
        vertices: (V, 3) body vertices, camera frame, metres.
        up: (3,) the body's up axis, camera frame (`body_up`); need not be unit.
        feet: (N,) long indices of the foot vertices; None or empty uses every vertex (a body
            model without a feet part).

    Returns:
        (4,) plane (n, d) with n = up / |up| and the lowest foot vertex at height 0.
    """
    normal = up / up.norm()
    points = vertices if feet is None or feet.numel() == 0 else vertices[feet]
    return torch.cat((normal, -(points @ normal).min()[None]))


def back_project(depth: Tensor, K: Tensor) -> Tensor:
    """Camera-frame points of every pixel, pixel centres at integer coordinates.

    Args:
        depth: (H, W) metres along z.
        K: (3, 3) intrinsics.

    Returns:
        (H, W, 3) points, metres.
    """
    height, width = depth.shape
    v, u = torch.meshgrid(
        torch.arange(height, dtype=depth.dtype, device=depth.device),
        torch.arange(width, dtype=depth.dtype, device=depth.device),
        indexing="ij",
    )
    x = (u - K[0, 2]) / K[0, 0] * depth
    y = (v - K[1, 2]) / K[1, 1] * depth
    return torch.stack((x, y, depth), dim=-1)


def fit_plane(points: Tensor, seed: Tensor, band: float, tolerance: float, steps: int = 8):
    """Robust plane through points, by iteratively reweighted least squares from a seed plane.

    Tukey's biweight on the distances to the current plane, its cut-off shrinking geometrically
    from `band` to `tolerance`: points of a wall or a box within the band lose their weight as the
    plane settles on the dominant surface.

    Args:
        points: (N, 3) metres.
        seed: (4,) starting plane (n, d), n unit.
        band: first cut-off, metres.
        tolerance: last cut-off, metres.
        steps: reweighting steps.

    Returns:
        (4,) plane (n, d), n unit and on the seed normal's side, or None when no point has
        weight.
    """
    points = points.double()
    plane = seed.double()
    for step in range(steps + 1):
        cutoff = band * (tolerance / band) ** (step / steps)
        distance = points @ plane[:3] + plane[3]
        weight = (1 - (distance / cutoff) ** 2).clamp_min(0) ** 2  # (N,)
        if float(weight.sum()) <= 0:
            return None
        weight = weight / weight.sum()
        centre = (weight[:, None] * points).sum(0)
        centred = points - centre
        covariance = (weight[:, None] * centred).T @ centred
        normal = torch.linalg.eigh(covariance).eigenvectors[:, 0]  # smallest eigenvalue
        normal = normal if float(normal @ seed[:3].double()) >= 0 else -normal
        plane = torch.cat((normal, -(normal @ centre)[None]))
    return plane.to(seed.dtype)


def _floor_candidates(depth: Tensor, K: Tensor, exclude: Tensor | None) -> Tensor:
    """(N, 3) camera-frame points of the depth map outside `exclude`."""
    valid = depth > 0
    if exclude is not None:
        valid &= ~exclude
    return back_project(depth, K.to(depth))[valid]


def estimate_floor(
    vertices: Tensor,
    up: Tensor,
    feet: Tensor | None = None,
    depth: Tensor | None = None,
    K: Tensor | None = None,
    exclude: Tensor | None = None,
    band: float = DEPTH_BAND_M,
    inlier: float = INLIER_M,
    min_inliers: int = MIN_INLIERS,
    max_tilt_deg: float = MAX_TILT_DEG,
    lying: bool = False,
) -> FloorEstimate:
    """The floor under a body: its feet's plane, refined from depth where the depth shows it.

    Args:
        vertices: (V, 3) body vertices, camera frame, metres.
        up: (3,) the world's up as the body shows it (`pose_up`), or the body's own axis
            (`body_up`).
        feet: (N,) long foot vertex indices (`BodyModel.parts["feet"]`), or None.
        depth: (H, W) metric depth, 0 where unknown, or None.
        K: (3, 3) intrinsics of `depth`; needed with it.
        exclude: (H, W) bool pixels that are not floor (the person's and the object's masks), or
            None.
        band: metres around the seed plane (the feet's) where depth points are floor
            candidates.
        inlier: metres from the fitted plane within which a point is on it.
        min_inliers: inliers needed to prefer the depth's plane.
        max_tilt_deg: largest angle between the depth's and the seed's normals, degrees.
        lying: the body lies (`lies`): its feet are not on the floor.

    Returns:
        The depth's plane when at least `min_inliers` depth points lie on it and it tilts at most
        `max_tilt_deg` from the feet's plane; else the feet's. For a lying body, the seed is a
        plane normal to `up` through the `LOWEST_QUANTILE` of the depth points' heights, and the
        fallback a floor normal to `up` of unknown height.
    """
    if lying:
        # A lying body's feet are not on the floor: start from a plane under the lowest depth
        # points instead, when the depth shows them.
        normal = up / up.norm()
        unknown = FloorEstimate(torch.cat((normal, normal.new_tensor([math.nan]))), "lying")
        if depth is None or K is None:
            return unknown
        points = _floor_candidates(depth, K, exclude)
        if len(points) < min_inliers:
            return unknown
        lowest = torch.quantile(points @ normal.to(points), LOWEST_QUANTILE)
        seed, fallback = torch.cat((normal.to(points), -lowest[None])), unknown
    else:
        seed = floor_from_feet(vertices, up, feet)
        fallback = FloorEstimate(seed, "feet")
        if depth is None or K is None:
            return fallback
        points = _floor_candidates(depth, K, exclude)
    seed = seed.to(up)
    height = points @ seed[:3].to(points) + seed[3].to(points)
    points = points[height.abs() < band]
    if len(points) < min_inliers:
        return fallback
    plane = fit_plane(points, seed.to(points), band, inlier)
    if plane is None:
        return fallback
    inliers = int(((points @ plane[:3] + plane[3]).abs() < inlier).sum())
    cos_tilt = float(plane[:3] @ seed[:3].to(plane))
    if inliers < min_inliers or cos_tilt < math.cos(math.radians(max_tilt_deg)):
        return fallback
    return FloorEstimate(plane.to(seed), "depth", inliers)
