"""Exact mesh geometry for building synthetic scenes: distances, insideness, refinement, search.

The fitting uses the interpolated SDF grid of `reconstruction.sdf`; scene generation needs
millimetre-exact answers on thin parts (chair legs 2 cm thick, a bat's handle) that a grid with
centimetre voxels blurs, so it asks libigl directly.
"""

from __future__ import annotations

from collections.abc import Callable

import igl
import numpy as np


def closest_points(
    points: np.ndarray, vertices: np.ndarray, faces: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Signed distance of points to a closed triangle mesh, and where the nearest point is.

    Args:
        points: (N, 3) query points.
        vertices: (V, 3) mesh vertices, same frame.
        faces: (F, 3) triangles.

    Returns:
        distance (N,) float64, negative inside (generalized winding number above 1/2); face
        (N,) int64, the triangle holding the nearest surface point; nearest (N, 3) that point.
    """
    points = np.ascontiguousarray(points, dtype=np.float64).reshape(-1, 3)
    vertices = np.ascontiguousarray(vertices, dtype=np.float64)
    faces = np.ascontiguousarray(faces, dtype=np.int64)
    if len(points) == 0:
        return np.zeros(0), np.zeros(0, dtype=np.int64), np.zeros((0, 3))
    squared, face, nearest = igl.point_mesh_squared_distance(points, vertices, faces)
    inside = inside_mesh(points, vertices, faces)
    return np.where(inside, -1.0, 1.0) * np.sqrt(squared), face.astype(np.int64), nearest


def inside_mesh(points: np.ndarray, vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(N,) bool: points whose generalized winding number about the mesh exceeds 1/2.

    Args:
        points: (N, 3).
        vertices: (V, 3).
        faces: (F, 3).
    """
    points = np.ascontiguousarray(points, dtype=np.float64).reshape(-1, 3)
    if len(points) == 0:
        return np.zeros(0, dtype=bool)
    winding = igl.fast_winding_number(
        np.ascontiguousarray(vertices, dtype=np.float64),
        np.ascontiguousarray(faces, dtype=np.int64),
        points,
    )
    return np.abs(winding) > 0.5


def barycentric(points: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Barycentric weights of points in their triangles (the points lie on them).

    Args:
        points: (N, 3).
        triangles: (N, 3, 3) corners.

    Returns:
        (N, 3) weights, clipped to [0, 1] and summing to 1.
    """
    a, b, c = triangles[:, 0], triangles[:, 1], triangles[:, 2]
    e0, e1, p = b - a, c - a, points - a
    d00, d01, d11 = (e0 * e0).sum(1), (e0 * e1).sum(1), (e1 * e1).sum(1)
    d20, d21 = (p * e0).sum(1), (p * e1).sum(1)
    denominator = d00 * d11 - d01 * d01
    # A degenerate triangle gets its first corner: any corner is as close as the others.
    safe = np.where(np.abs(denominator) > 1e-20, denominator, 1.0)
    v = np.where(np.abs(denominator) > 1e-20, (d11 * d20 - d01 * d21) / safe, 0.0)
    w = np.where(np.abs(denominator) > 1e-20, (d00 * d21 - d01 * d20) / safe, 0.0)
    weights = np.clip(np.stack((1 - v - w, v, w), axis=1), 0.0, 1.0)
    return weights / weights.sum(1, keepdims=True)


def refine_mesh(
    vertices: np.ndarray, faces: np.ndarray, max_edge: float
) -> tuple[np.ndarray, np.ndarray]:
    """Split edges longer than `max_edge` at their midpoints until none is left.

    Each round splits the edges that are the longest of some face and longer than `max_edge`
    (longest-edge bisection). An edge is split in both triangles that share it, so the result
    stays conforming (no T-junctions); a triangle with one, two or three split edges becomes
    two, three or four (a quad left by two splits is cut along its shorter diagonal). Long thin
    triangles are cut across their length only, so a cylinder's side grows linearly with its
    length. Orientation is kept; the first V vertices are the input's.

    Args:
        vertices: (V, 3).
        faces: (F, 3).
        max_edge: longest edge allowed, in the vertices' unit.

    Returns:
        vertices (V', 3) float64 and faces (F', 3) int64.
    """
    vertices = np.asarray(vertices, dtype=np.float64)
    faces = np.asarray(faces, dtype=np.int64)
    while True:
        edges = np.sort(faces[:, [[0, 1], [1, 2], [2, 0]]].reshape(-1, 2), axis=1)  # (3F, 2)
        unique, inverse = np.unique(edges, axis=0, return_inverse=True)
        length = np.linalg.norm(vertices[unique[:, 0]] - vertices[unique[:, 1]], axis=1)
        # Only the longest edge of a face is split, so short edges are not split needlessly.
        face_edges = inverse.reshape(-1, 3)
        longest = face_edges[np.arange(len(faces)), np.argmax(length[face_edges], axis=1)]
        split = np.zeros(len(unique), dtype=bool)
        split[longest] = True
        split &= length > max_edge
        if not split.any():
            return vertices, faces
        midpoint = np.full(len(unique), -1, dtype=np.int64)
        midpoint[split] = len(vertices) + np.arange(split.sum())
        vertices = np.concatenate((vertices, vertices[unique[split]].mean(1)))
        mid = midpoint[inverse.reshape(-1, 3)]  # (F, 3): midpoint of edge i -> i+1, or -1
        faces = np.concatenate([_split_faces(vertices, faces, mid, count) for count in range(4)])


def _split_faces(
    vertices: np.ndarray, faces: np.ndarray, mid: np.ndarray, count: int
) -> np.ndarray:
    """The triangles replacing the faces with exactly `count` split edges (see `refine_mesh`)."""
    chosen = (mid >= 0).sum(1) == count
    f, m = faces[chosen], mid[chosen]
    if count == 0:
        return f
    if count == 3:
        a, b, c = f.T
        ab, bc, ca = m.T
        return np.concatenate(
            [np.stack(t, 1) for t in ((a, ab, ca), (ab, b, bc), (ca, bc, c), (ab, bc, ca))]
        )
    # Rotate each face so that its pattern is canonical: for one split edge, edge 0 (a-b) is
    # split; for two, edge 2 (c-a) is the one left whole.
    key = (m >= 0) if count == 1 else (m < 0)
    shift = np.argmax(key, axis=1) + (0 if count == 1 else 1)
    order = (np.arange(3)[None] + shift[:, None]) % 3
    f = np.take_along_axis(f, order, 1)
    m = np.take_along_axis(m, order, 1)
    a, b, c = f.T
    if count == 1:
        ab = m[:, 0]
        return np.concatenate([np.stack(t, 1) for t in ((a, ab, c), (ab, b, c))])
    ab, bc = m[:, 0], m[:, 1]
    # The quad a, ab, bc, c is cut along its shorter diagonal.
    short = np.linalg.norm(vertices[a] - vertices[bc], axis=1) <= np.linalg.norm(
        vertices[ab] - vertices[c], axis=1
    )
    first = np.where(short[:, None], np.stack((a, ab, bc), 1), np.stack((a, ab, c), 1))
    second = np.where(short[:, None], np.stack((a, bc, c), 1), np.stack((ab, bc, c), 1))
    return np.concatenate((np.stack((ab, b, bc), 1), first, second))


def first_contact(
    clearance: Callable[[float], float],
    near: float,
    far: float,
    target: tuple[float, float] = (1e-3, 3e-3),
    steps: int = 30,
    iterations: int = 40,
) -> float | None:
    """The parameter, coming from `far`, at which a clearance first falls within `target`.

    Clearance as a function of the parameter need not be monotone (a seat rising from below can
    touch the feet before the buttocks, and a bisection over the whole range could settle on
    either), so the range is first scanned in `steps` equal steps from `far` towards `near`, and
    the first step that cuts into the body is refined by bisection with the step before it.

    Args:
        clearance: parameter -> signed clearance in metres (negative: interpenetration),
            continuous.
        near: a parameter where the objects interpenetrate.
        far: a parameter where they are apart.
        target: (low, high) accepted clearance.
        steps: scan steps between `far` and `near`.
        iterations: most halvings of the bracketing step.

    Returns:
        The parameter, or None when `far` is not clear or nothing is hit before `near`.
    """
    low, high = target
    if not clearance(far) > high:
        return None
    outside = far
    for inside in np.linspace(far, near, steps + 1)[1:]:
        value = clearance(inside)
        if low <= value <= high:
            return float(inside)
        if value < low:
            break
        outside = inside
    else:
        return None
    for _ in range(iterations):
        middle = (outside + inside) / 2
        value = clearance(middle)
        if low <= value <= high:
            return float(middle)
        if value < low:
            inside = middle
        else:
            outside = middle
    return None
