"""Run the perception stages whose outputs a sample folder lacks, and write their files."""

import json
import logging
from pathlib import Path

import numpy as np

from perception.config import PerceptionConfig
from perception.registry import load_model
from reconstruction.camera import Camera
from reconstruction.errors import HoifitError
from reconstruction.image_io import find_image
from reconstruction.sample_io import (
    CAMERA_FILE,
    DEPTH_FILE,
    DETECTION_STEMS,
    KEYPOINTS_FILES,
    mask_bbox,
    write_camera,
    write_depth,
    write_detection,
    write_keypoints,
)

log = logging.getLogger(__name__)


def run_perception(
    sample_folder: str | Path,
    image: np.ndarray,
    object_name: str | None = None,
    config: PerceptionConfig | None = None,
    device=None,
    models: dict | None = None,
) -> dict:
    """Detect, segment, estimate depth and keypoints for the files missing in a sample folder.

    Writes `object_detection.npz` and `human_detection.npz` (mask and box), `depth.npz`,
    `keypoints_2d.json`, and `camera.json` when the depth model estimates the focal length;
    a stage whose file exists is skipped. With several people, the one nearest the object is
    kept.

    Args:
        sample_folder: the sample folder (created if missing).
        image: (H, W, 3) uint8 RGB, as `reconstruction.image_io.load_image` returns it.
        object_name: the object to look for; None takes the part before `__` of the folder's
            or the image file's name (`chair__0001`).
        config: the models and thresholds; defaults when None.
        device: torch device for the models.
        models: a cache of loaded models by stage, filled as models load (reuse it across
            samples).

    Returns:
        A summary: "ran" and "skipped" (file names), "object_name", "object_box",
        "person_count", "person_index", "person_box", "focal_px", "messages".

    Raises:
        HoifitError: no object name, no object or no person found, missing weights.
    """
    folder = Path(sample_folder)
    folder.mkdir(parents=True, exist_ok=True)
    config = config or PerceptionConfig()
    models = {} if models is None else models
    height, width = image.shape[:2]
    summary = {"ran": [], "skipped": [], "messages": [], "focal_px": None}

    def model(stage: str):
        if stage not in models:
            models[stage] = load_model(stage, config.model_for(stage), device)
        return models[stage]

    def note(message: str) -> None:
        log.info(message)
        summary["messages"].append(message)

    object_file = _detection_file(folder, "object")
    human_file = _detection_file(folder, "human")
    masks_to_make = {}

    if object_file is None:
        name = object_name or object_name_from(folder)
        if not name:
            raise HoifitError(
                f"no object name for {folder}: pass the object's name or name the folder "
                "<object>__<id> (e.g. chair__0001)"
            )
        summary["object_name"] = name
        found = model("detector").detect(image, [name], config.object_threshold)
        if not found:
            raise HoifitError(
                f"no {name!r} found in the image (score >= {config.object_threshold}): "
                "check the object name or lower perception.object_threshold"
            )
        object_box = found[0].box
        note(f"object {name!r} found, score {found[0].score:.2f}")
        masks_to_make["object"] = object_box
    else:
        summary["object_name"] = object_name or object_name_from(folder)
        object_box = _read_box(object_file)
        summary["skipped"].append(object_file.name)
    summary["object_box"] = None if object_box is None else np.asarray(object_box).tolist()

    if human_file is None:
        boxes, scores = model("person_detector").detect(image, config.person_threshold)
        if len(boxes) == 0:
            raise HoifitError(
                f"no person found in the image (score >= {config.person_threshold}): "
                "use an image with a visible person or lower perception.person_threshold"
            )
        index = nearest_box(boxes, object_box) if object_box is not None else 0
        if len(boxes) > 1:
            note(
                f"{len(boxes)} people found; using person {index} (score {scores[index]:.2f}), "
                "the one nearest the object"
            )
        person_box = boxes[index]
        summary["person_count"], summary["person_index"] = len(boxes), int(index)
        masks_to_make["human"] = person_box
    else:
        person_box = _read_box(human_file)
        summary["person_count"], summary["person_index"] = None, None
        summary["skipped"].append(human_file.name)
    summary["person_box"] = None if person_box is None else np.asarray(person_box).tolist()

    if masks_to_make:
        kinds = list(masks_to_make)
        masks = model("segmenter").segment(image, np.stack([masks_to_make[k] for k in kinds]))
        for kind, mask in zip(kinds, masks, strict=True):
            write_detection(folder, kind, mask, masks_to_make[kind])
            summary["ran"].append(f"{DETECTION_STEMS[kind]}.npz")

    if not any((folder / name).is_file() for name in KEYPOINTS_FILES):
        if person_box is None:
            note("no person box: keypoints skipped")
        else:
            keypoints = model("pose").keypoints(image, person_box[None])[0]
            write_keypoints(folder, keypoints)
            summary["ran"].append(KEYPOINTS_FILES[0])
    else:
        summary["skipped"].append(KEYPOINTS_FILES[0])

    if not (folder / DEPTH_FILE).is_file():
        depth, focal = model("depth").estimate(image)
        write_depth(folder, depth)
        summary["ran"].append(DEPTH_FILE)
        summary["focal_px"] = focal
        if focal is not None and not (folder / CAMERA_FILE).is_file():
            write_camera(folder, Camera.from_focal(focal, width, height))
            summary["ran"].append(CAMERA_FILE)
            note(f"focal length from the depth model: {focal:.1f} px")
    else:
        summary["skipped"].append(DEPTH_FILE)
    return summary


def object_name_from(folder: Path) -> str | None:
    """The object name in `<object>__<id>` of the folder's or its image's name, else None."""
    names = [folder.name]
    try:
        image = find_image(folder) if folder.is_dir() else None
    except HoifitError:
        image = None
    if image is not None:
        names.append(image.stem)
    for name in names:
        if "__" in name and name.split("__")[0]:
            return name.split("__")[0].replace("_", " ")
    return None


def nearest_box(boxes: np.ndarray, target: np.ndarray) -> int:
    """Index of the box nearest a target box: largest overlap, then nearest centre.

    Args:
        boxes: (N, 4) XYXY.
        target: (4,) XYXY.
    """
    boxes = np.asarray(boxes, np.float64)
    target = np.asarray(target, np.float64)
    low = np.maximum(boxes[:, :2], target[:2])
    high = np.minimum(boxes[:, 2:], target[2:])
    overlap = np.prod(np.clip(high - low, 0, None), axis=1)
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    distance = np.linalg.norm(centres - (target[:2] + target[2:]) / 2, axis=1)
    return int(np.lexsort((distance, -overlap))[0])


def _detection_file(folder: Path, kind: str) -> Path | None:
    for suffix in (".npz", ".json"):
        path = folder / f"{DETECTION_STEMS[kind]}{suffix}"
        if path.is_file():
            return path
    return None


def _read_box(path: Path) -> np.ndarray | None:
    """The (first) box of an existing detection file, else its mask's box, else None."""
    if path.suffix == ".npz":
        with np.load(path) as data:
            bbox = data["bbox"] if "bbox" in data else None
            mask = data["mask"] if "mask" in data else None
    else:
        data = json.loads(path.read_text())
        data = data[0] if isinstance(data, list) and data else data
        bbox = data.get("bbox") if isinstance(data, dict) else None
        mask = None
    if bbox is not None:
        return np.asarray(bbox, np.float64).reshape(-1, 4)[0]
    if mask is not None:
        mask = np.asarray(mask, bool)
        mask = mask[0] if mask.ndim == 3 else mask
        return mask_bbox(mask) if mask.any() else None
    return None
