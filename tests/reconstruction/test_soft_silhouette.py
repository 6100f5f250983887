import math

import pytest
import torch
import trimesh

from reconstruction import soft_silhouette as soft_module
from reconstruction.camera import project_points
from reconstruction.rasterizer import join_meshes, rasterize
from reconstruction.soft_silhouette import (
    CUTOFF_SIGMAS,
    SoftSilhouettes,
    soft_silhouette,
    soft_silhouettes,
)

HEIGHT, WIDTH = 24, 32
K = torch.tensor([[60.0, 0.0, 15.2], [0.0, 55.0, 11.7], [0.0, 0.0, 1.0]], dtype=torch.float64)


def naive_soft_silhouette(verts, faces, K, image_size, sigma, near=1e-3):
    """Every pixel against every face, with plain autograd: the reference for the fast version.

    Same definition: signed squared distance to the triangle's boundary (positive inside), a
    sigmoid of width sigma, truncated to vanish at -CUTOFF_SIGMAS, and 1 - prod(1 - D).
    """
    height, width = image_size
    batch = verts.shape[0]
    uv = project_points(verts, K.expand(batch, 3, 3).to(verts))
    a = uv[:, faces][:, None]  # (B, 1, F, 3, 2): corner i
    b = a.roll(-1, dims=3)  # corner i + 1
    ys, xs = torch.meshgrid(
        torch.arange(height, dtype=verts.dtype),
        torch.arange(width, dtype=verts.dtype),
        indexing="ij",
    )
    p = torch.stack((xs, ys), -1).reshape(1, -1, 1, 1, 2)  # (1, P, 1, 1, 2)
    edge, rel = b - a, p - a
    t = (rel * edge).sum(-1) / (edge * edge).sum(-1).clamp_min(torch.finfo(verts.dtype).tiny)
    nearest = rel - t.clamp(0, 1)[..., None] * edge
    dist_sq = (nearest * nearest).sum(-1).min(-1).values  # (B, P, F)
    cross = edge[..., 0] * rel[..., 1] - edge[..., 1] * rel[..., 0]
    inside = ((cross * cross.sum(-1, keepdim=True).sign()) > 0).all(-1)
    x = torch.where(inside, dist_sq, -dist_sq) / sigma
    c = torch.sigmoid(torch.tensor(-CUTOFF_SIGMAS, dtype=verts.dtype))
    coverage = ((torch.sigmoid(x) - c) / (1 - c)).clamp_min(0)
    coverage = coverage * (verts[..., 2][:, faces] >= near).all(-1)[:, None]
    return 1 - torch.prod(1 - coverage, dim=-1).reshape(batch, height, width)


def _icosphere(subdivisions=1, radius=0.3, centre=(0.05, -0.02, 2.0)):
    mesh = trimesh.creation.icosphere(subdivisions=subdivisions, radius=radius)
    return torch.tensor(mesh.vertices)[None] + torch.tensor(centre), torch.tensor(mesh.faces)


def _box(extents=(0.3, 0.25, 0.2), centre=(-0.1, 0.05, 1.4), angle=0.6):
    mesh = trimesh.creation.box(extents=extents)
    mesh.apply_transform(trimesh.transformations.rotation_matrix(angle, [0.3, 1, 0.2]))
    return torch.tensor(mesh.vertices)[None] + torch.tensor(centre), torch.tensor(mesh.faces)


def _views(verts, angles):
    """(1, V, 3) -> (len(angles), V, 3): the mesh spun about a vertical axis through its centre."""
    centre = verts[0].mean(0)
    rotations = torch.stack(
        [
            torch.tensor([[a.cos(), 0, a.sin()], [0, 1, 0], [-a.sin(), 0, a.cos()]])
            for a in torch.tensor(angles, dtype=torch.float64)
        ]
    )
    return (verts - centre) @ rotations.transpose(1, 2) + centre


def _compare_with_naive(verts, faces, sigma, K=K, image_size=(HEIGHT, WIDTH)):
    """Forward values and vertex gradients (of a random weighting) of both implementations."""
    ours_in = verts.clone().requires_grad_(True)
    ref_in = verts.clone().requires_grad_(True)
    ours = soft_silhouette(ours_in, faces, K, image_size, sigma)
    ref = naive_soft_silhouette(ref_in, faces, K, image_size, sigma)
    torch.testing.assert_close(ours, ref, atol=1e-12, rtol=0)
    weights = torch.randn(ours.shape, generator=torch.Generator().manual_seed(0), dtype=ours.dtype)
    (ours * weights).sum().backward()
    (ref * weights).sum().backward()
    assert ref_in.grad.abs().max() > 1
    return ours, ours_in.grad, ref_in.grad


@pytest.mark.parametrize("sigma", [0.05, 0.3, 2.0])
def test_matches_naive_reference(sigma):
    verts, faces = _icosphere()
    out, grad, ref_grad = _compare_with_naive(_views(verts, [0.0, 0.4]), faces, sigma)
    # Pixels that lie on an edge up to rounding may count as inside in one implementation and
    # outside in the other; their gradient is O(distance), so the difference is tiny but nonzero.
    torch.testing.assert_close(grad, ref_grad, atol=1e-9, rtol=1e-9)
    assert out.shape == (2, HEIGHT, WIDTH)
    assert out.min() >= 0 and out.max() <= 1 and out.max() > 0.99


def test_matches_naive_reference_with_large_faces_and_small_blocks(monkeypatch):
    # A big quad close to the camera, partly off-screen, and the icosphere; tiny block limits
    # force both the merging of groups and the chunking of large ones.
    monkeypatch.setattr(soft_module, "MAX_PAIRS_PER_BLOCK", 300)
    monkeypatch.setattr(soft_module, "MIN_PAIRS_PER_BLOCK", 2000)
    quad = torch.tensor([[[-0.3, -0.1, 1.0], [0.4, -0.2, 1.2], [0.5, 0.3, 1.1], [-0.2, 0.2, 0.9]]])
    sphere, sphere_faces = _icosphere(subdivisions=0)
    verts, faces, _ = join_meshes(
        [(quad.double(), torch.tensor([[0, 1, 2], [0, 2, 3]])), (sphere, sphere_faces)]
    )
    _, grad, ref_grad = _compare_with_naive(verts, faces, 0.5)
    torch.testing.assert_close(grad, ref_grad, atol=1e-9, rtol=1e-9)


def test_matches_naive_reference_with_long_thin_faces():
    # The side faces of a thin tilted cylinder are needles crossing their bounding boxes
    # diagonally: they are evaluated in bands of rows rather than whole boxes.
    mesh = trimesh.creation.cylinder(radius=0.05, height=0.5, sections=48)
    mesh.apply_transform(trimesh.transformations.rotation_matrix(1.0, [1.0, 0.4, 0.0]))
    mesh.apply_translation([0.02, 0.01, 1.5])
    verts, faces = torch.tensor(mesh.vertices)[None], torch.tensor(mesh.faces)
    uv = project_points(verts, K[None])[0]
    tri = uv[faces]
    reach = math.sqrt(CUTOFF_SIGMAS * 0.3)
    units = soft_module._pixel_units(tri, torch.ones(len(faces), dtype=torch.bool), (24, 32), reach)
    assert len(units[0]) > 2 * len(faces)  # the band path is taken
    _, grad, ref_grad = _compare_with_naive(verts, faces, 0.3)
    torch.testing.assert_close(grad, ref_grad, atol=1e-9, rtol=1e-9)


def test_gradcheck():
    verts, faces = _icosphere(subdivisions=0, radius=0.25)
    K_small = torch.tensor([[25.0, 0, 4.6], [0, 24.0, 3.4], [0, 0, 1]], dtype=torch.float64)

    def render(v):
        return soft_silhouette(v, faces, K_small, (8, 10), sigma=0.6)

    assert render(verts).sum() > 5
    torch.autograd.gradcheck(render, (verts.clone().requires_grad_(True),), eps=1e-6, atol=1e-5)


def test_gradient_reaches_the_intrinsics():
    verts, faces = _icosphere()
    K_var = K.clone().requires_grad_(True)
    soft_silhouette(verts, faces, K_var, (HEIGHT, WIDTH)).sum().backward()
    assert K_var.grad[0, 0] > 0  # a longer focal length shows a bigger silhouette


def test_converges_to_the_hard_mask_as_sigma_shrinks():
    verts, faces = _icosphere(subdivisions=3, radius=0.45, centre=(0.0, 0.0, 2.0))
    size = (64, 80)
    K_big = torch.tensor([[110.0, 0, 40.3], [0, 110.0, 31.6], [0, 0, 1]], dtype=torch.float64)
    hard = rasterize(verts, faces, K_big, size).mask
    ious = []
    for sigma in [2.0, 0.5, 0.1, 0.02, 0.004]:
        soft = soft_silhouette(verts, faces, K_big, size, sigma) > 0.5
        ious.append(((soft & hard).sum() / (soft | hard).sum()).item())
    assert all(a < b for a, b in zip(ious, ious[1:], strict=False)), ious
    assert ious[-1] > 0.99


@pytest.mark.parametrize("case", ["empty", "off_screen", "behind"])
def test_nothing_visible_gives_zeros_and_zero_gradients(case):
    verts, faces = _icosphere()
    if case == "empty":
        verts, faces = verts[:, :0], faces[:0]
    elif case == "off_screen":
        verts = verts + torch.tensor([3.0, 0.0, 0.0], dtype=verts.dtype)
    else:
        verts = verts - torch.tensor([0.0, 0.0, 4.0], dtype=verts.dtype)
    verts = verts.clone().requires_grad_(True)
    out = soft_silhouette(verts, faces, K, (HEIGHT, WIDTH))
    assert out.shape == (1, HEIGHT, WIDTH) and (out == 0).all()
    out.sum().backward()
    assert verts.grad is not None and (verts.grad == 0).all()


def test_faces_crossing_the_near_plane_are_culled():
    verts, faces = _icosphere(radius=0.3, centre=(0.0, 0.0, 0.2))
    near = 0.1
    in_front = (verts[0, :, 2][faces] >= near).all(-1)
    assert 0 < in_front.sum() < len(faces)
    verts = verts.clone().requires_grad_(True)
    out = soft_silhouette(verts, faces, K, (HEIGHT, WIDTH), near=near)
    torch.testing.assert_close(
        out, soft_silhouette(verts, faces[in_front], K, (HEIGHT, WIDTH), near=near)
    )
    out.sum().backward()
    assert torch.isfinite(verts.grad).all()


def test_degenerate_faces_stay_finite():
    verts, faces = _icosphere(subdivisions=0)
    n = verts.shape[1]
    # Three coincident vertices, two coincident ones, and three collinear ones.
    extra = torch.tensor(
        [[0.0, 0.0, 2.0]] * 3
        + [[0.1, 0.1, 2.0]] * 2
        + [[0.0, 0.1, 1.9], [0.1, 0.15, 1.9], [0.2, 0.2, 1.9]],
        dtype=verts.dtype,
    )[None]
    verts = torch.cat((verts, extra), 1)
    faces = torch.cat(
        (faces, torch.tensor([[n, n + 1, n + 2], [n + 3, n + 4, 0], [n + 5, n + 6, n + 7]]))
    )
    out, grad, ref_grad = _compare_with_naive(verts, faces, 0.3)
    assert torch.isfinite(out).all() and torch.isfinite(grad).all()
    # Coincident vertices and overlapping edges make the nearest edge ambiguous, so only the
    # unambiguous part of the gradient compares: the regular faces' own vertices, and the
    # gradient of a translation of everything.
    torch.testing.assert_close(grad[:, :n], ref_grad[:, :n], atol=1e-9, rtol=1e-9)
    torch.testing.assert_close(grad.sum(1), ref_grad.sum(1), atol=1e-9, rtol=1e-9)


def test_non_square_image_and_batched_intrinsics():
    verts, faces = _icosphere()
    views = _views(verts, [0.0, 0.5, 1.0])
    Ks = torch.stack([K, K * torch.tensor([[1.2], [1.2], [1.0]], dtype=K.dtype), K])
    size = (20, 37)
    batched = soft_silhouette(views, faces, Ks, size)
    assert batched.shape == (3, 20, 37)
    for i in range(3):
        torch.testing.assert_close(
            batched[i], soft_silhouette(views[i : i + 1], faces, Ks[i], size)[0]
        )
        torch.testing.assert_close(
            batched[i], naive_soft_silhouette(views[i : i + 1], faces, Ks[i], size, 0.3)[0]
        )


def test_several_meshes_and_front():
    sphere = _icosphere()
    box = _box()
    empty = (torch.zeros(1, 0, 3, dtype=torch.float64), torch.zeros(0, 3, dtype=torch.long))
    result = soft_silhouettes([sphere, empty, box], K, (HEIGHT, WIDTH), sigma=0.2)
    assert isinstance(result, SoftSilhouettes)
    assert result.per_mesh.shape == (1, 3, HEIGHT, WIDTH)
    for m, (verts, faces) in enumerate([sphere, empty, box]):
        torch.testing.assert_close(
            result.per_mesh[:, m], soft_silhouette(verts, faces, K, (HEIGHT, WIDTH), sigma=0.2)
        )
    verts, faces, mesh_id = join_meshes([sphere, empty, box])
    face_ids = rasterize(verts, faces, K, (HEIGHT, WIDTH)).face_ids
    expected = torch.where(face_ids >= 0, mesh_id[face_ids.clamp(min=0)], -1)
    torch.testing.assert_close(result.front, expected)
    # The box is nearer: where both cover a pixel, the box is in front.
    sphere_mask = rasterize(*sphere, K, (HEIGHT, WIDTH)).mask
    box_mask = rasterize(*box, K, (HEIGHT, WIDTH)).mask
    both = sphere_mask & box_mask
    assert both.any() and (result.front[both] == 2).all()
    assert (result.front[sphere_mask & ~box_mask] == 0).all()
    assert (result.front[~sphere_mask & ~box_mask] == -1).all()


def test_float32():
    verts, faces = _icosphere()
    verts32 = verts.float().requires_grad_(True)
    out = soft_silhouette(verts32, faces, K.float(), (HEIGHT, WIDTH))
    assert out.dtype == torch.float32
    torch.testing.assert_close(
        out.double(), soft_silhouette(verts, faces, K, (HEIGHT, WIDTH)), atol=1e-5, rtol=0
    )
    out.sum().backward()
    assert torch.isfinite(verts32.grad).all()


def test_rejects_non_positive_sigma():
    verts, faces = _icosphere()
    with pytest.raises(ValueError, match="sigma"):
        soft_silhouette(verts, faces, K, (HEIGHT, WIDTH), sigma=0.0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    verts, faces = _icosphere()
    expected_in = verts.clone().requires_grad_(True)
    expected = soft_silhouette(expected_in, faces, K, (HEIGHT, WIDTH))
    expected.square().sum().backward()
    cuda_in = verts.cuda().requires_grad_(True)
    out = soft_silhouette(cuda_in, faces.cuda(), K.cuda(), (HEIGHT, WIDTH))
    out.square().sum().backward()
    torch.testing.assert_close(out.cpu(), expected)
    torch.testing.assert_close(cuda_in.grad.cpu(), expected_in.grad)
    result = soft_silhouettes([(verts.cuda(), faces.cuda())], K.cuda(), (HEIGHT, WIDTH))
    assert result.front.device.type == "cuda"
