"""Run the perception stages whose outputs a sample folder lacks, and write their files."""

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
    read_detection,
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

    object_mask, object_box = read_detection(folder, "object", (height, width))
    person_mask, person_box = read_detection(folder, "human", (height, width))
    masks_to_make = {}

    if object_mask is None and object_box is None:
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
        summary["skipped"].append(_detection_file_name(folder, "object"))
    summary["object_box"] = None if object_box is None else np.asarray(object_box).tolist()

    if person_mask is None and person_box is None:
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
        summary["person_count"], summary["person_index"] = None, None
        summary["skipped"].append(_detection_file_name(folder, "human"))
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


def _detection_file_name(folder: Path, kind: str) -> str:
    """Name of the detection file that `read_detection` read (npz before json)."""
    npz = f"{DETECTION_STEMS[kind]}.npz"
    return npz if (folder / npz).is_file() else f"{DETECTION_STEMS[kind]}.json"
