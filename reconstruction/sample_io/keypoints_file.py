"""keypoints_2d.json or keypoints_2d.npz: COCO-17 body keypoints, hoifit's file.

`keypoints_2d.json` holds `{"names": [...], "keypoints": 17 x [u, v, confidence]}` (a bare list
of keypoints is accepted too); `keypoints_2d.npz` holds `keypoints` (17, 3). Pixels, confidence
in [0, 1]; keypoints without confidence, (17, 2), get confidence 1. The JSON file wins.
"""

from pathlib import Path

import numpy as np

from reconstruction.atomic_io import atomic_write_json
from reconstruction.body_models.base import COCO17_NAMES
from reconstruction.errors import HoifitError
from reconstruction.sample_io.npz import load_npz
from reconstruction.sample_io.parsing import load_json, numeric_array
from reconstruction.sample_io.sample import KEYPOINTS_FILES


def read_keypoints(folder: Path) -> np.ndarray | None:
    """(17, 3) float32 (u, v, confidence) of the folder's keypoint file, or None without one.

    Raises:
        HoifitError: no `keypoints` entry, or not 17 keypoints.
    """
    for name in KEYPOINTS_FILES:
        path = folder / name
        if not path.is_file():
            continue
        if path.suffix == ".json":
            data = load_json(path)
            value = data.get("keypoints") if isinstance(data, dict) else data
        else:
            value = load_npz(path).get("keypoints")
        if value is None:
            raise HoifitError(f"{path}: no 'keypoints' entry; expected 17 x (u, v, confidence)")
        keypoints = numeric_array(path, value, "keypoints", np.float32)
        if keypoints.size == 51:
            keypoints = keypoints.reshape(17, 3)
        elif keypoints.size == 34:
            keypoints = np.concatenate((keypoints.reshape(17, 2), np.ones((17, 1))), 1)
        else:
            raise HoifitError(
                f"{path}: keypoints have shape {keypoints.shape}; expected COCO-17 (17, 3) "
                "(u, v, confidence)"
            )
        return keypoints.astype(np.float32)
    return None


def write_keypoints(folder: str | Path, keypoints: np.ndarray) -> None:
    """Write keypoints_2d.json: COCO-17 names and (17, 3) (u, v, confidence)."""
    keypoints = np.asarray(keypoints, dtype=np.float32).reshape(17, 3)
    atomic_write_json(
        Path(folder) / KEYPOINTS_FILES[0],
        {"names": list(COCO17_NAMES), "keypoints": keypoints.astype(np.float64).tolist()},
    )
