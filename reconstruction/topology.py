"""Moving per-vertex data between body topologies (SMPL, SMPL-X, Anny).

Contact data comes on the topology it was annotated on (PICO and DAMON use SMPL vertex indices);
the fitting uses whichever body model is configured. Every conversion goes through this module.
It maps by proximity between two meshes of the same person in the same pose (PICO stores the SMPL
mesh of OSX's estimate next to its SMPL-X parameters), so it needs no licensed correspondence
file; it is accurate to the spacing of the target mesh's vertices.
"""

import numpy as np
from scipy.spatial import cKDTree


def nearest_vertex_map(source_vertices: np.ndarray, target_vertices: np.ndarray) -> np.ndarray:
    """For each source vertex, the nearest target vertex.

    Args:
        source_vertices: (Vs, 3) a posed mesh of the source topology.
        target_vertices: (Vt, 3) the same body, same pose, target topology.

    Returns:
        (Vs,) int64 indices into the target vertices.
    """
    return cKDTree(target_vertices).query(source_vertices)[1].astype(np.int64)


def transfer_indices(indices: np.ndarray, vertex_map: np.ndarray) -> np.ndarray:
    """Vertex indices of the source topology -> the target's (same length, order kept)."""
    return vertex_map[np.asarray(indices, dtype=np.int64)]


def transfer_values(
    values: np.ndarray, source_vertices: np.ndarray, target_vertices: np.ndarray
) -> np.ndarray:
    """Per-vertex values (e.g. contact probabilities) from the source mesh to the target mesh.

    Each target vertex takes the value of its nearest source vertex, so the transferred map has
    no holes whichever mesh is denser.

    Args:
        values: (Vs,) or (Vs, C).
        source_vertices: (Vs, 3).
        target_vertices: (Vt, 3), same body and pose.

    Returns:
        (Vt,) or (Vt, C).
    """
    return np.asarray(values)[nearest_vertex_map(target_vertices, source_vertices)]
