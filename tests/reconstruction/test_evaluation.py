"""Known answers for the BEHAVE/InterCap reconstruction metrics (see DESIGN.md, "Metrics")."""

import numpy as np
import pytest
import torch
import trimesh
from scipy.spatial.transform import Rotation

from reconstruction.evaluation import (
    AXIAL,
    CATEGORY_SYMMETRY,
    FULL,
    HALF_TURN,
    METRIC_KEYS,
    TIME_KEYS,
    aggregate,
    aligned_chamfer_cm,
    body_contact_vertices,
    body_root,
    chamfer_cm,
    contact_precision_recall,
    contact_surface_cm,
    floor_gap_cm,
    inputs_label,
    object_relative_to_body_cm,
    pair_distance_cm,
    predicted_rotation,
    root_aligned_body_error_cm,
    rotation_error_deg,
    sample_surface,
    shape_turns,
    similarity_transform,
    stands_on_floor,
    symmetric_rotation_error_deg,
    translation_error_cm,
)
from reconstruction.procedural_objects import OBJECTS, box


def rot_deg(axis, degrees):
    return Rotation.from_euler(axis, degrees, degrees=True).as_matrix()


def dots(points, size=1e-6):
    """A mesh of one tiny triangle per point, so surface samples sit on the points (to ~1e-4 cm).

    Returns:
        vertices (3P, 3) and faces (P, 3).
    """
    points = np.asarray(points, dtype=np.float64)
    corners = np.array([[0.0, 0.0, 0.0], [size, 0.0, 0.0], [0.0, size, 0.0]])
    vertices = (points[:, None] + corners).reshape(-1, 3)
    return vertices, np.arange(len(vertices)).reshape(-1, 3)


# rotation_error_deg


@pytest.mark.parametrize(
    ("pred", "gt", "expected"),
    [
        (rot_deg("z", 10), rot_deg("z", 40), 30.0),
        (rot_deg("z", 0), rot_deg("z", 180), 180.0),
        # Rx(90)^T Ry(90) has trace 0, so cos = -1/2.
        (rot_deg("x", 90), rot_deg("y", 90), 120.0),
        # R^T R of this rotation has a trace that rounds above 3: still 0, not NaN.
        (rot_deg("xyz", [2, 4, -6]), rot_deg("xyz", [2, 4, -6]), 0.0),
    ],
)
def test_rotation_error_known_angles(pred, gt, expected):
    assert rotation_error_deg(pred, gt) == pytest.approx(expected, abs=1e-5)
    assert rotation_error_deg(gt, pred) == pytest.approx(expected, abs=1e-5)


# translation_error_cm


def test_translation_error_is_centroid_distance():
    gt = np.array([[0.0, 0.0, 1.0], [0.2, 0.0, 1.0], [0.0, 0.4, 1.0], [0.1, 0.1, 1.3]])
    assert translation_error_cm(gt + [0.03, 0.04, 0.0], gt) == pytest.approx(5.0, abs=1e-9)


def test_translation_error_ignores_rotation_about_the_centroid():
    gt = np.array([[0.0, 0.0, 1.0], [0.2, 0.0, 1.0], [0.0, 0.4, 1.0], [0.1, 0.1, 1.3]])
    center = gt.mean(0)
    pred = (gt - center) @ rot_deg("xyz", [30, 60, -45]).T + center
    assert translation_error_cm(pred, gt) == pytest.approx(0.0, abs=1e-9)


# similarity_transform


def test_similarity_transform_recovers_a_known_transform():
    source = np.random.default_rng(0).normal(size=(10, 3))
    rotation = rot_deg("xyz", [35, -120, 10])
    shift = np.array([0.1, -0.2, 3.0])
    target = 1.7 * source @ rotation.T + shift

    scale, found_rotation, found_shift = similarity_transform(source, target)

    assert scale == pytest.approx(1.7, abs=1e-12)
    np.testing.assert_allclose(found_rotation, rotation, atol=1e-12)
    np.testing.assert_allclose(found_shift, shift, atol=1e-12)


# Source variances along x, y, z are 2/6, 8/6, 18/6. A mirrored target has no proper rotation;
# Umeyama gives up the direction of the smallest singular value: s = (18 + 8 - 2) / 28 = 6/7.
# Mirroring x (the least spread axis) leaves R = I; mirroring z leaves a half-turn about y.
MIRROR_SOURCE = np.array(
    [[1.0, 0, 0], [-1.0, 0, 0], [0, 2.0, 0], [0, -2.0, 0], [0, 0, 3.0], [0, 0, -3.0]]
)


@pytest.mark.parametrize(
    ("mirror", "expected_rotation"),
    [
        (np.diag([-1.0, 1.0, 1.0]), np.eye(3)),
        (np.diag([1.0, 1.0, -1.0]), np.diag([-1.0, 1.0, -1.0])),
    ],
)
def test_similarity_transform_of_a_reflection_is_a_proper_rotation(mirror, expected_rotation):
    scale, rotation, shift = similarity_transform(MIRROR_SOURCE, MIRROR_SOURCE @ mirror)

    assert np.linalg.det(rotation) == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(rotation, expected_rotation, atol=1e-12)
    assert scale == pytest.approx(6 / 7, abs=1e-12)
    np.testing.assert_allclose(shift, 0.0, atol=1e-12)


# chamfer_cm


def test_chamfer_is_the_sum_of_directional_means_in_cm():
    # On the x axis, in cm: A = {0, 1, 6}, B = {2}. A -> B: 2, 1, 4 (mean 7/3); B -> A: 1.
    a = np.array([[0.0, 0, 0], [0.01, 0, 0], [0.06, 0, 0]])
    b = np.array([[0.02, 0, 0]])
    assert chamfer_cm(a, b) == pytest.approx(7 / 3 + 1, abs=1e-9)
    assert chamfer_cm(b, a) == pytest.approx(7 / 3 + 1, abs=1e-9)


def test_chamfer_of_identical_sets_is_zero():
    points = np.random.default_rng(1).normal(size=(20, 3))
    assert chamfer_cm(points, points[::-1]) == 0.0


# aligned_chamfer_cm

BODY_GT = [[-0.3, 0.0, 0.0], [0.3, 0.0, 0.0]]
OBJECT_GT = [[0.0, -0.1, 0.0], [0.0, 0.1, 0.0]]


def test_aligned_chamfer_is_zero_for_a_similarity_transform_of_the_truth():
    body_gt, body_faces = dots([[0.0, 0.0, 0.0], [0.4, 0.1, 0.0], [0.1, 0.9, 0.2]])
    object_gt, object_faces = dots([[0.3, 0.5, 0.1], [0.35, 0.6, 0.3]])
    rotation = rot_deg("xyz", [80, 20, -130])

    def transform(points):
        return 0.6 * points @ rotation.T + [1.0, -2.0, 4.0]

    body, obj = aligned_chamfer_cm(
        transform(body_gt),
        transform(object_gt),
        body_gt,
        object_gt,
        body_faces,
        object_faces,
        samples=500,
    )
    assert body == pytest.approx(0.0, abs=1e-3)
    assert obj == pytest.approx(0.0, abs=1e-3)


def test_aligned_chamfer_uses_one_transform_with_scale_for_body_and_object():
    # Ground truth: body points at x = +-0.3, object points at y = +-0.1 (z = 0, centroid 0).
    # Prediction: the same, the object lifted 0.2 m along z. The combined centroid moves by
    # 0.1 z, the cross-covariance stays the truth's (so R = I), and the source variance grows
    # from 0.05 to 0.05 + 0.1^2, so s = 0.05 / 0.06 = 5/6. Aligned body points:
    # (+-0.25, 0, -1/12), each sqrt(0.05^2 + (1/12)^2) m from its truth; aligned object points:
    # (0, +-1/12, 1/12), each sqrt((1/60)^2 + (1/12)^2) m from its truth. Chamfer counts each
    # distance twice (once per direction). Without the scale both would be 20 cm; aligning
    # body and object separately would give 0; no alignment, 0 and 40 cm.
    body_gt, body_faces = dots(BODY_GT)
    object_gt, object_faces = dots(OBJECT_GT)
    body, obj = aligned_chamfer_cm(
        body_gt, object_gt + [0.0, 0.0, 0.2], body_gt, object_gt, body_faces, object_faces, 500
    )
    assert body == pytest.approx(200 * np.sqrt(0.05**2 + (1 / 12) ** 2), abs=1e-3)
    assert obj == pytest.approx(200 * np.sqrt((1 / 60) ** 2 + (1 / 12) ** 2), abs=1e-3)


def test_aligned_chamfer_of_real_meshes_is_invariant_to_a_similarity_transform():
    body = trimesh.creation.icosphere(subdivisions=2, radius=0.3)
    obj = trimesh.creation.box(extents=[0.2, 0.1, 0.4])
    body_gt = np.asarray(body.vertices) + [0.0, 0.0, 2.0]
    object_gt = np.asarray(obj.vertices) + [0.35, 0.0, 2.1]
    rotation = rot_deg("xyz", [10, -70, 45])

    def transform(points):
        return 1.3 * points @ rotation.T + [0.5, 0.2, -0.3]

    faces = (np.asarray(body.faces), np.asarray(obj.faces))
    identical = aligned_chamfer_cm(body_gt, object_gt, body_gt, object_gt, *faces, samples=2000)
    moved = aligned_chamfer_cm(
        transform(body_gt), transform(object_gt), body_gt, object_gt, *faces, samples=2000
    )
    np.testing.assert_allclose(moved, identical, atol=1e-6)
    # The prediction and truth are sampled with different seeds, so even a perfect prediction
    # keeps a small sampling floor; it must stay far below the size of the misplacement.
    assert max(identical) < 3.0


# body_contact_vertices and contact_precision_recall


def test_contact_is_strictly_under_five_cm():
    body = np.array([[0.0, 0, 0], [1.0, 0, 0], [2.0, 0, 0], [3.0, 0, 0]])
    obj = np.array(
        [
            [0.05, 0, 0],  # exactly 5 cm from body vertex 0: not contact
            [1.0, 0.049, 0],  # 4.9 cm from vertex 1: contact
            [2.0, 0, 0.06],  # 6 cm from vertex 2, but ...
            [2.0, 0, -0.01],  # ... 1 cm on the other side: contact
        ]
    )
    np.testing.assert_array_equal(body_contact_vertices(body, obj), [False, True, True, False])


def test_contact_precision_recall_known_case():
    body = np.array([[0.0, 0, 0], [1.0, 0, 0], [2.0, 0, 0], [3.0, 0, 0]])
    # Predicted in contact: {0, 1}; truly in contact: {1, 2, 3}. One hit.
    object_pred = np.array([[0.0, 0.02, 0], [1.0, 0.02, 0]])
    object_gt = np.array([[1.0, 0.02, 0], [2.0, 0.02, 0], [3.0, 0.02, 0]])
    precision, recall = contact_precision_recall(body, object_pred, body, object_gt)
    assert precision == pytest.approx(1 / 2)
    assert recall == pytest.approx(1 / 3)


def test_contact_is_judged_on_the_unaligned_prediction():
    body_gt = np.array([[0.0, 0, 0], [1.0, 0, 0]])
    object_gt = np.array([[0.0, 0.03, 0]])
    # Twice the truth: a similarity alignment would restore the contact; unaligned, 6 cm is none.
    precision, recall = contact_precision_recall(2 * body_gt, 2 * object_gt, body_gt, object_gt)
    assert precision is None
    assert recall == 0.0


def test_contact_precision_recall_none_when_nothing_is_in_contact():
    body = np.array([[0.0, 0, 0], [1.0, 0, 0]])
    touching = np.array([[0.0, 0.01, 0]])
    far = np.array([[0.0, 1.0, 0]])
    assert contact_precision_recall(body, far, body, touching) == (None, 0.0)
    assert contact_precision_recall(body, touching, body, far) == (0.0, None)
    assert contact_precision_recall(body, far, body, far) == (None, None)


# pair_distance_cm


def test_pair_distance_is_the_mean_pair_distance_in_cm():
    body_points = np.array([[0.0, 0, 0], [1.0, 1.0, 1.0]])
    object_points = np.array([[0.03, 0.04, 0], [1.0, 1.0, 1.01]])
    assert pair_distance_cm(body_points, object_points) == pytest.approx(3.0, abs=1e-9)
    assert pair_distance_cm(np.zeros((0, 3)), np.zeros((0, 3))) is None


# sample_surface


def test_sample_surface_is_seeded_on_the_mesh_and_area_uniform():
    # Two triangles in z = 0: the first of area 1/2 (x <= 1), the second of area 3/2 (x >= 2).
    vertices = np.array(
        [[0.0, 0, 0], [1.0, 0, 0], [0.0, 1.0, 0], [2.0, 0, 0], [5.0, 0, 0], [2.0, 1.0, 0]]
    )
    faces = np.array([[0, 1, 2], [3, 4, 5]])
    points = sample_surface(vertices, faces, 4000, seed=3)

    np.testing.assert_array_equal(points, sample_surface(vertices, faces, 4000, seed=3))
    assert not np.array_equal(points, sample_surface(vertices, faces, 4000, seed=4))
    assert points.shape == (4000, 3)
    np.testing.assert_array_equal(points[:, 2], 0.0)
    first = points[:, 0] <= 1.0
    assert np.all(points[first, 0] + points[first, 1] <= 1.0 + 1e-12)
    second = ~first
    assert np.all(points[second, 0] >= 2.0)
    assert np.all((points[second, 0] - 2.0) / 3.0 + points[second, 1] <= 1.0 + 1e-12)
    # Binomial(4000, 1/4): standard deviation 0.007 in the fraction.
    assert first.mean() == pytest.approx(0.25, abs=0.03)


# aggregate


def test_aggregate_takes_medians_over_the_rows_that_have_a_value():
    rows = [
        {"rot_err_deg": 1.0, "contact_precision": 0.0, "mask_iou": 0.5, "time_s": 10.0},
        {
            "rot_err_deg": None,
            "contact_precision": 0.8,
            "mask_iou": 0.9,
            "time_s": 30.0,
            "inputs": "photo, depth mono, noise low",
        },
        {"rot_err_deg": 5.0, "contact_precision": 0.6, "mask_iou": 0.7, "time_s": 20.0},
        {"rot_err_deg": None, "contact_precision": None, "time_s": 40.0},
    ]
    summary = aggregate(rows)

    assert set(summary) == {*METRIC_KEYS, *TIME_KEYS, "count", "inputs"}
    assert summary["count"] == 4  # every row, also those missing some metrics
    assert summary["rot_err_deg"] == pytest.approx(3.0)  # median of {1, 5}: None is skipped
    assert summary["contact_precision"] == pytest.approx(0.6)  # 0.0 counts as a value
    assert summary["mask_iou"] == pytest.approx(0.7)  # a missing key is skipped too
    assert summary["time_s"] == pytest.approx(25.0)
    assert summary["chamfer_body_cm"] is None  # no row has it
    assert summary["inputs"] == "photo, depth mono, noise low"


def test_aggregate_of_no_rows():
    summary = aggregate([])
    assert summary["count"] == 0
    assert all(summary[key] is None for key in (*METRIC_KEYS, *TIME_KEYS, "inputs"))


# symmetric_rotation_error_deg


def test_symmetries_of_the_categories():
    assert CATEGORY_SYMMETRY["ball"] == FULL
    assert {CATEGORY_SYMMETRY[c] for c in ("bottle", "cup", "stool", "bat")} == {AXIAL}
    assert {CATEGORY_SYMMETRY[c] for c in ("box", "table", "bench")} == {HALF_TURN}
    assert "chair" not in CATEGORY_SYMMETRY


@pytest.mark.parametrize(
    ("pred", "symmetry", "expected"),
    [
        # A turn about the vertical: free for axial objects, counted for the others.
        (rot_deg("y", 70), AXIAL, 0.0),
        (rot_deg("y", 70), None, 70.0),
        (rot_deg("y", 70), HALF_TURN, 70.0),
        # A half turn about the vertical is free for half-turn objects; 160 degrees is 20 off.
        (rot_deg("y", 180), HALF_TURN, 0.0),
        (rot_deg("y", 160), HALF_TURN, 20.0),
        (rot_deg("y", 180), None, 180.0),
        # Upside down is wrong for every object but a ball.
        (rot_deg("x", 180), AXIAL, 180.0),
        (rot_deg("x", 180), HALF_TURN, 180.0),
        (rot_deg("x", 180), FULL, 0.0),
        # A tilt of 30 degrees after a free spin about the object's own vertical.
        (rot_deg("x", 30) @ rot_deg("y", 110), AXIAL, 30.0),
    ],
)
def test_symmetric_rotation_error_known_angles(pred, symmetry, expected):
    assert symmetric_rotation_error_deg(pred, np.eye(3), symmetry) == pytest.approx(
        expected, abs=1e-5
    )


def test_turns_that_leave_the_true_object_itself_are_no_error():
    square_end = box((0.4, 0.3, 0.3))
    turns = shape_turns(square_end.vertices, square_end.faces)
    assert len(turns) == 8 and np.allclose(turns[0], np.eye(3))
    quarter = rot_deg("x", 90)  # about its length: the square end turns onto itself
    assert symmetric_rotation_error_deg(quarter, np.eye(3), HALF_TURN, turns) == pytest.approx(0)
    assert symmetric_rotation_error_deg(quarter, np.eye(3), HALF_TURN) == pytest.approx(90)
    # Off by 10 degrees from a symmetry: 10 degrees.
    near = rot_deg("x", 100)
    assert symmetric_rotation_error_deg(near, np.eye(3), None, turns) == pytest.approx(10)
    flat = box((0.15, 0.11, 0.09))  # a quarter turn about its length moves it 1 cm
    assert len(shape_turns(flat.vertices, flat.faces)) == 4
    assert symmetric_rotation_error_deg(quarter, np.eye(3), HALF_TURN, turns[:1]) == pytest.approx(
        90
    )
    chair = OBJECTS["chair"]()
    np.testing.assert_allclose(shape_turns(chair.vertices, chair.faces), np.eye(3)[None])
    # The turn is about the centre of the object's box, wherever its frame's origin is.
    np.testing.assert_allclose(
        shape_turns(square_end.vertices + [0.0, 0.15, 0.0], square_end.faces), turns
    )


def test_axial_error_is_the_smallest_error_over_spins_about_the_vertical():
    # The closed form (angle between the up axes) against a search over the spin.
    rng = np.random.default_rng(0)
    spins = [rot_deg("y", a) for a in np.linspace(0, 360, 3601)]
    for _ in range(5):
        pred, gt = Rotation.random(2, random_state=rng.integers(1 << 31)).as_matrix()
        searched = min(rotation_error_deg(pred @ spin, gt) for spin in spins)
        assert symmetric_rotation_error_deg(pred, gt, AXIAL) == pytest.approx(searched, abs=0.05)


def test_symmetric_error_is_the_same_in_the_camera_frame():
    # Both rotations composed with one camera rotation on the left: errors unchanged.
    camera = rot_deg("xyz", [20, -50, 100])
    pred, gt = rot_deg("xz", [15, 40]) @ rot_deg("y", 75), rot_deg("z", 40)
    for symmetry in (None, AXIAL, HALF_TURN):
        assert symmetric_rotation_error_deg(camera @ pred, camera @ gt, symmetry) == pytest.approx(
            symmetric_rotation_error_deg(pred, gt, symmetry), abs=1e-6
        )


# predicted_rotation


def test_predicted_rotation_compares_canonical_frames_of_another_file_frame():
    # The delivered mesh is stored z-up (canonical y -> file z) in centimetres; the fitting
    # posed it with some rotation of the file frame. The canonical rotation is that rotation
    # times the canonical-to-file one, whatever the pose file says.
    canonical = np.random.default_rng(2).normal(size=(30, 3))
    to_file = np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]])
    file_vertices = 100 * canonical @ to_file.T + [5.0, 0.0, -3.0]
    truth = rot_deg("xyz", [5, 60, -10])
    posed = 0.01 * (file_vertices - [5.0, 0.0, -3.0]) @ (truth @ to_file.T).T + [0.1, 0.2, 3.0]

    found = predicted_rotation(np.eye(3), file_vertices, posed, to_file)

    np.testing.assert_allclose(found, truth, atol=1e-9)
    # Without a delivered frame the pose's rotation is the answer.
    np.testing.assert_array_equal(predicted_rotation(truth, file_vertices, posed, None), truth)


# floor: stands_on_floor, floor_gap_cm

# A floor 1 m below the camera (camera y points down): up normal (0, -1, 0), height = -y + 1.
FLOOR = np.array([0.0, -1.0, 0.0, 1.0])


def test_floor_gap_is_the_lowest_point_above_or_below_the_floor_in_cm():
    cube = np.asarray(trimesh.creation.box(extents=[0.4, 0.4, 0.4]).vertices) + [0, 0.8, 3]
    assert floor_gap_cm(cube, FLOOR) == pytest.approx(0.0, abs=1e-9)  # bottom at y = 1
    assert floor_gap_cm(cube + [0, -0.05, 0], FLOOR) == pytest.approx(5.0, abs=1e-9)
    assert floor_gap_cm(cube + [0, 0.03, 0], FLOOR) == pytest.approx(3.0, abs=1e-9)  # sunk


def test_stands_on_floor_needs_touching_and_upright():
    cube = np.asarray(trimesh.creation.box(extents=[0.4, 0.4, 0.4]).vertices) + [0, 0.8, 3]
    up = np.array([0.0, -1.0, 0.0])
    assert stands_on_floor(cube, up, FLOOR)
    assert not stands_on_floor(cube + [0, -0.05, 0], up, FLOOR)  # held 5 cm above
    assert not stands_on_floor(cube, rot_deg("z", 30) @ up, FLOOR)  # lying tilted
    assert stands_on_floor(cube, rot_deg("z", 5) @ up, FLOOR)


# object_relative_to_body_cm


def test_object_relative_to_body_ignores_a_common_shift_and_sees_a_relative_one():
    body = np.array([[0.0, 0, 2], [0.2, 0, 2], [0.1, 1.0, 2]])
    obj = np.array([[0.5, 0.5, 2.0], [0.6, 0.5, 2.2]])
    shift = np.array([0.3, -0.1, 1.5])  # e.g. a wrong distance from the camera
    assert object_relative_to_body_cm(body + shift, obj + shift, body, obj) == pytest.approx(
        0.0, abs=1e-9
    )
    assert object_relative_to_body_cm(body, obj + [0, 0.03, 0.04], body, obj) == pytest.approx(
        5.0, abs=1e-9
    )
    # Another instance (other vertex count): centroids still compare.
    other = np.array([[0.5, 0.5, 2.0], [0.55, 0.5, 2.1], [0.6, 0.5, 2.2]])
    assert object_relative_to_body_cm(body, other, body, obj) == pytest.approx(0.0, abs=1e-9)


# root_aligned_body_error_cm and body_root


def test_root_aligned_body_error_removes_the_root_offset_only():
    body_gt = np.array([[0.0, 0, 2], [0.0, 1.0, 2], [0.5, 0.5, 2]])
    root_gt = np.array([0.0, 0.5, 2.0])
    # Shifted by 1 m and one vertex (not the root) moved 6 cm: 6 / 3 = 2 cm on average.
    pred = body_gt + [1.0, 0, 0]
    pred[2] += [0.0, 0.06, 0.0]
    error = root_aligned_body_error_cm(pred, body_gt, root_gt + [1.0, 0, 0], root_gt)
    assert error == pytest.approx(2.0, abs=1e-9)
    # Aligned by the mean vertex instead, the moved vertex shifts the mean by 2 cm: each
    # vertex is then 2 cm off, but the moved one 4 cm.
    assert root_aligned_body_error_cm(pred, body_gt) == pytest.approx(8 / 3, abs=1e-9)


def test_body_root_reads_annys_root_bone_and_nothing_else():
    deltas = np.tile(np.eye(4), (1, 3, 1, 1))
    deltas[0, 0, :3, 3] = [1.0, 2.0, 3.0]  # the root in Anny's frame (z up)
    native_to_hoifit = np.array([[1.0, 0, 0], [0, 0, 1], [0, -1, 0]])
    root = body_root({"pose_parameters": deltas, "native_to_hoifit": native_to_hoifit})
    np.testing.assert_allclose(root, [1.0, 3.0, -2.0])
    assert body_root({"transl": np.zeros((1, 3)), "betas": np.zeros((1, 10))}) is None


def test_body_root_is_annys_translation(anny):
    import torch

    from reconstruction.body_models import BodyParams

    params = BodyParams(
        global_orient=torch.tensor([[0.3, -1.0, 0.2]]),
        body_pose=0.1 * torch.ones(1, anny.num_body_joints, 3),
        betas=anny.default_betas.clone(),
        transl=torch.tensor([[0.4, -0.3, 2.5]]),
    )
    np.testing.assert_allclose(body_root(anny.to_npz_dict(params)), [0.4, -0.3, 2.5], atol=1e-5)


# contact_surface_cm


def test_contact_surface_distance_is_unsigned_to_the_surface():
    box = trimesh.creation.box(extents=[1.0, 1.0, 1.0])  # faces at +-0.5
    body = np.array([[0.0, 0.0, 0.53], [0.0, 0.0, 0.49], [0.7, 0.0, 0.0], [5.0, 5.0, 5.0]])
    # Vertex 0 is 3 cm outside a face, vertex 1 1 cm inside, vertex 2 20 cm out; 3 is ignored.
    distance = contact_surface_cm(
        body, np.asarray(box.vertices), np.asarray(box.faces), np.array([0, 1, 2])
    )
    assert distance == pytest.approx(8.0, abs=1e-9)
    assert contact_surface_cm(body, box.vertices, box.faces, np.zeros(0, int)) is None


# weighted similarity_transform and Chamfer with another instance


def test_weighted_similarity_transform_equals_repeating_points():
    rng = np.random.default_rng(5)
    source, target = rng.normal(size=(6, 3)), rng.normal(size=(6, 3))
    weights = np.array([1.0, 3.0, 1.0, 2.0, 1.0, 1.0])
    repeat = np.repeat(np.arange(6), weights.astype(int))
    found = similarity_transform(source, target, weights)
    expected = similarity_transform(source[repeat], target[repeat])
    assert found[0] == pytest.approx(expected[0], abs=1e-12)
    np.testing.assert_allclose(found[1], expected[1], atol=1e-12)
    np.testing.assert_allclose(found[2], expected[2], atol=1e-12)


def test_aligned_chamfer_with_another_instance_aligns_by_body_and_object_centroid():
    # Truth: a body of 8 dots at (+-0.3, +-0.2, +-0.1) (24 vertices, centroid 0) and an object
    # of 2 dots at y = +-0.1 (6 vertices, centroid 0). Prediction: the same body and an
    # instance of 4 dots (12 vertices), two at each of (0, +-0.1, 0.2). The alignment matches
    # body vertices (weight 1 each) and the centroids (weight 6, the true object's vertex
    # count), 30 in all: the source mean is m = 6 * 0.2 / 30 = 0.04 z; the cross-covariance is
    # the body's own (R = I); the source variance is 24 * 0.14 + 24 * 0.04^2 + 6 * 0.16^2 =
    # 3.552 against 24 * 0.14 = 3.36, so s = 3.36 / 3.552 and a point p aligns to s (p - m).
    corners = np.array([[x, y, z] for x in (-0.3, 0.3) for y in (-0.2, 0.2) for z in (-0.1, 0.1)])
    body_gt, body_faces = dots(corners)
    object_gt, object_faces_gt = dots(OBJECT_GT)
    instance, instance_faces = dots([[0.0, y, 0.2] for y in (-0.1, -0.1, 0.1, 0.1)])
    body, obj = aligned_chamfer_cm(
        body_gt,
        instance,
        body_gt,
        object_gt,
        body_faces,
        instance_faces,
        4000,
        object_faces_gt=object_faces_gt,
    )
    scale, mean = 3.36 / 3.552, np.array([0.0, 0.0, 0.04])
    # Each aligned corner's nearest true corner is its own (moved far less than 0.1 m). The
    # corners move by different amounts and the surface samples fall on them unevenly, so the
    # sampled mean agrees to within sampling error only.
    expected_body = 200 * np.linalg.norm(scale * (corners - mean) - corners, axis=1).mean()
    assert body == pytest.approx(expected_body, abs=0.05)
    # Every aligned object point, (0, +-0.1 s, 0.16 s), is as far from its nearest true one.
    expected_object = 200 * np.hypot(0.1 - 0.1 * scale, 0.16 * scale)
    assert obj == pytest.approx(expected_object, abs=1e-3)


def test_aligned_chamfer_with_another_instance_is_invariant_to_a_similarity_transform():
    body = trimesh.creation.icosphere(subdivisions=2, radius=0.3)
    body_gt = np.asarray(body.vertices) + [0.0, 0.0, 2.0]
    true_box = trimesh.creation.box(extents=[0.2, 0.1, 0.4])
    other_box = trimesh.creation.box(extents=[0.25, 0.1, 0.35]).subdivide()
    object_gt = np.asarray(true_box.vertices) + [0.35, 0.0, 2.1]
    object_pred = np.asarray(other_box.vertices) + [0.35, 0.0, 2.1]
    rotation = rot_deg("xyz", [10, -70, 45])

    def transform(points):
        return 0.8 * points @ rotation.T + [0.5, 0.2, -0.3]

    faces = (np.asarray(body.faces), np.asarray(other_box.faces))
    kwargs = {"samples": 2000, "object_faces_gt": np.asarray(true_box.faces)}
    direct = aligned_chamfer_cm(body_gt, object_pred, body_gt, object_gt, *faces, **kwargs)
    moved = aligned_chamfer_cm(
        transform(body_gt), transform(object_pred), body_gt, object_gt, *faces, **kwargs
    )
    np.testing.assert_allclose(moved, direct, atol=1e-6)
    # The instances differ by up to 2.5 cm per side: the object's Chamfer sees it, the body's
    # does not.
    assert direct[0] < 3.0 and direct[1] > direct[0]


def test_inputs_label_names_the_protocol_depth_and_noise():
    noise = {"noise": {"name": "low"}}
    photo = {**noise, "inputs": {"protocol": "photo", "depth": "none"}}
    assert inputs_label(photo) == "photo, depth none, noise low"
    assert inputs_label({**noise, "inputs": {"protocol": "near_true"}}) == "near_true, noise low"
    assert inputs_label(noise) == "near_true, noise low"  # written before the protocols


def test_pairwise_cosines_agree_with_the_symmetric_rotation_error():
    from reconstruction.symmetry import pairwise_cosines

    rotations = [rot_deg("y", 70), rot_deg("x", 30) @ rot_deg("y", 180), rot_deg("z", 50)]
    stacked = torch.tensor(np.stack(rotations), dtype=torch.float64)
    for symmetry in (None, AXIAL, HALF_TURN, FULL):
        cosines = pairwise_cosines(stacked, symmetry).numpy()
        for i, a in enumerate(rotations):
            for j, b in enumerate(rotations):
                expected = symmetric_rotation_error_deg(a, b, symmetry)
                assert np.degrees(np.arccos(np.clip(cosines[i, j], -1, 1))) == pytest.approx(
                    expected, abs=1e-4
                )
