"""Sample folders: one image and what is known about it, in PICO-db's layout plus hoifit's files.

A sample folder is named after the sample; PICO-db names it `<category>__<source id>`, e.g.
`skateboard__vcoco_000000012938`, and the object category is the part before `__`. Every file
but the image is optional; a missing one leaves its field None.

PICO-db files, read as PICO writes them:

- `<folder>.jpg` (or any image suffix): the image, named like the folder. Without one, `image.*`
  or the folder's only image.
- `osx_human.npz`: OSX's SMPL-X estimate, the body initialization when `body_init.npz` is
  absent. Read: `hps_global_orient` (3,) axis-angle, `hps_body_pose` (63,) or (21, 3) (axis-angle,
  or (21, 3, 3) matrices), and when present `hps_betas` (S,), `hps_transl` (3,) (smplx's own
  `transl`), `hps_left_hand_pose` / `hps_right_hand_pose` (45,), `hps_jaw_pose` (3,),
  `hps_expression` (E,); the same names without the `hps_` prefix are accepted too. They are
  converted to the smplx backend's npz convention (`SMPLXModel.params_from_npz`): batch-1
  arrays `global_orient` (1, 3), `body_pose` (1, 63), `betas` (1, S), `transl` (1, 3),
  `left_hand_pose` / `right_hand_pose` (1, 45) and the face keys, plus `model_type` "smplx" and
  `gender` "neutral". `smpl_vertices` (6890, 3) is kept in `BodyInit.smpl_vertices`; `bbox_2`,
  whose layout PICO does not document, is not read.
- `human_detection.npz|json`, `object_detection.npz|json`: `mask` (H, W) and `bbox` (4,) pixel
  XYXY. With several detections ((N, H, W) and (N, 4), or a JSON list of them), the one with the
  highest `score` (else the first) is used. A JSON mask is an H x W nested list, a flat
  row-major list of H * W values, or COCO RLE `{"size": [H, W], "counts": [...] | "..."}`. A
  missing box is the mask's; npz wins over json.
- `object.obj`: the object mesh. PICO rotates object meshes by -90 degrees about x when it loads
  them, (x, y, z) -> (x, z, -y); `read_sample` does the same, so `Sample.object_mesh` and every
  object pose are in the rotated frame, and `write_object_mesh` writes the inverse.
- `corresponding_contacts.json`: paired contact, `{"data": [{"name": "humanShape<part>",
  "contactPoints": ["v <vertex>", ...]}, {"name": "objShape<part>", "contactPoints": ["f <face>
  <b0> <b1> <b2>", ...]}, ...]}`: body vertices and object points (face of object.obj and
  barycentric weights), indices 0-based, paired in order within each part. An object point may
  also be `"v <vertex>"` of object.obj. hoifit adds the top-level key `"body_topology"` ("anny",
  "smplx" or "smpl") when the body indices are not SMPL's; absent means "smpl", PICO's.

hoifit's own files:

- `camera.json`: `{"K": 3x3 pixels, "width": W, "height": H}`. Without it the camera comes
  from the configured focal length or field of view, else EXIF, else the default field of view
  (`image_io.camera_for_image`).
- `depth.npz`: `depth` (H, W) float32, metric depth along z in metres, 0 where unknown.
- `keypoints_2d.json` (`{"names": [...], "keypoints": 17 x [u, v, confidence]}`) or
  `keypoints_2d.npz` (`keypoints` (17, 3)): COCO-17 keypoints in pixels, confidence in [0, 1].
- `body_init.npz`: the body the fitting starts from: the backend's `to_npz_dict` output (camera
  frame) plus `body_backend` ("anny", "smplx" or "smpl").
- `contact.npz`: per-vertex contact probabilities in [0, 1]: `body_contact` (V,) on the body
  mesh of `body_topology`, `object_contact` (Vo,) on object.obj's vertices; either may be
  missing.
- `ground_truth.npz` and `ground_truth.json`: ground truth of synthetic samples (see
  `GroundTruth`); the fitting never reads them, only `read_ground_truth` does.

Conventions: camera frame OpenCV (x right, y down, z forward), metres; pixel (u, v) = (column,
row) with the centre of the top-left pixel at (0, 0); boxes XYXY in those pixel coordinates;
masks (H, W) bool at the image's size. Every file is written atomically, and written npz files
are byte-for-byte reproducible (fixed zip timestamps).
"""

from __future__ import annotations

import io
import json
import math
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from reconstruction.atomic_io import atomic_write_bytes, atomic_write_json, atomic_write_png
from reconstruction.body_models.base import COCO17_NAMES
from reconstruction.camera import Camera
from reconstruction.config import CameraConfig
from reconstruction.errors import HoifitError
from reconstruction.image_io import IMAGE_SUFFIXES, camera_for_image, find_image, load_image
from reconstruction.object_model import MeshError, ObjectMesh, load_object_mesh
from reconstruction.rotations import matrix_to_axis_angle

CAMERA_FILE = "camera.json"
DEPTH_FILE = "depth.npz"
KEYPOINTS_FILES = ("keypoints_2d.json", "keypoints_2d.npz")
BODY_INIT_FILE = "body_init.npz"
OSX_FILE = "osx_human.npz"
DETECTION_STEMS = {"human": "human_detection", "object": "object_detection"}
OBJECT_FILE = "object.obj"
CONTACT_FILE = "contact.npz"
PAIRS_FILE = "corresponding_contacts.json"
GROUND_TRUTH_FILE = "ground_truth.npz"
GROUND_TRUTH_SUMMARY = "ground_truth.json"

OBJECT_FILE_ROTATION = np.array([[1, 0, 0], [0, 0, 1], [0, -1, 0]], dtype=np.float32)
"""PICO's load-time rotation of object.obj, -90 degrees about x: (x, y, z) -> (x, z, -y). Its
entries are exactly 0 and +-1, so rotating and rotating back is exact."""

BODY_VERTEX_COUNTS = {"smpl": 6890, "smplx": 10475, "anny": 13718}
"""Vertices of each body topology, to check contact files against."""

_HUMAN_PREFIX, _OBJECT_PREFIX = "humanShape", "objShape"
_NPZ_TIME = (1980, 1, 1, 0, 0, 0)


@dataclass
class BodyInit:
    """The body the fitting starts from.

    Attributes:
        backend: "anny", "smplx" or "smpl".
        params: the backend's npz convention (`BodyModel.params_from_npz` reads it), camera
            frame.
        source: the file it came from.
        smpl_vertices: (6890, 3) SMPL vertices that PICO stores with OSX's estimate, or None.
    """

    backend: str
    params: dict[str, np.ndarray]
    source: str = BODY_INIT_FILE
    smpl_vertices: np.ndarray | None = None


@dataclass
class ContactPairs:
    """Paired contact: body vertex i touches object point i.

    Attributes:
        body_vertex: (P,) int64 vertices of the body mesh of `body_topology`.
        object_face: (P,) int64 faces of object.obj.
        object_bary: (P, 3) float32 barycentric weights of the object point in its face.
        part: (P,) name of the part each pair belongs to.
        body_topology: "smpl", "smplx" or "anny".
    """

    body_vertex: np.ndarray
    object_face: np.ndarray
    object_bary: np.ndarray
    part: list[str]
    body_topology: str = "smpl"

    def __len__(self) -> int:
        return len(self.body_vertex)


@dataclass
class SampleContact:
    """What is known about contact.

    Attributes:
        body_contact: (V,) float32 probability per body vertex, or None.
        body_topology: mesh of `body_contact` ("anny", "smplx", "smpl"), or None.
        object_contact: (Vo,) float32 probability per object.obj vertex, or None.
        pairs: paired correspondences, or None.
    """

    body_contact: np.ndarray | None = None
    body_topology: str | None = None
    object_contact: np.ndarray | None = None
    pairs: ContactPairs | None = None


@dataclass
class Sample:
    """One sample folder, read.

    Attributes:
        name: the folder's name.
        folder: the folder, or None for a sample not read from disk.
        image: (H, W, 3) uint8.
        camera: intrinsics of `image`.
        object_mesh: object.obj in PICO's rotated frame, or None.
        object_category: the folder-name prefix before "__", or None.
        person_mask: (H, W) bool, or None.
        person_bbox: (4,) float XYXY pixels, or None.
        object_mask: (H, W) bool, or None.
        object_bbox: (4,) float XYXY pixels, or None.
        depth: (H, W) float32 metres, 0 where unknown, or None.
        keypoints_2d: (17, 3) float32 COCO-17 (u, v, confidence), or None.
        body_init: the initial body, or None.
        contact: contact annotations or estimates, or None.
    """

    name: str
    folder: Path | None
    image: np.ndarray
    camera: Camera
    object_mesh: ObjectMesh | None = None
    object_category: str | None = None
    person_mask: np.ndarray | None = None
    person_bbox: np.ndarray | None = None
    object_mask: np.ndarray | None = None
    object_bbox: np.ndarray | None = None
    depth: np.ndarray | None = None
    keypoints_2d: np.ndarray | None = None
    body_init: BodyInit | None = None
    contact: SampleContact | None = None


@dataclass
class GroundTruth:
    """Ground truth of a synthetic sample, camera frame (see the module docstring).

    Attributes:
        interaction: name of the interaction, e.g. "sit_chair".
        object_category: e.g. "chair".
        body_backend: "anny", "smplx" or "smpl".
        body_params: the clean body in the backend's npz convention (`to_npz_dict`).
        body_vertices: (V, 3) float32 posed body vertices.
        object_rotation: (3, 3) R of x_cam = s * R @ x_obj + t, x_obj in `Sample.object_mesh`'s
            frame.
        object_translation: (3,) t, metres.
        object_scale: s.
        object_vertices: (Vo, 3) float32 posed object vertices.
        body_contact: (V,) float32 in {0, 1}.
        object_contact: (Vo,) float32 in {0, 1}.
        pairs: clean paired contact, body indices on `body_backend`'s mesh.
        K: (3, 3) intrinsics.
        person_mask: (H, W) bool visible body pixels.
        object_mask: (H, W) bool visible object pixels.
        keypoints_2d: (17, 3) clean COCO-17 keypoints (u, v, 1 inside the image else 0).
        summary: the human-readable summary written to ground_truth.json.
    """

    interaction: str
    object_category: str
    body_backend: str
    body_params: dict[str, np.ndarray]
    body_vertices: np.ndarray
    object_rotation: np.ndarray
    object_translation: np.ndarray
    object_scale: float
    object_vertices: np.ndarray
    body_contact: np.ndarray
    object_contact: np.ndarray
    pairs: ContactPairs
    K: np.ndarray
    person_mask: np.ndarray
    object_mask: np.ndarray
    keypoints_2d: np.ndarray
    summary: dict = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# Reading


def list_samples(root: str | Path) -> list[Path]:
    """Subfolders of `root` that look like samples, sorted by name.

    A sample folder holds an image named like the folder or `image.*`, or an object.obj.

    Raises:
        HoifitError: `root` is not a folder.
    """
    root = Path(root)
    if not root.is_dir():
        raise HoifitError(f"{root} is not a folder: pass the folder that holds sample folders")
    return [
        folder
        for folder in sorted(p for p in root.iterdir() if p.is_dir())
        if (folder / OBJECT_FILE).is_file()
        or any(
            p.suffix.lower() in IMAGE_SUFFIXES and p.stem in (folder.name, "image")
            for p in folder.iterdir()
        )
    ]


def read_sample(folder: str | Path, camera_config: CameraConfig | None = None) -> Sample:
    """Read a sample folder (see the module docstring for its files).

    Args:
        folder: the sample folder.
        camera_config: intrinsics to use when the folder has no camera.json; None for EXIF or
            the default.

    Returns:
        The sample; fields whose files are absent are None.

    Raises:
        HoifitError: no folder or no image, or a malformed file (the message names it).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise HoifitError(f"sample folder {folder} does not exist: check the path")
    image_path = _image_path(folder)
    image, exif = load_image(image_path)
    height, width = image.shape[:2]
    camera_path = folder / CAMERA_FILE
    if camera_path.is_file():
        camera = _read_camera(camera_path, width, height)
    else:
        camera = camera_for_image(width, height, exif, camera_config or CameraConfig())

    object_mesh = None
    if (folder / OBJECT_FILE).is_file():
        object_mesh = _read_object_mesh(folder / OBJECT_FILE)
    person_mask, person_bbox = read_detection(folder, "human", (height, width))
    object_mask, object_bbox = read_detection(folder, "object", (height, width))
    depth_path = folder / DEPTH_FILE
    return Sample(
        name=folder.name,
        folder=folder,
        image=image,
        camera=camera,
        object_mesh=object_mesh,
        object_category=folder.name.split("__")[0] if "__" in folder.name else None,
        person_mask=person_mask,
        person_bbox=person_bbox,
        object_mask=object_mask,
        object_bbox=object_bbox,
        depth=_read_depth(depth_path, (height, width)) if depth_path.is_file() else None,
        keypoints_2d=_read_keypoints(folder),
        body_init=_read_body_init(folder),
        contact=_read_contact(folder, object_mesh),
    )


def read_ground_truth(folder: str | Path) -> GroundTruth | None:
    """The ground truth of a synthetic sample, or None when the folder has none.

    Raises:
        HoifitError: ground_truth.npz is malformed.
    """
    path = Path(folder) / GROUND_TRUTH_FILE
    if not path.is_file():
        return None
    data = _load_npz(path)
    summary_path = Path(folder) / GROUND_TRUTH_SUMMARY
    summary = _load_json(summary_path) if summary_path.is_file() else {}
    try:
        prefix = "body_param__"
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
        )
    except KeyError as error:
        raise HoifitError(
            f"{path}: missing array {error}; regenerate the sample with scripts/make_synthetic.py"
        ) from None


def _image_path(folder: Path) -> Path:
    """The image named like the folder, else `image.*` or the folder's only image."""
    named = sorted(
        p for p in folder.iterdir() if p.stem == folder.name and p.suffix.lower() in IMAGE_SUFFIXES
    )
    if named:
        return named[0]
    path = find_image(folder)
    if path is None:
        raise HoifitError(
            f"{folder} holds no image: put the image in it as {folder.name}.jpg (or .png)"
        )
    return path


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    """All arrays of an npz file, or a HoifitError naming the file."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except Exception as error:  # numpy and zipfile raise many types for a bad file
        reason = " ".join(str(error).split()) or type(error).__name__
        raise HoifitError(f"{path}: not a readable .npz file ({reason}); rewrite it") from error


def _load_json(path: Path):
    """A JSON file's content, or a HoifitError naming the file."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        reason = " ".join(str(error).split())
        raise HoifitError(f"{path}: not readable JSON ({reason}); fix or rewrite it") from error


def _array(path: Path, value, name: str, dtype=np.float64) -> np.ndarray:
    """`value` as a finite numeric array, or a HoifitError naming the file and the entry."""
    try:
        array = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError):
        raise HoifitError(f"{path}: '{name}' is not a numeric array") from None
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise HoifitError(f"{path}: '{name}' holds NaN or infinite values")
    return array


def _read_camera(path: Path, width: int, height: int) -> Camera:
    data = _load_json(path)
    if not isinstance(data, dict) or "K" not in data:
        raise HoifitError(f'{path}: expected {{"K": 3x3, "width": W, "height": H}}')
    K = _array(path, data["K"], "K")
    if K.shape != (3, 3) or not (K[0, 0] > 0 and K[1, 1] > 0):
        raise HoifitError(f"{path}: K must be a 3x3 matrix with positive focal lengths")
    size = (int(data.get("width", width)), int(data.get("height", height)))
    if size != (width, height):
        raise HoifitError(
            f"{path}: the camera is for a {size[0]}x{size[1]} image but the image is "
            f"{width}x{height}; rescale K or the image"
        )
    return Camera(float(K[0, 0]), float(K[1, 1]), float(K[0, 2]), float(K[1, 2]), width, height)


def _read_object_mesh(path: Path) -> ObjectMesh:
    try:
        mesh = load_object_mesh(path)
    except MeshError as error:
        raise HoifitError(str(error)) from error
    return ObjectMesh(mesh.vertices @ OBJECT_FILE_ROTATION.T, mesh.faces, mesh.name, mesh.path)


def _read_depth(path: Path, image_size: tuple[int, int]) -> np.ndarray:
    data = _load_npz(path)
    if "depth" not in data:
        raise HoifitError(f"{path}: no 'depth' array; expected depth (H, W) in metres")
    depth = _array(path, data["depth"], "depth", np.float32)
    if depth.shape != image_size:
        raise HoifitError(
            f"{path}: depth is {depth.shape} but the image is {image_size}; resize it to the image"
        )
    if (depth < 0).any():
        raise HoifitError(f"{path}: negative depth values; depth is metres, 0 where unknown")
    return depth


def _read_keypoints(folder: Path) -> np.ndarray | None:
    for name in KEYPOINTS_FILES:
        path = folder / name
        if not path.is_file():
            continue
        if path.suffix == ".json":
            data = _load_json(path)
            value = data.get("keypoints") if isinstance(data, dict) else data
        else:
            value = _load_npz(path).get("keypoints")
        if value is None:
            raise HoifitError(f"{path}: no 'keypoints' entry; expected 17 x (u, v, confidence)")
        keypoints = _array(path, value, "keypoints", np.float32)
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
        path, data = npz, _load_npz(npz)
        mask, bbox = _pick_detection(path, data.get("mask"), data.get("bbox"), data.get("score"))
    elif js.is_file():
        path, data = js, _load_json(js)
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
        bbox = _array(path, bbox, "bbox").reshape(-1)
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
        runs = _array(path, counts, "mask counts", np.int64)
        if runs.ndim != 1 or (runs < 0).any() or runs.sum() != height * width:
            raise HoifitError(f"{path}: RLE counts do not cover the {height}x{width} mask")
        flat = np.repeat(np.arange(len(runs)) % 2 == 1, runs)
        # COCO runs go down the columns.
        return flat.reshape(width, height).T
    mask = _array(path, value, "mask")
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


def _read_body_init(folder: Path) -> BodyInit | None:
    path = folder / BODY_INIT_FILE
    if path.is_file():
        data = _load_npz(path)
        backend = data.pop("body_backend", data.get("model_type"))
        if backend is None or str(backend) not in BODY_VERTEX_COUNTS:
            raise HoifitError(
                f"{path}: 'body_backend' must be one of {sorted(BODY_VERTEX_COUNTS)}; write it "
                "with write_body_init"
            )
        return BodyInit(str(backend), data, source=BODY_INIT_FILE)
    path = folder / OSX_FILE
    if path.is_file():
        return _osx_body_init(path, _load_npz(path))
    return None


def _osx_body_init(path: Path, data: dict[str, np.ndarray]) -> BodyInit:
    """OSX's SMPL-X estimate in the smplx backend's npz convention (see the module docstring)."""

    def get(name: str):
        for key in (f"hps_{name}", name):
            if key in data:
                return _array(path, data[key], key)
        return None

    def axis_angle(name: str, joints: int) -> np.ndarray | None:
        value = get(name)
        if value is None:
            return None
        if value.size == joints * 9:
            matrices = torch.as_tensor(value.reshape(joints, 3, 3))
            value = matrix_to_axis_angle(matrices).numpy()
        if value.size != joints * 3:
            raise HoifitError(
                f"{path}: hps_{name} has {value.size} values; expected {joints} joints as "
                "axis-angle (3 each) or rotation matrices (9 each)"
            )
        return value.reshape(1, joints * 3).astype(np.float32)

    global_orient, body_pose = axis_angle("global_orient", 1), axis_angle("body_pose", 21)
    if global_orient is None or body_pose is None:
        raise HoifitError(f"{path}: needs hps_global_orient and hps_body_pose (SMPL-X, 21 joints)")
    betas = get("betas")
    params = {
        "global_orient": global_orient,
        "body_pose": body_pose,
        "betas": (np.zeros(10) if betas is None else betas).reshape(1, -1).astype(np.float32),
        "transl": (np.zeros(3) if get("transl") is None else get("transl"))
        .reshape(1, 3)
        .astype(np.float32),
    }
    for name, joints in (("left_hand_pose", 15), ("right_hand_pose", 15), ("jaw_pose", 1)):
        value = axis_angle(name, joints)
        if value is not None:
            params[name] = value
    expression = get("expression")
    if expression is not None:
        params["expression"] = expression.reshape(1, -1).astype(np.float32)
    params["model_type"] = np.array("smplx")
    params["gender"] = np.array("neutral")
    smpl_vertices = data.get("smpl_vertices")
    if smpl_vertices is not None:
        smpl_vertices = _array(path, smpl_vertices, "smpl_vertices", np.float32).reshape(-1, 3)
    return BodyInit("smplx", params, source=OSX_FILE, smpl_vertices=smpl_vertices)


def _read_contact(folder: Path, object_mesh: ObjectMesh | None) -> SampleContact | None:
    contact = SampleContact()
    path = folder / CONTACT_FILE
    if path.is_file():
        data = _load_npz(path)
        if "body_contact" not in data and "object_contact" not in data:
            raise HoifitError(f"{path}: holds neither 'body_contact' nor 'object_contact'")
        if "body_contact" in data:
            topology = str(data.get("body_topology", ""))
            if topology not in BODY_VERTEX_COUNTS:
                raise HoifitError(
                    f"{path}: 'body_topology' must be one of {sorted(BODY_VERTEX_COUNTS)}"
                )
            contact.body_contact = _probabilities(
                path, data["body_contact"], "body_contact", BODY_VERTEX_COUNTS[topology]
            )
            contact.body_topology = topology
        if "object_contact" in data:
            expected = None if object_mesh is None else len(object_mesh.vertices)
            contact.object_contact = _probabilities(
                path, data["object_contact"], "object_contact", expected
            )
    path = folder / PAIRS_FILE
    if path.is_file():
        contact.pairs = _read_pairs(path, object_mesh)
    if contact.body_contact is None and contact.object_contact is None and contact.pairs is None:
        return None
    return contact


def _probabilities(path: Path, value, name: str, expected: int | None) -> np.ndarray:
    array = _array(path, value, name, np.float32).reshape(-1)
    if expected is not None and len(array) != expected:
        raise HoifitError(f"{path}: '{name}' has {len(array)} values but the mesh has {expected}")
    if (array < 0).any() or (array > 1).any():
        raise HoifitError(f"{path}: '{name}' must be probabilities in [0, 1]")
    return array


def _read_pairs(path: Path, object_mesh: ObjectMesh | None) -> ContactPairs:
    """Parse corresponding_contacts.json (see the module docstring)."""
    data = _load_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise HoifitError(f'{path}: expected {{"data": [{{"name": ..., "contactPoints": [...]}}]}}')
    topology = str(data.get("body_topology", "smpl"))
    if topology not in BODY_VERTEX_COUNTS:
        raise HoifitError(f"{path}: body_topology must be one of {sorted(BODY_VERTEX_COUNTS)}")
    human, obj = {}, {}
    for entry in data["data"]:
        name = entry.get("name", "") if isinstance(entry, dict) else ""
        points = entry.get("contactPoints") if isinstance(entry, dict) else None
        if not isinstance(points, list):
            raise HoifitError(f"{path}: entry {name!r} has no 'contactPoints' list")
        if name.startswith(_HUMAN_PREFIX):
            human[name[len(_HUMAN_PREFIX) :]] = points
        elif name.startswith(_OBJECT_PREFIX):
            obj[name[len(_OBJECT_PREFIX) :]] = points
        else:
            raise HoifitError(
                f"{path}: entry name {name!r} starts with neither humanShape nor objShape"
            )
    if set(human) != set(obj):
        raise HoifitError(
            f"{path}: parts {sorted(set(human) ^ set(obj))} lack their human or object patch"
        )
    body_vertex, object_face, object_bary, part = [], [], [], []
    for name in human:
        if len(human[name]) != len(obj[name]):
            raise HoifitError(
                f"{path}: part {name!r} pairs {len(human[name])} body points with "
                f"{len(obj[name])} object points; the counts must match"
            )
        for body_point, object_point in zip(human[name], obj[name], strict=True):
            body_vertex.append(_parse_body_point(path, body_point))
            face, bary = _parse_object_point(path, object_point, object_mesh)
            object_face.append(face)
            object_bary.append(bary)
            part.append(name)
    body_vertex = np.asarray(body_vertex, dtype=np.int64)
    if len(body_vertex) and body_vertex.max() >= BODY_VERTEX_COUNTS[topology]:
        raise HoifitError(
            f"{path}: body vertex {body_vertex.max()} is out of range for the {topology} mesh "
            f"({BODY_VERTEX_COUNTS[topology]} vertices); set body_topology"
        )
    return ContactPairs(
        body_vertex=body_vertex,
        object_face=np.asarray(object_face, dtype=np.int64),
        object_bary=np.asarray(object_bary, dtype=np.float32).reshape(-1, 3),
        part=part,
        body_topology=topology,
    )


def _parse_body_point(path: Path, text) -> int:
    fields = str(text).split()
    if len(fields) != 2 or fields[0] != "v" or not fields[1].isdigit():
        raise HoifitError(f"{path}: body contact point {text!r} is not 'v <vertex index>'")
    return int(fields[1])


def _parse_object_point(
    path: Path, text, object_mesh: ObjectMesh | None
) -> tuple[int, list[float]]:
    """(face, barycentric weights) of an object contact point "f face b0 b1 b2" or "v vertex"."""
    fields = str(text).split()
    try:
        if fields[0] == "f" and len(fields) == 5:
            face, bary = int(fields[1]), [float(x) for x in fields[2:]]
        elif fields[0] == "v" and len(fields) == 2:
            if object_mesh is None:
                raise HoifitError(f"{path}: object point {text!r} needs object.obj to resolve")
            vertex = int(fields[1])
            rows, corners = np.nonzero(object_mesh.faces == vertex)
            if len(rows) == 0:
                raise HoifitError(f"{path}: object vertex {vertex} is in no face of object.obj")
            face, bary = int(rows[0]), [float(corners[0] == i) for i in range(3)]
        else:
            raise ValueError
    except (ValueError, IndexError):
        raise HoifitError(
            f"{path}: object contact point {text!r} is not 'f <face> <b0> <b1> <b2>'"
        ) from None
    if not all(math.isfinite(b) and b >= -1e-3 for b in bary) or not sum(bary) > 0:
        raise HoifitError(f"{path}: object contact point {text!r} has invalid barycentrics")
    if object_mesh is not None and not 0 <= face < len(object_mesh.faces):
        raise HoifitError(
            f"{path}: object face {face} is out of range (object.obj has "
            f"{len(object_mesh.faces)} faces)"
        )
    # Weights that already sum to 1 are kept bit for bit; others are renormalized.
    if abs(sum(bary) - 1.0) > 1e-6 or min(bary) < 0:
        bary = [max(b, 0.0) for b in bary]
        total = sum(bary)
        bary = [b / total for b in bary]
    return face, bary


# ---------------------------------------------------------------------------------------------
# Writing


def npz_bytes(arrays: dict[str, np.ndarray], compress: bool = True) -> bytes:
    """An .npz file's bytes, identical for identical arrays (fixed member timestamps).

    `np.savez` stamps each member with the current time, so two saves of the same arrays
    differ; this writes the same format with a constant time.

    Args:
        arrays: name -> array (no object arrays).
        compress: deflate the members, as `np.savez_compressed` does.
    """
    buffer = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(buffer, "w", compression=method) as archive:
        for name, value in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.asanyarray(value), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_NPZ_TIME)
            info.compress_type = method
            archive.writestr(info, member.getvalue())
    return buffer.getvalue()


def write_npz(path: Path, arrays: dict[str, np.ndarray], compress: bool = True) -> None:
    """Write a reproducible .npz atomically (see `npz_bytes`)."""
    atomic_write_bytes(path, npz_bytes(arrays, compress))


def write_image(folder: str | Path, image: np.ndarray) -> Path:
    """Write the image as `<folder name>.png`, PICO's naming.

    Args:
        folder: the sample folder.
        image: (H, W, 3) uint8.

    Returns:
        The image's path.
    """
    path = Path(folder) / f"{Path(folder).name}.png"
    atomic_write_png(path, image)
    return path


def write_camera(folder: str | Path, camera: Camera) -> None:
    """Write camera.json: K and the image size."""
    atomic_write_json(
        Path(folder) / CAMERA_FILE,
        {
            "K": camera.K(dtype=torch.float64).tolist(),
            "width": camera.width,
            "height": camera.height,
        },
    )


def write_depth(folder: str | Path, depth: np.ndarray) -> None:
    """Write depth.npz: `depth` (H, W) float32 metres, 0 where unknown."""
    write_npz(Path(folder) / DEPTH_FILE, {"depth": np.asarray(depth, dtype=np.float32)})


def write_keypoints(folder: str | Path, keypoints: np.ndarray) -> None:
    """Write keypoints_2d.json: COCO-17 names and (17, 3) (u, v, confidence)."""
    keypoints = np.asarray(keypoints, dtype=np.float32).reshape(17, 3)
    atomic_write_json(
        Path(folder) / KEYPOINTS_FILES[0],
        {"names": list(COCO17_NAMES), "keypoints": keypoints.astype(np.float64).tolist()},
    )


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


def write_object_mesh(folder: str | Path, mesh: ObjectMesh) -> None:
    """Write object.obj from a mesh in PICO's rotated frame, undoing PICO's load rotation.

    Coordinates are written in the shortest form that reads back to the same float32, so a
    write-read round trip through `read_sample` is exact.
    """
    vertices = np.asarray(mesh.vertices, dtype=np.float32) @ OBJECT_FILE_ROTATION
    lines = ["# hoifit object mesh, PICO convention: rotate by -90 degrees about x on load"]
    lines += [
        "v " + " ".join(np.format_float_positional(c, unique=True, trim="-") for c in vertex)
        for vertex in vertices
    ]
    lines += [f"f {a} {b} {c}" for a, b, c in (np.asarray(mesh.faces) + 1).tolist()]
    atomic_write_bytes(Path(folder) / OBJECT_FILE, ("\n".join(lines) + "\n").encode())


def write_body_init(folder: str | Path, body_init: BodyInit) -> None:
    """Write body_init.npz: the backend's npz dict plus `body_backend`."""
    arrays = dict(body_init.params)
    arrays["body_backend"] = np.array(body_init.backend)
    write_npz(Path(folder) / BODY_INIT_FILE, arrays)


def write_contact(folder: str | Path, contact: SampleContact) -> None:
    """Write contact.npz (per-vertex contact) and, with pairs, corresponding_contacts.json."""
    arrays = {}
    if contact.body_contact is not None:
        arrays["body_contact"] = np.asarray(contact.body_contact, dtype=np.float32)
        arrays["body_topology"] = np.array(contact.body_topology)
    if contact.object_contact is not None:
        arrays["object_contact"] = np.asarray(contact.object_contact, dtype=np.float32)
    if arrays:
        write_npz(Path(folder) / CONTACT_FILE, arrays)
    if contact.pairs is not None:
        write_pairs(folder, contact.pairs)


def write_pairs(folder: str | Path, pairs: ContactPairs) -> None:
    """Write corresponding_contacts.json in PICO's format (see the module docstring)."""
    entries = []
    parts = list(dict.fromkeys(pairs.part))
    for name in parts:
        chosen = [i for i, p in enumerate(pairs.part) if p == name]
        entries.append(
            {
                "name": f"{_HUMAN_PREFIX}{name}",
                "contactPoints": [f"v {int(pairs.body_vertex[i])}" for i in chosen],
            }
        )
        entries.append(
            {
                "name": f"{_OBJECT_PREFIX}{name}",
                "contactPoints": [
                    f"f {int(pairs.object_face[i])} "
                    + " ".join(repr(float(b)) for b in np.asarray(pairs.object_bary[i]))
                    for i in chosen
                ],
            }
        )
    data: dict = {"data": entries}
    if pairs.body_topology != "smpl":
        data["body_topology"] = pairs.body_topology
    atomic_write_json(Path(folder) / PAIRS_FILE, data)


def write_sample(folder: str | Path, sample: Sample, detection_format: str = "npz") -> Path:
    """Write every field a sample has into `folder` (image, camera and the optional files).

    Args:
        folder: the sample folder, created if needed; PICO names it `<category>__<id>`.
        sample: what to write; None fields write no file.
        detection_format: "npz" or "json" for the detection files.

    Returns:
        The folder.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_image(folder, sample.image)
    write_camera(folder, sample.camera)
    if sample.object_mesh is not None:
        write_object_mesh(folder, sample.object_mesh)
    for kind, mask, bbox in (
        ("human", sample.person_mask, sample.person_bbox),
        ("object", sample.object_mask, sample.object_bbox),
    ):
        if mask is not None or bbox is not None:
            write_detection(folder, kind, mask, bbox, detection_format)
    if sample.depth is not None:
        write_depth(folder, sample.depth)
    if sample.keypoints_2d is not None:
        write_keypoints(folder, sample.keypoints_2d)
    if sample.body_init is not None:
        write_body_init(folder, sample.body_init)
    if sample.contact is not None:
        write_contact(folder, sample.contact)
    return folder


def write_ground_truth(folder: str | Path, truth: GroundTruth) -> None:
    """Write ground_truth.npz (every array of `truth`) and ground_truth.json (its summary)."""
    arrays = {
        "interaction": np.array(truth.interaction),
        "object_category": np.array(truth.object_category),
        "body_backend": np.array(truth.body_backend),
        **{f"body_param__{k}": np.asarray(v) for k, v in truth.body_params.items()},
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
    }
    write_npz(Path(folder) / GROUND_TRUTH_FILE, arrays)
    atomic_write_json(Path(folder) / GROUND_TRUTH_SUMMARY, truth.summary)
