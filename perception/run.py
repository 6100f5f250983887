"""The perception stage: detect, segment, estimate depth and keypoints for what a sample lacks.

It takes the image and what is already known (boxes), calls the models it is given, and returns
a `PerceptionResult`; writing files is the composition root's business (`hoifit.store`).
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from perception.config import PerceptionConfig
from reconstruction.errors import HoifitError

log = logging.getLogger(__name__)


@dataclass
class Detection:
    """One detected and segmented thing.

    Attributes:
        mask: (H, W) bool at the image's size.
        box: (4,) XYXY pixels.
    """

    mask: np.ndarray
    box: np.ndarray


@dataclass
class PerceptionResult:
    """What the perception stage found; a field is None when it was not asked for.

    Attributes:
        object_name: the object looked for, or None.
        object: the object's mask and box.
        person: the person's mask and box (the one nearest the object when several).
        keypoints_2d: (17, 3) COCO-17 (u, v, confidence) of that person, pixels.
        depth: (H, W) float32 metric depth, metres.
        focal_px: the focal length the depth model estimated (Depth Pro), pixels.
        person_count: how many people the person detector found.
        person_index: which of them was kept.
        messages: what a user should know (choices made), one line each.
    """

    object_name: str | None = None
    object: Detection | None = None
    person: Detection | None = None
    keypoints_2d: np.ndarray | None = None
    depth: np.ndarray | None = None
    focal_px: float | None = None
    person_count: int | None = None
    person_index: int | None = None
    messages: list[str] = field(default_factory=list)

    def summary(self) -> dict:
        """A JSON-ready account of what ran (for `metrics.json`)."""
        ran = [
            name
            for name, value in (
                ("object_detection", self.object),
                ("person_detection", self.person),
                ("keypoints_2d", self.keypoints_2d),
                ("depth", self.depth),
            )
            if value is not None
        ]

        def box(detection):
            return None if detection is None else np.asarray(detection.box).tolist()

        return {
            "ran": ran,
            "object_name": self.object_name,
            "object_box": box(self.object),
            "person_box": box(self.person),
            "person_count": self.person_count,
            "person_index": self.person_index,
            "focal_px": self.focal_px,
            "messages": list(self.messages),
        }


def run_perception(
    image: np.ndarray,
    model: Callable[[str], object],
    config: PerceptionConfig | None = None,
    object_name: str | None = None,
    object_box: np.ndarray | None = None,
    person_box: np.ndarray | None = None,
    want_keypoints: bool = True,
    want_depth: bool = True,
) -> PerceptionResult:
    """Find the object and the person, segment them, estimate keypoints and depth.

    The object is detected unless its box is given, the person likewise; each is segmented
    with its box. With several people, the one nearest the object is kept.

    Args:
        image: (H, W, 3) uint8 RGB.
        model: the model of a stage by name ("detector", "segmenter", "depth",
            "person_detector", "pose"), loaded on first use by the caller's registry.
        config: thresholds; defaults when None.
        object_name: the object to look for; needed unless `object_box` is given.
        object_box: (4,) XYXY of the object when known: it is segmented, not detected.
        person_box: (4,) XYXY of the person when known.
        want_keypoints: estimate the person's 2D keypoints.
        want_depth: estimate metric depth (and, with Depth Pro, the focal length).

    Returns:
        What was found.

    Raises:
        HoifitError: no object name, no object or no person found, missing weights.
    """
    config = config or PerceptionConfig()
    result = PerceptionResult(object_name=object_name)

    def note(message: str) -> None:
        log.info(message)
        result.messages.append(message)

    to_segment = {}
    if object_box is None:
        if not object_name:
            raise HoifitError(
                "no object name: pass the object's name (--object NAME) or name the image or "
                "folder <object>__<id> (e.g. chair__0001)"
            )
        found = model("detector").detect(image, [object_name], config.object_threshold)
        if not found:
            raise HoifitError(
                f"no {object_name!r} found in the image (score >= {config.object_threshold}): "
                "check the object name or lower perception.object_threshold"
            )
        object_box = np.asarray(found[0].box, dtype=np.float64)
        note(f"object {object_name!r} found, score {found[0].score:.2f}")
    to_segment["object"] = object_box

    if person_box is None:
        boxes, scores = model("person_detector").detect(image, config.person_threshold)
        if len(boxes) == 0:
            raise HoifitError(
                f"no person found in the image (score >= {config.person_threshold}): "
                "use an image with a visible person or lower perception.person_threshold"
            )
        index = nearest_box(boxes, object_box)
        if len(boxes) > 1:
            note(
                f"{len(boxes)} people found; using person {index} (score {scores[index]:.2f}), "
                "the one nearest the object"
            )
        person_box = np.asarray(boxes[index], dtype=np.float64)
        result.person_count, result.person_index = len(boxes), index
    to_segment["person"] = person_box

    masks = model("segmenter").segment(image, np.stack(list(to_segment.values())))
    detections = {
        kind: Detection(np.asarray(mask, bool), np.asarray(box, np.float64))
        for (kind, box), mask in zip(to_segment.items(), masks, strict=True)
    }
    result.object, result.person = detections["object"], detections["person"]

    if want_keypoints:
        result.keypoints_2d = model("pose").keypoints(image, person_box[None])[0]
    if want_depth:
        result.depth, result.focal_px = model("depth").estimate(image)
        if result.focal_px is not None:
            note(f"focal length from the depth model: {result.focal_px:.1f} px")
    return result


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
