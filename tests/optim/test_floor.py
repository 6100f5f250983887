"""The floor plane: from the feet, from depth, and the fallbacks."""

import math

import pytest
import torch

from optim.floor import (
    CAMERA_UP,
    back_project,
    body_up,
    estimate_floor,
    fit_plane,
    floor_from_feet,
    lies,
    pose_up,
)
from reconstruction.rotations import axis_angle_to_matrix, matrix_to_axis_angle

K = torch.tensor([[100.0, 0.0, 63.5], [0.0, 100.0, 47.5], [0.0, 0.0, 1.0]])
SIZE = (96, 128)


def tilted_plane(degrees: float = 8.0, camera_height: float = 1.4) -> torch.Tensor:
    """A floor seen by a camera pitched down by `degrees`, `camera_height` metres above it."""
    pitch = axis_angle_to_matrix(torch.tensor([math.radians(degrees), 0.0, 0.0]))
    normal = pitch @ torch.tensor([0.0, -1.0, 0.0])
    return torch.cat((normal, torch.tensor([camera_height])))


def plane_depth(plane: torch.Tensor) -> torch.Tensor:
    """(H, W) depth of the plane along each pixel's ray, 0 where the ray misses it."""
    rays = back_project(torch.ones(SIZE), K)  # (H, W, 3) at z = 1
    along = rays @ plane[:3]
    depth = -plane[3] / along
    return torch.where((along < 0) & (depth < 20), depth, torch.zeros(()))


def angle_deg(a: torch.Tensor, b: torch.Tensor) -> float:
    return math.degrees(math.acos(min(1.0, float(a @ b / (a.norm() * b.norm())))))


def test_floor_from_feet_passes_under_the_lowest_foot_vertex():
    plane = tilted_plane()
    generator = torch.Generator().manual_seed(0)
    points = torch.randn(200, 3, generator=generator) + torch.tensor([0.0, 0.0, 4.0])
    # Lift every point above the plane, then put foot vertex 7 exactly on it.
    height = points @ plane[:3] + plane[3]
    points = points + (0.05 - height.clamp(max=0) + height.abs()).unsqueeze(1) * plane[:3]
    points[7] -= (points[7] @ plane[:3] + plane[3]) * plane[:3]
    feet = torch.tensor([3, 7, 11])
    estimate = floor_from_feet(points, 2.0 * plane[:3], feet)
    assert torch.allclose(estimate, plane, atol=1e-5)
    # Without a feet part the whole body's lowest vertex is taken: here the same one.
    assert torch.allclose(floor_from_feet(points, plane[:3], None), plane, atol=1e-5)
    assert torch.allclose(
        floor_from_feet(points, plane[:3], torch.tensor([], dtype=torch.long)), plane, atol=1e-5
    )


def test_a_lying_body_gives_a_floor_normal_to_its_up_of_unknown_height():
    lying = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])  # root along +z
    up = tilted_plane(20.0)[:3]
    assert lies(body_up(lying), up) and not lies(up, up)
    estimate = estimate_floor(torch.randn(50, 3), up, lying=True)
    assert estimate.source == "lying"
    assert torch.allclose(estimate.plane[:3], up)
    assert torch.isnan(estimate.plane[3])


def test_pose_up_is_the_vertical_of_the_nearest_canonical_pose(anny):
    from reconstruction.interaction_library import pose_library

    library = pose_library(anny)
    with torch.no_grad():
        poses = anny(library.params(anny)).vertices
    # A lying body seen by a camera pitched down 20 degrees: its root axis is no vertical.
    lying = library.index("lying_on_back")
    params = library.params(anny)._map(lambda t: t[lying : lying + 1])
    view = axis_angle_to_matrix(torch.tensor([math.pi + math.radians(20.0), 0.0, 0.0]))
    view = view @ axis_angle_to_matrix(torch.tensor([0.0, 0.7, 0.0]))  # turned, pitched down
    orient = view @ axis_angle_to_matrix(params.global_orient[0])
    params.global_orient = matrix_to_axis_angle(orient)[None]
    params.transl = torch.tensor([[0.1, 0.4, 3.0]])
    with torch.no_grad():
        vertices = anny(params).vertices[0]
    up = pose_up(vertices, poses)
    assert angle_deg(up, view[:, 1]) < 1e-3
    assert lies(body_up(params.to_matrices().global_orient[0]), up)
    # The standing pose laid down along the body has its up across the camera's: not counted.
    standing = library.index("standing")
    assert pose_up(vertices, poses[standing : standing + 1]) is None


def test_body_up_is_the_second_column():
    upright_in_camera = torch.diag(torch.tensor([1.0, -1.0, -1.0]))  # y-up body, y-down camera
    assert torch.equal(body_up(upright_in_camera), torch.tensor([0.0, -1.0, 0.0]))
    # Leaning 20 degrees and turned: still the body's own up.
    turn = upright_in_camera @ axis_angle_to_matrix(torch.tensor([0.35, 1.0, 0.0]))
    assert torch.allclose(body_up(turn), turn[:, 1])


def test_standing_body_model_gives_its_floor(anny):
    """The rest-pose body turned and placed in the camera: its soles define the floor."""
    params = anny.zero_params()
    orient = axis_angle_to_matrix(torch.tensor([math.pi - 0.15, 0.4, 0.0]))
    params.global_orient = orient[None]
    params.transl = torch.tensor([[0.2, 0.1, 3.0]])
    with torch.no_grad():
        vertices = anny(params).vertices[0]
    feet = anny.parts["feet"]
    estimate = estimate_floor(vertices, body_up(params.to_matrices().global_orient[0]), feet)
    assert estimate.source == "feet"
    up = orient[:, 1]
    assert torch.allclose(estimate.plane[:3], up, atol=1e-6)
    heights = vertices @ estimate.plane[:3] + estimate.plane[3]
    assert float(heights[feet].min()) == pytest.approx(0.0, abs=1e-6)
    assert float(heights.min()) >= -1e-6  # no body vertex below the floor of a standing body
    # The soles sit about a metre below the pelvis (the root, at `transl`).
    pelvis_height = float(params.transl[0] @ estimate.plane[:3] + estimate.plane[3])
    assert 0.7 < pelvis_height < 1.2


def noisy_floor_scene(seed: int = 0):
    """Depth of a tilted floor with 1 cm noise, 15 % outliers, a wall, and a masked 'person'."""
    plane = tilted_plane(degrees=12.0, camera_height=1.5)
    generator = torch.Generator().manual_seed(seed)
    depth = plane_depth(plane)
    depth = torch.where(depth > 0, depth + 0.01 * torch.randn(SIZE, generator=generator), depth)
    outliers = torch.rand(SIZE, generator=generator) < 0.15
    depth = torch.where(outliers, 0.5 + 6 * torch.rand(SIZE, generator=generator), depth)
    wall = depth.clone()
    wall[:, :12] = 3.0  # a fronto-parallel wall at the left edge, meeting the floor
    depth = torch.where(wall > 0, wall, depth)
    person = torch.zeros(SIZE, dtype=torch.bool)
    person[30:90, 50:80] = True
    depth[person] = 2.0  # the person is not floor
    # The feet's plane is 6 cm too high and tilted 5 degrees off.
    axis = torch.linalg.cross(plane[:3], torch.tensor([0.0, 0.0, 1.0]))
    turn = axis_angle_to_matrix(axis / axis.norm() * math.radians(5.0))
    seed_normal = turn @ plane[:3]
    return plane, depth, person, seed_normal, plane[3] - 0.06


def feet_on(seed_normal: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
    """Body vertices whose lowest one lies on the plane (seed_normal, offset)."""
    foot = torch.tensor([0.0, 1.0, 3.0])
    foot = foot - (foot @ seed_normal + offset) * seed_normal
    return torch.stack((foot, foot + 0.9 * seed_normal, foot + 1.7 * seed_normal))


def test_depth_refines_the_feet_floor_despite_noise_and_outliers():
    plane, depth, person, seed_normal, seed_offset = noisy_floor_scene()
    vertices = feet_on(seed_normal, seed_offset)
    feet_only = estimate_floor(vertices, seed_normal)
    assert feet_only.source == "feet"
    assert angle_deg(feet_only.plane[:3], plane[:3]) == pytest.approx(5.0, abs=0.01)

    estimate = estimate_floor(vertices, seed_normal, None, depth, K, person)
    assert estimate.source == "depth" and estimate.inliers > 1000
    assert angle_deg(estimate.plane[:3], plane[:3]) < 0.5
    assert float(estimate.plane[3]) == pytest.approx(float(plane[3]), abs=0.01)
    assert float(estimate.plane[:3].norm()) == pytest.approx(1.0, abs=1e-6)


def test_fit_plane_against_least_squares_without_outliers():
    plane = tilted_plane(degrees=20.0)
    points = back_project(plane_depth(plane), K)[plane_depth(plane) > 0]
    fitted = fit_plane(points, tilted_plane(degrees=10.0, camera_height=1.3), 0.5, 0.02)
    assert torch.allclose(fitted, plane, atol=1e-4)
    far = torch.tensor([0.0, -1.0, 0.0, 50.0])  # every point beyond the band
    assert fit_plane(points, far, 0.5, 0.02) is None


@pytest.mark.parametrize("case", ["no_depth", "all_unknown", "only_wall", "all_masked", "tilted"])
def test_falls_back_to_the_feet(case):
    plane, depth, person, seed_normal, seed_offset = noisy_floor_scene()
    vertices = feet_on(seed_normal, seed_offset)
    exclude = person
    if case == "no_depth":
        depth = None
    elif case == "all_unknown":
        depth = torch.zeros(SIZE)
    elif case == "only_wall":
        depth = torch.full(SIZE, 4.0)  # a wall facing the camera: nothing near the feet's plane
    elif case == "all_masked":
        exclude = torch.ones(SIZE, dtype=torch.bool)
    else:
        # A slope 40 degrees steeper than the feet say, through the feet: not the floor.
        steep = tilted_plane(degrees=52.0, camera_height=1.5)
        depth = plane_depth(steep)
        vertices = feet_on(plane[:3], plane[3])
        seed_normal = plane[:3]
    estimate = estimate_floor(vertices, seed_normal, None, depth, K, exclude)
    assert estimate.source == "feet" and estimate.inliers == 0
    assert torch.allclose(estimate.plane, floor_from_feet(vertices, seed_normal))


def test_a_lying_bodys_floor_comes_from_the_lowest_depth_points():
    plane, depth, person, _, _ = noisy_floor_scene()
    up = torch.tensor(CAMERA_UP)
    estimate = estimate_floor(torch.randn(50, 3), up, None, depth, K, person, lying=True)
    assert estimate.source == "depth" and estimate.inliers > 1000
    assert angle_deg(estimate.plane[:3], plane[:3]) < 0.5
    assert float(estimate.plane[3]) == pytest.approx(float(plane[3]), abs=0.01)
    # Without depth points outside the masks it stays level, of unknown height.
    everything = torch.ones(SIZE, dtype=torch.bool)
    level = estimate_floor(torch.randn(50, 3), up, None, depth, K, everything, lying=True)
    assert level.source == "lying" and torch.isnan(level.plane[3])
