import logging

import numpy as np
import pytest
import torch
import trimesh

from reconstruction import atomic_io, sdf
from reconstruction.object_model import MeshError, ObjectMesh, ObjectPose
from reconstruction.rotations import axis_angle_to_matrix
from reconstruction.sdf import (
    SDFGrid,
    compute_sdf_grid,
    default_cache_dir,
    query_sdf,
    query_sdf_object_frame,
)

RADIUS = 0.5
HALF = np.array([0.2, 0.15, 0.1])  # half extents of the test box


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("sdf_cache")


@pytest.fixture(scope="module")
def sphere_grid(cache):
    sphere = trimesh.creation.icosphere(subdivisions=3, radius=RADIUS)
    return compute_sdf_grid(ObjectMesh(sphere.vertices, sphere.faces), 25, 0.15, cache)


@pytest.fixture(scope="module")
def box_mesh():
    box = trimesh.creation.box(extents=2 * HALF)
    return ObjectMesh(box.vertices, box.faces, "box")


@pytest.fixture(scope="module")
def box_grid(box_mesh, cache):
    return compute_sdf_grid(box_mesh, 33, 0.2, cache)


def sphere_sdf(points):
    return points.norm(dim=-1) - RADIUS


def box_sdf(points):
    q = points.abs() - torch.as_tensor(HALF, dtype=points.dtype)
    return q.clamp_min(0).norm(dim=-1) + q.max(dim=-1).values.clamp_max(0)


def random_points(n, low, high, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return low + (high - low) * torch.rand(n, 3, generator=g, dtype=dtype)


def test_grid_layout(box_grid):
    # Cubic voxels, the box centred on the mesh and padded by 20% of the longest side per side.
    assert box_grid.values.shape[2] == 33
    assert box_grid.values.dtype == torch.float32
    extent = box_grid.bbox_max - box_grid.bbox_min
    counts = torch.tensor(box_grid.values.shape[::-1]) - 1  # (x, y, z)
    assert torch.allclose(extent / counts, torch.full((3,), box_grid.spacing), atol=1e-6)
    assert torch.allclose(box_grid.bbox_max, -box_grid.bbox_min, atol=1e-6)
    needed = torch.tensor(HALF, dtype=torch.float32) + 0.2 * 0.4
    assert (box_grid.bbox_max >= needed - 1e-6).all()
    assert (box_grid.bbox_max < needed + box_grid.spacing).all()
    # Sample (i, j, k) lies at bbox_min + (k, j, i) * spacing.
    corner = box_grid.bbox_min.double()
    i, j, k = 3, 7, 20
    point = corner + box_grid.spacing * torch.tensor([k, j, i], dtype=torch.float64)
    assert box_grid.values[i, j, k].item() == pytest.approx(box_sdf(point).item(), abs=1e-5)


def test_flat_mesh_gets_a_margin_across_its_thin_axis(cache):
    quad = ObjectMesh(
        np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0.0]]), [[0, 1, 2], [0, 2, 3]]
    )
    grid = compute_sdf_grid(quad, 11, 0.1, cache)
    assert grid.values.shape == (3, 11, 11)
    assert grid.bbox_min[2].item() == pytest.approx(-grid.spacing, abs=1e-6)  # 0.1 rounded up
    assert (grid.values >= 0).all()


def test_sphere_known_answers(sphere_grid):
    h = sphere_grid.spacing
    values = query_sdf_object_frame(sphere_grid, torch.tensor([[0.0, 0, 0], [0, 0, 2 * RADIUS]]))
    assert values[0].item() == pytest.approx(-RADIUS, abs=h)
    assert values[1].item() == pytest.approx(RADIUS, abs=h)
    points = random_points(2000, -0.55, 0.55)
    assert (query_sdf_object_frame(sphere_grid, points) - sphere_sdf(points)).abs().max() < h


def test_box_known_answers(box_grid):
    points = random_points(2000, -0.25, 0.25, seed=1)
    error = query_sdf_object_frame(box_grid, points) - box_sdf(points)
    assert error.abs().max() < box_grid.spacing
    # Where the box's distance is linear (near the middle of a face), trilinear is exact.
    faces = torch.tensor([[0.2 - 0.03, 0.01, 0.0], [0.0, -0.2, 0.02], [0.05, 0.0, 0.14]])
    assert torch.allclose(query_sdf_object_frame(box_grid, faces), box_sdf(faces), atol=1e-5)


def test_open_and_inverted_meshes_keep_a_sensible_inside(box_mesh, cache):
    # Without its two +x triangles the box is open; winding numbers still call its middle inside.
    keep = np.abs(box_mesh.vertices[box_mesh.faces].mean(1)[:, 0] - HALF[0]) > 1e-6
    open_box = ObjectMesh(box_mesh.vertices, box_mesh.faces[keep])
    inverted = ObjectMesh(box_mesh.vertices, box_mesh.faces[:, ::-1])
    point = torch.tensor([[0.0, 0.0, -0.05]])  # 0.05 above the bottom face
    for mesh in (open_box, inverted):
        grid = compute_sdf_grid(mesh, 17, 0.2, cache)
        assert query_sdf_object_frame(grid, point).item() == pytest.approx(-0.05, abs=1e-5)


def posed(rotation_angle, transl, scale):
    rotation = axis_angle_to_matrix(torch.tensor([rotation_angle], dtype=torch.float32))
    return ObjectPose.from_matrix(rotation, torch.tensor([transl]), scale)


def test_posed_sphere_is_a_sphere_in_the_camera_frame(sphere_grid):
    pose = posed([0.3, -1.2, 0.5], [0.1, -0.2, 2.0], 0.4)
    # Within the posed grid (a cube of half side 0.26), where interpolation is accurate.
    points = random_points(500, -0.14, 0.14, seed=2) + torch.tensor([0.1, -0.2, 2.0])
    expected = (points - torch.tensor([0.1, -0.2, 2.0])).norm(dim=-1) - 0.4 * RADIUS
    values = query_sdf(sphere_grid, points[None], pose)
    assert values.shape == (1, 500)
    assert (values[0] - expected).abs().max() < 0.4 * sphere_grid.spacing


def test_posed_box_matches_the_transformed_box(box_grid):
    angle, transl, scale = [0.0, 0.0, np.pi / 2], [0.5, 0.0, 1.5], 2.0
    pose = posed(angle, transl, scale)
    # A quarter turn about z swaps the half extents along x and y; the scale doubles them.
    half_cam = 2.0 * torch.tensor([HALF[1], HALF[0], HALF[2]], dtype=torch.float32)
    points = random_points(1000, -0.35, 0.35, seed=3) + torch.tensor(transl)  # inside the grid
    q = (points - torch.tensor(transl)).abs() - half_cam
    expected = q.clamp_min(0).norm(dim=-1) + q.max(dim=-1).values.clamp_max(0)
    values = query_sdf(box_grid, points, pose)[0]  # (N, 3) points are shared by the poses
    assert (values - expected).abs().max() < scale * box_grid.spacing


def test_batch_of_two_poses_matches_one_at_a_time(box_grid):
    first = posed([0.1, 0.2, 0.3], [0.0, 0.1, 1.0], 1.5)
    second = posed([-1.0, 0.4, 2.0], [0.2, 0.0, 1.2], 0.7)
    both = ObjectPose(
        torch.cat((first.rot6d, second.rot6d)),
        torch.cat((first.transl, second.transl)),
        torch.cat((first.log_scale, second.log_scale)),
    )
    points = random_points(600, -0.4, 0.4, seed=4).reshape(2, 300, 3) + torch.tensor([0.1, 0, 1.1])
    values = query_sdf(box_grid, points, both)
    assert values.shape == (2, 300)
    assert torch.allclose(values[0], query_sdf(box_grid, points[:1], first)[0])
    assert torch.allclose(values[1], query_sdf(box_grid, points[1:], second)[0])


def test_gradcheck_points(box_grid):
    grid = box_grid.to(dtype=torch.float64)
    # Points inside the grid, outside it, and inside the object.
    points = random_points(40, -0.6, 0.6, seed=5, dtype=torch.float64).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda p: query_sdf_object_frame(grid, p), (points,))


def test_gradcheck_pose(box_grid):
    grid = box_grid.to(dtype=torch.float64)
    pose = posed([0.2, -0.5, 1.0], [0.05, 0.0, 1.0], 1.3)
    params = [x.double().requires_grad_(True) for x in (pose.rot6d, pose.transl, pose.log_scale)]
    points = random_points(40, -0.6, 0.6, seed=6, dtype=torch.float64) + torch.tensor(
        [0.05, 0.0, 1.0], dtype=torch.float64
    )
    assert torch.autograd.gradcheck(
        lambda r, t, s: query_sdf(grid, points[None], ObjectPose(r, t, s)), params
    )


def test_gradient_points_away_from_the_sphere(sphere_grid):
    points = random_points(300, -0.7, 0.7, seed=7)
    points = points[points.norm(dim=-1) > 0.2].requires_grad_(True)
    query_sdf_object_frame(sphere_grid, points).sum().backward()
    cosine = torch.nn.functional.cosine_similarity(points.grad, points.detach(), dim=-1)
    assert cosine.min() > 0.9


def test_far_points_are_positive_and_finite(sphere_grid):
    directions = torch.nn.functional.normalize(torch.randn(50, 3), dim=-1)
    far = torch.cat((directions * 100, directions * 1e4, directions * 0.75))
    points = far.clone().requires_grad_(True)
    values = query_sdf_object_frame(sphere_grid, points)
    assert torch.isfinite(values).all() and (values > 0).all()
    # An upper bound of the true distance, close to it.
    assert (values - sphere_sdf(far) >= -sphere_grid.spacing).all()
    assert (values - sphere_sdf(far) < 0.1 * far.norm(dim=-1)).all()
    values.sum().backward()
    assert torch.isfinite(points.grad).all()
    assert ((points.grad * far).sum(-1) > 0).all()


def test_points_on_the_grid_boundary_have_finite_gradients(sphere_grid):
    corners = torch.stack((sphere_grid.bbox_min, sphere_grid.bbox_max))
    points = torch.cat((corners, torch.zeros(1, 3))).requires_grad_(True)
    query_sdf_object_frame(sphere_grid, points).sum().backward()
    assert torch.isfinite(points.grad).all()


def test_query_keeps_leading_shape(sphere_grid):
    points = torch.zeros(2, 3, 4, 3, dtype=torch.float64)
    values = query_sdf_object_frame(sphere_grid, points)
    assert values.shape == (2, 3, 4) and values.dtype == torch.float64


def count_computations(monkeypatch):
    calls = []
    compute = sdf._signed_distance

    def counted(*args):
        calls.append(1)
        return compute(*args)

    monkeypatch.setattr(sdf, "_signed_distance", counted)
    return calls


def test_cache_hit_skips_the_computation(box_mesh, tmp_path, monkeypatch):
    calls = count_computations(monkeypatch)
    first = compute_sdf_grid(box_mesh, 9, 0.1, tmp_path)
    second = compute_sdf_grid(box_mesh, 9, 0.1, tmp_path)
    assert len(calls) == 1
    assert torch.equal(first.values, second.values)
    assert torch.equal(first.bbox_min, second.bbox_min)
    assert [p.suffix for p in tmp_path.iterdir()] == [".npz"]  # no temporary file left
    compute_sdf_grid(box_mesh, 10, 0.1, tmp_path)
    compute_sdf_grid(box_mesh, 9, 0.2, tmp_path)
    assert len(calls) == 3 and len(list(tmp_path.iterdir())) == 3


def test_corrupt_cache_is_recomputed(box_mesh, tmp_path, monkeypatch, caplog):
    calls = count_computations(monkeypatch)
    expected = compute_sdf_grid(box_mesh, 9, 0.1, tmp_path)
    (path,) = tmp_path.iterdir()
    path.write_bytes(path.read_bytes()[:100])  # as if truncated
    with caplog.at_level(logging.WARNING):
        grid = compute_sdf_grid(box_mesh, 9, 0.1, tmp_path)
    assert "unusable" in caplog.text and len(calls) == 2
    assert torch.equal(grid.values, expected.values)
    compute_sdf_grid(box_mesh, 9, 0.1, tmp_path)
    assert len(calls) == 2  # the rewritten file is good


def test_foreign_cache_file_is_recomputed(box_mesh, tmp_path, monkeypatch):
    calls = count_computations(monkeypatch)
    compute_sdf_grid(box_mesh, 9, 0.1, tmp_path)
    (path,) = tmp_path.iterdir()
    other = compute_sdf_grid(box_mesh, 9, 0.1, tmp_path / "other").values
    foreign = {"key": np.array("another mesh"), "values": np.zeros((2, 2, 2))}
    np.savez(path, bbox_min=np.zeros(3), bbox_max=np.ones(3), **foreign)
    grid = compute_sdf_grid(box_mesh, 9, 0.1, tmp_path)
    assert len(calls) == 3 and torch.equal(grid.values, other)


def test_interrupted_write_leaves_no_cache_file(box_mesh, tmp_path, monkeypatch, caplog):
    def killed(*args):
        raise OSError("interrupted before the rename")

    monkeypatch.setattr(atomic_io.os, "replace", killed)
    with caplog.at_level(logging.WARNING):
        grid = compute_sdf_grid(box_mesh, 9, 0.1, tmp_path)
    assert grid.values.shape[2] == 9 and "could not write" in caplog.text
    assert list(tmp_path.iterdir()) == []


def test_default_cache_dir_follows_the_environment(box_mesh, tmp_path, monkeypatch):
    monkeypatch.setenv("HOIFIT_CACHE_DIR", str(tmp_path))
    assert default_cache_dir() == tmp_path / "sdf"
    compute_sdf_grid(box_mesh, 5)
    assert len(list((tmp_path / "sdf").glob("*.npz"))) == 1
    monkeypatch.delenv("HOIFIT_CACHE_DIR")
    assert default_cache_dir().parts[-3:] == (".cache", "hoifit", "sdf")


def test_bad_arguments(box_mesh, tmp_path):
    with pytest.raises(ValueError, match="resolution"):
        compute_sdf_grid(box_mesh, 1, cache_dir=tmp_path)
    with pytest.raises(ValueError, match="padding"):
        compute_sdf_grid(box_mesh, 8, -0.1, cache_dir=tmp_path)
    point = ObjectMesh(np.zeros((3, 3)), [[0, 1, 2]], "dot")
    with pytest.raises(MeshError, match="dot: all vertices coincide"):
        compute_sdf_grid(point, 8, cache_dir=tmp_path)


def test_grid_to_device_and_dtype(sphere_grid):
    moved = sphere_grid.to(dtype=torch.float64)
    assert isinstance(moved, SDFGrid) and moved.values.dtype == torch.float64
    assert moved.bbox_min.dtype == torch.float64


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu(box_grid):
    pose = posed([0.2, -0.5, 1.0], [0.05, 0.0, 1.0], 1.3)
    points = random_points(100, -0.4, 0.4, seed=8) + torch.tensor([0.05, 0.0, 1.0])
    on_cuda = ObjectPose(*(x.cuda() for x in (pose.rot6d, pose.transl, pose.log_scale)))
    values = query_sdf(box_grid, points.cuda()[None], on_cuda)
    assert torch.allclose(values.cpu(), query_sdf(box_grid, points[None], pose), atol=1e-5)
