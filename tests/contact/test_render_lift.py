import math

import pytest
import torch
import trimesh

from contact.lift import lift_to_vertices, project_vertices_to_masks, vertex_visibility
from contact.render import clear_memory_cache, render_views, render_views_cached
from contact.views import (
    BODY_VIEWS,
    OBJECT_VIEWS,
    VIEW_DISTANCE,
    normalize_mesh,
    view_extrinsics,
)
from reconstruction.procedural_objects import make_object

SIZE = 128


@pytest.fixture(scope="module")
def body(anny):
    model = anny
    vertices = model(model.canonical_params()).vertices[0]
    return vertices, model.faces, model.parts["left_hand"]


@pytest.fixture(scope="module")
def chair():
    """A chair refined to 2 cm edges, and its seat top (the backrest's foot excluded)."""
    mesh = make_object("chair")
    vertices, faces = trimesh.remesh.subdivide_to_size(mesh.vertices, mesh.faces, max_edge=0.02)
    vertices = torch.tensor(vertices, dtype=torch.float32)
    seat = ((vertices[:, 1] - 0.45).abs() < 1e-5) & (vertices[:, 2] > -0.15)
    return vertices, torch.tensor(faces), seat.nonzero()[:, 0]


def tetrahedron(dtype=torch.float32):
    vertices = torch.tensor(
        [[0.0, 0.8, 0.0], [0.7, -0.4, 0.3], [-0.6, -0.4, 0.4], [0.0, -0.3, -0.7]], dtype=dtype
    )
    faces = torch.tensor([[0, 1, 2], [0, 2, 3], [0, 3, 1], [1, 3, 2]])
    return vertices, faces


# Views


@pytest.mark.parametrize("spec", BODY_VIEWS + OBJECT_VIEWS)
def test_extrinsics_look_at_target_with_y_up(spec):
    R, t = view_extrinsics(spec, VIEW_DISTANCE, torch.float64)
    torch.testing.assert_close(R @ R.T, torch.eye(3, dtype=torch.float64))
    assert torch.det(R).item() == pytest.approx(1.0)
    target = torch.tensor([0.0, -spec.y_shift, 0.0], dtype=torch.float64)
    torch.testing.assert_close(R @ target + t, torch.tensor([0, 0, VIEW_DISTANCE]).double())
    # A point above the target is higher in the image (smaller camera y).
    above = R @ (target + torch.tensor([0.0, 0.1, 0.0]).double()) + t
    assert above[1] < 0
    # Elevation 315 is -45: the camera is below the target.
    camera = -R.T @ t
    elevation = math.degrees(math.asin((camera - target)[1] / VIEW_DISTANCE))
    assert elevation == pytest.approx((spec.elevation_deg + 180) % 360 - 180)


def test_front_views_see_the_front():
    # Azimuth 315 sits in front of the body (+z), 135 behind it.
    for spec, sign in ((BODY_VIEWS[0], 1), (BODY_VIEWS[2], -1)):
        R, t = view_extrinsics(spec)
        assert sign * (-R.T @ t)[2] > 0


def test_normalize_mesh():
    vertices = torch.randn(50, 3) * 3 + 7
    normalized, (center, scale) = normalize_mesh(vertices)
    assert normalized.norm(dim=-1).max().item() == pytest.approx(1.0)
    torch.testing.assert_close((normalized.amin(0) + normalized.amax(0)) / 2, torch.zeros(3))
    torch.testing.assert_close(normalized * scale + center, vertices)


# Renders


@pytest.mark.parametrize("mesh, views", [("body", BODY_VIEWS), ("chair", OBJECT_VIEWS)])
def test_render_views(mesh, views, request):
    vertices, faces, _ = request.getfixturevalue(mesh)
    render = render_views(vertices, faces, views, SIZE)
    n = len(views)
    assert render.images.shape == (n, SIZE, SIZE, 3)
    assert render.face_ids.shape == (n, SIZE, SIZE) and render.face_ids.dtype == torch.long
    assert render.bary.shape == (n, SIZE, SIZE, 3)
    assert render.K.shape == (3, 3) and render.extrinsics.shape == (n, 4, 4)
    assert render.images.min() >= 0 and render.images.max() <= 1
    background = render.face_ids == -1
    assert (render.images[background] == 1).all()
    assert (render.bary[background] == 0).all()
    torch.testing.assert_close(render.bary[~background].sum(-1), torch.ones((~background).sum()))
    assert render.face_ids.max() < len(faces)
    for view in range(n):
        mask = render.mask[view]
        assert mask.float().mean() > 0.05, f"view {view} barely sees the mesh"
        # The whole mesh is in the picture: nothing touches the border.
        border = torch.cat((mask[0], mask[-1], mask[:, 0], mask[:, -1]))
        assert not border.any(), f"view {view} cuts the mesh"


def test_render_cache(tmp_path):
    vertices, faces = tetrahedron()
    clear_memory_cache()
    first = render_views_cached(vertices, faces, OBJECT_VIEWS, 32, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.npz"))) == 1
    assert render_views_cached(vertices, faces, OBJECT_VIEWS, 32) is first
    clear_memory_cache()
    loaded = render_views_cached(vertices, faces, OBJECT_VIEWS, 32, cache_dir=tmp_path)
    assert loaded is not first
    torch.testing.assert_close(loaded.face_ids, first.face_ids)
    torch.testing.assert_close(loaded.images, first.images)
    torch.testing.assert_close(loaded.bary, first.bary)
    moved = render_views_cached(vertices + 0.01, faces, OBJECT_VIEWS, 32, cache_dir=tmp_path)
    assert moved is not loaded
    assert len(list(tmp_path.glob("*.npz"))) == 2


# Render-lift consistency


@pytest.mark.parametrize("mesh, views", [("body", BODY_VIEWS), ("chair", OBJECT_VIEWS)])
def test_lift_recovers_projected_vertex_set(mesh, views, request):
    vertices, faces, part = request.getfixturevalue(mesh)
    render = render_views(vertices, faces, views, SIZE)
    indicator = torch.zeros(len(vertices))
    indicator[part] = 1
    masks = (project_vertices_to_masks(indicator, render, faces) >= 0.5).float()
    lifted = lift_to_vertices(masks, render, faces, len(vertices))
    visible = vertex_visibility(render, faces, len(vertices)).any(0)
    truth = (indicator > 0) & visible
    predicted = lifted >= 0.5
    assert truth.sum() > 100
    hits = (predicted & truth).sum().item()
    precision, recall = hits / predicted.sum().item(), hits / truth.sum().item()
    print(f"{mesh}: {truth.sum().item()} visible, precision {precision:.3f}, recall {recall:.3f}")
    assert precision > 0.9 and recall > 0.9
    assert not predicted[~visible].any()


# Lift


def test_lift_is_differentiable_and_zero_for_empty_masks(body):
    vertices, faces, _ = body
    render = render_views(vertices, faces, BODY_VIEWS, SIZE)
    masks = torch.rand(render.face_ids.shape, requires_grad=True)
    lifted = lift_to_vertices(masks, render, faces, len(vertices))
    assert lifted.shape == (len(vertices),)
    assert lifted.min() >= 0 and lifted.max() <= 1
    (lifted * torch.rand_like(lifted)).sum().backward()
    assert torch.isfinite(masks.grad).all()
    assert (masks.grad[render.mask] != 0).any()
    assert (masks.grad[~render.mask] == 0).all()
    zeros = lift_to_vertices(torch.zeros(render.face_ids.shape), render, faces, len(vertices))
    assert (zeros == 0).all()


def test_full_masks_lift_to_one_on_visible_vertices():
    vertices, faces = tetrahedron()
    render = render_views(vertices, faces, OBJECT_VIEWS, 32)
    lifted = lift_to_vertices(render.mask.float(), render, faces, len(vertices))
    visible = vertex_visibility(render, faces, len(vertices)).any(0)
    torch.testing.assert_close(lifted[visible], torch.ones(int(visible.sum())))


def test_lift_gradcheck():
    vertices, faces = tetrahedron(torch.float64)
    render = render_views(vertices, faces, OBJECT_VIEWS[:2], 8)
    masks = torch.rand(render.face_ids.shape, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda m: lift_to_vertices(m, render, faces, len(vertices)), (masks,)
    )
    values = torch.rand(len(vertices), dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda v: project_vertices_to_masks(v, render, faces), (values,)
    )


def test_lift_matches_naive_loop():
    vertices, faces = tetrahedron()
    render = render_views(vertices, faces, OBJECT_VIEWS, 12)
    masks = torch.rand(render.face_ids.shape)
    num_views, height, width = masks.shape
    per_view = []
    for view in range(num_views):
        value_sum, weight_sum = [0.0] * len(vertices), [0.0] * len(vertices)
        for y in range(height):
            for x in range(width):
                face = render.face_ids[view, y, x].item()
                if face < 0:
                    continue
                for corner in range(3):
                    vertex = faces[face, corner].item()
                    weight = render.bary[view, y, x, corner].item()
                    value_sum[vertex] += weight * masks[view, y, x].item()
                    weight_sum[vertex] += weight
        per_view.append(
            [(s / w if w > 0 else None) for s, w in zip(value_sum, weight_sum, strict=True)]
        )
    expected = []
    for vertex in range(len(vertices)):
        seen = [p[vertex] for p in per_view if p[vertex] is not None]
        expected.append(sum(seen) / len(seen) if seen else 0.0)
    lifted = lift_to_vertices(masks, render, faces, len(vertices))
    torch.testing.assert_close(lifted, torch.tensor(expected))


def test_project_constant_values():
    vertices, faces = tetrahedron()
    render = render_views(vertices, faces, OBJECT_VIEWS, 16)
    projected = project_vertices_to_masks(torch.full((len(vertices),), 0.7), render, faces)
    torch.testing.assert_close(projected[render.mask], torch.full((int(render.mask.sum()),), 0.7))
    assert (projected[~render.mask] == 0).all()


def test_lift_rejects_mismatched_masks():
    vertices, faces = tetrahedron()
    render = render_views(vertices, faces, OBJECT_VIEWS, 16)
    with pytest.raises(ValueError, match="do not match"):
        lift_to_vertices(torch.zeros(4, 8, 8), render, faces, len(vertices))
