"""human_detection and object_detection, .npz or .json: a person's or the object's mask and box.

Both PICO-db and hoifit write them. The npz holds `mask` (H, W) and `bbox` (4,) pixel XYXY; the
JSON holds the same keys. With several detections ((N, H, W) and (N, 4), or a JSON list of
them, or `{"detections": [...]}`), the one with the highest `score` (else the first) is used. A
JSON mask is an H x W nested list, a flat row-major list of H * W values, or COCO RLE
`{"size": [H, W], "counts": [...] | "..."}`. A missing box is the mask's; npz wins over json.
"""

from pathlib import Path

import numpy as np

from reconstruction.atomic_io import atomic_write_json
from reconstruction.errors import HoifitError
from reconstruction.sample_io.npz import load_npz, write_npz
from reconstruction.sample_io.parsing import load_json, numeric_array
from reconstruction.sample_io.sample import DETECTION_STEMS


def read_detection(
    folder: Path, kind: str, image_size: tuple[int, int]
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(mask (H, W) bool or None, bbox (4,) XYXY or None) of the person or the object.

    Both are None when the folder has no detection file of that `kind` ("human" or "object").
    """
    folder = Path(folder)
    stem = DETECTION_STEMS[kind]
    npz, js = folder / f"{stem}.npz", folder / f"{stem}.json"
    if npz.is_file():
        path, data = npz, load_npz(npz)
        mask, bbox = _pick_detection(path, data.get("mask"), data.get("bbox"), data.get("score"))
    elif js.is_file():
        path, data = js, load_json(js)
        if isinstance(data, dict) and "detections" in data:
            data = data["detections"]
        if isinstance(data, list):
            if not data or not all(isinstance(d, dict) for d in data):
                raise HoifitError(f"{js}: expected a detection object or a non-empty list of them")
            data = max(data, key=lambda d: d.get("score", 0.0))
        if not isinstance(data, dict):
            raise HoifitError(f'{js}: expected {{"mask": ..., "bbox": [x0, y0, x1, y1]}}')
        mask = None if data.get("mask") is None else _json_mask(js, data["mask"], image_size)
        bbox = data.get("bbox")
    else:
        return None, None
    if mask is None and bbox is None:
        raise HoifitError(f"{path}: neither 'mask' nor 'bbox'; expected at least one")
    if mask is not None:
        mask = np.asarray(mask)
        if mask.shape != image_size:
            raise HoifitError(
                f"{path}: the mask has shape {mask.shape} but the image is (H, W) = "
                f"{image_size}; resize the mask to the image"
            )
        mask = mask > 0.5 if mask.dtype.kind == "f" else mask.astype(bool)
    if bbox is not None:
        bbox = numeric_array(path, bbox, "bbox").reshape(-1)
        if bbox.shape != (4,) or bbox[2] < bbox[0] or bbox[3] < bbox[1]:
            raise HoifitError(f"{path}: bbox must be [x0, y0, x1, y1] with x0 <= x1, y0 <= y1")
    elif mask.any():
        bbox = mask_bbox(mask)
    return mask, bbox


def _pick_detection(path: Path, mask, bbox, score):
    """The highest-scoring detection of stacked npz arrays (N, H, W) / (N, 4)."""
    count = None
    if mask is not None and mask.ndim == 3:
        count = len(mask)
    elif bbox is not None and np.ndim(bbox) == 2:
        count = len(bbox)
    if count is None:
        return mask, bbox
    if count == 0:
        raise HoifitError(f"{path}: holds zero detections")
    best = int(np.argmax(score)) if score is not None and np.size(score) == count else 0
    return (
        None if mask is None else mask[best],
        None if bbox is None else np.asarray(bbox).reshape(count, -1)[best],
    )


def _json_mask(path: Path, value, image_size: tuple[int, int]) -> np.ndarray:
    """A JSON mask: nested list, flat row-major list, or COCO RLE."""
    if isinstance(value, dict):
        if "counts" not in value or "size" not in value:
            raise HoifitError(f'{path}: an RLE mask needs "size" [H, W] and "counts"')
        height, width = (int(v) for v in value["size"])
        counts = value["counts"]
        if isinstance(counts, str):
            counts = _decode_rle_string(path, counts)
        runs = numeric_array(path, counts, "mask counts", np.int64)
        if runs.ndim != 1 or (runs < 0).any() or runs.sum() != height * width:
            raise HoifitError(f"{path}: RLE counts do not cover the {height}x{width} mask")
        flat = np.repeat(np.arange(len(runs)) % 2 == 1, runs)
        # COCO runs go down the columns.
        return flat.reshape(width, height).T
    mask = numeric_array(path, value, "mask")
    if mask.ndim == 1 and mask.size == image_size[0] * image_size[1]:
        mask = mask.reshape(image_size)
    return mask > 0.5


def _decode_rle_string(path: Path, text: str) -> list[int]:
    """The run lengths of COCO's compressed RLE string (6-bit groups, delta-coded)."""
    counts, position = [], 0
    while position < len(text):
        value, shift, more = 0, 0, True
        while more:
            if position >= len(text):
                raise HoifitError(f"{path}: truncated RLE string in the mask")
            chunk = ord(text[position]) - 48
            value |= (chunk & 0x1F) << (5 * shift)
            more = bool(chunk & 0x20)
            position += 1
            shift += 1
            if not more and chunk & 0x10:
                value |= -1 << (5 * shift)
        if len(counts) > 2:
            value += counts[-2]
        counts.append(value)
    return counts


def mask_bbox(mask: np.ndarray) -> np.ndarray:
    """(4,) float XYXY box through the centres of the extreme pixels of a non-empty mask."""
    rows, cols = np.nonzero(mask)
    return np.array([cols.min(), rows.min(), cols.max(), rows.max()], dtype=np.float64)


def write_detection(
    folder: str | Path,
    kind: str,
    mask: np.ndarray | None,
    bbox: np.ndarray | None,
    file_format: str = "npz",
) -> None:
    """Write `human_detection` or `object_detection` as .npz or .json.

    Args:
        folder: the sample folder.
        kind: "human" or "object".
        mask: (H, W) bool, or None.
        bbox: (4,) XYXY pixels, or None for the mask's (none for an empty mask).
        file_format: "npz" (arrays `mask`, `bbox`) or "json" (`bbox` list, `mask` as COCO
            uncompressed RLE).
    """
    if mask is None and bbox is None:
        raise ValueError("a detection needs a mask or a box")
    if bbox is None and mask.any():
        bbox = mask_bbox(mask)
    path = Path(folder) / f"{DETECTION_STEMS[kind]}.{file_format}"
    if file_format == "npz":
        arrays = {} if bbox is None else {"bbox": np.asarray(bbox, dtype=np.float64)}
        if mask is not None:
            arrays["mask"] = np.asarray(mask, dtype=bool)
        write_npz(path, arrays)
    elif file_format == "json":
        data = {} if bbox is None else {"bbox": [float(v) for v in bbox]}
        if mask is not None:
            data["mask"] = encode_rle(mask)
        atomic_write_json(path, data)
    else:
        raise ValueError(f"detection file format must be npz or json, got {file_format!r}")


def encode_rle(mask: np.ndarray) -> dict:
    """COCO uncompressed RLE of a (H, W) mask: {"size": [H, W], "counts": [...]}."""
    flat = np.asarray(mask, dtype=bool).T.reshape(-1)  # column-major, as COCO
    changes = np.flatnonzero(np.diff(flat.astype(np.int8))) + 1
    bounds = np.concatenate(([0], changes, [flat.size]))
    runs = np.diff(bounds).tolist()
    if flat.size and flat[0]:
        runs = [0, *runs]  # the runs start with background
    return {"size": list(mask.shape), "counts": runs}
