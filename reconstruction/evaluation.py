"""Metrics of a reconstructed scene against ground truth and against its own observations.

Joint-reconstruction metrics follow the BEHAVE/InterCap protocol (see DESIGN.md): one similarity
transform (with scale) aligns the combined body+object prediction to the ground truth, points are
sampled on the surfaces, Chamfer is the sum of the two directional mean nearest-neighbour
distances; contact is judged on the unaligned prediction, a body vertex being in contact when
strictly under 5 cm from an object vertex.

All functions take numpy arrays in the camera frame, metres, and return centimetres or degrees as
their names say. Rotation error does not account for object symmetries.
"""

import json
from pathlib import Path

import numpy as np
import trimesh
from scipy.spatial import cKDTree

from reconstruction.sample_io import read_ground_truth, read_sample

CONTACT_DISTANCE_M = 0.05


def rotation_error_deg(rotation_pred: np.ndarray, rotation_gt: np.ndarray) -> float:
    """Geodesic angle between two (3, 3) rotations, degrees."""
    cos = (np.trace(rotation_pred.T @ rotation_gt) - 1) / 2
    return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))


def translation_error_cm(object_pred: np.ndarray, object_gt: np.ndarray) -> float:
    """Distance between the centroids of the predicted and true posed object vertices, cm.

    Centroids rather than translation vectors, so the object frame's origin does not matter.

    Args:
        object_pred: (Vo, 3) predicted object vertices.
        object_gt: (Vo, 3) true object vertices (same mesh).
    """
    return float(np.linalg.norm(object_pred.mean(0) - object_gt.mean(0)) * 100)


def similarity_transform(
    source: np.ndarray, target: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray]:
    """Umeyama: scale s, rotation R, translation t minimizing |s R source + t - target|^2.

    Args:
        source: (N, 3) points.
        target: (N, 3) corresponding points.

    Returns:
        s, R (3, 3), t (3,).
    """
    mu_s, mu_t = source.mean(0), target.mean(0)
    xs, xt = source - mu_s, target - mu_t
    u, singular, vh = np.linalg.svd(xt.T @ xs / len(source))
    fix = np.eye(3)
    fix[2, 2] = np.sign(np.linalg.det(u @ vh)) or 1.0
    rotation = u @ fix @ vh
    variance = (xs**2).sum() / len(source)
    scale = float((singular * np.diag(fix)).sum() / max(variance, 1e-12))
    return scale, rotation, mu_t - scale * rotation @ mu_s


def sample_surface(
    vertices: np.ndarray, faces: np.ndarray, count: int, seed: int = 0
) -> np.ndarray:
    """Area-uniform random points on a mesh (seeded).

    Returns:
        (count, 3) points.
    """
    rng = np.random.default_rng(seed)
    tri = vertices[faces]
    area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    if area.sum() <= 0:
        return vertices[rng.integers(0, len(vertices), count)]
    chosen = rng.choice(len(faces), size=count, p=area / area.sum())
    r1, r2 = rng.random(count), rng.random(count)
    flip = r1 + r2 > 1
    r1[flip], r2[flip] = 1 - r1[flip], 1 - r2[flip]
    t = tri[chosen]
    return t[:, 0] + r1[:, None] * (t[:, 1] - t[:, 0]) + r2[:, None] * (t[:, 2] - t[:, 0])


def chamfer_cm(points_a: np.ndarray, points_b: np.ndarray) -> float:
    """Sum of the two directional mean nearest-neighbour distances, cm."""
    a_to_b = cKDTree(points_b).query(points_a)[0].mean()
    b_to_a = cKDTree(points_a).query(points_b)[0].mean()
    return float((a_to_b + b_to_a) * 100)


def aligned_chamfer_cm(
    body_pred: np.ndarray,
    object_pred: np.ndarray,
    body_gt: np.ndarray,
    object_gt: np.ndarray,
    body_faces: np.ndarray,
    object_faces: np.ndarray,
    samples: int = 10000,
) -> tuple[float, float]:
    """Body and object Chamfer after one similarity alignment of the combined prediction.

    Prediction and ground truth share topologies, so the alignment uses vertex correspondences.

    Returns:
        (body Chamfer, object Chamfer) in cm.
    """
    scale, rotation, shift = similarity_transform(
        np.concatenate([body_pred, object_pred]), np.concatenate([body_gt, object_gt])
    )

    def align(points):
        return scale * points @ rotation.T + shift

    body = chamfer_cm(
        sample_surface(align(body_pred), body_faces, samples),
        sample_surface(body_gt, body_faces, samples, seed=1),
    )
    obj = chamfer_cm(
        sample_surface(align(object_pred), object_faces, samples),
        sample_surface(object_gt, object_faces, samples, seed=1),
    )
    return body, obj


def body_contact_vertices(body: np.ndarray, obj: np.ndarray) -> np.ndarray:
    """(V,) bool: body vertices strictly under 5 cm from an object vertex."""
    return cKDTree(obj).query(body, distance_upper_bound=CONTACT_DISTANCE_M)[0] < CONTACT_DISTANCE_M


def contact_precision_recall(
    body_pred: np.ndarray, object_pred: np.ndarray, body_gt: np.ndarray, object_gt: np.ndarray
) -> tuple[float | None, float | None]:
    """Contact precision and recall of body vertices (5 cm rule, unaligned).

    Returns:
        (precision, recall); precision is None when nothing is predicted in contact, recall None
        when nothing is truly in contact (such samples are left out of the average).
    """
    pred = body_contact_vertices(body_pred, object_pred)
    true = body_contact_vertices(body_gt, object_gt)
    hits = float((pred & true).sum())
    precision = hits / pred.sum() if pred.any() else None
    recall = hits / true.sum() if true.any() else None
    return precision, recall


def pair_distance_cm(body_points: np.ndarray, object_points: np.ndarray) -> float | None:
    """Mean distance of paired contact points (P, 3) each, cm; None when there are no pairs."""
    if len(body_points) == 0:
        return None
    return float(np.linalg.norm(body_points - object_points, axis=1).mean() * 100)


METRIC_KEYS = (
    "rot_err_deg",
    "trans_err_cm",
    "chamfer_body_cm",
    "chamfer_object_cm",
    "contact_precision",
    "contact_recall",
    "contact_dist_cm",
    "penetration_cm",
    "mask_iou",
)
"""Per-sample metrics; the aggregate holds the median of each over the samples that have it."""


def evaluate_result(sample_folder: Path, result_folder: Path) -> dict:
    """All metrics of one reconstruction; those needing a missing ground truth are None.

    Args:
        sample_folder: the sample folder (its ground_truth.npz, when present, is the reference;
            otherwise its annotated contact pairs are).
        result_folder: what `reconstruct.py` wrote for that sample.

    Returns:
        {key: value or None for key in METRIC_KEYS} plus "sample", "time_s" and "note".
    """
    metrics = json.loads((result_folder / "metrics.json").read_text())
    pose = json.loads((result_folder / "object_pose.json").read_text())
    body = trimesh.load(result_folder / "body.ply", process=False)
    obj = trimesh.load(result_folder / "object.ply", process=False)
    body_pred, object_pred = np.asarray(body.vertices), np.asarray(obj.vertices)
    row = dict.fromkeys(METRIC_KEYS)
    row.update(
        sample=sample_folder.name,
        time_s=metrics["time_s"]["fit"],
        penetration_cm=metrics["penetration_cm"],
        mask_iou=metrics["mask_iou"],
        note="",
    )
    truth = read_ground_truth(sample_folder)
    if truth is None:
        row["note"] = "no 3D ground truth: pose, Chamfer and contact P/R skipped"
        row["contact_dist_cm"] = metrics["contact_dist_cm"]
        return row
    row["rot_err_deg"] = rotation_error_deg(
        np.asarray(pose["rotation_matrix"][0]), truth.object_rotation
    )
    row["trans_err_cm"] = translation_error_cm(object_pred, truth.object_vertices)
    if len(body_pred) == len(truth.body_vertices):
        row["chamfer_body_cm"], row["chamfer_object_cm"] = aligned_chamfer_cm(
            body_pred,
            object_pred,
            truth.body_vertices,
            truth.object_vertices,
            np.asarray(body.faces),
            np.asarray(obj.faces),
        )
        row["contact_precision"], row["contact_recall"] = contact_precision_recall(
            body_pred, object_pred, truth.body_vertices, truth.object_vertices
        )
        pairs = truth.pairs
        faces = read_sample(sample_folder).object_mesh.faces
        object_points = (object_pred[faces[pairs.object_face]] * pairs.object_bary[..., None]).sum(
            1
        )
        row["contact_dist_cm"] = pair_distance_cm(body_pred[pairs.body_vertex], object_points)
    else:
        row["note"] = "body model differs from the ground truth's: body metrics skipped"
    return row


def aggregate(rows: list[dict]) -> dict:
    """Median of each metric over the rows that have it, and the row count."""
    summary = {}
    for key in (*METRIC_KEYS, "time_s"):
        values = [row[key] for row in rows if row.get(key) is not None]
        summary[key] = float(np.median(values)) if values else None
    summary["count"] = len(rows)
    return summary
