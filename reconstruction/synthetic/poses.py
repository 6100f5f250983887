"""Body poses written once for every backend: rotations of named joints of a canonical body.

The canonical body stands upright in the shared model frame (y up, facing +z, its left towards
+x, pelvis at the origin) with both arms hanging straight down at its sides. Backends rest in
different poses (SMPL and SMPL-X in a T-pose, Anny in an A-pose with bent elbows), so
`PoseBuilder` first computes, per backend, the shoulder and elbow rotations that bring its rest
pose to the canonical one; the interaction poses then mean the same for every backend.

A pose maps canonical joint names (`CANONICAL_JOINTS`, with ".L" / ".R" for the sided ones) to
3x3 rotations in the axes of the canonical body, each relative to its parent joint, the
convention of `BodyParams.body_pose`: at the left hip a rotation about -x swings the thigh
forwards, at the knee one about +x folds the shin backwards, at the left shoulder one about -x
lifts the arm forwards and one about +z lifts it sideways. `mirror` turns a left-side rotation
into the matching right-side one, and `sided` writes a left-side rotation onto either side.

In the canonical pose the palms face the thighs. `PoseBuilder.hand_frame` tracks them through
any pose from the mesh itself, so the placement code can put an object against a palm without
knowing the skeleton's hierarchy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from reconstruction.body_models import BodyModel, BodyParams
from reconstruction.rotations import matrix_to_axis_angle

CANONICAL_JOINTS = (
    "spine",
    "spine_mid",
    "chest",
    "neck",
    "head",
    "collar",
    "shoulder",
    "elbow",
    "wrist",
    "hip",
    "knee",
    "ankle",
)
"""Joints that poses may rotate; the last seven come in a left (".L") and a right (".R") one."""

_SIDED = frozenset(CANONICAL_JOINTS[5:])

JOINT_NAMES = {
    "anny": {
        "spine": "spine04",
        "spine_mid": "spine03",
        "chest": "spine01",
        "neck": "neck01",
        "head": "head",
        "collar": "clavicle.{LR}",
        "shoulder": "upperarm01.{LR}",
        "elbow": "lowerarm01.{LR}",
        "wrist": "wrist.{LR}",
        "hip": "upperleg01.{LR}",
        "knee": "lowerleg01.{LR}",
        "ankle": "foot.{LR}",
    },
    "smplx": {
        "spine": "spine1",
        "spine_mid": "spine2",
        "chest": "spine3",
        "neck": "neck",
        "head": "head",
        "collar": "{side}_collar",
        "shoulder": "{side}_shoulder",
        "elbow": "{side}_elbow",
        "wrist": "{side}_wrist",
        "hip": "{side}_hip",
        "knee": "{side}_knee",
        "ankle": "{side}_ankle",
    },
}
"""Canonical joint -> the backend's body_pose joint name ("{LR}" is L or R, "{side}" left or
right). SMPL uses SMPL-X's names."""
JOINT_NAMES["smpl"] = JOINT_NAMES["smplx"]

_MIRROR = np.diag([-1.0, 1.0, 1.0])


def rot(axis: str, degrees: float) -> np.ndarray:
    """(3, 3) rotation by `degrees` about the canonical axis "x", "y" or "z"."""
    a = np.radians(degrees)
    c, s = np.cos(a), np.sin(a)
    i, j = {"x": (1, 2), "y": (2, 0), "z": (0, 1)}[axis]
    matrix = np.eye(3)
    matrix[i, i], matrix[i, j], matrix[j, i], matrix[j, j] = c, -s, s, c
    return matrix


def mirror(rotation: np.ndarray) -> np.ndarray:
    """The right-side rotation (3, 3) matching a left-side one: reflected through x = 0."""
    return _MIRROR @ rotation @ _MIRROR


def sided(joint: str, side: str, rotation: np.ndarray) -> dict[str, np.ndarray]:
    """A rotation written for the left side, put on `side` ("R" mirrors it)."""
    return {f"{joint}.{side}": rotation if side == "L" else mirror(rotation)}


def reaching_arm(
    side: str, forward: float, out: float, bend: float, lean: float, wrist: float
) -> dict[str, np.ndarray]:
    """Rotations of an arm reaching `forward` degrees ahead of the vertical, forearm pronated.

    Pronated, the palm faces backwards when the arm hangs; extending the wrist by `wrist`
    degrees then turns it down (`wrist` = 90 - forward) or ahead. `out` lifts the arm sideways
    and `bend` flexes the elbow. `lean` is the trunk's forward lean, compensated so that
    `forward` is measured in the world.
    """
    return (
        sided("shoulder", side, rot("z", out) @ rot("x", -(forward + lean)))
        | sided("elbow", side, rot("x", -bend) @ rot("y", -90))
        | sided("wrist", side, rot("z", wrist))
    )


def axis_angle_matrix(vector: np.ndarray) -> np.ndarray:
    """(3, 3) rotation of an axis-angle vector (3,), radians (Rodrigues)."""
    angle = float(np.linalg.norm(vector))
    if angle < 1e-12:
        return np.eye(3)
    x, y, z = vector / angle
    cross = np.array([[0, -z, y], [z, 0, -x], [-y, x, 0]])
    return np.eye(3) + np.sin(angle) * cross + (1 - np.cos(angle)) * cross @ cross


def rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(3, 3) smallest rotation taking direction a (3,) to direction b (3,)."""
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    axis = np.cross(a, b)
    sin, cos = float(np.linalg.norm(axis)), float(a @ b)
    if sin < 1e-9:
        if cos > 0:
            return np.eye(3)
        # Opposite directions: half a turn about any axis perpendicular to a.
        axis = np.cross(a, [1.0, 0.0, 0.0] if abs(a[0]) < 0.9 else [0.0, 1.0, 0.0])
        return axis_angle_matrix(np.pi * axis / np.linalg.norm(axis))
    return axis_angle_matrix(np.arctan2(sin, cos) * axis / sin)


def small_rotation(rng: np.random.Generator, std_deg: float) -> np.ndarray:
    """(3, 3) random rotation whose axis-angle components are N(0, std_deg) degrees."""
    return axis_angle_matrix(np.radians(rng.normal(0.0, std_deg, 3)))


@dataclass(frozen=True)
class HandFrame:
    """Where a palm is and which way it faces, in the frame of the posed vertices.

    Attributes:
        centre: (3,) centroid of the hand's vertices.
        normal: (3,) unit vector out of the palm.
        fingers: (3,) unit vector from the wrist towards the fingertips.
    """

    centre: np.ndarray
    normal: np.ndarray
    fingers: np.ndarray


class PoseBuilder:
    """Turns canonical joint rotations into `BodyParams` of one body model.

    Args:
        model: the body model (any backend of `JOINT_NAMES`).
    """

    def __init__(self, model: BodyModel) -> None:
        if model.name not in JOINT_NAMES:
            raise ValueError(f"no joint names for body backend {model.name!r}")
        self.model = model
        self.index = {
            name: model.body_joint_names.index(self.native_name(name)) for name in self.joints
        }
        with torch.no_grad():
            rest = model(model.zero_params())
        joints = rest.joints[0].double().cpu().numpy()

        def position(name: str) -> np.ndarray:
            return joints[model.joint_names.index(self.native_name(name))]

        # Canonical local rotations C of the arms, and the canonical global rotation of each arm
        # joint's parent: the interaction rotation A of a joint acts in canonical axes, so its
        # local rotation is parent^T A parent C.
        self._rest_local: dict[str, np.ndarray] = {}
        self._parent_global: dict[str, np.ndarray] = {}
        down = np.array([0.0, -1.0, 0.0])
        for side in "LR":
            shoulder, elbow, wrist = (
                position(f"{j}.{side}") for j in ("shoulder", "elbow", "wrist")
            )
            upper = rotation_between(elbow - shoulder, down)
            fore = rotation_between(upper @ (wrist - elbow), down) @ upper
            self._rest_local[f"shoulder.{side}"] = upper
            self._rest_local[f"elbow.{side}"] = upper.T @ fore
            self._parent_global[f"elbow.{side}"] = upper
            self._parent_global[f"wrist.{side}"] = fore

        # Palm and back halves of each hand in the canonical pose, split along its thinnest axis
        # (the palms face the thighs), for `hand_frame`.
        canonical, _ = self.forward(self.params({}))
        self._hand = {}
        for side, medial in (("L", -1.0), ("R", 1.0)):
            part = model.parts[f"{'left' if side == 'L' else 'right'}_hand"].cpu().numpy()
            offset = canonical[part] - canonical[part].mean(0)
            normal = np.linalg.eigh(offset.T @ offset)[1][:, 0]
            normal *= np.sign(normal[0] * medial)
            self._hand[side] = (part, part[offset @ normal > 0], part[offset @ normal <= 0])
        self._wrist_joint = {
            side: model.joint_names.index(self.native_name(f"wrist.{side}")) for side in "LR"
        }

    @property
    def joints(self) -> list[str]:
        """Every canonical joint name, sided ones with their suffix."""
        return [
            f"{joint}.{side}" if joint in _SIDED else joint
            for joint in CANONICAL_JOINTS
            for side in ("LR" if joint in _SIDED else "-")
        ]

    def native_name(self, name: str) -> str:
        """The backend's joint name of a canonical one, e.g. "hip.L" -> "upperleg01.L"."""
        joint, _, side = name.partition(".")
        template = JOINT_NAMES[self.model.name][joint]
        return template.format(LR=side, side={"L": "left", "R": "right"}.get(side, ""))

    def params(
        self,
        rotations: dict[str, np.ndarray],
        global_orient: np.ndarray | None = None,
        transl: np.ndarray | None = None,
        betas: np.ndarray | None = None,
    ) -> BodyParams:
        """Parameters of the canonical body with `rotations` applied.

        Args:
            rotations: canonical joint name ("hip.L", "spine", ...) -> (3, 3) rotation in
                canonical axes, relative to the parent; joints left out keep the canonical pose.
            global_orient: (3, 3) rotation of the whole body about the pelvis; None for none.
            transl: (3,) pelvis position, metres; None for the origin.
            betas: (S,) shape; None for the model's default.

        Returns:
            Axis-angle parameters (batch 1) on the model's device and dtype.

        Raises:
            KeyError: an unknown joint name.
        """
        unknown = set(rotations) - set(self.index)
        if unknown:
            raise KeyError(f"unknown canonical joints {sorted(unknown)}; known: {self.joints}")
        params = self.model.zero_params(1)
        local = np.tile(np.eye(3), (self.model.num_body_joints, 1, 1))
        for name, index in self.index.items():
            parent = self._parent_global.get(name, np.eye(3))
            change = rotations.get(name, np.eye(3))
            local[index] = parent.T @ change @ parent @ self._rest_local.get(name, np.eye(3))
        kind = {"device": params.transl.device, "dtype": params.transl.dtype}
        params.body_pose = matrix_to_axis_angle(torch.as_tensor(local))[None].to(**kind)
        if global_orient is not None:
            params.global_orient = matrix_to_axis_angle(torch.as_tensor(global_orient))[None].to(
                **kind
            )
        if transl is not None:
            params.transl = torch.as_tensor(transl)[None].to(**kind)
        if betas is not None:
            params.betas = torch.as_tensor(betas)[None].to(**kind)
        return params

    @torch.no_grad()
    def forward(self, params: BodyParams) -> tuple[np.ndarray, np.ndarray]:
        """Posed vertices (V, 3) and joints (J, 3), float64, of batch-1 parameters."""
        out = self.model(params)
        return out.vertices[0].double().cpu().numpy(), out.joints[0].double().cpu().numpy()

    def hand_frame(self, side: str, vertices: np.ndarray, joints: np.ndarray) -> HandFrame:
        """The palm of one hand in a posed body.

        Args:
            side: "L" or "R".
            vertices: (V, 3) posed vertices, from `forward`.
            joints: (J, 3) the matching joints.

        Returns:
            The palm's centre, outward normal and finger direction, in the frame of `vertices`.
        """
        part, palm, back = self._hand[side]
        centre = vertices[part].mean(0)
        offset = vertices[part] - centre
        # The thinnest axis of the hand, pointing the way of the palm half.
        normal = np.linalg.eigh(offset.T @ offset)[1][:, 0]
        normal *= np.sign(normal @ (vertices[palm].mean(0) - vertices[back].mean(0)))
        fingers = centre - joints[self._wrist_joint[side]]
        fingers -= (fingers @ normal) * normal
        return HandFrame(centre, normal, fingers / np.linalg.norm(fingers))
