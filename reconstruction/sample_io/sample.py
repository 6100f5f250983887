"""The data model of a sample folder: its file names and what its files hold once read.

Every array is numpy; frames, units and topologies are those of the package docstring. The
format modules fill these classes from files and write them back; `folder` reads and writes a
whole sample.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from reconstruction.camera import Camera
from reconstruction.object_model import ObjectMesh
from reconstruction.sample_io.object_frame_file import ObjectFrame

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

BODY_VERTEX_COUNTS = {"smpl": 6890, "smplx": 10475, "anny": 13718}
"""Vertices of each body topology, to check contact files against."""


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
class UnpairedBodyContact:
    """Body vertices known to touch the object at no known object point.

    PICO-db annotates some body patches without an object partner (see `pico_contacts`). Each
    vertex is body contact of probability 1; `merge_body_contact_vertices` combines them with
    per-vertex body contact once both are on one topology.

    Attributes:
        body_vertex: (U,) int64 vertices of the body mesh of `body_topology`.
        part: (U,) name of the patch each vertex belongs to.
        body_topology: "smpl", "smplx" or "anny".
    """

    body_vertex: np.ndarray
    part: list[str]
    body_topology: str = "smpl"

    def __len__(self) -> int:
        return len(self.body_vertex)


def merge_body_contact_vertices(
    body_contact: np.ndarray | None, vertices: np.ndarray, num_vertices: int
) -> np.ndarray:
    """Per-vertex body contact with `vertices` in contact, merged by maximum.

    Args:
        body_contact: (V,) probabilities in [0, 1], or None for none.
        vertices: (U,) int vertices in contact, on the same mesh as `body_contact`.
        num_vertices: V, the mesh's vertex count.

    Returns:
        (V,) float32, a new array: `body_contact` (zeros when None) with 1 at `vertices`.

    Raises:
        ValueError: `body_contact` is not (V,), or a vertex is out of range.
    """
    merged = np.zeros(num_vertices, np.float32)
    if body_contact is not None:
        if np.shape(body_contact) != (num_vertices,):
            raise ValueError(
                f"body contact has shape {np.shape(body_contact)}, expected ({num_vertices},)"
            )
        merged[:] = body_contact
    vertices = np.asarray(vertices, dtype=np.int64)
    if vertices.size and not (0 <= vertices.min() and vertices.max() < num_vertices):
        raise ValueError(f"contact vertices must be in [0, {num_vertices})")
    # 1 is the largest probability, so setting it is the maximum.
    merged[vertices] = 1.0
    return merged


@dataclass
class SampleContact:
    """What is known about contact.

    Attributes:
        body_contact: (V,) float32 probability per body vertex, or None.
        body_topology: mesh of `body_contact` ("anny", "smplx", "smpl"), or None.
        object_contact: (Vo,) float32 probability per object.obj vertex, or None.
        pairs: paired correspondences, or None.
        unpaired: body contact annotated without object points, or None. It is kept apart
            from `body_contact`, which may be an estimate on another topology; consumers merge
            the two with `merge_body_contact_vertices`.
    """

    body_contact: np.ndarray | None = None
    body_topology: str | None = None
    object_contact: np.ndarray | None = None
    pairs: ContactPairs | None = None
    unpaired: UnpairedBodyContact | None = None


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
        object_frame: the object mesh's up axis and units when object_frame.json gives
            them (else the mesh is y-up metres).
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
    object_frame: ObjectFrame | None = None


@dataclass
class GroundTruth:
    """Ground truth of a synthetic sample, camera frame (see `ground_truth`).

    Attributes:
        interaction: name of the interaction, e.g. "sit_chair".
        object_category: e.g. "chair".
        body_backend: "anny", "smplx" or "smpl".
        body_params: the clean body in the backend's npz convention (`to_npz_dict`).
        body_vertices: (V, 3) float32 posed body vertices.
        object_rotation: (3, 3) R of x_cam = s * R @ x_obj + t, x_obj in the true object's
            canonical frame (y up, metres), which is `Sample.object_mesh`'s frame unless
            `delivered_rotation` says otherwise.
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
        object_faces: (Fo, 3) int64 faces of `object_vertices`, or None when the object is
            `Sample.object_mesh` (samples written before this field).
        floor_plane: (4,) (n, d), n the unit up normal, n . x + d a point's height above the
            floor under the feet, metres; or None.
        delivered_rotation: (3, 3) when the sample's mesh is another instance in a file frame
            of its own: x_file = k * delivered_rotation @ x_canonical + c; None when the sample's
            mesh is the true one in its canonical frame.
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
    object_faces: np.ndarray | None = None
    floor_plane: np.ndarray | None = None
    delivered_rotation: np.ndarray | None = None
