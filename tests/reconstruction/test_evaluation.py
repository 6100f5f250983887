"""Known answers for the BEHAVE/InterCap reconstruction metrics (see DESIGN.md, "Metrics")."""

import numpy as np
import pytest
import trimesh
from scipy.spatial.transform import Rotation

from reconstruction.evaluation import (
    METRIC_KEYS,
    aggregate,
    aligned_chamfer_cm,
    body_contact_vertices,
    chamfer_cm,
    contact_precision_recall,
    pair_distance_cm,
    rotation_error_deg,
    sample_surface,
    similarity_transform,
    translation_error_cm,
)


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
        {"rot_err_deg": None, "contact_precision": 0.8, "mask_iou": 0.9, "time_s": 30.0},
        {"rot_err_deg": 5.0, "contact_precision": 0.6, "mask_iou": 0.7, "time_s": 20.0},
        {"rot_err_deg": None, "contact_precision": None, "time_s": 40.0},
    ]
    summary = aggregate(rows)

    assert set(summary) == {*METRIC_KEYS, "time_s", "count"}
    assert summary["count"] == 4  # every row, also those missing some metrics
    assert summary["rot_err_deg"] == pytest.approx(3.0)  # median of {1, 5}: None is skipped
    assert summary["contact_precision"] == pytest.approx(0.6)  # 0.0 counts as a value
    assert summary["mask_iou"] == pytest.approx(0.7)  # a missing key is skipped too
    assert summary["time_s"] == pytest.approx(25.0)
    assert summary["chamfer_body_cm"] is None  # no row has it


def test_aggregate_of_no_rows():
    summary = aggregate([])
    assert summary["count"] == 0
    assert all(summary[key] is None for key in (*METRIC_KEYS, "time_s"))
