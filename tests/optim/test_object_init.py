"""Object hypotheses: ground-standing objects stand upright on the floor, others are free."""

import math

import pytest
import torch
import trimesh

from optim.config import ObjectInitConfig
from optim.inputs import FitInputs
from optim.object_init import (
    FACING_PREFERENCE,
    MODEL_TO_CAMERA,
    body_axis,
    body_forward,
    centre_on_mask,
    distinct_best,
    initialize_object,
    relief_error,
    rest_on_floor,
    rotation_hypotheses,
    upright_rotations,
    yaw_alignment,
)
from optim.size_priors import typical_height, typical_size
from reconstruction.rasterizer import rasterize
from reconstruction.rotations import axis_angle_to_matrix, kabsch

K = torch.tensor([[80.0, 0.0, 31.5], [0.0, 80.0, 31.5], [0.0, 0.0, 1.0]])
SIZE = (64, 64)


def pitched_floor(degrees: float = 15.0, camera_height: float = 1.3) -> torch.Tensor:
    pitch = axis_angle_to_matrix(torch.tensor([math.radians(degrees), 0.0, 0.0]))
    return torch.cat((pitch @ torch.tensor([0.0, -1.0, 0.0]), torch.tensor([camera_height])))


def heights(rotations, translations, points, floor):
    """(K, N) heights above the floor of the posed points."""
    return (points @ rotations.transpose(1, 2) + translations[:, None]) @ floor[:3] + floor[3]


def test_upright_rotations_keep_y_along_the_floor_normal():
    floor = pitched_floor()
    rotations = upright_rotations(12, floor[:3])
    assert rotations.shape == (12, 3, 3)
    assert torch.allclose(rotations[:, :, 1], floor[:3].expand(12, 3), atol=1e-6)
    assert torch.allclose(torch.linalg.det(rotations), torch.ones(12), atol=1e-6)
    # Evenly spaced turns: consecutive ones differ by 30 degrees about the normal.
    relative = rotations[1:] @ rotations[:-1].transpose(1, 2)
    cos = (relative.diagonal(dim1=1, dim2=2).sum(-1) - 1) / 2
    assert torch.allclose(cos, torch.full((11,), math.cos(math.radians(30))), atol=1e-5)
    # A level floor gives the upright hypotheses the free objects get.
    level = upright_rotations(8, torch.tensor([0.0, -1.0, 0.0]))
    free = rotation_hypotheses(16, 0.5, torch.Generator().manual_seed(0))
    assert torch.allclose(level, free[:8], atol=1e-6)
    # An upside-down camera (floor normal along +y) turns the object over, not into a mirror.
    flipped = upright_rotations(3, torch.tensor([0.0, 1.0, 0.0]))
    assert torch.allclose(flipped[:, :, 1], torch.tensor([0.0, 1.0, 0.0]).expand(3, 3), atol=1e-6)
    assert torch.allclose(torch.linalg.det(flipped), torch.ones(3), atol=1e-6)


def test_rest_on_floor_puts_the_lowest_point_on_it():
    floor = pitched_floor()
    generator = torch.Generator().manual_seed(0)
    points = torch.randn(50, 3, generator=generator)
    rotations = axis_angle_to_matrix(torch.randn(4, 3, generator=generator))
    translations = torch.randn(4, 3, generator=generator) + torch.tensor([0.0, 0.0, 4.0])
    moved = rest_on_floor(rotations, translations, points, floor)
    assert torch.allclose(
        heights(rotations, moved, points, floor).min(1).values, torch.zeros(4), atol=1e-5
    )
    # Only along the normal.
    shift = moved - translations
    assert torch.allclose(
        torch.linalg.cross(shift, floor[:3].expand(4, 3)), torch.zeros(4, 3), atol=1e-6
    )


def test_yaw_alignment_recovers_a_turn_about_the_axis():
    axis = pitched_floor()[:3]
    generator = torch.Generator().manual_seed(1)
    source = torch.randn(1, 30, 3, generator=generator)
    source = source - source.mean(1, keepdim=True)
    turn = axis_angle_to_matrix(axis * 2.5)
    target = source @ turn.T
    weights = torch.ones(30) / 30
    assert torch.allclose(yaw_alignment(source, target, weights, axis)[0], turn, atol=1e-5)
    assert torch.allclose(kabsch(source, target, weights)[0], turn, atol=1e-5)
    # Against a target turned about another axis too, it stays a turn about `axis`.
    tilted = target @ axis_angle_to_matrix(torch.tensor([0.4, 0.0, 0.0])).T
    estimate = yaw_alignment(source, tilted, weights, axis)[0]
    assert torch.allclose(estimate @ axis, axis, atol=1e-6)


def object_inputs(vertices, faces, mask, **fields) -> FitInputs:
    """Object initialization inputs without a body model: the mesh, its mask, other fields."""
    return FitInputs(
        body_model=None,
        body_init=None,
        K=K,
        image_size=SIZE,
        object_vertices=vertices,
        object_faces=faces,
        object_mask=mask,
        **fields,
    )


def chair_inputs(ground_standing: bool, with_contact: bool) -> tuple[FitInputs, torch.Tensor]:
    """A boxy 'chair' resting upright on a pitched floor, its mask, and a 'body' on its seat."""
    floor = pitched_floor()
    box = trimesh.creation.box(extents=(0.5, 0.9, 0.45))
    vertices = torch.tensor(box.vertices, dtype=torch.float32) + torch.tensor([0.0, 0.45, 0.0])
    faces = torch.tensor(box.faces)
    points = torch.tensor(trimesh.sample.sample_surface(box, 300, seed=0)[0], dtype=torch.float32)
    points = points + torch.tensor([0.0, 0.45, 0.0])
    rotation = upright_rotations(1, floor[:3]) @ axis_angle_to_matrix(torch.tensor([0.0, 0.5, 0.0]))
    translation = rest_on_floor(rotation, torch.tensor([[0.1, 0.0, 3.2]]), vertices, floor)
    posed = vertices @ rotation[0].T + translation
    mask = rasterize(posed[None], faces, K, SIZE).mask[0].float()
    # "Body" contact points: on the seat's top face, as a sitting person's buttocks would be.
    seat = points[points[:, 1] > 0.89][:20] @ rotation[0].T + translation
    body = torch.cat((seat, seat + 0.3 * floor[:3]))
    contact = torch.cat((torch.ones(len(seat)), torch.zeros(len(seat))))
    inputs = object_inputs(
        vertices,
        faces,
        mask,
        object_points=points,
        body_contact=contact if with_contact else None,
        category="chair",
        floor=floor,
        ground_standing=ground_standing,
    )
    return inputs, body


@pytest.mark.parametrize("with_contact", [True, False])
def test_ground_standing_hypotheses_stand_upright_on_the_floor(with_contact):
    inputs, body = chair_inputs(ground_standing=True, with_contact=with_contact)
    config = ObjectInitConfig(num_hypotheses=16, keep=4, use_contact=with_contact)
    pose, scores = initialize_object(inputs, body, config)
    rotations = pose.rotation_matrix()
    assert pose.batch_size == 4 and torch.all(scores[:-1] >= scores[1:])
    assert torch.allclose(rotations[:, :, 1], inputs.floor[:3].expand(4, 3), atol=1e-5)
    scaled = pose.scale()[:, None, None] * inputs.object_vertices
    lowest = heights(rotations, pose.transl, scaled, inputs.floor).min(1).values
    assert torch.allclose(lowest, torch.zeros(4), atol=1e-4)
    # The best one covers the mask (the score is its IoU less the contact residual).
    assert float(scores[0]) > (0.4 if with_contact else 0.8)


@pytest.mark.parametrize("category", ["table", "box"])
def test_a_tables_starting_size_weighs_its_standard_height(category):
    # A long, low mesh and no mask: the size prior alone would make it a 0.4 m high table.
    box = trimesh.creation.box(extents=(1.4, 0.4, 0.6))
    vertices = torch.tensor(box.vertices, dtype=torch.float32)
    inputs = object_inputs(vertices, torch.tensor(box.faces), None, category=category)
    body = torch.tensor([[0.0, 0.0, 3.0]])
    config = ObjectInitConfig(num_hypotheses=4, keep=1, use_contact=False)
    pose, _ = initialize_object(inputs, body, config)
    height = 0.4 * float(pose.scale()[0])
    size, _ = typical_size(category)
    if category == "table":
        typical, _ = typical_height(category)
        assert abs(math.log(height / typical)) < 0.5 * abs(math.log(0.4 * size / 1.4 / typical))
    else:
        assert height == pytest.approx(0.4 * size / 1.4, rel=1e-5)


def test_free_objects_keep_random_rotations():
    inputs, body = chair_inputs(ground_standing=False, with_contact=True)
    config = ObjectInitConfig(num_hypotheses=16, keep=16, upright_fraction=0.25)
    pose, _ = initialize_object(inputs, body, config)
    up = pose.rotation_matrix()[:, :, 1]
    tilted = (up @ MODEL_TO_CAMERA[:, 1]) < 0.99
    assert tilted.any()


def test_a_free_object_that_fits_alike_both_ways_up_is_taken_upright(monkeypatch):
    import optim.object_init as object_init

    box = trimesh.creation.box(extents=(0.3, 0.2, 0.4))  # upside down: the same silhouette
    vertices = torch.tensor(box.vertices, dtype=torch.float32)
    upright = MODEL_TO_CAMERA @ axis_angle_to_matrix(torch.tensor([0.0, 0.6, 0.0]))
    flipped = upright @ axis_angle_to_matrix(torch.tensor([math.pi, 0.0, 0.0]))
    posed = vertices @ upright.T + torch.tensor([0.0, 0.2, 2.5])
    faces = torch.tensor(box.faces)
    mask = rasterize(posed[None], faces, K, SIZE).mask[0].float()
    inputs = object_inputs(vertices, faces, mask, category="box")
    # The upside-down pose comes first: without the preference the tie would keep it.
    monkeypatch.setattr(
        object_init, "rotation_hypotheses", lambda *args, **kw: torch.stack((flipped, upright))
    )
    config = ObjectInitConfig(num_hypotheses=2, keep=1, use_contact=False)
    pose, _ = initialize_object(inputs, posed, config)
    up = pose.rotation_matrix()[0, :, 1]
    assert float(up @ torch.tensor([0.0, -1.0, 0.0])) > 0.99


def turned_box(yaw: float):
    """A box standing upright, turned about the vertical, 2.5 m in front of the camera."""
    box = trimesh.creation.box(extents=(0.6, 0.3, 0.2))
    vertices = torch.tensor(box.vertices, dtype=torch.float32)
    rotation = MODEL_TO_CAMERA @ axis_angle_to_matrix(torch.tensor([0.0, yaw, 0.0]))
    return vertices, torch.tensor(box.faces), rotation, torch.tensor([0.0, 0.0, 2.5])


def test_relief_error_ignores_the_maps_shift_and_tells_mirror_turns_apart():
    vertices, faces, rotation, translation = turned_box(0.6)
    _, _, mirror, _ = turned_box(-0.6)
    posed = torch.stack((vertices @ rotation.T, vertices @ mirror.T)) + translation
    rendered = rasterize(posed, faces, K, SIZE).depth
    depth_map = torch.where(rendered[0] > 0, rendered[0] + 0.4, torch.zeros(()))  # shifted
    seen = rendered[0] > 0
    error = relief_error(rendered, depth_map, seen)
    assert float(error[0]) < 1e-3 < 0.02 < float(error[1])
    # A map with no depth inside the mask compares nothing: no hypothesis is favoured.
    assert torch.equal(relief_error(rendered, torch.zeros(SIZE), seen), torch.zeros(2))


def test_the_depth_map_picks_between_poses_of_the_same_silhouette(monkeypatch):
    import optim.object_init as object_init

    vertices, faces, rotation, translation = turned_box(0.6)
    _, _, mirror, _ = turned_box(-0.6)
    posed = vertices @ rotation.T + translation
    fragments = rasterize(posed[None], faces, K, SIZE)
    mask = fragments.mask[0].float()
    depth_map = 1.2 * fragments.depth[0]  # a monocular map's scale error
    inputs = object_inputs(vertices, faces, mask, category="box", depth=depth_map)
    # The mirror turn comes first: on the silhouette alone the tie would keep it.
    monkeypatch.setattr(
        object_init, "rotation_hypotheses", lambda *args, **kw: torch.stack((mirror, rotation))
    )
    for weight, expected in ((0.0, mirror), (1.0, rotation)):
        config = ObjectInitConfig(num_hypotheses=2, keep=1, use_contact=False, depth_weight=weight)
        pose, _ = initialize_object(inputs, posed, config)
        assert torch.allclose(pose.rotation_matrix()[0], expected, atol=1e-5)


@pytest.mark.parametrize("with_depth", [True, False])
def test_centring_moves_a_hypothesis_onto_its_mask_and_depth(with_depth):
    vertices, faces, rotation, translation = turned_box(0.6)
    fragments = rasterize((vertices @ rotation.T + translation)[None], faces, K, SIZE)
    mask = fragments.mask[0]
    depth_map = fragments.depth[0] + 0.3 if with_depth else None  # a map's shift error...
    start = translation + torch.tensor([0.25, -0.15, 0.4])
    moved = centre_on_mask(rotation[None], start[None], vertices, faces, K, mask, depth=depth_map)
    # ...moves it as far (its median depth is the map's); without a map it keeps its distance.
    expected = translation + torch.tensor([0.0, 0.0, 0.3]) if with_depth else None
    if with_depth:
        assert torch.allclose(moved[0], expected, atol=0.03)
        # A hypothesis already on its mask and at its depth stays there.
        truth = translation[None]
        exact = fragments.depth[0]
        assert torch.equal(
            centre_on_mask(rotation[None], truth, vertices, faces, K, mask, depth=exact), truth
        )
    else:
        assert float(moved[0, 2]) == pytest.approx(float(start[2]))
        posed = vertices @ rotation.T + moved[0]
        centred = rasterize(posed[None], faces, K, SIZE).mask[0]
        assert (centred & mask).sum() / (centred | mask).sum() > 0.6


def test_centring_keeps_an_object_on_its_floor_and_ignores_what_the_person_hides():
    inputs, _ = chair_inputs(ground_standing=True, with_contact=False)
    floor, points = inputs.floor, inputs.object_vertices
    rotation = upright_rotations(1, floor[:3]) @ axis_angle_to_matrix(torch.tensor([0.0, 0.5, 0.0]))
    truth = rest_on_floor(rotation, torch.tensor([[0.1, 0.0, 3.2]]), points, floor)
    start = rest_on_floor(rotation, torch.tensor([[-0.3, 0.0, 3.6]]), points, floor)
    mask = inputs.object_mask > 0.5
    hidden = torch.zeros_like(mask)
    hidden[:, 38:] = True  # a person in front of the object's right third
    faces = inputs.object_faces
    depth = rasterize((points @ rotation[0].T + truth)[None], faces, K, SIZE).depth[0]
    moved = centre_on_mask(rotation, start, points, faces, K, mask & ~hidden, hidden, depth, floor)
    assert heights(rotation, moved, points, floor).min() == pytest.approx(0.0, abs=1e-4)
    assert torch.allclose(moved, truth, atol=0.05)
    # Without depth it only moves across the view, along the floor: not nearer or farther.
    across = centre_on_mask(rotation, start, points, faces, K, mask & ~hidden, hidden, None, floor)
    assert heights(rotation, across, points, floor).min() == pytest.approx(0.0, abs=1e-4)
    along = torch.linalg.cross(floor[:3], torch.tensor([0.0, 0.0, 1.0]))
    depthwise = torch.linalg.cross(floor[:3], along / along.norm())
    assert float((across - start)[0] @ depthwise) == pytest.approx(0.0, abs=1e-5)
    assert abs(float((across - truth)[0] @ along)) < abs(float((start - truth)[0] @ along)) / 2


def test_a_prior_places_the_object_where_the_mask_shows_it_not_on_the_hands():
    """A hand on a table touches its edge: the table is not centred on the hand."""
    inputs, body = chair_inputs(ground_standing=True, with_contact=True)
    edge = body[:20] + torch.tensor([0.3, 0.0, 0.0])  # "hands" off the seat's middle
    inputs.body_contact = torch.ones(len(edge))
    inputs.contact_is_prior = True
    config = ObjectInitConfig(num_hypotheses=16, keep=4, keep_with_prior=1)
    pose, scores = initialize_object(inputs, edge, config)
    posed = pose.scale()[0] * inputs.object_vertices @ pose.rotation_matrix()[0].T + pose.transl[0]
    silhouette = rasterize(posed[None], inputs.object_faces, K, SIZE).mask[0]
    mask = inputs.object_mask > 0.5
    assert (silhouette & mask).sum() / (silhouette | mask).sum() > 0.7


def test_a_priors_likeliest_parts_are_its_contact_even_below_the_threshold():
    from optim.object_init import _contact_sets

    inputs, body = chair_inputs(ground_standing=True, with_contact=True)
    inputs.body_contact = inputs.body_contact * 0.3  # a standing body's hands on a chair
    assert _contact_sets(inputs, body, 0.5) is None  # measured contact that unlikely: none
    inputs.contact_is_prior = True
    body_points = _contact_sets(inputs, body, 0.5)[0]
    assert len(body_points) == int((inputs.body_contact > 0).sum())


def test_kept_hypotheses_differ_modulo_the_categorys_symmetry():
    yaw = torch.tensor([0.0, 5.0, 180.0, 90.0])
    rotations = axis_angle_to_matrix(torch.stack((0 * yaw, torch.deg2rad(yaw), 0 * yaw), -1))
    score = torch.tensor([4.0, 3.0, 2.0, 1.0])
    # No symmetry (a chair): 5 degrees is the same hypothesis, a half turn is another.
    assert distinct_best(score, rotations, 2, "chair").tolist() == [0, 2]
    # A box turned half round looks the same: the quarter turn is the next distinct one.
    assert distinct_best(score, rotations, 2, "box").tolist() == [0, 3]
    # A ball looks the same every way: the best of the rest fill in.
    assert distinct_best(score, rotations, 3, "ball").tolist() == [0, 1, 2]


def test_a_contact_prior_keeps_its_own_number_of_hypotheses():
    inputs, body = chair_inputs(ground_standing=True, with_contact=True)
    config = ObjectInitConfig(num_hypotheses=16, keep=4, keep_with_prior=1)
    assert initialize_object(inputs, body, config)[0].batch_size == 4
    inputs.contact_is_prior = True
    assert initialize_object(inputs, body, config)[0].batch_size == 1


def test_the_body_faces_across_its_hips_and_up_its_torso():
    keypoints = torch.zeros(17, 3)
    keypoints[11], keypoints[12] = torch.tensor([0.1, 0.0, 0.0]), torch.tensor([-0.1, 0.0, 0.0])
    keypoints[5], keypoints[6] = torch.tensor([0.2, 0.5, 0.0]), torch.tensor([-0.2, 0.5, 0.0])
    assert torch.allclose(body_forward(keypoints), torch.tensor([0.0, 0.0, 1.0]))  # y-up, +z
    turned = keypoints @ MODEL_TO_CAMERA.T  # the same body in the camera frame: faces it
    assert torch.allclose(body_forward(turned), torch.tensor([0.0, 0.0, -1.0]))


def test_a_seat_is_turned_the_way_its_sitter_faces(monkeypatch):
    import optim.object_init as object_init
    from reconstruction.procedural_objects import chair

    mesh = chair()
    vertices, faces = torch.tensor(mesh.vertices, dtype=torch.float32), torch.tensor(mesh.faces)
    facing = MODEL_TO_CAMERA  # its +z front towards the camera
    away = MODEL_TO_CAMERA @ axis_angle_to_matrix(torch.tensor([0.0, math.pi, 0.0]))
    posed = vertices @ facing.T + torch.tensor([0.0, 0.2, 3.0])
    mask = rasterize(posed[None], faces, K, SIZE).mask[0].float()
    inputs = object_inputs(
        vertices, faces, mask, category="chair", seat_front=torch.tensor([0.0, 0.0, 1.0])
    )
    monkeypatch.setattr(
        object_init, "rotation_hypotheses", lambda *args, **kw: torch.stack((away, facing))
    )
    config = ObjectInitConfig(num_hypotheses=2, keep=2, use_contact=False)

    def margin(body_facing):
        """Score of the pose facing the camera less that of the one facing away."""
        pose, scores = initialize_object(inputs, posed, config, facing=body_facing)
        first_faces = torch.allclose(pose.rotation_matrix()[0], facing, atol=1e-5)
        return float(scores[0] - scores[1]) * (1 if first_faces else -1)

    towards_camera = torch.tensor([0.0, 0.0, -1.0])
    # A body facing the camera adds FACING_PREFERENCE to the seat facing it and takes as much
    # from the one facing away; a body facing away, the reverse; a lying body nothing.
    assert margin(towards_camera) - margin(None) == pytest.approx(2 * FACING_PREFERENCE)
    assert margin(-towards_camera) - margin(None) == pytest.approx(-2 * FACING_PREFERENCE)
    assert margin(torch.tensor([0.0, -1.0, 0.0])) == pytest.approx(margin(None))


def quarter_turn_scores(monkeypatch, mesh, **fields):
    """Scores of a mesh's three hypotheses, turned 0, 90 and 180 degrees about its up axis.

    The mask is the first turn's. Returns a function of `initialize_object`'s keyword arguments
    (`facing`, `axis`) giving {turn index: score}.
    """
    import optim.object_init as object_init

    vertices, faces = torch.tensor(mesh.vertices, dtype=torch.float32), torch.tensor(mesh.faces)
    turns = [
        MODEL_TO_CAMERA @ axis_angle_to_matrix(torch.tensor([0.0, a, 0.0]))
        for a in (0.0, math.pi / 2, math.pi)
    ]
    posed = vertices @ turns[0].T + torch.tensor([0.0, 0.2, 3.0])
    mask = rasterize(posed[None], faces, K, SIZE).mask[0].float()
    inputs = object_inputs(vertices, faces, mask, **fields)
    monkeypatch.setattr(object_init, "rotation_hypotheses", lambda *args, **kw: torch.stack(turns))
    config = ObjectInitConfig(num_hypotheses=3, keep=3, use_contact=False)

    def scores(**body):
        pose, score = initialize_object(inputs, posed, config, **body)
        order = [
            next(i for i, turn in enumerate(turns) if torch.allclose(r, turn, atol=1e-5))
            for r in pose.rotation_matrix()
        ]
        return {i: float(s) for i, s in zip(order, score, strict=True)}

    return scores


def test_a_bench_is_turned_across_its_sitter_either_way(monkeypatch):
    from reconstruction.procedural_objects import bench

    scores = quarter_turn_scores(
        monkeypatch,
        bench(length=1.2, depth=0.35),  # long in x: sat on facing +z or -z
        category="bench",
        seat_front=torch.tensor([0.0, 0.0, 1.0]),
    )
    plain, facing = scores(), scores(facing=torch.tensor([0.0, 0.0, -1.0]))
    # Across the body either way gains FACING_PREFERENCE; along it nothing.
    assert facing[0] - plain[0] == pytest.approx(FACING_PREFERENCE)
    assert facing[2] - plain[2] == pytest.approx(FACING_PREFERENCE)
    assert facing[1] - plain[1] == pytest.approx(0.0, abs=1e-6)


def test_a_support_is_turned_along_its_lying_body_either_way(monkeypatch):
    from reconstruction.procedural_objects import table

    scores = quarter_turn_scores(
        monkeypatch,
        table(width=1.2, depth=0.6),  # long in x
        category="table",
        lying_length=torch.tensor([1.0, 0.0, 0.0]),
    )
    plain, lying = scores(), scores(axis=torch.tensor([-1.0, 0.0, 0.0]))
    # Along the body either way gains FACING_PREFERENCE; across it nothing; an upright body
    # (its axis along the camera's up) nothing either.
    assert lying[0] - plain[0] == pytest.approx(FACING_PREFERENCE)
    assert lying[2] - plain[2] == pytest.approx(FACING_PREFERENCE)
    assert lying[1] - plain[1] == pytest.approx(0.0, abs=1e-6)
    assert scores(axis=torch.tensor([0.0, -1.0, 0.0])) == pytest.approx(plain)


def test_the_body_extends_from_its_hips_to_its_shoulders():
    keypoints = torch.zeros(17, 3)
    keypoints[11], keypoints[12] = torch.tensor([0.1, 0.0, 0.0]), torch.tensor([-0.1, 0.0, 0.0])
    keypoints[5], keypoints[6] = torch.tensor([0.2, 0.0, 0.5]), torch.tensor([-0.2, 0.0, 0.5])
    assert torch.allclose(body_axis(keypoints), torch.tensor([0.0, 0.0, 1.0]))
