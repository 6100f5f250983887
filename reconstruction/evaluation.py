"""Metrics of a reconstructed scene against ground truth and against its own observations.

Joint-reconstruction metrics follow the BEHAVE/InterCap protocol (see DESIGN.md): one similarity
transform (with scale) aligns the combined body+object prediction to the ground truth, points are
sampled on the surfaces, Chamfer is the sum of the two directional mean nearest-neighbour
distances; contact is judged on the unaligned prediction, a body vertex being in contact when
strictly under 5 cm from an object vertex.

The object may be another instance than the true one (the synthetic photo protocol): then
rotations are compared between canonical frames (y up, metres; see `predicted_rotation`), the
alignment for Chamfer uses the object's centroid instead of its vertices (`aligned_chamfer_cm`),
and paired contact distance, which needs the true mesh, gives way to `contact_surface_cm`.

Rotation error comes plain (`rot_err_deg`) and modulo the category's symmetry and the true
object's own (`rot_err_sym_deg`, `CATEGORY_SYMMETRY`, `shape_turns`). Tilt and floor gap are
judged for objects that truly stand on the floor (`stands_on_floor`).

All functions take numpy arrays in the camera frame, metres, and return centimetres or degrees as
their names say.
"""

import json
from pathlib import Path

import numpy as np
import trimesh
from scipy.spatial import cKDTree

from reconstruction.sample_io import read_ground_truth
from reconstruction.sample_io.object_file import read_object_mesh
from reconstruction.sample_io.sample import OBJECT_FILE
from reconstruction.symmetry import AXIAL, CATEGORY_SYMMETRY, FULL, HALF_TURN, HALF_TURN_Y
from reconstruction.synthetic.geometry import closest_points

CONTACT_DISTANCE_M = 0.05

FLOOR_TOUCH_M = 0.02
"""An object stands on the floor when its base is this close to it ..."""
FLOOR_UPRIGHT_DEG = 10.0
"""... and its up axis within this angle of the floor normal."""


def rotation_error_deg(rotation_pred: np.ndarray, rotation_gt: np.ndarray) -> float:
    """Geodesic angle between two (3, 3) rotations, degrees."""
    cos = (np.trace(rotation_pred.T @ rotation_gt) - 1) / 2
    return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))


def symmetric_rotation_error_deg(
    rotation_pred: np.ndarray,
    rotation_gt: np.ndarray,
    symmetry: str | None,
    turns: np.ndarray | None = None,
) -> float:
    """Smallest geodesic angle between R_pred S and R_gt over the symmetries S, degrees.

    Args:
        rotation_pred: (3, 3) predicted rotation of the canonical frame (y up).
        rotation_gt: (3, 3) true rotation of the canonical frame.
        symmetry: FULL, AXIAL, HALF_TURN (see `CATEGORY_SYMMETRY`) or None.
        turns: (T, 3, 3) turns of the canonical frame that leave the true object itself
            (`shape_turns`: a box with a square end turned a quarter about its length), each
            composed with the category's symmetries; None for none.

    Returns:
        Degrees. Under AXIAL the minimum over rotations about y is the angle between the two up
        axes (a rotation's swing from y is the smallest rotation moving y where it goes).
    """
    if turns is not None and len(turns):
        return min(
            symmetric_rotation_error_deg(rotation_pred @ turn, rotation_gt, symmetry)
            for turn in turns
        )
    if symmetry == FULL:
        return 0.0
    if symmetry == AXIAL:
        return angle_between_deg(rotation_pred[:, 1], rotation_gt[:, 1])
    error = rotation_error_deg(rotation_pred, rotation_gt)
    if symmetry == HALF_TURN:
        turned = rotation_pred @ np.diag(HALF_TURN_Y)
        error = min(error, rotation_error_deg(turned, rotation_gt))
    return error


SHAPE_TURN_TOLERANCE = 0.02
"""A turn leaves an object itself when 95% of its turned surface lies within this fraction of its
longest side from its surface (a box 0.15 x 0.11 x 0.09 m turned a quarter about its length moves
up to 1 cm, 6%: not itself)."""


def _axis_turns() -> np.ndarray:
    """(24, 3, 3) the rotations taking the coordinate axes onto themselves (the cube's)."""
    turns = []
    for order in ((0, 1, 2), (1, 2, 0), (2, 0, 1), (0, 2, 1), (2, 1, 0), (1, 0, 2)):
        for signs in np.ndindex(2, 2, 2):
            turn = np.zeros((3, 3))
            turn[range(3), order] = np.where(np.array(signs) == 1, -1.0, 1.0)
            if np.linalg.det(turn) > 0:
                turns.append(turn)
    return np.stack(turns)


def shape_turns(
    vertices: np.ndarray, faces: np.ndarray, tolerance: float = SHAPE_TURN_TOLERANCE
) -> np.ndarray:
    """Quarter and half turns about the canonical axes that leave an object itself.

    Each of the cube's 24 rotations about the centre of the object's bounding box is tried: it
    leaves the object itself when it maps the box's sides onto sides as long, and 95% of 500
    surface samples onto points within `tolerance` times the longest side of the surface. A
    box with a square end is itself turned a quarter about its length, any box upside down; a
    chair (its backrest) or a table (its legs under the top) only unturned.

    Args:
        vertices: (V, 3) the object in its canonical frame (y up), any scale.
        faces: (F, 3) its triangles.
        tolerance: fraction of the longest side.

    Returns:
        (T, 3, 3) rotations of the canonical frame, the identity first.
    """
    vertices = np.asarray(vertices, dtype=np.float64)
    low, high = vertices.min(0), vertices.max(0)
    centred = vertices - (low + high) / 2
    extents = high - low
    limit = tolerance * extents.max()
    mesh = trimesh.Trimesh(centred, faces, process=False)
    points, _ = trimesh.sample.sample_surface(mesh, 500, seed=0)
    kept = []
    for turn in _axis_turns():
        if np.abs(np.abs(turn) @ extents - extents).max() > limit:
            continue
        if np.allclose(turn, np.eye(3)):
            kept.insert(0, turn)
            continue
        distance = np.abs(closest_points(points @ turn.T, centred, faces)[0])
        if np.quantile(distance, 0.95) <= limit:
            kept.append(turn)
    return np.stack(kept)


def angle_between_deg(a: np.ndarray, b: np.ndarray) -> float:
    """Angle between two (3,) vectors, degrees."""
    cos = a @ b / (np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))


def predicted_rotation(
    pose_rotation: np.ndarray,
    file_vertices: np.ndarray,
    posed_vertices: np.ndarray,
    delivered_rotation: np.ndarray | None,
) -> np.ndarray:
    """The predicted rotation of the object's canonical frame (y up, metres), (3, 3).

    When the sample's mesh is the true one in its canonical frame (`delivered_rotation` None)
    this is the pose's R. Otherwise the mesh came in a file frame of its own, which the pipeline
    normalises in a way of its choosing; the rotation from file frame to camera is then found
    from the mesh as read and the exported one (a similarity fit, exact for a posed copy), and
    composed with the known canonical-to-file rotation.

    Args:
        pose_rotation: (3, 3) R of the predicted object_pose.json.
        file_vertices: (Vo, 3) the sample's object.obj as read.
        posed_vertices: (Vo, 3) the exported, posed object.
        delivered_rotation: (3, 3) canonical to file frame, or None.
    """
    if delivered_rotation is None:
        return pose_rotation
    _, rotation, _ = similarity_transform(file_vertices, posed_vertices)
    return rotation @ delivered_rotation


def stands_on_floor(object_vertices: np.ndarray, up_axis: np.ndarray, floor_plane) -> bool:
    """Whether an object stands upright on the floor (`FLOOR_TOUCH_M`, `FLOOR_UPRIGHT_DEG`).

    Args:
        object_vertices: (Vo, 3) posed object.
        up_axis: (3,) its canonical up axis in the camera frame.
        floor_plane: (4,) (n, d), see `GroundTruth.floor_plane`.
    """
    return (
        floor_gap_cm(object_vertices, floor_plane) < FLOOR_TOUCH_M * 100
        and angle_between_deg(up_axis, floor_plane[:3]) < FLOOR_UPRIGHT_DEG
    )


def floor_gap_cm(object_vertices: np.ndarray, floor_plane: np.ndarray) -> float:
    """|height of the object's lowest point above the floor|, cm (floating or sunk alike).

    Args:
        object_vertices: (Vo, 3) posed object.
        floor_plane: (4,) (n, d) with n . x + d the height above the floor.
    """
    return float(abs((object_vertices @ floor_plane[:3] + floor_plane[3]).min()) * 100)


def translation_error_cm(object_pred: np.ndarray, object_gt: np.ndarray) -> float:
    """Distance between the centroids of the predicted and true posed object vertices, cm.

    Centroids rather than translation vectors, so the object frame's origin does not matter.

    Args:
        object_pred: (Vo, 3) predicted object vertices.
        object_gt: (Vo', 3) true object vertices (the same mesh, or another instance).
    """
    return float(np.linalg.norm(object_pred.mean(0) - object_gt.mean(0)) * 100)


def object_relative_to_body_cm(
    body_pred: np.ndarray, object_pred: np.ndarray, body_gt: np.ndarray, object_gt: np.ndarray
) -> float:
    """Error of the object's place relative to the body, cm.

    |(object centroid - body centroid) predicted - (the same) true|: a scene that is right but
    for its distance from the camera (a wrong focal length or depth scale) scores near 0 here
    while its translation error is large.

    Args:
        body_pred: (V, 3) predicted body vertices.
        object_pred: (Vo, 3) predicted object vertices.
        body_gt: (V', 3) true body vertices.
        object_gt: (Vo', 3) true object vertices.
    """
    offset_pred = object_pred.mean(0) - body_pred.mean(0)
    offset_gt = object_gt.mean(0) - body_gt.mean(0)
    return float(np.linalg.norm(offset_pred - offset_gt) * 100)


def body_root(params: dict[str, np.ndarray]) -> np.ndarray | None:
    """(3,) the root joint (pelvis) of a body from its npz parameters, or None.

    Only Anny's parameters say where the root is without the model: its root bone's delta holds
    the root position in Anny's native frame (see `AnnyBody.to_npz_dict`). SMPL(-X) parameters
    need J0(betas) from the model files, so they give None.
    """
    if "pose_parameters" not in params or "native_to_hoifit" not in params:
        return None
    return (
        np.asarray(params["pose_parameters"])[0, 0, :3, 3]
        @ np.asarray(params["native_to_hoifit"]).T
    )


def root_aligned_body_error_cm(
    body_pred: np.ndarray,
    body_gt: np.ndarray,
    root_pred: np.ndarray | None = None,
    root_gt: np.ndarray | None = None,
) -> float:
    """Mean vertex distance after moving the predicted body so its root meets the truth's, cm.

    Args:
        body_pred: (V, 3) predicted body vertices.
        body_gt: (V, 3) true body vertices, same topology.
        root_pred: (3,) predicted root joint; with `root_gt` None the mean vertices stand in.
        root_gt: (3,) true root joint.
    """
    if root_pred is None or root_gt is None:
        root_pred, root_gt = body_pred.mean(0), body_gt.mean(0)
    aligned = body_pred - root_pred + root_gt
    return float(np.linalg.norm(aligned - body_gt, axis=1).mean() * 100)


def similarity_transform(
    source: np.ndarray, target: np.ndarray, weights: np.ndarray | None = None
) -> tuple[float, np.ndarray, np.ndarray]:
    """Umeyama: scale s, rotation R, translation t minimizing sum w |s R source + t - target|^2.

    Args:
        source: (N, 3) points.
        target: (N, 3) corresponding points.
        weights: (N,) non-negative weights, or None for equal ones.

    Returns:
        s, R (3, 3), t (3,).
    """
    w = np.full(len(source), 1.0 / len(source)) if weights is None else weights / weights.sum()
    mu_s, mu_t = w @ source, w @ target
    xs, xt = source - mu_s, target - mu_t
    u, singular, vh = np.linalg.svd((xt * w[:, None]).T @ xs)
    fix = np.eye(3)
    fix[2, 2] = np.sign(np.linalg.det(u @ vh)) or 1.0
    rotation = u @ fix @ vh
    variance = w @ (xs**2).sum(1)
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
    object_faces_gt: np.ndarray | None = None,
) -> tuple[float, float]:
    """Body and object Chamfer after one similarity alignment of the combined prediction.

    The bodies share a topology, so the alignment uses vertex correspondences. So does the
    object when both are one mesh. When the predicted object is another instance (other vertex
    count) it has no correspondences; it enters the alignment as its centroid, matched to the
    true centroid with the weight of the true object's vertex count: it pulls on the translation
    as its vertices would, and leaves rotation and scale to the body.

    Args:
        body_pred: (V, 3) predicted body vertices.
        object_pred: (Vo, 3) predicted object vertices.
        body_gt: (V, 3) true body vertices.
        object_gt: (Vo', 3) true object vertices.
        body_faces: (F, 3) body faces.
        object_faces: (Fo, 3) faces of the predicted object.
        samples: surface points per mesh.
        object_faces_gt: (Fo', 3) faces of the true object; None when it is the same mesh.

    Returns:
        (body Chamfer, object Chamfer) in cm.
    """
    if len(object_pred) == len(object_gt):
        source = np.concatenate([body_pred, object_pred])
        target = np.concatenate([body_gt, object_gt])
        weights = None
    else:
        source = np.concatenate([body_pred, object_pred.mean(0, keepdims=True)])
        target = np.concatenate([body_gt, object_gt.mean(0, keepdims=True)])
        weights = np.append(np.ones(len(body_pred)), len(object_gt))
    scale, rotation, shift = similarity_transform(source, target, weights)

    def align(points):
        return scale * points @ rotation.T + shift

    body = chamfer_cm(
        sample_surface(align(body_pred), body_faces, samples),
        sample_surface(body_gt, body_faces, samples, seed=1),
    )
    obj = chamfer_cm(
        sample_surface(align(object_pred), object_faces, samples),
        sample_surface(
            object_gt, object_faces if object_faces_gt is None else object_faces_gt, samples, 1
        ),
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


def contact_surface_cm(
    body_pred: np.ndarray,
    object_pred: np.ndarray,
    object_faces: np.ndarray,
    contact_vertices: np.ndarray,
) -> float | None:
    """Mean distance from the truly-in-contact body vertices to the object's surface, cm.

    Needs no correspondence on the object, so it holds for another instance too. Distances are
    unsigned: a vertex sunk into the object counts by its depth.

    Args:
        body_pred: (V, 3) predicted body vertices.
        object_pred: (Vo, 3) predicted object vertices.
        object_faces: (Fo, 3) their faces.
        contact_vertices: (C,) int body vertices in contact in the ground truth.

    Returns:
        cm, or None when no vertex is in contact.
    """
    if len(contact_vertices) == 0:
        return None
    distance = closest_points(body_pred[contact_vertices], object_pred, object_faces)[0]
    return float(np.abs(distance).mean() * 100)


def pair_distance_cm(body_points: np.ndarray, object_points: np.ndarray) -> float | None:
    """Mean distance of paired contact points (P, 3) each, cm; None when there are no pairs."""
    if len(body_points) == 0:
        return None
    return float(np.linalg.norm(body_points - object_points, axis=1).mean() * 100)


METRIC_KEYS = (
    "rot_err_deg",
    "rot_err_sym_deg",
    "trans_err_cm",
    "obj_rel_body_cm",
    "body_vertex_err_cm",
    "chamfer_body_cm",
    "chamfer_object_cm",
    "contact_precision",
    "contact_recall",
    "contact_dist_cm",
    "contact_surface_cm",
    "penetration_cm",
    "tilt_deg",
    "floor_gap_cm",
    "mask_iou",
)
"""Per-sample metrics; the aggregate holds the median of each over the samples that have it."""

TIME_KEYS = ("time_s", "time_total_s")
"""Seconds per sample: the fit alone, and the whole reconstruction (photo to exports)."""


def evaluate_result(sample_folder: Path, result_folder: Path) -> dict:
    """All metrics of one reconstruction; those needing a missing ground truth are None.

    Args:
        sample_folder: the sample folder (its ground_truth.npz, when present, is the reference;
            otherwise its annotated contact pairs are).
        result_folder: what `reconstruct.py` wrote for that sample.

    Returns:
        {key: value or None for key in METRIC_KEYS} plus "sample", the `TIME_KEYS`, "note"
        and, with ground truth, "inputs" (`inputs_label`).
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
        time_total_s=metrics["time_s"].get("total"),
        penetration_cm=metrics["penetration_cm"],
        mask_iou=metrics["mask_iou"],
        note="",
    )
    truth = read_ground_truth(sample_folder)
    if truth is None:
        row["note"] = "no 3D ground truth: pose, Chamfer and contact P/R skipped"
        row["contact_dist_cm"] = metrics["contact_dist_cm"]
        return row
    row["inputs"] = inputs_label(truth.summary)
    delivered = read_object_mesh(sample_folder / OBJECT_FILE)
    true_faces = delivered.faces if truth.object_faces is None else truth.object_faces
    rotation = predicted_rotation(
        np.asarray(pose["rotation_matrix"][0]),
        delivered.vertices,
        object_pred,
        truth.delivered_rotation,
    )
    symmetry = CATEGORY_SYMMETRY.get(truth.object_category)
    canonical = (truth.object_vertices - truth.object_translation) @ truth.object_rotation
    turns = shape_turns(canonical, true_faces)
    row["rot_err_deg"] = rotation_error_deg(rotation, truth.object_rotation)
    row["rot_err_sym_deg"] = symmetric_rotation_error_deg(
        rotation, truth.object_rotation, symmetry, turns
    )
    row["trans_err_cm"] = translation_error_cm(object_pred, truth.object_vertices)
    floor = truth.floor_plane
    if floor is not None and stands_on_floor(
        truth.object_vertices, truth.object_rotation[:, 1], floor
    ):
        if symmetry != FULL:
            row["tilt_deg"] = angle_between_deg(rotation[:, 1], floor[:3])
        row["floor_gap_cm"] = floor_gap_cm(object_pred, floor)
    if len(body_pred) != len(truth.body_vertices):
        row["note"] = "body model differs from the ground truth's: body metrics skipped"
        return row
    row["obj_rel_body_cm"] = object_relative_to_body_cm(
        body_pred, object_pred, truth.body_vertices, truth.object_vertices
    )
    with np.load(result_folder / "body_params.npz") as params:
        root_pred = body_root(dict(params))
    row["body_vertex_err_cm"] = root_aligned_body_error_cm(
        body_pred, truth.body_vertices, root_pred, body_root(truth.body_params)
    )
    row["chamfer_body_cm"], row["chamfer_object_cm"] = aligned_chamfer_cm(
        body_pred,
        object_pred,
        truth.body_vertices,
        truth.object_vertices,
        np.asarray(body.faces),
        np.asarray(obj.faces),
        object_faces_gt=true_faces,
    )
    row["contact_precision"], row["contact_recall"] = contact_precision_recall(
        body_pred, object_pred, truth.body_vertices, truth.object_vertices
    )
    row["contact_surface_cm"] = contact_surface_cm(
        body_pred, object_pred, np.asarray(obj.faces), np.flatnonzero(truth.body_contact > 0.5)
    )
    if truth.delivered_rotation is None:
        # Pairs name faces of the true mesh: only a prediction on that mesh has their points.
        pairs = truth.pairs
        corners = object_pred[true_faces[pairs.object_face]]
        object_points = (corners * pairs.object_bary[..., None]).sum(1)
        row["contact_dist_cm"] = pair_distance_cm(body_pred[pairs.body_vertex], object_points)
    return row


def inputs_label(summary: dict) -> str:
    """What the fitting was given, from a synthetic sample's ground_truth.json.

    Returns:
        "near_true, noise low" or "photo, depth mono, noise low"; samples written before the
        protocols existed are near-true.
    """
    inputs = summary.get("inputs", {})
    parts = [inputs.get("protocol", "near_true")]
    if "depth" in inputs:
        parts.append(f"depth {inputs['depth']}")
    if "noise" in summary:
        parts.append(f"noise {summary['noise']['name']}")
    return ", ".join(parts)


def aggregate(rows: list[dict]) -> dict:
    """Medians over the rows that have each metric and time, the row count, and the inputs.

    "inputs" is the rows' distinct `inputs` labels joined by " + ", None when no row has one.
    """
    summary = {}
    for key in (*METRIC_KEYS, *TIME_KEYS):
        values = [row[key] for row in rows if row.get(key) is not None]
        summary[key] = float(np.median(values)) if values else None
    summary["count"] = len(rows)
    labels = sorted({row["inputs"] for row in rows if row.get("inputs")})
    summary["inputs"] = " + ".join(labels) or None
    return summary
