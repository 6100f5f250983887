"""A coarse proxy of a body mesh for silhouettes and depth, made of the body's own vertices.

The soft silhouette's cost grows with the number of faces, whatever the body's size on screen,
and at the fitting's resolution the body's faces are far smaller than a pixel. A proxy with a
few thousand faces draws nearly the same silhouette for a fraction of the cost. Its vertices
must be original vertices, so that it stays a differentiable function of the body: the mesh in
the model's canonical (limbs spread) pose is decimated by quadric edge collapse, each vertex of
the result is snapped to the nearest original vertex, and faces that snapping made degenerate
are dropped. The proxy is built once per model and face count.
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
        faces = model.faces.cpu().numpy()
        if face_count >= len(faces):
            index, proxy_faces = np.arange(model.num_vertices), faces
        else:
            with torch.no_grad():
                rest = model(model.canonical_params()).vertices[0].cpu().numpy()
            coarse = trimesh.Trimesh(rest, faces, process=False).simplify_quadric_decimation(
                face_count=face_count
            )
            index, proxy_faces = snap_to_vertices(rest, coarse.vertices, coarse.faces)
        device = model.faces.device
        cache[face_count] = (
            torch.as_tensor(index, dtype=torch.long, device=device),
            torch.as_tensor(proxy_faces, dtype=torch.long, device=device),
        )
    return cache[face_count]
