import json
import math

import numpy as np
import pytest

from contact.geodesic import geodesic_distances
from contact.metrics import (
    AIOU_THRESHOLDS,
    aiou,
    auc,
    body_contact_prf,
    damon_metrics,
    geodesic_error,
    mae,
    piad_metrics,
    sim,
)

# Path graph 0-1-2-3-4: geodesic distance |i - j|.
PATH = np.abs(np.arange(5)[:, None] - np.arange(5)[None, :]).astype(np.float32)


def test_prf_hand_computed():
    pred = np.array([0.9, 0.5, 0.49, 0.1, 0.7, 0.0])  # predicted: 0, 1, 4 (0.5 inclusive)
    gt = np.array([1, 0, 1, 0, 1, 1])  # true: 0, 2, 4, 5
    precision, recall, f1 = body_contact_prf(pred, gt)
    assert precision == pytest.approx(2 / 3)
    assert recall == pytest.approx(2 / 4)
    assert f1 == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))  # 4/7


def test_prf_soft_ground_truth_and_threshold():
    pred = np.array([0.3, 0.8])
    gt = np.array([0.6, 0.4])  # in contact where >= 0.5: vertex 0
    assert body_contact_prf(pred, gt) == (0.0, 0.0, 0.0)
    assert body_contact_prf(pred, gt, threshold=0.3) == pytest.approx((0.5, 1.0, 2 / 3))


def test_prf_empty_conventions():
    nothing = np.zeros(4)
    some = np.array([0, 1, 0, 0.0])
    assert body_contact_prf(nothing, some) == (1.0, 0.0, 0.0)
    assert body_contact_prf(nothing, nothing) == (1.0, 0.0, 0.0)  # both empty
    assert body_contact_prf(some, nothing) == (0.0, 1.0, 0.0)
    assert body_contact_prf(some, some) == (1.0, 1.0, 1.0)


def test_prf_shape_mismatch():
    with pytest.raises(ValueError, match="vertices"):
        body_contact_prf(np.zeros(3), np.zeros(4))


def test_geodesic_error_path_graph():
    # Predicted 0 and 1 (0.5 inclusive), true 3: distances 3 and 2.
    assert geodesic_error(np.array([1, 0.5, 0, 0, 0]), np.array([0, 0, 0, 1, 0]), PATH) == 2.5
    # Predicted 0 and 4, true 1 and 3: nearest 1 and 1.
    assert geodesic_error(np.array([1, 0, 0, 0, 1]), np.array([0, 1, 0, 1, 0]), PATH) == 1.0
    # A perfect prediction has zero error; false negatives are not counted.
    assert geodesic_error(np.array([0, 0, 0, 1, 0]), np.array([0, 0, 1, 1, 1]), PATH) == 0.0


def test_geodesic_error_empty_sets():
    gt = np.array([0, 0, 0, 1, 0])
    # No prediction: every vertex against the true set: (3 + 2 + 1 + 0 + 1) / 5.
    assert geodesic_error(np.zeros(5), gt, PATH) == pytest.approx(7 / 5)
    # No ground truth: nearest among all vertices is the vertex itself.
    assert geodesic_error(np.array([1, 0, 0, 0, 1]), np.zeros(5), PATH) == 0.0
    assert geodesic_error(np.zeros(5), np.zeros(5), PATH) == 0.0


def test_geodesic_error_on_mesh_strip_and_float16():
    # Strip of unit squares: bottom row 0..3, top row 4..7.
    vertices = np.array([[x, y, 0] for y in (0, 1) for x in range(4)], dtype=np.float32)
    faces = np.array([[i, i + 1, i + 5] for i in range(3)] + [[i, i + 5, i + 4] for i in range(3)])
    matrix = geodesic_distances(vertices, faces)
    pred = np.zeros(8)
    pred[[0, 7]] = 1  # (0, 0) and (3, 1)
    gt = np.zeros(8)
    gt[3] = 1  # (3, 0)
    assert geodesic_error(pred, gt, matrix) == pytest.approx((3 + 1) / 2)
    assert geodesic_error(pred, gt, matrix.astype(np.float16)) == pytest.approx(2.0)


def test_geodesic_error_unreachable_vertex_is_charged_the_diameter():
    vertices = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [5, 0, 0], [7, 0, 0], [5, 1, 0]], float)
    matrix = geodesic_distances(vertices, np.array([[0, 1, 2], [3, 4, 5]]))
    pred = np.array([1, 0, 0, 1, 0, 0])
    gt = np.array([0, 0, 0, 0, 1, 0])
    # Vertex 3 reaches 4 at 2; vertex 0 cannot reach it and is charged the largest finite
    # distance, 4 to 5 = sqrt(2^2 + 1^2).
    assert geodesic_error(pred, gt, matrix) == pytest.approx((2 + math.sqrt(5)) / 2)


def test_damon_metrics_average_per_image():
    preds = np.array([[1, 1, 0, 0, 0], [0, 0, 0, 0, 0]], dtype=float)
    gts = np.array([[0, 1, 0, 1, 0], [0, 0, 1, 0, 0]], dtype=float)
    result = damon_metrics(preds, gts, PATH)
    # Image 0: P 1/2, R 1/2, F1 1/2, geodesic (1 + 0) / 2. Image 1: (1, 0, 0), geodesic
    # (2 + 1 + 0 + 1 + 2) / 5.
    assert result["precision"] == pytest.approx((0.5 + 1) / 2)
    assert result["recall"] == pytest.approx(0.5 / 2)
    assert result["f1"] == pytest.approx(0.5 / 2)
    assert result["geodesic_error"] == pytest.approx((0.5 + 6 / 5) / 2)
    assert result["num_images"] == 2
    assert "geodesic_error" not in damon_metrics(list(preds), list(gts))
    assert math.isnan(damon_metrics(np.zeros((0, 5)), np.zeros((0, 5)))["f1"])


def test_sim_and_mae_hand_computed():
    pred = np.array([1.0, 1.0, 2.0, 0.0])  # normalized 1/4, 1/4, 1/2, 0
    gt = np.array([0.0, 1.0, 1.0, 2.0])  # normalized 0, 1/4, 1/4, 1/2
    assert sim(pred, gt) == pytest.approx(0 + 0.25 + 0.25 + 0)
    assert sim(pred, 3 * pred) == pytest.approx(1.0)
    assert sim(np.zeros(4), gt) == 0.0
    assert mae(pred, gt) == pytest.approx((1 + 0 + 1 + 2) / 4)


def test_auc_rankings():
    gt = np.array([0, 0, 1, 1])
    assert auc(np.array([0.1, 0.2, 0.8, 0.9]), gt) == 1.0
    assert auc(np.array([0.9, 0.8, 0.2, 0.1]), gt) == 0.0
    assert auc(np.full(4, 0.3), gt) == 0.5
    # Positives 0.8 and 0.4 against negatives 0.5 and 0.4: pairs won 1 + 1 + 0 + 0.5 of 4.
    assert auc(np.array([0.5, 0.4, 0.8, 0.4]), gt) == pytest.approx(2.5 / 4)
    # Soft ground truth binarized at 0.5 inclusive.
    assert auc(np.array([0.1, 0.9]), np.array([0.49, 0.5])) == 1.0
    assert math.isnan(auc(np.array([0.1, 0.9]), np.array([0.0, 0.2])))
    assert math.isnan(auc(np.array([0.1, 0.9]), np.array([1.0, 0.7])))


def test_auc_matches_pair_counting():
    rng = np.random.default_rng(0)
    pred = rng.integers(0, 5, 40) / 4  # many ties
    gt = rng.random(40)
    positive, negative = pred[gt >= 0.5], pred[gt < 0.5]
    wins = (positive[:, None] > negative[None]).sum() + 0.5 * (
        positive[:, None] == negative[None]
    ).sum()
    assert auc(pred, gt) == pytest.approx(wins / (len(positive) * len(negative)))


def test_aiou_thresholds_include_zero_and_one():
    assert len(AIOU_THRESHOLDS) == 20
    assert AIOU_THRESHOLDS[0] == 0.0 and AIOU_THRESHOLDS[-1] == 1.0


def test_aiou_hand_computed():
    gt = np.array([1.0, 0, 0, 0])
    # Perfect binary prediction: at t = 0 all 4 points are predicted, IoU 1/4; at the 19
    # thresholds in (0, 1] only point 0, IoU 1.
    assert aiou(gt.copy(), gt) == pytest.approx((0.25 + 19) / 20)
    # pred 0.5 on point 0: predicted where t <= 0.5, the first 10 thresholds (9/19 < 0.5 <
    # 10/19): t = 0 gives 1/4, t = 1/19 .. 9/19 give 1, the other 10 give IoU 0.
    assert aiou(np.array([0.5, 0, 0, 0]), gt) == pytest.approx((0.25 + 9) / 20)
    assert math.isnan(aiou(np.ones(4), np.zeros(4)))


def test_piad_metrics_excludes_empty_ground_truth_from_auc_and_aiou_only():
    preds = [np.array([0.2, 0.9, 0.1, 0.0]), np.array([0.4, 0.0, 0.0, 0.0])]
    gts = [np.array([0.0, 1.0, 0.0, 0.0]), np.array([0.3, 0.0, 0.0, 0.0])]  # second: no >= 0.5
    result = piad_metrics(preds, gts)
    sim_0 = 0.9 / 1.2  # pred normalized (1/6, 3/4, 1/12, 0) vs (0, 1, 0, 0)
    assert result["sim"] == pytest.approx((sim_0 + 1.0) / 2)
    assert result["mae"] == pytest.approx(((0.2 + 0.1 + 0.1) / 4 + 0.1 / 4) / 2)
    assert result["auc"] == pytest.approx(100.0)
    # Sample 0 at t = k / 19, true set {1}: k = 0 predicts all 4 (IoU 1/4), k = 1 points 0-2
    # (1/3), k = 2, 3 points 0-1 (1/2), k = 4..17 point 1 only (1), k = 18, 19 nothing (0).
    expected = (1 / 4 + 1 / 3 + 2 * 1 / 2 + 14 * 1 + 2 * 0) / 20
    assert result["aiou"] == pytest.approx(100 * expected)
    assert result["num_samples"] == 2 and result["num_scored"] == 1
    # Arrays of different lengths (objects of different sizes) are fine.
    assert piad_metrics([np.ones(3), np.ones(5)], [np.ones(3), np.ones(5)])["sim"] == 1.0


def write_sample_folder(folder, body_contact, object_contact):
    from reconstruction.sample_io import SampleContact, write_contact, write_image

    folder.mkdir(parents=True)
    write_image(folder, np.zeros((8, 8, 3), dtype=np.uint8))
    write_contact(folder, SampleContact(body_contact, "smpl", object_contact))


def test_evaluate_contact_cli(tmp_path, monkeypatch):
    import contact.evaluate as evaluation
    import scripts.evaluate_contact as cli

    def body(*vertices):
        contact = np.zeros(6890, dtype=np.float32)
        contact[list(vertices)] = 1
        return contact

    samples, predictions = tmp_path / "samples", tmp_path / "predictions"
    object_gt = np.array([0, 1, 0, 0], dtype=np.float32)
    write_sample_folder(samples / "a", body(0, 1), object_gt)
    write_sample_folder(samples / "b", body(5), np.zeros(3, dtype=np.float32))
    write_sample_folder(samples / "c", body(5), None)  # no prediction: skipped
    write_sample_folder(predictions / "a", body(0, 2), object_gt)
    write_sample_folder(predictions / "b", body(), np.array([0.5, 0, 0], dtype=np.float32))
    # A stand-in matrix: the real one comes from the licensed SMPL model.
    monkeypatch.setattr(
        evaluation,
        "body_geodesic_matrix",
        lambda backend, dtype, model_dir: np.full((6890, 6890), 0.01, "f2"),
    )
    out = tmp_path / "result.json"
    assert cli.main([str(samples), str(predictions), "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    # a: P 1/2, R 1/2, F1 1/2; b: nothing predicted, (1, 0, 0).
    assert result["damon"]["precision"] == pytest.approx(0.75)
    assert result["damon"]["recall"] == pytest.approx(0.25)
    assert result["damon"]["f1"] == pytest.approx(0.25)
    assert result["damon"]["num_images"] == 2
    assert result["damon"]["geodesic_error_cm"] == pytest.approx(1.0, rel=1e-3)
    # a: perfect object map; b: no ground-truth point >= 0.5, in SIM and MAE only.
    assert result["piad"]["sim"] == pytest.approx(0.5)
    assert result["piad"]["mae"] == pytest.approx(0.5 / 3 / 2)
    assert result["piad"]["auc"] == pytest.approx(100.0)
    assert result["piad"]["aiou"] == pytest.approx(100 * (0.25 + 19) / 20)
    assert result["piad"]["num_scored"] == 1
    assert result["skipped"] == ["c"]
    assert cli.main([str(samples), str(tmp_path / "missing")]) == 2


def test_unreachable_distance_override_and_finite_max():
    from contact.metrics import finite_max

    matrix = np.array([[0, 1, np.inf], [1, 0, np.inf], [np.inf, np.inf, 0]], dtype=np.float32)
    assert finite_max(matrix, chunk=2) == 1.0
    assert finite_max(np.full((2, 2), np.inf)) == 0.0
    pred, gt = np.array([1, 0, 1]), np.array([0, 1, 0])
    assert geodesic_error(pred, gt, matrix) == pytest.approx((1 + 1) / 2)
    assert geodesic_error(pred, gt, matrix, unreachable_distance=5.0) == pytest.approx(3.0)
    assert damon_metrics([pred], [gt], matrix)["geodesic_error"] == pytest.approx(1.0)
