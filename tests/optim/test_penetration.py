import pytest
import torch
import trimesh

from optim.losses import (
    body_in_object_depth,
    contact_paired,
    object_in_body_depth,
    penetration_body_in_object,
    penetration_object_in_body,
    vertex_area_weights,
)
from optim.losses.closest_point import FixedMesh
from reconstruction.object_model import ObjectMesh, ObjectPose
from reconstruction.sdf import compute_sdf_grid


def box(extents, top_y, centre_xz=(0.0, 0.0)):
    """A trimesh box with its top face at y = top_y."""
    mesh = trimesh.creation.box(extents=extents)
    mesh.apply_translation((centre_xz[0], top_y - extents[1] / 2, centre_xz[1]))
    return mesh


def surface_points(mesh, count, seed=0):
    points, _ = trimesh.sample.sample_surface(mesh, count, seed=seed)
    return torch.tensor(points, dtype=torch.float32)[None]


def grid_of(mesh, tmp_path):
    return compute_sdf_grid(ObjectMesh(mesh.vertices, mesh.faces), 64, 0.15, tmp_path)


def lifted(y):
    """An identity object pose moved up (+y) by y metres, batch 1."""
    pose = ObjectPose.identity()
    pose.transl[0, 1] = y
    return pose


# A cube of side 0.4 resting on a plane (a wide, thin box) whose top is y = 0.
PLANE = box((2.0, 0.4, 2.0), 0.0)
CUBE = box((0.4, 0.4, 0.4), 0.4)


@pytest.mark.parametrize("overlap", [0.0, 0.03, 0.08])
def test_cube_on_a_plane_penetrates_the_plane_by_the_overlap(tmp_path, overlap):
    grid = grid_of(PLANE, tmp_path)
    cube_points = surface_points(CUBE, 2000)
    depth = body_in_object_depth(cube_points, grid, lifted(overlap))
    assert depth.max().item() == pytest.approx(overlap, abs=1e-5)
    if overlap == 0:
        assert penetration_body_in_object(cube_points, grid, lifted(0.0)).item() < 1e-5


@pytest.mark.parametrize("overlap", [0.0, 0.03, 0.08])
def test_plane_penetrates_a_cube_body_by_the_overlap(overlap):
    cube = CUBE.subdivide().subdivide()  # a "body" mesh with vertices inside its faces
    vertices = torch.tensor(cube.vertices, dtype=torch.float32)[None]
    faces = torch.tensor(cube.faces)
    plane_points = surface_points(PLANE, 4000) + torch.tensor([0.0, overlap, 0.0])
    depth = object_in_body_depth(plane_points, vertices, faces)
    # The samples nearest the cube's footprint are up to a few mm from the deepest point.
    assert depth.max().item() == pytest.approx(overlap, abs=1e-6 if overlap == 0 else 2e-3)
    assert depth.max().item() <= overlap + 1e-6
    if overlap == 0:
        assert penetration_object_in_body(plane_points, vertices, faces).item() < 1e-6


def test_object_in_body_ignores_points_farther_than_max_distance():
    cube = box((1.0, 1.0, 1.0), 0.5).subdivide()
    vertices = torch.tensor(cube.vertices, dtype=torch.float32)[None]
    faces = torch.tensor(cube.faces)
    points = torch.tensor([[[0.0, -0.5, 0.0], [0.0, -0.4, 0.0], [0.0, -0.6, 0.0]]])
    depth = object_in_body_depth(points, vertices, faces, max_distance=0.2)
    torch.testing.assert_close(depth, torch.tensor([[0.0, 0.1, 0.0]]), atol=1e-6, rtol=0)
    depth = object_in_body_depth(points, vertices, faces, max_distance=0.6)
    torch.testing.assert_close(depth, torch.tensor([[0.0, 0.1, 0.0]]), atol=1e-6, rtol=0)
    centre = torch.tensor([[[0.0, 0.0, 0.0]]])
    assert object_in_body_depth(centre, vertices, faces, max_distance=0.2).item() == 0
    assert object_in_body_depth(centre, vertices, faces, max_distance=0.6).item() == pytest.approx(
        0.5
    )


def test_penetration_gradients_push_out_and_vanish_without_contact(tmp_path):
    grid = grid_of(PLANE, tmp_path)
    cube_points = surface_points(CUBE, 500)
    for overlap, sign in ((0.05, 1.0), (-0.05, 0.0)):
        pose = lifted(overlap)
        pose.transl.requires_grad_()
        loss = penetration_body_in_object(cube_points, grid, pose)
        loss.backward()
        grad_y = pose.transl.grad[0, 1].item()
        assert torch.isfinite(pose.transl.grad).all()
        assert (grad_y > 0) if sign else (grad_y == 0)  # raising the plane deepens it

    cube = CUBE.subdivide()
    vertices = torch.tensor(cube.vertices, dtype=torch.float32)[None].requires_grad_()
    faces = torch.tensor(cube.faces)
    for overlap in (0.05, -0.05):
        points = (surface_points(PLANE, 500) + torch.tensor([0.0, overlap, 0.0])).requires_grad_()
        penetration_object_in_body(points, vertices, faces).backward()
        assert torch.isfinite(points.grad).all() and torch.isfinite(vertices.grad).all()
        if overlap > 0:
            assert points.grad[..., 1].sum() > 0 and vertices.grad[..., 1].sum() < 0
        else:
            assert (points.grad == 0).all() and (vertices.grad == 0).all()
        vertices.grad = None


def test_penetration_reductions_and_empty_inputs(tmp_path):
    grid = grid_of(PLANE, tmp_path)
    points = torch.tensor([[[0.0, -0.1, 0.0], [0.0, 0.3, 0.0]]])
    total = penetration_body_in_object(points, grid, ObjectPose.identity())
    mean = penetration_body_in_object(points, grid, ObjectPose.identity(), reduction="mean")
    assert total.item() == pytest.approx(0.1, abs=1e-5) and mean.item() == pytest.approx(
        0.05, abs=1e-5
    )
    with pytest.raises(ValueError):
        penetration_body_in_object(points, grid, ObjectPose.identity(), reduction="max")
    empty = torch.zeros(2, 0, 3)
    assert (penetration_body_in_object(empty, grid, ObjectPose.identity(2)) == 0).all()
    cube = torch.tensor(CUBE.vertices, dtype=torch.float32)[None].expand(2, -1, -1)
    for reduction in ("sum", "mean"):
        loss = penetration_object_in_body(
            empty, cube, torch.tensor(CUBE.faces), reduction=reduction
        )
        assert loss.shape == (2,) and (loss == 0).all()


def test_area_weights_make_the_penetration_a_sum_over_the_surface(tmp_path):
    # Two like thin plates side by side, one tessellated 16 times finer, both 5 cm into the
    # plane: they weigh alike once each vertex counts by its share of the surface. A large
    # plate above the plane, its few vertices sharing much of the surface, weighs 1 a vertex.
    coarse = box((0.2, 0.002, 0.2), -0.049, (-0.3, 0.0))
    fine = box((0.2, 0.002, 0.2), -0.049, (0.3, 0.0)).subdivide().subdivide()
    large = box((2.0, 0.002, 2.0), 1.0)
    mesh = trimesh.util.concatenate([coarse, fine, large])
    vertices = torch.tensor(mesh.vertices, dtype=torch.float32)
    weights = vertex_area_weights(vertices, torch.tensor(mesh.faces, dtype=torch.long))
    assert (weights >= 0).all() and (weights[vertices[:, 1] > 0.5] == 1).all()
    sunk = vertices[:, 1] < 0
    left, right = sunk & (vertices[:, 0] < 0), sunk & (vertices[:, 0] > 0)
    grid = grid_of(PLANE, tmp_path)
    depth = body_in_object_depth(vertices[None], grid, ObjectPose.identity())[0]
    assert depth[right].sum() > 4 * depth[left].sum()
    assert (depth * weights)[right].sum().item() == pytest.approx(
        (depth * weights)[left].sum().item(), rel=0.05
    )
    weighted = penetration_body_in_object(
        vertices[None], grid, ObjectPose.identity(), weights=weights
    )
    assert weighted.item() == pytest.approx(float((depth * weights).sum()), rel=1e-5)


@pytest.fixture(scope="module")
def anny_on_a_box(anny, tmp_path_factory):
    """Anny in the rest pose, and a box whose top face is the floor under her feet."""
    model = anny
    output = model(model.zero_params())
    vertices = output.vertices.detach()
    floor = float(vertices[0, :, 1].min())
    feet = model.parts["feet"]
    low = vertices[0, feet, 2]
    centre_z = float(low.min() + low.max()) / 2
    mesh = box((0.8, 0.2, 0.6), floor, (0.0, centre_z))
    grid = compute_sdf_grid(
        ObjectMesh(mesh.vertices, mesh.faces), 64, 0.15, tmp_path_factory.mktemp("sdf")
    )
    return vertices, output.faces, feet, floor, mesh, grid


def test_body_resting_on_a_box_is_in_contact_without_penetration(anny_on_a_box):
    vertices, faces, feet, floor, mesh, grid = anny_on_a_box
    assert penetration_body_in_object(vertices, grid, ObjectPose.identity()).item() < 1e-6
    points = surface_points(mesh, 4000)
    corners = torch.tensor(mesh.vertices, dtype=torch.float32)[None]
    assert penetration_object_in_body(points, vertices, faces).item() == 0
    assert penetration_object_in_body(corners, vertices, faces).item() == 0
    sole = feet[vertices[0, feet, 1] < floor + 1e-3]
    assert len(sole) > 0
    body_points = vertices[:, sole]
    projections = body_points.clone()
    projections[..., 1] = floor
    assert contact_paired(body_points, projections).item() < 1e-3


def test_box_pushed_up_two_centimetres_into_the_feet(anny_on_a_box):
    vertices, faces, _, _, mesh, grid = anny_on_a_box
    pose = lifted(0.02)
    depth = body_in_object_depth(vertices, grid, pose)
    assert depth.max().item() == pytest.approx(0.02, abs=1e-3)
    assert penetration_body_in_object(vertices, grid, pose).item() > 0
    points = surface_points(mesh, 4000) + torch.tensor([0.0, 0.02, 0.0])
    depth = object_in_body_depth(points, vertices, faces)
    assert depth.max().item() == pytest.approx(0.02, abs=2e-3)
    assert depth.max().item() <= 0.02 + 1e-4


def test_a_rigidly_moved_body_searched_in_its_own_frame_gives_the_same_depths_and_gradients():
    cube = CUBE.subdivide().subdivide()
    local = torch.tensor(cube.vertices, dtype=torch.float64)
    faces = torch.tensor(cube.faces)
    plane = surface_points(PLANE, 3000)[0].double() + torch.tensor([0.0, 0.05, 0.0]).double()
    angle = torch.tensor(0.4, dtype=torch.float64, requires_grad=True)
    shift = torch.tensor([0.1, -0.02, 0.3], dtype=torch.float64, requires_grad=True)

    def rotation():
        c, s = torch.cos(angle), torch.sin(angle)
        one, zero = torch.ones_like(c), torch.zeros_like(c)
        return torch.stack([c, zero, s, zero, one, zero, -s, zero, c]).view(3, 3)

    # The plane moved with the body, so that the overlap stays 5 cm.
    points = plane.detach() @ rotation().detach().T + shift.detach()
    moved = local @ rotation().T + shift
    depth = object_in_body_depth(points[None], moved[None], faces)
    assert depth.max().item() == pytest.approx(0.05, abs=1e-6)
    grads = torch.autograd.grad(depth.sum(), (angle, shift))
    in_frame = (points - shift) @ rotation()
    fixed = object_in_body_depth(in_frame[None], FixedMesh(local, faces))
    torch.testing.assert_close(fixed, depth)
    for ours, theirs in zip(torch.autograd.grad(fixed.sum(), (angle, shift)), grads, strict=True):
        torch.testing.assert_close(ours, theirs)
