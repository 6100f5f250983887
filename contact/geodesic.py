"""Geodesic distances on a triangle mesh, approximated by shortest paths along its edges.

The mesh's edges form a graph weighted by their Euclidean lengths; Dijkstra's algorithm
(`scipy.sparse.csgraph.dijkstra`) gives the shortest path between vertices along that graph. A
path restricted to edges can only be as long as or longer than the true surface geodesic, which
may cross faces: the graph distance overestimates it slightly (a few percent on a regular
triangulation, more across long thin faces), and is exact along straight runs of edges. This is
the approximation the published contact benchmarks use for their geodesic error, so hoifit's
numbers stay comparable.

Vertices in different connected components (or unreferenced by any face) are at distance `inf`
from each other (Anny's rest-pose body has four components: the body, the mouth interior and
two eyes); `contact.metrics.geodesic_error` says how it treats such distances.

The full V x V matrix of a body mesh is large: SMPL's 6,890 vertices give 6,890^2 float32
values, 190 MB (95 MB as float16), and take several seconds to compute on two CPU cores, so
`cached_geodesic_matrix` keeps it on disk in `$HOIFIT_CACHE_DIR/geodesic` (default
`~/.cache/hoifit/geodesic`), keyed by a hash of the vertices and faces. Anny's 13,718 vertices
give 753 MB in float32, 376 MB in float16.
"""

from __future__ import annotations

import hashlib
import logging
import zipfile
from pathlib import Path

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra

from reconstruction.atomic_io import atomic_write_npz
from reconstruction.cache import cache_folder

logger = logging.getLogger(__name__)

CACHE_VERSION = 1
"""Bumped when the cached values would change for the same mesh."""

_CHUNK = 512
"""Sources per Dijkstra call: bounds the float64 scratch to 512 x V."""


def edge_graph(vertices: np.ndarray, faces: np.ndarray):
    """The mesh's undirected edge graph, weighted by Euclidean edge length.

    Args:
        vertices: (V, 3) vertex positions.
        faces: (F, 3) integer triangle indices.

    Returns:
        (V, V) scipy CSR matrix, symmetric, entry (i, j) the length of edge i-j; a vertex that
        no face uses has no edges.
    """
    vertices = np.asarray(vertices, dtype=np.float64)
    faces = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
    n = len(vertices)
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])  # (3F, 2)
    edges = np.unique(np.sort(edges, axis=1), axis=0)
    edges = edges[edges[:, 0] != edges[:, 1]]  # degenerate faces repeat a vertex
    lengths = np.linalg.norm(vertices[edges[:, 0]] - vertices[edges[:, 1]], axis=1)
    # csgraph treats an explicit 0 as "no edge"; coincident vertices stay connected this way.
    lengths = np.maximum(lengths, np.finfo(np.float64).tiny)
    rows = np.concatenate([edges[:, 0], edges[:, 1]])
    cols = np.concatenate([edges[:, 1], edges[:, 0]])
    return coo_matrix((np.concatenate([lengths, lengths]), (rows, cols)), shape=(n, n)).tocsr()


def geodesic_distances(
    vertices: np.ndarray, faces: np.ndarray, sources: np.ndarray | None = None
) -> np.ndarray:
    """Edge-graph geodesic distances from `sources` to every vertex (see the module docstring).

    Args:
        vertices: (V, 3) vertex positions, any unit (the distances are in the same unit).
        faces: (F, 3) integer triangle indices.
        sources: (S,) vertex indices; None for all vertices.

    Returns:
        (S, V) float32, or (V, V) with `sources` None; `inf` between vertices that no path
        connects.
    """
    return _distances(edge_graph(vertices, faces), sources, np.float32)


def _distances(graph, sources: np.ndarray | None, dtype: np.dtype | type) -> np.ndarray:
    """Dijkstra from `sources` in chunks, so a full body matrix never exists in float64."""
    n = graph.shape[0]
    indices = np.arange(n) if sources is None else np.asarray(sources, dtype=np.int64).reshape(-1)
    out = np.empty((len(indices), n), dtype=dtype)  # (S, V)
    for start in range(0, len(indices), _CHUNK):
        chunk = indices[start : start + _CHUNK]
        out[start : start + len(chunk)] = dijkstra(graph, directed=False, indices=chunk)
    return out


def mesh_hash(vertices: np.ndarray, faces: np.ndarray) -> str:
    """SHA-1 of the vertices (as float64) and faces (as int64), hex."""
    digest = hashlib.sha1()
    digest.update(np.ascontiguousarray(vertices, dtype=np.float64).tobytes())
    digest.update(b"|")
    digest.update(np.ascontiguousarray(faces, dtype=np.int64).tobytes())
    return digest.hexdigest()


def default_cache_dir() -> Path:
    """`$HOIFIT_CACHE_DIR/geodesic`, or `~/.cache/hoifit/geodesic` when the variable is unset."""
    return cache_folder("geodesic")


def cached_geodesic_matrix(
    vertices: np.ndarray,
    faces: np.ndarray,
    cache_dir: str | Path | None = None,
    dtype: np.dtype | type = np.float32,
) -> np.ndarray:
    """The full V x V geodesic matrix, from the disk cache or computed and cached.

    The cache file is named by `mesh_hash`, the dtype and `CACHE_VERSION`. A file that cannot be
    read or does not match is recomputed and rewritten; a folder that cannot be written only
    costs the recomputation next time.

    Args:
        vertices: (V, 3) vertex positions, e.g. a body model's rest pose, metres.
        faces: (F, 3) integer triangle indices.
        cache_dir: folder of the .npz cache; None for `default_cache_dir()`.
        dtype: np.float32 (190 MB for SMPL) or np.float16 (half the size; about 3 significant
            digits, so a 1 m distance is good to about 0.5 mm).

    Returns:
        (V, V) matrix of `dtype`, symmetric, zero diagonal, `inf` between disconnected vertices.

    Raises:
        ValueError: `dtype` is neither float32 nor float16.
    """
    dtype = np.dtype(dtype)
    if dtype not in (np.dtype(np.float32), np.dtype(np.float16)):
        raise ValueError(f"geodesic cache dtype must be float32 or float16, got {dtype}")
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    key = f"{mesh_hash(vertices, faces)}_{dtype.name}_v{CACHE_VERSION}"
    path = cache_dir / f"{key}.npz"
    if path.exists():
        matrix = _read_cache(path, key, len(vertices), dtype)
        if matrix is not None:
            return matrix
    matrix = _distances(edge_graph(vertices, faces), None, dtype)
    try:
        atomic_write_npz(path, {"key": np.array(key), "distances": matrix})
    except OSError as error:
        logger.warning("could not write the geodesic cache %s (%s); continuing", path, error)
    return matrix


def _read_cache(path: Path, key: str, num_vertices: int, dtype: np.dtype) -> np.ndarray | None:
    try:
        with np.load(path) as data:
            if str(data["key"]) != key:
                return None
            matrix = data["distances"]
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as error:
        logger.warning("ignoring unreadable geodesic cache %s (%s)", path, error)
        return None
    if matrix.shape != (num_vertices, num_vertices) or matrix.dtype != dtype:
        return None
    return matrix
