"""Interpenetration between the body and the object, measured as depth in metres, both ways.

Body in object: the object's signed-distance grid (`reconstruction.sdf`) evaluated at the body
vertices. Object in body: the body moves at every step, so no grid is precomputed for it; each
object point finds its closest point on the body surface (`closest_points_on_mesh`), and is
inside when it lies behind the surface there, i.e. against the body's normal interpolated at
that point from the vertex normals. Its depth is its distance to that closest point: exact, and
differentiable with respect to the object point and the body vertices of the closest face. (The
distance to the tangent plane of the nearest vertex alone is cheaper but calls points just
below a rounded edge, such as the rim of a foot's sole, inside.)

The penalties are sums over points of the penetration depth (not squared): every penetrating
point is pushed out with a unit-size gradient until it is exactly on the surface, so shallow
penetration does not linger the way it does under a squared penalty, and a deeper or larger
overlap costs more than a shallow or small one. Summing (rather than averaging over all points)
keeps the loss independent of how many points lie far from the contact; it does scale with the
sampling density, about (points per m^2 of surface) x (penetrated volume). The fit weighs each
body vertex by its share of the body's surface, at most an average vertex's
(`vertex_area_weights`), so that a densely tessellated part (Anny's hands) counts by its size,
not its vertex count.
"""

import torch
from torch import Tensor

from optim.losses.closest_point import FixedMesh, closest_points_on_mesh
from optim.losses.robust import safe_norm
from reconstruction.object_model import ObjectPose
from reconstruction.rasterizer import vertex_normals
from reconstruction.sdf import SDFGrid, query_sdf

MAX_INSIDE_DISTANCE = 0.2
"""Metres. An object point counts as inside the body only if the body surface is closer than
this: a point much farther from the surface that lies against a normal is behind a limb or the
back, not in it. 0.2 m exceeds the half-thickness of any body part."""

REDUCTIONS = ("sum", "mean")


def _reduce(depth: Tensor, reduction: str) -> Tensor:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    if depth.shape[1] == 0:
        return depth.sum(1)
    return depth.sum(1) if reduction == "sum" else depth.mean(1)


def body_in_object_depth(
    body_vertices: Tensor, sdf_grid: SDFGrid, object_pose: ObjectPose
) -> Tensor:
    """How deep each body vertex lies inside the object.

    Args:
        body_vertices: (B, V, 3) camera-frame vertices, metres.
        sdf_grid: the object's signed-distance grid (object frame).
        object_pose: B object poses.

    Returns:
        (B, V) depth in metres, >= 0, 0 outside the object. Differentiable with respect to the
        vertices and the pose; its accuracy is that of the grid (trilinear interpolation, exact
        where the distance field is linear within a voxel, e.g. near a flat face).
    """
    return torch.relu(-query_sdf(sdf_grid, body_vertices, object_pose))


def penetration_body_in_object(
    body_vertices: Tensor,
    sdf_grid: SDFGrid,
    object_pose: ObjectPose,
    reduction: str = "sum",
    weights: Tensor | None = None,
) -> Tensor:
    """Penetration of the body into the object: total depth of the body vertices inside it.

    Args:
        body_vertices: (B, V, 3) camera-frame vertices, metres.
        sdf_grid: the object's signed-distance grid (object frame).
        object_pose: B object poses.
        reduction: "sum" over vertices (see the module docstring) or "mean" over all vertices.
        weights: (V,) per-vertex weights (`vertex_area_weights`), or None for 1 each.

    Returns:
        (B,) metres: the sum (or mean) over vertices of `body_in_object_depth`, each times its
        weight. 0 without penetration, with a zero gradient.
    """
    depth = body_in_object_depth(body_vertices, sdf_grid, object_pose)
    if weights is not None:
        depth = depth * weights.to(depth)
    return _reduce(depth, reduction)


def vertex_area_weights(vertices: Tensor, faces: Tensor) -> Tensor:
    """Each vertex's share of the surface over the mean share, at most 1.

    A vertex's share is a third of its faces' areas. Weighting a sum over vertices by these
    makes a densely tessellated part count by its size, not by its vertex count: Anny's hands
    hold 23% of its vertices but 5% of its surface, so unweighted, a hand inside a held box
    outweighs everything else the fit compares (the photo protocol's held boxes: hand vertices
    3108 of 3270 inside, their depths summing to 117 of 120) and pushes the box off its mask.
    The weight is capped at 1 so the sparser parts keep the weight the terms were tuned with:
    uncapped, a seat under the buttocks (3.7 on average) was pushed away from the seated body
    (a stool's contact 1.4 -> 14.3 cm).

    Args:
        vertices: (V, 3) a mesh's vertices.
        faces: (F, 3) long, its triangles.

    Returns:
        (V,) in [0, 1].
    """
    corners = vertices[faces]  # (F, 3, 3)
    edges = torch.linalg.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    share = torch.zeros(len(vertices), dtype=vertices.dtype, device=vertices.device)
    share.index_add_(0, faces.reshape(-1), (edges.norm(dim=-1) / 6).repeat_interleave(3))
    return (share / share.mean().clamp_min(1e-12)).clamp_max(1.0)


def object_in_body_depth(
    object_points: Tensor,
    body_vertices: Tensor | FixedMesh,
    body_faces: Tensor | None = None,
    max_distance: float = MAX_INSIDE_DISTANCE,
) -> Tensor:
    """How deep each object point lies inside the body (see the module docstring).

    Args:
        object_points: (B, N, 3) camera-frame object points (vertices or surface samples),
            metres. Sample the surface densely enough that penetration cannot hide between
            points: a box's 8 corners miss a face pushed into the body.
        body_vertices: (B, V, 3) camera-frame body vertices, metres; the faces must be
            counter-clockwise seen from outside (outward normals), as every body model's are.
            Or a body that does not deform, as a `FixedMesh` in its own frame, with the
            points brought into that frame: searched without rebuilding anything.
        body_faces: (F, 3) long, the body's triangles; None with a `FixedMesh`.
        max_distance: metres; points farther than this from the body surface are never inside,
            whatever the local normal says (a point behind a thin limb is not inside it).

    Returns:
        (B, N) depth in metres, >= 0, 0 outside the body. Differentiable with respect to the
        object points and the body vertices.
    """
    fixed = isinstance(body_vertices, FixedMesh)
    if object_points.shape[1] == 0:
        return object_points.sum(-1) + (0 if fixed else body_vertices.sum() * 0)
    if fixed:
        closest, face, bary = body_vertices.closest_points(object_points)
        normals, body_faces = body_vertices.normals, body_vertices.faces
    else:
        body_faces = body_faces.to(body_vertices.device)
        closest, face, bary = closest_points_on_mesh(
            object_points, body_vertices, body_faces, max_distance=max_distance
        )
        with torch.no_grad():
            normals = vertex_normals(body_vertices, body_faces)  # (B, V, 3)
    with torch.no_grad():
        corners = body_faces[face]  # (B, N, 3)
        batch = torch.arange(normals.shape[0], device=normals.device)[:, None, None]
        normal = (bary[..., None] * normals[batch, corners]).sum(-2)  # (B, N, 3)
        offset = object_points - closest
        inside = ((offset * normal).sum(-1) < 0) & ((offset**2).sum(-1) < max_distance**2)
    return torch.where(inside, safe_norm(object_points - closest), 0)


def penetration_object_in_body(
    object_points: Tensor,
    body_vertices: Tensor | FixedMesh,
    body_faces: Tensor | None = None,
    max_distance: float = MAX_INSIDE_DISTANCE,
    reduction: str = "sum",
) -> Tensor:
    """Penetration of the object into the body: total depth of the object points inside it.

    Args:
        object_points: (B, N, 3) camera-frame object points, metres.
        body_vertices: (B, V, 3) camera-frame body vertices, metres, or a `FixedMesh` (see
            `object_in_body_depth`).
        body_faces: (F, 3) long, the body's triangles; None with a `FixedMesh`.
        max_distance: see `object_in_body_depth`.
        reduction: "sum" over points (see the module docstring) or "mean" over all points.

    Returns:
        (B,) metres: the sum (or mean) over points of `object_in_body_depth`. 0 without
        penetration, with a zero gradient.
    """
    depth = object_in_body_depth(object_points, body_vertices, body_faces, max_distance)
    return _reduce(depth, reduction)
