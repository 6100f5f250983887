"""Contact metrics of the published benchmarks, with the conventions of their evaluation code.

Pure numpy functions. Two families:

- DAMON body contact (per image, on the body mesh's vertices): precision, recall and F1 of the
  vertices predicted in contact, and the geodesic error, averaged over images.
- PIAD affordance / object contact (per sample, on object points or vertices): SIM, MAE, AUC and
  aIOU, averaged over samples.

Conventions reproduced so that hoifit's numbers compare with the papers' (DESIGN.md, "Reference
facts"):

- A vertex is predicted in contact where p >= threshold (0.5, inclusive); ground truth, binary
  or soft, is in contact where it is >= 0.5.
- An image with no predicted contact scores P=1, R=0, F1=0, even when its ground truth is empty
  too; one with predictions but empty ground truth P=0, R=1, F1=0.
- The geodesic error is the false-positive direction only: the mean, over predicted contact
  vertices, of the geodesic distance to the nearest true contact vertex. Where either set is
  empty the published code measures against all vertices instead, which reads as: with no
  predicted contact the mean runs over all vertices (distance from every vertex to the nearest
  true contact vertex); with no true contact the nearest "true" vertex is sought among all
  vertices, so every predicted vertex finds itself and the error is 0 (also when both are empty).
- PIAD: SIM and MAE use the continuous ground truth and every sample; AUC and aIOU binarize the
  ground truth at >= 0.5 and skip samples with no point >= 0.5; AUC and aIOU are reported x100
  by `piad_metrics`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.stats import rankdata

CONTACT_THRESHOLD = 0.5
"""Probability at and above which a vertex or point counts as in contact."""

AIOU_THRESHOLDS = np.linspace(0.0, 1.0, 20)
"""The 20 thresholds of aIOU, 0 and 1 included, as in PIAD's evaluation code."""


# ---------------------------------------------------------------------------------------------
# DAMON body contact


def body_contact_prf(
    pred: np.ndarray, gt: np.ndarray, threshold: float = CONTACT_THRESHOLD
) -> tuple[float, float, float]:
    """Precision, recall and F1 of one image's predicted contact vertices.

    Args:
        pred: (V,) predicted contact probability per body vertex.
        gt: (V,) ground truth per vertex, {0, 1} or probabilities (in contact where >= 0.5).
        threshold: predicted in contact where pred >= threshold.

    Returns:
        (precision, recall, f1); (1, 0, 0) when nothing is predicted in contact, (0, 1, 0) when
        something is but the ground truth is empty (the published conventions).
    """
    predicted = np.asarray(pred).reshape(-1) >= threshold  # (V,)
    true = np.asarray(gt).reshape(-1) >= CONTACT_THRESHOLD  # (V,)
    if predicted.shape != true.shape:
        raise ValueError(f"pred has {predicted.size} vertices but gt has {true.size}")
    num_predicted, num_true = int(predicted.sum()), int(true.sum())
    if num_predicted == 0:
        return 1.0, 0.0, 0.0
    if num_true == 0:
        return 0.0, 1.0, 0.0
    hits = int((predicted & true).sum())
    precision, recall = hits / num_predicted, hits / num_true
    f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
    return precision, recall, f1


def geodesic_error(
    pred: np.ndarray,
    gt: np.ndarray,
    geodesic_matrix: np.ndarray,
    threshold: float = CONTACT_THRESHOLD,
    unreachable_distance: float | None = None,
) -> float:
    """Mean geodesic distance from predicted contact vertices to the nearest true one.

    False-positive direction only. Where the predictions are empty the mean runs over all
    vertices; where the ground truth is empty the nearest vertex is sought among all vertices,
    which gives 0 since each vertex is at distance 0 from itself (see the module docstring).

    A predicted vertex that no path connects to any true contact vertex (a mesh of several
    components: Anny's rest-pose body has four, the body, the mouth interior and two eyes) is
    charged `unreachable_distance`, by default the mesh's largest finite geodesic distance, so
    that one such vertex does not turn the average into `inf`.

    Args:
        pred: (V,) predicted contact probability per vertex.
        gt: (V,) ground truth per vertex, {0, 1} or probabilities (in contact where >= 0.5).
        geodesic_matrix: (V, V) geodesic distances with zero diagonal
            (`contact.geodesic.cached_geodesic_matrix`), float32 or float16.
        threshold: predicted in contact where pred >= threshold.
        unreachable_distance: the distance charged for an unreachable vertex; None for
            `finite_max(geodesic_matrix)`, computed only when needed (pass it when scoring many
            images on a large mesh).

    Returns:
        The error in the matrix's unit.
    """
    predicted = np.asarray(pred).reshape(-1) >= threshold  # (V,)
    true = np.asarray(gt).reshape(-1) >= CONTACT_THRESHOLD  # (V,)
    if not predicted.shape == true.shape == geodesic_matrix.shape[:1]:
        raise ValueError(
            f"pred ({predicted.size}), gt ({true.size}) and the geodesic matrix "
            f"{geodesic_matrix.shape} disagree on the number of vertices"
        )
    if not true.any():
        return 0.0
    rows = np.flatnonzero(predicted) if predicted.any() else np.arange(predicted.size)
    nearest = geodesic_matrix[np.ix_(rows, np.flatnonzero(true))].min(axis=1)  # (R,)
    nearest = nearest.astype(np.float64)
    unreachable = ~np.isfinite(nearest)
    if unreachable.any():
        if unreachable_distance is None:
            unreachable_distance = finite_max(geodesic_matrix)
        nearest[unreachable] = unreachable_distance
    return float(nearest.mean())


def finite_max(matrix: np.ndarray, chunk: int = 1024) -> float:
    """The largest finite entry of a (V, V) matrix (0 if none), read in row chunks of `chunk`."""
    best = 0.0
    for start in range(0, len(matrix), chunk):
        rows = matrix[start : start + chunk]
        finite = rows[np.isfinite(rows)]
        if finite.size:
            best = max(best, float(finite.max()))
    return best


def damon_metrics(
    preds: np.ndarray | Sequence[np.ndarray],
    gts: np.ndarray | Sequence[np.ndarray],
    geodesic_matrix: np.ndarray | None = None,
    threshold: float = CONTACT_THRESHOLD,
) -> dict[str, float]:
    """DAMON body-contact metrics: per-image values averaged over images.

    Args:
        preds: (N, V) predicted contact probabilities, or N arrays (V,).
        gts: (N, V) ground truth, {0, 1} or probabilities, or N arrays (V,).
        geodesic_matrix: (V, V) geodesic distances of the body mesh; None to skip the
            geodesic error.
        threshold: predicted in contact where pred >= threshold.

    Returns:
        {"precision", "recall", "f1", "geodesic_error" (in the matrix's unit; absent without a
        matrix), "num_images"}; the averages are nan for N = 0.
    """
    if len(preds) != len(gts):
        raise ValueError(f"{len(preds)} predictions but {len(gts)} ground truths")
    scores = np.array(
        [body_contact_prf(p, g, threshold) for p, g in zip(preds, gts, strict=True)],
        dtype=np.float64,
    ).reshape(-1, 3)  # (N, 3)
    result = {
        "precision": _mean(scores[:, 0]),
        "recall": _mean(scores[:, 1]),
        "f1": _mean(scores[:, 2]),
    }
    if geodesic_matrix is not None:
        unreachable = finite_max(geodesic_matrix)  # one scan, not one per image
        errors = [
            geodesic_error(p, g, geodesic_matrix, threshold, unreachable)
            for p, g in zip(preds, gts, strict=True)
        ]
        result["geodesic_error"] = _mean(np.array(errors, dtype=np.float64))
    result["num_images"] = len(preds)
    return result


# ---------------------------------------------------------------------------------------------
# PIAD affordance / object contact


def sim(pred: np.ndarray, gt: np.ndarray) -> float:
    """Similarity: sum of the elementwise minima of the two maps, each normalized to sum 1.

    Args:
        pred: (P,) non-negative predicted map.
        gt: (P,) non-negative ground-truth map.

    Returns:
        SIM in [0, 1]; 1 for maps proportional to each other. A map that sums to 0 stays all
        zeros, so its SIM is 0.
    """
    pred, gt = _pair(pred, gt)
    return float(np.minimum(_normalized(pred), _normalized(gt)).sum())


def mae(pred: np.ndarray, gt: np.ndarray) -> float:
    """Mean absolute error between the maps (P,) and (P,)."""
    pred, gt = _pair(pred, gt)
    return float(np.abs(pred - gt).mean())


def auc(pred: np.ndarray, gt: np.ndarray) -> float:
    """ROC AUC of `pred` as a score for gt >= 0.5 (Mann-Whitney U, ties at half credit).

    AUC = (sum of the ranks of the positives - n_pos (n_pos + 1) / 2) / (n_pos n_neg), ranks
    1-based with ties given their average rank; equal to the area under the ROC curve.

    Args:
        pred: (P,) predicted scores.
        gt: (P,) ground truth, binarized at >= 0.5.

    Returns:
        AUC in [0, 1]; nan when the binarized ground truth has no positive or no negative.
    """
    pred, gt = _pair(pred, gt)
    positive = gt >= CONTACT_THRESHOLD
    num_positive = int(positive.sum())
    num_negative = positive.size - num_positive
    if num_positive == 0 or num_negative == 0:
        return float("nan")
    ranks = rankdata(pred)  # (P,) average ranks for ties
    u = ranks[positive].sum() - num_positive * (num_positive + 1) / 2
    return float(u / (num_positive * num_negative))


def aiou(pred: np.ndarray, gt: np.ndarray) -> float:
    """Mean IoU of `pred >= t` with `gt >= 0.5` over the 20 thresholds t of `AIOU_THRESHOLDS`.

    Args:
        pred: (P,) predicted map in [0, 1].
        gt: (P,) ground truth, binarized at >= 0.5.

    Returns:
        aIOU in [0, 1]; nan when the binarized ground truth is empty.
    """
    pred, gt = _pair(pred, gt)
    true = gt >= CONTACT_THRESHOLD  # (P,)
    if not true.any():
        return float("nan")
    predicted = pred[None, :] >= AIOU_THRESHOLDS[:, None]  # (20, P)
    intersection = (predicted & true).sum(axis=1)
    union = (predicted | true).sum(axis=1)  # >= |true| > 0
    return float((intersection / union).mean())


def piad_metrics(
    preds: np.ndarray | Sequence[np.ndarray], gts: np.ndarray | Sequence[np.ndarray]
) -> dict[str, float]:
    """PIAD metrics averaged over samples.

    SIM and MAE average over every sample with the continuous ground truth; AUC and aIOU over
    the samples whose ground truth has a point >= 0.5 (AUC also needs a point below 0.5 and
    skips a sample without one, where it is undefined), reported x100.

    Args:
        preds: (N, P) predicted maps, or N arrays (P_i,) (e.g. object meshes of different sizes).
        gts: (N, P) ground-truth maps, or N arrays (P_i,).

    Returns:
        {"sim", "mae", "auc", "aiou", "num_samples", "num_scored"}; "num_scored" counts the
        samples that enter aIOU. An average over no sample is nan.
    """
    if len(preds) != len(gts):
        raise ValueError(f"{len(preds)} predictions but {len(gts)} ground truths")
    pairs = list(zip(preds, gts, strict=True))
    sims = np.array([sim(p, g) for p, g in pairs], dtype=np.float64)
    maes = np.array([mae(p, g) for p, g in pairs], dtype=np.float64)
    aucs = np.array([auc(p, g) for p, g in pairs], dtype=np.float64)
    aious = np.array([aiou(p, g) for p, g in pairs], dtype=np.float64)
    return {
        "sim": _mean(sims),
        "mae": _mean(maes),
        "auc": 100.0 * _mean(aucs[~np.isnan(aucs)]),
        "aiou": 100.0 * _mean(aious[~np.isnan(aious)]),
        "num_samples": len(pairs),
        "num_scored": int((~np.isnan(aious)).sum()),
    }


def _pair(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred = np.asarray(pred, dtype=np.float64).reshape(-1)
    gt = np.asarray(gt, dtype=np.float64).reshape(-1)
    if pred.shape != gt.shape:
        raise ValueError(f"pred has {pred.size} points but gt has {gt.size}")
    return pred, gt


def _normalized(values: np.ndarray) -> np.ndarray:
    total = values.sum()
    return values / total if total > 0 else np.zeros_like(values)


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if values.size else float("nan")
