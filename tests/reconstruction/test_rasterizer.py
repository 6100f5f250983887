import numpy as np
import pytest
import torch
import trimesh
from scipy.ndimage import binary_dilation
from trimesh.ray.ray_pyembree import RayMeshIntersector

from reconstruction import rasterizer
from reconstruction.rasterizer import (
    face_normals,
    interpolate,
    join_meshes,
    rasterize,
    render_depth,
    render_normals,
    vertex_normals,
    visible_faces,
)

# A non-square image with an off-centre principal point and non-square pixels.
HEIGHT, WIDTH = 48, 64
K = torch.tensor([[70.0, 0.0, 30.3], [0.0, 72.0, 22.6], [0.0, 0.0, 1.0]], dtype=torch.float64)


def _tensors(mesh: trimesh.Trimesh) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.tensor(mesh.vertices)[None], torch.tensor(mesh.faces)


def _sphere_and_box() -> list[trimesh.Trimesh]:
    sphere = trimesh.creation.icosphere(subdivisions=2, radius=0.35)
    sphere.apply_translation([-0.2, 0.05, 2.0])
    box = trimesh.creation.box(extents=[0.4, 0.5, 0.3])
    box.apply_transform(trimesh.transformations.rotation_matrix(0.5, [1, 1, 0]))
    box.apply_translation([0.25, -0.05, 2.2])
    return [sphere, box]


def _torus() -> trimesh.Trimesh:
    """Non-convex, and tilted so that it hides part of itself."""
    torus = trimesh.creation.torus(major_radius=0.3, minor_radius=0.1)
    torus.apply_transform(trimesh.transformations.rotation_matrix(1.1, [1, 0.2, 0]))
    torus.apply_translation([0.02, -0.03, 1.6])
    return torus


def _needles() -> trimesh.Trimesh:
    """A thin tilted cylinder: its side faces are needles crossing their boxes diagonally."""
    cylinder = trimesh.creation.cylinder(radius=0.04, height=0.6, sections=96)
    cylinder.apply_transform(trimesh.transformations.rotation_matrix(1.0, [1.0, 0.4, 0.0]))
    cylinder.apply_translation([0.02, 0.01, 1.5])
    return cylinder


def _raycast(verts: np.ndarray, faces: np.ndarray, K: torch.Tensor, image_size):
    """Independent reference: embree rays from the camera centre through each pixel centre."""
    height, width = image_size
    ys, xs = np.mgrid[:height, :width]
    K = K.numpy()
    dirs = np.stack(
        [(xs - K[0, 2]) / K[0, 0], (ys - K[1, 2]) / K[1, 1], np.ones((height, width))], -1
    ).reshape(-1, 3)
    caster = RayMeshIntersector(trimesh.Trimesh(verts, faces, process=False))
    tri, ray, loc = caster.intersects_id(
        np.zeros_like(dirs), dirs, multiple_hits=False, return_locations=True
    )
    ids = np.full(height * width, -1)
    ids[ray] = tri
    depth = np.zeros(height * width)
    depth[ray] = loc[:, 2]
    return ids.reshape(height, width), depth.reshape(height, width)


def _boundary_band(ids: np.ndarray) -> np.ndarray:
    """Pixels within 1 px of a silhouette boundary, where sampling exactly on an edge may differ."""
    mask = ids >= 0
    edge = mask ^ binary_dilation(mask) | mask ^ ~binary_dilation(~mask)
    return binary_dilation(edge)


SCENES = {
    "sphere_and_box": _sphere_and_box,
    "torus": lambda: [_torus()],
    "needles": lambda: [_needles()],
}


@pytest.mark.parametrize("scene", SCENES)
def test_matches_ray_caster(scene):
    meshes = SCENES[scene]()
    verts, faces, _ = join_meshes([_tensors(m) for m in meshes])
    fragments = rasterize(verts, faces, K, (HEIGHT, WIDTH))
    ids, depth = _raycast(verts[0].numpy(), faces.numpy(), K, (HEIGHT, WIDTH))

    ours_ids = fragments.face_ids[0].numpy()
    ours_depth = fragments.depth[0].detach().numpy()
    off_band = ~_boundary_band(ids)
    assert ids[off_band].max() >= 0 and (ids[off_band] < 0).any()  # both hits and misses tested
    np.testing.assert_array_equal(ours_ids[off_band] >= 0, ids[off_band] >= 0)
    assert ((ours_ids >= 0) != (ids >= 0)).mean() < 0.01
    # Rays through a shared edge may pick either face; the depth is the same.
    assert (ours_ids[off_band] == ids[off_band]).mean() > 0.995
    hit = off_band & (ids >= 0)
    np.testing.assert_allclose(ours_depth[hit], depth[hit], rtol=1e-4)
    assert (ours_depth[ids < 0] == 0).all()


def test_barycentrics_are_perspective_correct():
    verts, faces = _tensors(_torus())
    fragments = rasterize(verts, faces, K, (HEIGHT, WIDTH))
    mask = fragments.mask[0]
    bary = fragments.bary[0][mask]
    torch.testing.assert_close(bary.sum(-1), torch.ones(len(bary), dtype=bary.dtype))
    assert (bary > -1e-9).all()
    # The interpolated surface point lies on the ray through the pixel centre, at the depth.
    points = interpolate(fragments, faces, verts)[0][mask]  # (N, 3)
    projected = points @ K.T
    ys, xs = torch.nonzero(mask, as_tuple=True)
    torch.testing.assert_close(projected[:, 0] / projected[:, 2], xs.double())
    torch.testing.assert_close(projected[:, 1] / projected[:, 2], ys.double())
    torch.testing.assert_close(points[:, 2], fragments.depth[0][mask])


def test_depth_gradcheck():
    mesh = trimesh.creation.icosphere(subdivisions=0, radius=0.4)
    mesh.apply_translation([0.03, -0.02, 1.5])
    verts, faces = _tensors(mesh)
    K_small = torch.tensor([[20.0, 0, 5.6], [0, 21.0, 4.3], [0, 0, 1]], dtype=torch.float64)

    def depth(v):
        return rasterize(v, faces, K_small, (9, 12)).depth

    assert (depth(verts) > 0).sum() > 40
    torch.autograd.gradcheck(depth, (verts.clone().requires_grad_(True),), eps=1e-7, atol=1e-6)


def test_batch_of_views_matches_single_views():
    verts, faces = _tensors(_torus())
    angles = torch.tensor([0.0, 0.7, -1.3], dtype=torch.float64)
    centre = verts[0].mean(0)
    rotations = torch.stack(
        [torch.tensor([[1, 0, 0], [0, a.cos(), -a.sin()], [0, a.sin(), a.cos()]]) for a in angles]
    )
    views = (verts - centre) @ rotations.transpose(1, 2) + centre  # (3, V, 3)
    Ks = torch.stack([K, K * torch.tensor([[1.1], [1.1], [1.0]], dtype=K.dtype), K])
    batched = rasterize(views, faces, Ks, (HEIGHT, WIDTH))
    for i in range(3):
        single = rasterize(views[i : i + 1], faces, Ks[i], (HEIGHT, WIDTH))
        torch.testing.assert_close(batched.face_ids[i], single.face_ids[0])
        torch.testing.assert_close(batched.depth[i], single.depth[0])
        torch.testing.assert_close(batched.bary[i], single.bary[0])
    assert len({int(batched.mask[i].sum()) for i in range(3)}) > 1  # the views do differ


def test_small_chunks_give_the_same_result(monkeypatch):
    verts, faces, _ = join_meshes([_tensors(m) for m in _sphere_and_box()])
    expected = rasterize(verts, faces, K, (HEIGHT, WIDTH))
    monkeypatch.setattr(rasterizer, "MAX_PAIRS_PER_CHUNK", 100)
    chunked = rasterize(verts, faces, K, (HEIGHT, WIDTH))
    torch.testing.assert_close(chunked.face_ids, expected.face_ids)
    torch.testing.assert_close(chunked.depth, expected.depth)


def test_empty_mesh():
    verts = torch.zeros(2, 0, 3, requires_grad=True)
    fragments = rasterize(verts, torch.zeros(0, 3, dtype=torch.long), K, (HEIGHT, WIDTH))
    assert fragments.face_ids.shape == (2, HEIGHT, WIDTH)
    assert (fragments.face_ids == -1).all() and not fragments.mask.any()
    assert (fragments.depth == 0).all() and (fragments.bary == 0).all()


def test_off_screen_mesh_renders_nothing():
    verts, faces = _tensors(_torus())
    verts = (verts + torch.tensor([5.0, 0.0, 0.0], dtype=verts.dtype)).requires_grad_(True)
    fragments = rasterize(verts, faces, K, (HEIGHT, WIDTH))
    assert not fragments.mask.any()
    fragments.depth.sum().backward()
    assert (verts.grad == 0).all()


def test_degenerate_faces_are_ignored():
    verts, faces = _tensors(_torus())
    # A face with a repeated vertex and one whose vertices are collinear (on screen and in 3D).
    extra = torch.tensor([[[0.0, 0.0, 1.6], [0.1, 0.05, 1.6], [0.2, 0.1, 1.6]]], dtype=verts.dtype)
    n = verts.shape[1]
    all_verts = torch.cat((verts, extra), 1).requires_grad_(True)
    all_faces = torch.cat((faces, torch.tensor([[0, 0, 1], [n, n + 1, n + 2]])))
    fragments = rasterize(all_verts, all_faces, K, (HEIGHT, WIDTH))
    expected = rasterize(verts, faces, K, (HEIGHT, WIDTH))
    torch.testing.assert_close(fragments.face_ids, expected.face_ids)
    fragments.depth.sum().backward()
    assert torch.isfinite(all_verts.grad).all()


def test_faces_behind_the_near_plane_are_culled():
    verts, faces = _tensors(_torus())
    # Move the torus so that the near plane cuts it.
    verts = verts - torch.tensor([0.0, 0.0, 1.6], dtype=verts.dtype)
    verts = verts + torch.tensor([0.0, 0.0, 0.05], dtype=verts.dtype)
    near = 0.02
    z = verts[0, :, 2]
    in_front = (z[faces] >= near).all(-1)
    assert 0 < in_front.sum() < len(faces)
    ours = rasterize(verts, faces, K, (HEIGHT, WIDTH), near=near)
    kept = rasterize(verts, faces[in_front], K, (HEIGHT, WIDTH), near=near)
    kept_ids = torch.where(kept.face_ids >= 0, in_front.nonzero()[:, 0][kept.face_ids], -1)
    torch.testing.assert_close(ours.face_ids, kept_ids)
    assert torch.isfinite(ours.depth).all() and (ours.depth[ours.mask] >= near).all()
    behind = verts - torch.tensor([0.0, 0.0, 1.0], dtype=verts.dtype)  # would project mirrored
    assert not rasterize(behind, faces, K, (HEIGHT, WIDTH)).mask.any()


def test_flat_normals_face_the_camera():
    mesh = trimesh.creation.icosphere(subdivisions=2, radius=0.4)
    mesh.apply_translation([0.0, 0.0, 2.0])
    verts, faces = _tensors(mesh)
    normals = render_normals(verts, faces, K, (HEIGHT, WIDTH))[0]
    fragments = rasterize(verts, faces, K, (HEIGHT, WIDTH))
    mask = fragments.mask[0]
    assert (normals[mask][:, 2] < 0).all()  # outward normals of visible faces point at us
    expected = face_normals(verts, faces)[0][fragments.face_ids[0][mask]]
    torch.testing.assert_close(normals[mask], expected)
    assert (normals[~mask] == 0).all()
    smooth = render_normals(verts, faces, K, (HEIGHT, WIDTH), smooth=True)[0]
    torch.testing.assert_close(
        smooth[mask].norm(dim=-1), torch.ones(int(mask.sum()), dtype=torch.float64)
    )
    # Smooth normals of a sphere point along the radius.
    points = interpolate(fragments, faces, verts)[0][mask]
    radial = torch.nn.functional.normalize(
        points - torch.tensor([0, 0, 2.0], dtype=torch.float64), dim=-1
    )
    assert ((smooth[mask] * radial).sum(-1) > 0.99).all()


def test_vertex_normals_of_a_batch():
    sphere = trimesh.creation.icosphere(subdivisions=3, radius=0.4)
    first = torch.tensor(sphere.vertices)
    axes = torch.tensor([1.0, 2.0, 0.5], dtype=torch.float64)
    second = first * axes + 1.0  # an ellipsoid, moved
    faces = torch.tensor(sphere.faces)
    both = vertex_normals(torch.stack((first, second)), faces)
    # Each mesh of the batch gets the normals it gets alone, and they are the surfaces' normals.
    torch.testing.assert_close(both[1], vertex_normals(second[None], faces)[0])
    radial = torch.nn.functional.normalize(first, dim=-1)
    assert ((both[0] * radial).sum(-1) > 0.999).all()
    # The normal of the ellipsoid sum((x / a)^2) = r^2 at x is along x / a^2.
    analytic = torch.nn.functional.normalize(first / axes, dim=-1)
    assert ((both[1] * analytic).sum(-1) > 0.99).all()


def test_render_depth_and_visible_faces_agree_with_rasterize():
    verts, faces, _ = join_meshes([_tensors(m) for m in _sphere_and_box()])
    fragments = rasterize(verts, faces, K, (HEIGHT, WIDTH))
    torch.testing.assert_close(render_depth(verts, faces, K, (HEIGHT, WIDTH)), fragments.depth)
    torch.testing.assert_close(visible_faces(verts, faces, K, (HEIGHT, WIDTH)), fragments.face_ids)


def test_interpolate_shared_attributes():
    verts, faces = _tensors(_torus())
    fragments = rasterize(verts, faces, K, (HEIGHT, WIDTH))
    ones = torch.ones(1, verts.shape[1], 2, dtype=verts.dtype)
    out = interpolate(fragments, faces, ones)
    assert out.shape == (1, HEIGHT, WIDTH, 2)
    torch.testing.assert_close(out[fragments.mask], torch.ones_like(out[fragments.mask]))
    assert (out[~fragments.mask] == 0).all()


def test_join_meshes():
    a = (torch.rand(2, 4, 3), torch.tensor([[0, 1, 2], [1, 2, 3]]))
    b = (torch.rand(2, 3, 3), torch.tensor([[0, 2, 1]]))
    empty = (torch.rand(2, 0, 3), torch.zeros(0, 3, dtype=torch.long))
    verts, faces, mesh_id = join_meshes([a, empty, b])
    assert verts.shape == (2, 7, 3)
    torch.testing.assert_close(faces, torch.tensor([[0, 1, 2], [1, 2, 3], [4, 6, 5]]))
    torch.testing.assert_close(mesh_id, torch.tensor([0, 0, 2]))


def test_float32_matches_float64():
    verts, faces = _tensors(_torus())
    expected = rasterize(verts, faces, K, (HEIGHT, WIDTH))
    single = rasterize(verts.float(), faces, K.float(), (HEIGHT, WIDTH))
    assert single.depth.dtype == torch.float32
    assert (single.face_ids == expected.face_ids).float().mean() > 0.99
    both = single.mask & expected.mask
    torch.testing.assert_close(single.depth[both].double(), expected.depth[both], rtol=1e-5, atol=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    verts, faces, _ = join_meshes([_tensors(m) for m in _sphere_and_box()])
    expected = rasterize(verts, faces, K, (HEIGHT, WIDTH))
    cuda = rasterize(verts.cuda(), faces.cuda(), K.cuda(), (HEIGHT, WIDTH))
    torch.testing.assert_close(cuda.face_ids.cpu(), expected.face_ids)
    torch.testing.assert_close(cuda.depth.cpu(), expected.depth)
