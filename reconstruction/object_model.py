"""The object: a rigid triangle mesh in its own frame, and its pose and scale in the camera frame.

The mesh is numpy data read once from a file; the pose is a batch of tensors that the optimizer
owns. A point p of the object frame lands in the camera frame (OpenCV: x right, y down, z
forward, metres) at

    x_cam = s * R @ p + t,

with R optimized as a 6D rotation, t in metres and s optimized as log(s).
"""

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import trimesh
from torch import Tensor

from reconstruction.errors import HoifitError
from reconstruction.rotations import (
    axis_angle_to_matrix,
    matrix_to_axis_angle,
    matrix_to_rotation_6d,
    rotation_6d_to_matrix,
)

logger = logging.getLogger(__name__)

MESH_SUFFIXES = (".obj", ".ply", ".glb", ".gltf", ".off")
"""File types `load_object_mesh` reads."""

POSE_CONVENTION = (
    "x_cam = scale * rotation_matrix @ x_obj + translation; camera frame OpenCV (x right, y down, "
    "z forward), metres; rotation_matrix row-major 3x3; axis_angle = axis * angle in radians; "
    "one entry per pose of the batch"
)
"""How `pose_to_json_dict` documents itself inside the JSON it writes."""


class MeshError(HoifitError, ValueError):
    """An object mesh that cannot be used; the message names the file, the problem and a fix."""


@dataclass(eq=False)
class ObjectMesh:
    """A rigid triangle mesh in the object's own frame.

    Vertex and face order are those of the file, so per-vertex and per-face annotations (PICO's
    `"f face b0 b1 b2"` contact points) index this mesh directly. Construction validates the
    arrays (see `validate_mesh`) and stores them as float32 / int64.

    Attributes:
        vertices: (V, 3) float32, object frame: y-up metres once `normalize_object_frame` has
            brought it there (a mesh read from a file keeps the file's axes and unit).
        faces: (F, 3) int64 vertex indices, counter-clockwise seen from outside where the file
            is consistently oriented.
        name: a human-readable name, the file stem when loaded from a file.
        path: the file it was loaded from, or None for an in-memory mesh.
    """

    vertices: np.ndarray
    faces: np.ndarray
    name: str = "object"
    path: str | None = None

    def __post_init__(self):
        self.vertices, self.faces = validate_mesh(self.vertices, self.faces, self.path or self.name)

    def hash(self) -> str:
        """Hex SHA-256 of the geometry (vertices and faces, not the name): a cache key."""
        digest = hashlib.sha256()
        digest.update(np.asarray(self.vertices.shape, dtype="<i8").tobytes())
        digest.update(self.vertices.astype("<f4", copy=False).tobytes())
        digest.update(np.asarray(self.faces.shape, dtype="<i8").tobytes())
        digest.update(self.faces.astype("<i8", copy=False).tobytes())
        return digest.hexdigest()

    def to_torch(self, device=None, dtype=torch.float32) -> tuple[Tensor, Tensor]:
        """The mesh as tensors: vertices (V, 3) of `dtype` and faces (F, 3) int64."""
        vertices = torch.as_tensor(self.vertices, device=device, dtype=dtype)
        faces = torch.as_tensor(self.faces, device=device, dtype=torch.int64)
        return vertices, faces


def validate_mesh(vertices, faces, name: str = "mesh") -> tuple[np.ndarray, np.ndarray]:
    """Check that arrays form a usable triangle mesh and convert them to float32 / int64.

    Degenerate faces (a repeated vertex index or zero area) are kept, so that face indices stay
    those of the file, and reported with a logged warning: they are harmless for distances,
    winding numbers and rendering, which simply ignore them.

    Args:
        vertices: (V, 3) array-like of coordinates.
        faces: (F, 3) array-like of integer vertex indices.
        name: the file or mesh name used in error messages.

    Returns:
        vertices (V, 3) float32 and faces (F, 3) int64, contiguous.

    Raises:
        MeshError: no vertices or faces, wrong shapes, non-finite coordinates, non-integer or
            out-of-range face indices.
    """
    vertices = np.asarray(vertices)
    faces = np.asarray(faces)
    if vertices.size == 0:
        raise MeshError(f"{name}: the mesh has no vertices; export it again with its geometry")
    if vertices.ndim != 2 or vertices.shape[1] != 3:
        raise MeshError(f"{name}: vertices must be (V, 3) coordinates, got shape {vertices.shape}")
    if faces.size == 0:
        raise MeshError(
            f"{name}: the mesh has no faces (a point cloud?); hoifit needs a triangle mesh"
        )
    if faces.ndim != 2 or faces.shape[1] != 3:
        raise MeshError(
            f"{name}: faces must be (F, 3) vertex indices, got shape {faces.shape}; "
            "triangulate the mesh"
        )
    if not np.issubdtype(faces.dtype, np.integer):
        if not np.all(np.isfinite(faces)) or np.any(faces != np.round(faces)):
            raise MeshError(f"{name}: face indices must be integers; fix the face list")
    bad = ~np.isfinite(vertices).all(axis=1)
    if bad.any():
        raise MeshError(
            f"{name}: NaN or infinite coordinates in {int(bad.sum())} of {len(vertices)} "
            f"vertices (first: vertex {int(np.argmax(bad))}); repair or re-export the mesh"
        )
    faces = np.ascontiguousarray(faces, dtype=np.int64)
    low, high = int(faces.min()), int(faces.max())
    if low < 0 or high >= len(vertices):
        raise MeshError(
            f"{name}: face indices range over [{low}, {high}] but the mesh has {len(vertices)} "
            "vertices; the face list does not match the vertices, re-export the mesh"
        )
    vertices = np.ascontiguousarray(vertices, dtype=np.float32)
    corners = vertices[faces].astype(np.float64)  # (F, 3 corners, 3)
    areas2 = np.linalg.norm(
        np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]), axis=-1
    )
    # Relative to the mesh size: float32 corners of a collinear triple rarely give exactly 0.
    diagonal = np.linalg.norm(vertices.max(axis=0) - vertices.min(axis=0).astype(np.float64))
    degenerate = int((areas2 <= 1e-12 * diagonal**2).sum())
    if degenerate:
        logger.warning(
            "%s: %d of %d faces are degenerate (zero area); keeping them",
            name,
            degenerate,
            len(faces),
        )
    return vertices, faces


def load_object_mesh(path) -> ObjectMesh:
    """Read an object mesh from .obj, .ply, .glb, .gltf or .off.

    OBJ is read by a small parser of its own (positions and faces only, polygons fan-
    triangulated) so that vertex and face order are exactly the file's; trimesh would split
    faces by material and duplicate vertices at texture seams. The other formats go through
    trimesh without processing; a scene with several geometries is concatenated with each
    node's transform applied. glTF's y-up is kept as it is in the file: orienting the object is
    the pose's job.

    Args:
        path: the mesh file.

    Returns:
        The validated mesh (see `validate_mesh`), named after the file stem.

    Raises:
        MeshError: missing, unreadable or unsupported file, or invalid geometry.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in MESH_SUFFIXES:
        raise MeshError(
            f"{path}: unsupported mesh type '{path.suffix}'; convert it to one of "
            f"{', '.join(MESH_SUFFIXES)}"
        )
    if not path.is_file():
        raise MeshError(f"{path}: object mesh file not found; check the path")
    try:
        if suffix == ".obj":
            vertices, faces = _read_obj(path)
        else:
            vertices, faces = _read_with_trimesh(path)
    except MeshError:
        raise
    except Exception as error:  # trimesh and the OS raise many types for a bad file
        reason = " ".join(str(error).split()) or type(error).__name__
        raise MeshError(
            f"{path}: could not read the mesh ({reason}); check that the file is a valid "
            f"{suffix[1:].upper()} file"
        ) from error
    return ObjectMesh(vertices, faces, name=path.stem, path=str(path))


def _read_obj(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Positions (V, 3) and fan-triangulated faces (F, 3) of an OBJ file, in file order."""
    vertices, faces = [], []
    with open(path, encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, start=1):
            fields = line.split()
            if not fields or fields[0] not in ("v", "f"):
                continue
            try:
                if fields[0] == "v":
                    vertices.append([float(x) for x in fields[1:4]])
                    if len(vertices[-1]) != 3:
                        raise ValueError("a vertex needs three coordinates")
                    continue
                # "f 1/2/3 ...": the position index comes first; negative ones count back.
                corners = [int(field.split("/")[0]) for field in fields[1:]]
                if len(corners) < 3:
                    raise ValueError("a face needs at least three vertices")
            except ValueError as error:
                raise MeshError(
                    f"{path}: line {number} is not valid OBJ ({error}): '{line.strip()[:60]}'; "
                    "fix or re-export the file"
                ) from error
            # OBJ is 1-based; index 0 stays invalid (-1) so validation reports it as out of range.
            corners = [c - 1 if c > 0 else (len(vertices) + c if c < 0 else -1) for c in corners]
            faces.extend(
                [corners[0], b, c] for b, c in zip(corners[1:-1], corners[2:], strict=True)
            )
    return (
        np.asarray(vertices, dtype=np.float64).reshape(-1, 3),
        np.asarray(faces, dtype=np.int64).reshape(-1, 3),
    )


def _read_with_trimesh(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """All triangle geometry of a file as one mesh, node transforms applied."""
    scene = trimesh.load_scene(path, process=False)
    vertices, faces, offset = [], [], 0
    for node in scene.graph.nodes_geometry:
        transform, geometry_name = scene.graph[node]
        geometry = scene.geometry[geometry_name]
        if not isinstance(geometry, trimesh.Trimesh) or len(geometry.faces) == 0:
            continue  # point clouds and line paths carry no surface
        vertices.append(trimesh.transform_points(geometry.vertices, transform))
        faces.append(np.asarray(geometry.faces, dtype=np.int64) + offset)
        offset += len(geometry.vertices)
    if not faces:
        raise MeshError(
            f"{path}: the file holds no triangle faces (a point cloud?); hoifit needs a "
            "triangle mesh"
        )
    return np.concatenate(vertices), np.concatenate(faces)


UP_TO_Y = {
    "+y": ((1, 0, 0), (0, 1, 0), (0, 0, 1)),
    "-y": ((1, 0, 0), (0, -1, 0), (0, 0, -1)),
    "+z": ((1, 0, 0), (0, 0, 1), (0, -1, 0)),
    "-z": ((1, 0, 0), (0, 0, -1), (0, 1, 0)),
    "+x": ((0, -1, 0), (1, 0, 0), (0, 0, 1)),
    "-x": ((0, 1, 0), (-1, 0, 0), (0, 0, 1)),
}
"""Up axis of a mesh -> the rotation (row-major 3x3) that turns it to +y: a quarter or half turn
about x for y and z (+z up: (x, y, z) -> (x, z, -y), PICO's load rotation), about z for x."""


def normalize_object_frame(mesh: ObjectMesh, up: str, metres_per_unit: float) -> ObjectMesh:
    """The mesh in hoifit's object convention, y-up and metres: p' = metres_per_unit * R_up p.

    Vertex and face order are kept, so per-vertex and per-face annotations still index it.

    Args:
        mesh: the mesh, `up` pointing up, in units of `metres_per_unit` metres.
        up: the mesh axis that points up, a key of `UP_TO_Y`.
        metres_per_unit: the mesh's unit in metres (0.01 for centimetres), > 0.

    Returns:
        A new mesh (the same one when nothing changes).

    Raises:
        ValueError: an unknown axis or a non-positive unit.
    """
    if up not in UP_TO_Y:
        raise ValueError(f"up axis must be one of {', '.join(UP_TO_Y)}, got {up!r}")
    if not metres_per_unit > 0:
        raise ValueError(f"metres per unit must be positive, got {metres_per_unit}")
    if up == "+y" and metres_per_unit == 1:
        return mesh
    rotation = np.asarray(UP_TO_Y[up], dtype=np.float64)
    vertices = metres_per_unit * mesh.vertices.astype(np.float64) @ rotation.T
    return ObjectMesh(vertices, mesh.faces, name=mesh.name, path=mesh.path)


@dataclass(eq=False)
class ObjectPose:
    """A batch of object poses: x_cam = s * R @ x_obj + t.

    The tensors are the optimizer's variables (make them leaves with `requires_grad_` as
    needed); the methods and functions here are differentiable functions of them.

    Attributes:
        rot6d: (B, 6) rotation in the 6D representation (first two columns of R).
        transl: (B, 3) translation t, camera frame, metres.
        log_scale: (B, 1) log of the scale s that multiplies object-frame vertices.
    """

    rot6d: Tensor
    transl: Tensor
    log_scale: Tensor

    @classmethod
    def identity(cls, batch: int = 1, device=None, dtype=torch.float32) -> "ObjectPose":
        """B identity poses: R = I, t = 0, s = 1."""
        eye = torch.eye(3, device=device, dtype=dtype).expand(batch, 3, 3)
        return cls(
            rot6d=matrix_to_rotation_6d(eye).clone(),
            transl=torch.zeros(batch, 3, device=device, dtype=dtype),
            log_scale=torch.zeros(batch, 1, device=device, dtype=dtype),
        )

    @classmethod
    def from_matrix(cls, rotation: Tensor, transl: Tensor, scale=1.0) -> "ObjectPose":
        """Poses from rotation matrices, translations and scales.

        Args:
            rotation: (B, 3, 3) proper rotation matrices (determinant +1).
            transl: (B, 3) translations, camera frame, metres.
            scale: (B,) tensor or a float, positive.

        Returns:
            The poses, on the device and dtype of `rotation`.

        Raises:
            ValueError: a reflection (determinant <= 0) or a non-positive scale.
        """
        if bool((torch.linalg.det(rotation.detach()) <= 0).any()):
            raise ValueError("rotation must be proper rotation matrices (determinant +1)")
        scale = torch.as_tensor(scale, device=rotation.device, dtype=rotation.dtype)
        scale = scale.expand(rotation.shape[0]).reshape(-1, 1)
        if bool((scale.detach() <= 0).any()):
            raise ValueError(f"object scale must be positive, got {scale.detach().flatten()}")
        return cls(
            rot6d=matrix_to_rotation_6d(rotation).clone(),
            transl=transl.to(rotation).clone(),
            log_scale=scale.log(),
        )

    @property
    def batch_size(self) -> int:
        """B, the number of poses."""
        return self.rot6d.shape[0]

    def rotation_matrix(self) -> Tensor:
        """(B, 3, 3) rotation matrices R."""
        return rotation_6d_to_matrix(self.rot6d)

    def scale(self) -> Tensor:
        """(B,) scales s = exp(log_scale)."""
        return self.log_scale.exp()[:, 0]


def object_to_camera(points_obj: Tensor, pose: ObjectPose) -> Tensor:
    """Object-frame points to the camera frame: s * R @ p + t.

    Args:
        points_obj: (B, N, 3) or (N, 3) points in the object frame; (N, 3) is shared by all
            poses.
        pose: B poses.

    Returns:
        (B, N, 3) camera-frame points, metres.
    """
    rotation = pose.rotation_matrix()  # (B, 3, 3)
    scaled = points_obj @ rotation.transpose(-1, -2) * pose.log_scale.exp()[:, :, None]
    return scaled + pose.transl[:, None, :]


def camera_to_object(points_cam: Tensor, pose: ObjectPose) -> Tensor:
    """Camera-frame points to the object frame: R^T @ (p - t) / s, inverse of `object_to_camera`.

    Args:
        points_cam: (B, N, 3) or (N, 3) camera-frame points, metres; (N, 3) is shared by all
            poses.
        pose: B poses.

    Returns:
        (B, N, 3) object-frame points.
    """
    rotation = pose.rotation_matrix()  # (B, 3, 3)
    centred = points_cam - pose.transl[:, None, :]
    return centred @ rotation * (-pose.log_scale).exp()[:, :, None]


def pose_to_json_dict(pose: ObjectPose) -> dict:
    """The poses as plain lists for JSON, with the convention spelled out inside.

    Returns:
        {"convention": str, "rotation_matrix": B x 3 x 3, "axis_angle": B x 3 (radians),
        "translation": B x 3 (metres), "scale": B}. The rotation matrix is the authoritative
        rotation; axis-angle is there for readers that prefer it.
    """
    rotation = pose.rotation_matrix().detach().to("cpu", torch.float64)
    return {
        "convention": POSE_CONVENTION,
        "rotation_matrix": rotation.tolist(),
        "axis_angle": matrix_to_axis_angle(rotation).tolist(),
        "translation": pose.transl.detach().to("cpu", torch.float64).tolist(),
        "scale": pose.scale().detach().to("cpu", torch.float64).tolist(),
    }


def pose_from_json_dict(data: dict, device=None, dtype=torch.float32) -> ObjectPose:
    """Inverse of `pose_to_json_dict`.

    Also accepts a single unbatched pose (a 3x3 matrix, a 3-vector translation, a number for the
    scale) and a rotation given only as "axis_angle". A missing scale means 1.

    Raises:
        ValueError: no rotation or translation, or arrays of the wrong shape.
    """
    try:
        if "rotation_matrix" in data:
            rotation = torch.as_tensor(data["rotation_matrix"], dtype=torch.float64)
            rotation = rotation.reshape(-1, 3, 3)
        else:
            axis_angle = torch.as_tensor(data["axis_angle"], dtype=torch.float64).reshape(-1, 3)
            rotation = axis_angle_to_matrix(axis_angle)
        transl = torch.as_tensor(data["translation"], dtype=torch.float64).reshape(-1, 3)
        scale = torch.as_tensor(data.get("scale", 1.0), dtype=torch.float64).reshape(-1)
        scale = scale.expand(len(rotation)).clone()
    except KeyError as error:
        raise ValueError(f"object pose JSON lacks {error}; expected {POSE_CONVENTION}") from None
    except RuntimeError as error:
        raise ValueError(f"object pose JSON has arrays of the wrong shape ({error})") from None
    if len(transl) != len(rotation):
        raise ValueError(
            f"object pose JSON has {len(rotation)} rotations but {len(transl)} translations"
        )
    if not all(bool(torch.isfinite(x).all()) for x in (rotation, transl, scale)):
        raise ValueError("object pose JSON has non-finite numbers")
    pose = ObjectPose.from_matrix(rotation, transl, scale)
    return ObjectPose(
        rot6d=pose.rot6d.to(device=device, dtype=dtype),
        transl=pose.transl.to(device=device, dtype=dtype),
        log_scale=pose.log_scale.to(device=device, dtype=dtype),
    )
