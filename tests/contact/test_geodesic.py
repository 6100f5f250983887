import math

import numpy as np
import pytest

from contact import geodesic
from contact.geodesic import cached_geodesic_matrix, geodesic_distances


def grid_mesh(n: int, spacing: float = 1.0):
    """An n x n grid of vertices in the z=0 plane, each square split along one diagonal."""
    ys, xs = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    vertices = np.stack([xs.ravel(), ys.ravel(), np.zeros(n * n)], axis=1) * spacing
    faces = []
    for r in range(n - 1):
        for c in range(n - 1):
            a, b, d, e = r * n + c, r * n + c + 1, (r + 1) * n + c, (r + 1) * n + c + 1
            faces += [[a, b, e], [a, e, d]]
    return vertices.astype(np.float32), np.array(faces)


def test_strip_of_triangles_known_distances():
    # Bottom row vertices 0..3 at x = 0..3, top row 4..7 above them; diagonals go up-right.
    vertices = np.array([[x, y, 0] for y in (0, 1) for x in range(4)], dtype=np.float32)
    faces = np.array([[i, i + 1, i + 5] for i in range(3)] + [[i, i + 5, i + 4] for i in range(3)])
    distances = geodesic_distances(vertices, faces)
    assert distances.shape == (8, 8) and distances.dtype == np.float32
    np.testing.assert_allclose(distances[0, :4], [0, 1, 2, 3])
    np.testing.assert_allclose(distances[0, 4], 1.0)
    np.testing.assert_allclose(distances[0, 5], math.sqrt(2), rtol=1e-6)
    # (0, 0) to (3, 1): one diagonal then two edges, longer than the straight line sqrt(10).
    np.testing.assert_allclose(distances[0, 7], math.sqrt(2) + 2, rtol=1e-6)
    np.testing.assert_allclose(distances, distances.T)
    np.testing.assert_allclose(
        geodesic_distances(vertices, faces, sources=[0, 7]), distances[[0, 7]]
    )


def test_flat_grid_against_euclidean():
    vertices, faces = grid_mesh(6, spacing=0.1)
    distances = geodesic_distances(vertices, faces)  # (36, 36)
    euclidean = np.linalg.norm(vertices[:, None] - vertices[None], axis=-1)
    assert (distances >= euclidean - 1e-6).all()
    same_row = vertices[:, None, 1] == vertices[None, :, 1]
    same_column = vertices[:, None, 0] == vertices[None, :, 0]
    along_lines = same_row | same_column
    np.testing.assert_allclose(distances[along_lines], euclidean[along_lines], rtol=1e-5, atol=1e-7)
    assert (distances[~along_lines] > euclidean[~along_lines] - 1e-6).all()


def test_disconnected_components_are_at_infinity():
    vertices = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [5, 0, 0], [6, 0, 0], [5, 1, 0]], float)
    faces = np.array([[0, 1, 2], [3, 4, 5]])
    distances = geodesic_distances(vertices, faces)
    assert np.isinf(distances[0, 3]) and np.isinf(distances[5, 2])
    np.testing.assert_allclose(distances[3, 4], 1.0)


def test_cache_round_trip(tmp_path, monkeypatch):
    vertices, faces = grid_mesh(4)
    first = cached_geodesic_matrix(vertices, faces, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.npz"))) == 1

    def fail(*args, **kwargs):
        raise AssertionError("recomputed despite the cache")

    monkeypatch.setattr(geodesic, "_distances", fail)
    second = cached_geodesic_matrix(vertices, faces, cache_dir=tmp_path)
    np.testing.assert_array_equal(first, second)
    np.testing.assert_allclose(first, geodesic.dijkstra(geodesic.edge_graph(vertices, faces)))
    with pytest.raises(AssertionError, match="recomputed"):
        cached_geodesic_matrix(vertices + 1, faces, cache_dir=tmp_path)


def test_cache_float16_and_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("HOIFIT_CACHE_DIR", str(tmp_path))
    vertices, faces = grid_mesh(3)
    half = cached_geodesic_matrix(vertices, faces, dtype=np.float16)
    assert half.dtype == np.float16
    assert len(list((tmp_path / "geodesic").glob("*float16*.npz"))) == 1
    np.testing.assert_allclose(half, geodesic_distances(vertices, faces), rtol=1e-3)
    with pytest.raises(ValueError, match="float32 or float16"):
        cached_geodesic_matrix(vertices, faces, dtype=np.float64)


def test_corrupt_cache_is_recomputed(tmp_path):
    vertices, faces = grid_mesh(3)
    cached_geodesic_matrix(vertices, faces, cache_dir=tmp_path)
    (path,) = tmp_path.glob("*.npz")
    path.write_bytes(b"not an npz")
    again = cached_geodesic_matrix(vertices, faces, cache_dir=tmp_path)
    np.testing.assert_allclose(again, geodesic_distances(vertices, faces))
    np.load(path)["distances"]  # rewritten
