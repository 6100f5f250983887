"""ground_truth.npz and ground_truth.json: the ground truth of a synthetic sample, hoifit's files.

ground_truth.npz holds every array of `GroundTruth`, camera frame: `interaction`,
`object_category`, `body_backend`, the clean body's parameters as `body_param__<name>`,
`body_vertices`, `object_rotation`, `object_translation`, `object_scale`, `object_vertices`,
`body_contact`, `object_contact`, the pairs as `pair_body_vertex`, `pair_object_face`,
`pair_object_bary`, `pair_part`, `pair_body_topology`, and `K`, `person_mask`, `object_mask`,
`keypoints_2d`, and when known `object_faces`, `floor_plane` and `delivered_rotation`.
ground_truth.json holds the human-readable summary. The fitting never reads
them; only `read_ground_truth` does, for evaluation and training.
"""

from pathlib import Path

import numpy as np

from reconstruction.atomic_io import atomic_write_json
from reconstruction.errors import HoifitError
from reconstruction.sample_io.npz import load_npz, write_npz
from reconstruction.sample_io.parsing import load_json
from reconstruction.sample_io.sample import (
    GROUND_TRUTH_FILE,
    GROUND_TRUTH_SUMMARY,
    ContactPairs,
    GroundTruth,
)

_BODY_PARAM_PREFIX = "body_param__"
_OPTIONAL = ("object_faces", "floor_plane", "delivered_rotation")
"""`GroundTruth` arrays that older samples lack."""


def read_ground_truth(folder: str | Path) -> GroundTruth | None:
    """The ground truth of a synthetic sample, or None when the folder has none.

    Raises:
        HoifitError: ground_truth.npz is malformed.
    """
    path = Path(folder) / GROUND_TRUTH_FILE
    if not path.is_file():
        return None
    data = load_npz(path)
    summary_path = Path(folder) / GROUND_TRUTH_SUMMARY
    summary = load_json(summary_path) if summary_path.is_file() else {}
    prefix = _BODY_PARAM_PREFIX
    try:
        return GroundTruth(
            interaction=str(data["interaction"]),
            object_category=str(data["object_category"]),
            body_backend=str(data["body_backend"]),
            body_params={k[len(prefix) :]: v for k, v in data.items() if k.startswith(prefix)},
            body_vertices=data["body_vertices"],
            object_rotation=data["object_rotation"],
            object_translation=data["object_translation"],
            object_scale=float(data["object_scale"]),
            object_vertices=data["object_vertices"],
            body_contact=data["body_contact"],
            object_contact=data["object_contact"],
            pairs=ContactPairs(
                body_vertex=data["pair_body_vertex"],
                object_face=data["pair_object_face"],
                object_bary=data["pair_object_bary"],
                part=[str(p) for p in data["pair_part"]],
                body_topology=str(data["pair_body_topology"]),
            ),
            K=data["K"],
            person_mask=data["person_mask"],
            object_mask=data["object_mask"],
            keypoints_2d=data["keypoints_2d"],
            summary=summary,
            **{key: data[key] for key in _OPTIONAL if key in data},
        )
    except KeyError as error:
        raise HoifitError(
            f"{path}: missing array {error}; regenerate the sample with scripts/make_synthetic.py"
        ) from None


def write_ground_truth(folder: str | Path, truth: GroundTruth) -> None:
    """Write ground_truth.npz (every array of `truth`) and ground_truth.json (its summary)."""
    arrays = {
        "interaction": np.array(truth.interaction),
        "object_category": np.array(truth.object_category),
        "body_backend": np.array(truth.body_backend),
        **{f"{_BODY_PARAM_PREFIX}{k}": np.asarray(v) for k, v in truth.body_params.items()},
        "body_vertices": np.asarray(truth.body_vertices, dtype=np.float32),
        "object_rotation": np.asarray(truth.object_rotation, dtype=np.float64),
        "object_translation": np.asarray(truth.object_translation, dtype=np.float64),
        "object_scale": np.array(truth.object_scale, dtype=np.float64),
        "object_vertices": np.asarray(truth.object_vertices, dtype=np.float32),
        "body_contact": np.asarray(truth.body_contact, dtype=np.float32),
        "object_contact": np.asarray(truth.object_contact, dtype=np.float32),
        "pair_body_vertex": np.asarray(truth.pairs.body_vertex, dtype=np.int64),
        "pair_object_face": np.asarray(truth.pairs.object_face, dtype=np.int64),
        "pair_object_bary": np.asarray(truth.pairs.object_bary, dtype=np.float32),
        "pair_part": np.array(truth.pairs.part, dtype=str),
        "pair_body_topology": np.array(truth.pairs.body_topology),
        "K": np.asarray(truth.K, dtype=np.float64),
        "person_mask": np.asarray(truth.person_mask, dtype=bool),
        "object_mask": np.asarray(truth.object_mask, dtype=bool),
        "keypoints_2d": np.asarray(truth.keypoints_2d, dtype=np.float32),
        **{
            key: np.asarray(getattr(truth, key))
            for key in _OPTIONAL
            if getattr(truth, key) is not None
        },
    }
    write_npz(Path(folder) / GROUND_TRUTH_FILE, arrays)
    atomic_write_json(Path(folder) / GROUND_TRUTH_SUMMARY, truth.summary)
