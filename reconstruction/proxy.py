"""Coarse proxies of a mesh for silhouettes and depth, made of the mesh's own vertices.

The soft silhouette's cost grows with the number of faces, whatever the mesh's size on screen,
and at the fitting's resolution a body's or a detailed object's faces are far smaller than a
pixel. A proxy with a few thousand faces draws nearly the same silhouette for a fraction of the
cost. Its vertices must be original vertices, so that it stays a differentiable function of the
mesh as it moves or deforms: the mesh is decimated by quadric edge collapse (a body in its
model's canonical, limbs spread, pose), each vertex of the result is snapped to the nearest
original vertex, and faces that snapping made degenerate are dropped. A body's proxy is built
once per model and face count.
"""

import weakref

import numpy as np
import torch
import trimesh
from scipy.spatial import cKDTree
from torch import Tensor

_CACHE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def snap_to_vertices(
    vertices: np.ndarray, coarse_vertices: np.ndarray, coarse_faces: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Re-express a coarse mesh with the nearest vertices of a fine one.

    Args:
        vertices: (V, 3) the fine mesh's vertices.
        coarse_vertices: (P, 3) the coarse mesh's vertices.
        coarse_faces: (Fc, 3) its faces.

    Returns:
        (U,) sorted fine-vertex indices the proxy uses, and (Fp, 3) faces indexing into them,
        without degenerate or repeated faces.
    """
    nearest = cKDTree(vertices).query(coarse_vertices)[1]  # (P,)
    faces = nearest[coarse_faces]  # (Fc, 3) fine indices
    distinct = (
        (faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 0] != faces[:, 2])
    )
    faces = faces[distinct]
    faces = faces[np.unique(np.sort(faces, axis=1), axis=0, return_index=True)[1]]
    used, local = np.unique(faces, return_inverse=True)
    return used, local.reshape(-1, 3)


def mesh_proxy(
    vertices: np.ndarray, faces: np.ndarray, face_count: int
) -> tuple[np.ndarray, np.ndarray]:
    """A proxy of a mesh with about `face_count` faces.

    Args:
        vertices: (V, 3) the mesh's vertices in the shape to decimate.
        faces: (F, 3) its faces.
        face_count: target number of faces; at least F (or 0) returns the mesh itself.

    Returns:
        (U,) sorted vertex indices the proxy uses, and (Fp, 3) faces indexing into them:
        `vertices[index]` with these faces is the proxy.
    """
    if face_count == 0 or face_count >= len(faces):
        return np.arange(len(vertices)), np.asarray(faces)
    coarse = trimesh.Trimesh(vertices, faces, process=False).simplify_quadric_decimation(
        face_count=face_count
    )
    return snap_to_vertices(vertices, coarse.vertices, coarse.faces)


def body_proxy(model, face_count: int) -> tuple[Tensor, Tensor]:
    """The proxy of a body model with about `face_count` faces (cached per model).

    Args:
        model: a `BodyModel`.
        face_count: target number of faces; at least the model's face count returns the mesh.

    Returns:
        (U,) long indices of the body vertices the proxy uses, and (Fp, 3) long faces indexing
        into them, on the model's device: `vertices[:, index]` with these faces is the proxy
        of any posed batch `vertices` (B, V, 3).
    """
    cache = _CACHE.setdefault(model, {})
    if face_count not in cache:
        with torch.no_grad():
            rest = model(model.canonical_params()).vertices[0].cpu().numpy()
        index, proxy_faces = mesh_proxy(rest, model.faces.cpu().numpy(), face_count)
        device = model.faces.device
        cache[face_count] = (
            torch.as_tensor(index, dtype=torch.long, device=device),
            torch.as_tensor(proxy_faces, dtype=torch.long, device=device),
        )
    return cache[face_count]
