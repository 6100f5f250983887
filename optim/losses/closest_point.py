"""Closest points on a triangle mesh that moves: found without gradient, differentiable after.

For each query point the search takes its nearest mesh vertex and looks for the closest point
among the triangles around that vertex (its one-ring). On a mesh whose triangles are small
compared with the distances of interest (a body mesh, a densely sampled object) that is the
closest point of the whole mesh, at the cost of one nearest-vertex search and a few triangles
per point, and no precomputation: it follows the mesh as it deforms.
"""

import torch
from scipy.spatial import cKDTree
from torch import Tensor

from optim.losses.nearest import gather_points, nearest_neighbors
from reconstruction.rasterizer import vertex_normals


def vertex_face_rings(faces: Tensor, num_vertices: int) -> Tensor:
    """The faces around each vertex.

    Args:
        faces: (F, 3) long vertex indices.
        num_vertices: V.

    Returns:
        (V, R) long face indices, R the largest valence, padded with -1.
    """
    corner_vertex = faces.reshape(-1)  # (3F,)
    corner_face = torch.arange(faces.shape[0], device=faces.device).repeat_interleave(3)
    order = torch.argsort(corner_vertex, stable=True)
    corner_vertex, corner_face = corner_vertex[order], corner_face[order]
    counts = torch.bincount(corner_vertex, minlength=num_vertices)  # (V,)
    first = torch.cumsum(counts, 0) - counts
    slot = torch.arange(corner_vertex.shape[0], device=faces.device) - first[corner_vertex]
    rings = torch.full(
        (num_vertices, max(int(counts.max()), 1)), -1, dtype=torch.long, device=faces.device
    )
    rings[corner_vertex, slot] = corner_face
    return rings


def _safe_divide(numerator: Tensor, denominator: Tensor) -> Tensor:
    return numerator / torch.where(denominator == 0, 1, denominator)


def triangle_barycentrics(points: Tensor, triangles: Tensor) -> Tensor:
    """Barycentric coordinates of the closest point of each triangle to each point.

    Tests which feature of the triangle (a corner, an edge or the interior) the point projects
    onto, from the signs of dot products with the edges; degenerate triangles fall on an edge
    or a corner.

    Args:
        points: (..., 3).
        triangles: (..., 3, 3) corners a, b, c along the second-last dim.

    Returns:
        (..., 3) barycentric weights of a, b, c, non-negative and summing to 1.
    """
    a, b, c = triangles.unbind(-2)
    ab, ac = b - a, c - a
    ap, bp, cp = points - a, points - b, points - c
    d1, d2 = (ab * ap).sum(-1), (ac * ap).sum(-1)
    d3, d4 = (ab * bp).sum(-1), (ac * bp).sum(-1)
    d5, d6 = (ab * cp).sum(-1), (ac * cp).sum(-1)
    va, vb, vc = d3 * d6 - d5 * d4, d5 * d2 - d1 * d6, d1 * d4 - d3 * d2
    one, zero = torch.ones_like(d1), torch.zeros_like(d1)

    # From the last case to the first, so that the first that holds wins.
    total = va + vb + vc
    v, w = _safe_divide(vb, total), _safe_divide(vc, total)
    weights = torch.stack((1 - v - w, v, w), dim=-1)  # interior
    t = _safe_divide(d4 - d3, (d4 - d3) + (d5 - d6))
    cases = [
        ((va <= 0) & (d4 - d3 >= 0) & (d5 - d6 >= 0), (zero, 1 - t, t)),  # edge bc
        ((vb <= 0) & (d2 >= 0) & (d6 <= 0), _edge_weights(d2, d6, 2)),  # edge ac
        ((d6 >= 0) & (d5 <= d6), (zero, zero, one)),  # corner c
        ((vc <= 0) & (d1 >= 0) & (d3 <= 0), _edge_weights(d1, d3, 1)),  # edge ab
        ((d3 >= 0) & (d4 <= d3), (zero, one, zero)),  # corner b
        ((d1 <= 0) & (d2 <= 0), (one, zero, zero)),  # corner a
    ]
    for condition, case in cases:
        weights = torch.where(condition[..., None], torch.stack(case, dim=-1), weights)
    return weights.clamp(0, 1)


def _edge_weights(d_near: Tensor, d_far: Tensor, corner: int) -> tuple[Tensor, Tensor, Tensor]:
    """Weights of a point on edge a-corner at parameter d_near / (d_near - d_far)."""
    t = _safe_divide(d_near, d_near - d_far)
    zero = torch.zeros_like(t)
    return (1 - t, t, zero) if corner == 1 else (1 - t, zero, t)


def _vertices_in_reach(points: Tensor, vertices: Tensor, faces: Tensor, reach: float) -> Tensor:
    """(B, V) bool: vertices that can be nearest to a point within `reach` of the surface.

    Such a point's nearest vertex is at most reach + (longest edge) away, so it lies within that
    margin of the points' bounding box.
    """
    edges = vertices[:, faces] - vertices[:, faces.roll(1, dims=1)]  # (B, F, 3, 3)
    margin = reach + float((edges**2).sum(-1).max().sqrt())
    low = points.amin(1, keepdim=True) - margin  # (B, 1, 3)
    high = points.amax(1, keepdim=True) + margin
    return ((vertices >= low) & (vertices <= high)).all(-1)


def closest_points_on_mesh(
    points: Tensor,
    vertices: Tensor,
    faces: Tensor,
    rings: Tensor | None = None,
    max_distance: float | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """The closest point of a mesh to each query point (see the module docstring).

    The face and the barycentric weights are chosen without gradient; the closest point is then
    the weighted sum of the face's (differentiable) corners. The distance |p - closest| thus has
    the exact gradient with respect to p, and moves the face's vertices as they would move the
    surface point under p.

    Args:
        points: (B, N, 3) query points.
        vertices: (B, V, 3) mesh vertices, same frame.
        faces: (F, 3) long.
        rings: (V, R) from `vertex_face_rings`, to reuse across calls; None to compute it.
        max_distance: if given, only the mesh vertices that can matter to points within this
            distance of the surface are searched, which is much faster when the points cover a
            small part of the mesh; for points farther from the surface the result is then a
            point of the mesh, but not necessarily the closest.

    Returns:
        closest (B, N, 3) points on the mesh, face (B, N) long face indices and bary (B, N, 3)
        barycentric weights of the face's corners (no gradient).
    """
    faces = faces.to(vertices.device)
    if rings is None:
        rings = vertex_face_rings(faces, vertices.shape[1])
    with torch.no_grad():
        searched, allowed = vertices.detach(), None
        if max_distance is not None:
            reachable = _vertices_in_reach(points.detach(), searched, faces, max_distance)
            keep = reachable.any(0).nonzero()[:, 0]  # (K,)
            if keep.numel() > 0:
                searched, allowed = searched[:, keep], reachable[:, keep]
        nearest, _ = nearest_neighbors(points.detach(), searched, allowed)  # (B, N)
        if allowed is not None:
            nearest = keep[nearest]
        face, bary = _closest_around(points.detach(), vertices.detach(), faces, rings, nearest)
    corners = [gather_points(vertices, faces[face][..., k]) for k in range(3)]  # 3 x (B, N, 3)
    closest = sum(bary[..., k, None] * corners[k] for k in range(3))
    return closest, face, bary


def _closest_around(
    points: Tensor, vertices: Tensor, faces: Tensor, rings: Tensor, nearest: Tensor
) -> tuple[Tensor, Tensor]:
    """The closest face to each point among those around its nearest vertex, and the weights.

    Args:
        points: (B, N, 3).
        vertices: (B, V, 3), or (1, V, 3) shared by every batch.
        faces: (F, 3) long.
        rings: (V, R) from `vertex_face_rings`.
        nearest: (B, N) long, each point's nearest vertex.

    Returns:
        face (B, N) long and bary (B, N, 3), without gradient.
    """
    candidates = rings.to(vertices.device)[nearest]  # (B, N, R)
    corner_ids = faces[candidates.clamp_min(0)]  # (B, N, R, 3)
    batch = torch.arange(vertices.shape[0], device=vertices.device)[:, None, None, None]
    triangles = vertices[batch, corner_ids]  # (B, N, R, 3, 3)
    bary = triangle_barycentrics(points[:, :, None], triangles)  # (B, N, R, 3)
    on_surface = (bary[..., None] * triangles).sum(-2)  # (B, N, R, 3)
    distance = ((points[:, :, None] - on_surface) ** 2).sum(-1)
    distance = torch.where(candidates >= 0, distance, torch.inf)
    best = distance.argmin(-1, keepdim=True)  # (B, N, 1)
    face = torch.gather(candidates, 2, best)[..., 0]  # (B, N)
    bary = torch.gather(bary, 2, best[..., None].expand(-1, -1, -1, 3))[:, :, 0]
    return face, bary


class FixedMesh:
    """A mesh searched for closest points many times without moving or deforming.

    What `closest_points_on_mesh` rebuilds at every call, because its mesh may move, is built
    once here: the faces around each vertex, the vertex normals and, on the CPU, a k-d tree of
    the vertices. A body that only moves rigidly is such a mesh in its own frame: bring the
    query points into that frame instead (distances do not change).

    Attributes:
        vertices: (1, V, 3), without gradient.
        faces: (F, 3) long.
        normals: (1, V, 3) unit vertex normals (`reconstruction.rasterizer.vertex_normals`).
    """

    def __init__(self, vertices: Tensor, faces: Tensor):
        """Vertices (V, 3) and faces (F, 3) long."""
        self.vertices = vertices.detach()[None]
        self.faces = faces.to(vertices.device)
        self.normals = vertex_normals(self.vertices, self.faces)
        self.rings = vertex_face_rings(self.faces, vertices.shape[0])
        self._tree = None
        if vertices.device.type == "cpu":
            self._tree = cKDTree(vertices.detach().double().numpy())

    @torch.no_grad()
    def closest_points(self, points: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """The closest point of the mesh to each point, like `closest_points_on_mesh`.

        Args:
            points: (B, N, 3) query points in the mesh's frame.

        Returns:
            closest (B, N, 3) points of the mesh, face (B, N) long and bary (B, N, 3), all
            without gradient (the mesh is fixed: the distance |p - closest| has its gradient
            through p).
        """
        points = points.detach()
        if self._tree is not None:
            flat = points.reshape(-1, 3).double().numpy()
            nearest = torch.from_numpy(self._tree.query(flat, k=1)[1])
            nearest = nearest.to(points.device).view(points.shape[:2])
        else:
            nearest, _ = nearest_neighbors(points, self.vertices.expand(len(points), -1, -1))
        face, bary = _closest_around(points, self.vertices, self.faces, self.rings, nearest)
        corners = self.vertices[0][self.faces[face]]  # (B, N, 3, 3)
        return (bary[..., None] * corners).sum(-2), face, bary
