"""One interface for every body model: parameters in, mesh out.

Models are functions of parameters that the optimizer owns, as in `smplx.SMPLXLayer`: a
`BodyModel` holds buffers only (faces, blend shapes, part indices), never `nn.Parameter`s.

Frame convention, shared by every backend: metres, y up, the body facing +z, its left side
towards +x, and the root joint (the pelvis) exactly at the origin when `global_orient` and
`transl` are zero. `global_orient` rotates the body about the root joint and `transl` is the
root joint's position, so the scene pipeline places a body in the OpenCV camera frame with these
two alone. A backend whose native frame differs (Anny is z up) rotates its output by a fixed
matrix, so that the same parameters mean the same thing for every backend.

Joint rotations in `body_pose` and the hand poses are relative to the parent joint and expressed
in the axes of the zero pose (SMPL's convention): for every backend, a rotation about +z at the
left shoulder swings the left arm in the frontal plane.
"""

from __future__ import annotations

import abc
import dataclasses
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from reconstruction.rotations import axis_angle_to_matrix, matrix_to_axis_angle

COCO17_NAMES = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)

SKIN_GROUPS = (
    "trunk",
    "neck",
    "head",
    "left_arm",
    "right_arm",
    "left_hand",
    "right_hand",
    "left_leg",
    "right_leg",
    "left_foot",
    "right_foot",
)
"""Labels a backend gives its joints to segment the vertices: a vertex belongs to the group of
the joint that moves it most."""

PART_UNIONS = {
    "hands": ("left_hand", "right_hand"),
    "feet": ("left_foot", "right_foot"),
    "arms": ("left_arm", "right_arm"),
    "legs": ("left_leg", "right_leg"),
}


def _rotation_matrices(rotations: Tensor, axis_angle_ndim: int) -> Tensor:
    """Rotations in either form to matrices, telling the forms apart by the number of dims.

    The trailing shape alone is ambiguous: a (B, 3, 3) body pose of three joints in axis-angle
    looks like one (B, 3, 3) matrix per sample, so the expected rank decides.

    Args:
        rotations: (..., 3) axis-angle with `axis_angle_ndim` dims, or (..., 3, 3) matrices with
            one dim more.
        axis_angle_ndim: number of dims of the axis-angle form, e.g. 2 for (B, 3).

    Returns:
        (..., 3, 3) rotation matrices.
    """
    if rotations.ndim == axis_angle_ndim and rotations.shape[-1] == 3:
        return axis_angle_to_matrix(rotations)
    if rotations.ndim == axis_angle_ndim + 1 and rotations.shape[-2:] == (3, 3):
        return rotations
    raise ValueError(
        f"expected axis-angle with {axis_angle_ndim} dims (..., 3) or matrices (..., 3, 3), "
        f"got shape {tuple(rotations.shape)}"
    )


@dataclass
class BodyParams:
    """Parameters of a body model, batched.

    Every rotation is given either as axis-angle or as rotation matrices; the forward of every
    model accepts both, so the optimizer can pass matrices made from 6D rotations.

    Attributes:
        global_orient: (B, 3) axis-angle or (B, 3, 3) matrix, the body's rotation about its root
            joint.
        body_pose: (B, J, 3) axis-angle or (B, J, 3, 3) matrices, local rotations of the joints
            named by `BodyModel.body_joint_names`, in that order.
        betas: (B, S) shape coefficients (SMPL betas, or Anny's phenotypes in [0, 1]).
        transl: (B, 3) position of the root joint, metres.
        left_hand_pose: (B, Jh, 3) or (B, Jh, 3, 3) finger rotations, None for models without
            separate hands.
        right_hand_pose: like `left_hand_pose`.
    """

    global_orient: Tensor
    body_pose: Tensor
    betas: Tensor
    transl: Tensor
    left_hand_pose: Tensor | None = None
    right_hand_pose: Tensor | None = None

    @property
    def batch_size(self) -> int:
        """Number of bodies B."""
        return self.transl.shape[0]

    def _map(self, fn) -> BodyParams:
        return BodyParams(
            **{
                f.name: None if getattr(self, f.name) is None else fn(getattr(self, f.name))
                for f in dataclasses.fields(self)
            }
        )

    def to(
        self, device: torch.device | str | None = None, dtype: torch.dtype | None = None
    ) -> BodyParams:
        """A copy on `device` with every tensor cast to the floating `dtype`."""
        return self._map(lambda t: t.to(device=device, dtype=dtype))

    def detach(self) -> BodyParams:
        """A copy whose tensors are detached from the autograd graph."""
        return self._map(Tensor.detach)

    def to_matrices(self) -> BodyParams:
        """The same parameters with every rotation as matrices: (B, 3, 3), (B, J, 3, 3), ..."""
        return BodyParams(
            global_orient=_rotation_matrices(self.global_orient, 2),
            body_pose=_rotation_matrices(self.body_pose, 3),
            betas=self.betas,
            transl=self.transl,
            left_hand_pose=None
            if self.left_hand_pose is None
            else _rotation_matrices(self.left_hand_pose, 3),
            right_hand_pose=None
            if self.right_hand_pose is None
            else _rotation_matrices(self.right_hand_pose, 3),
        )

    def to_axis_angle(self) -> BodyParams:
        """The same parameters with every rotation as axis-angle: (B, 3), (B, J, 3), ..."""
        m = self.to_matrices()
        return BodyParams(
            global_orient=matrix_to_axis_angle(m.global_orient),
            body_pose=matrix_to_axis_angle(m.body_pose),
            betas=m.betas,
            transl=m.transl,
            left_hand_pose=None
            if m.left_hand_pose is None
            else matrix_to_axis_angle(m.left_hand_pose),
            right_hand_pose=None
            if m.right_hand_pose is None
            else matrix_to_axis_angle(m.right_hand_pose),
        )


@dataclass
class BodyOutput:
    """A posed body.

    Attributes:
        vertices: (B, V, 3) metres, in the frame of the parameters.
        joints: (B, J, 3) the model's skeleton joints, in the order of `BodyModel.joint_names`.
        faces: (F, 3) long, triangles shared by the batch.
    """

    vertices: Tensor
    joints: Tensor
    faces: Tensor


@dataclass(frozen=True)
class CanonicalLimb:
    """How `BodyModel.canonical_params` opens one limb.

    Attributes:
        pose_index: index into body_pose of the joint that swings the limb.
        start_joint: index into the output joints of that joint.
        end_joint: index into the output joints of the limb's end (wrist, ankle).
        direction: unit target direction of start -> end, in the zero-pose frame.
    """

    pose_index: int
    start_joint: int
    end_joint: int
    direction: tuple[float, float, float]


ARM_DROP_DEG = 45.0
"""Canonical arms point this far below the horizontal: open enough for the hands to stay clear
of the hips in renders, yet low enough that the shoulders keep a natural shape."""

LEG_SPREAD_DEG = 8.0
"""Canonical legs point this far outwards from the vertical, so that the thighs part."""


def canonical_limb_directions() -> dict[str, tuple[float, float, float]]:
    """Target start -> end directions of the canonical limbs, zero-pose frame (left is +x)."""
    arm, leg = np.deg2rad(ARM_DROP_DEG), np.deg2rad(LEG_SPREAD_DEG)
    return {
        "left_arm": (float(np.cos(arm)), -float(np.sin(arm)), 0.0),
        "right_arm": (-float(np.cos(arm)), -float(np.sin(arm)), 0.0),
        "left_leg": (float(np.sin(leg)), -float(np.cos(leg)), 0.0),
        "right_leg": (-float(np.sin(leg)), -float(np.cos(leg)), 0.0),
    }


def _rotation_between(a: Tensor, b: Tensor) -> Tensor:
    """Axis-angle (3,) of the smallest rotation taking direction a (3,) to direction b (3,)."""
    a, b = torch.nn.functional.normalize(a, dim=0), torch.nn.functional.normalize(b, dim=0)
    axis = torch.linalg.cross(a, b)
    sin, cos = axis.norm(), (a * b).sum()
    if sin < 1e-9:
        return torch.zeros_like(a)
    return axis / sin * torch.atan2(sin, cos)


def _front_back_reference(vertices: Tensor, mask: Tensor, num_slabs: int) -> Tensor:
    """Per-vertex depth of the coronal mid-plane of the masked vertices.

    The masked vertices are cut into horizontal slabs; in each, the mid-plane is halfway between
    the front-most and the back-most vertex. Following the body's own outline rather than a
    joint makes the split independent of where a rig puts its spine.

    Args:
        vertices: (V, 3) zero-pose vertices (y up, facing +z).
        mask: (V,) bool, the vertices of one body region.
        num_slabs: number of slabs over the region's height.

    Returns:
        (V,) the mid-plane's z at each vertex's height (meaningful where `mask` holds).
    """
    y, z = vertices[:, 1], vertices[:, 2]
    y_min, y_max = y[mask].min(), y[mask].max()
    slab = ((y - y_min) / (y_max - y_min) * num_slabs).long().clamp(0, num_slabs - 1)
    front = torch.full((num_slabs,), -torch.inf, dtype=z.dtype, device=z.device)
    back = torch.full((num_slabs,), torch.inf, dtype=z.dtype, device=z.device)
    front = front.scatter_reduce(0, slab[mask], z[mask], "amax")
    back = back.scatter_reduce(0, slab[mask], z[mask], "amin")
    return ((front + back) / 2)[slab]


def segment_parts(
    vertices: Tensor,
    joints: Tensor,
    vertex_joint: Tensor,
    joint_groups: list[str],
    hip_joints: tuple[int, int],
    knee_joints: tuple[int, int],
    seat_band: float = 0.35,
    num_slabs: int = 24,
) -> dict[str, Tensor]:
    """Named parts of a body mesh from its skinning, for any topology.

    Each vertex takes the group (`SKIN_GROUPS`) of the joint that moves it most. The trunk is
    then split into front (torso) and rear (back) at its coronal mid-plane, and the buttocks are
    the rear of the trunk and of the thighs within `seat_band` thigh lengths of the hip joints'
    height: the region a seat touches. The parts other than the unions partition the vertices.

    Args:
        vertices: (V, 3) zero-pose vertices, y up, facing +z.
        joints: (J, 3) zero-pose joints, same frame.
        vertex_joint: (V,) long, per vertex the joint of largest skinning weight.
        joint_groups: (J,) group label of each joint, among `SKIN_GROUPS`.
        hip_joints: (left, right) indices of the hip joints in `joints`.
        knee_joints: (left, right) indices of the knee joints.
        seat_band: half-height of the buttocks band, in thigh lengths.
        num_slabs: slabs used to find the mid-planes of the trunk and legs.

    Returns:
        name -> (N,) long vertex indices, sorted: left_hand, right_hand, left_foot, right_foot,
        left_arm, right_arm, left_leg, right_leg, torso, back, buttocks, neck, head, and the
        unions hands, feet, arms, legs.
    """
    group_ids = torch.tensor([SKIN_GROUPS.index(g) for g in joint_groups], device=vertices.device)
    vertex_group = group_ids[vertex_joint]
    masks = {name: vertex_group == i for i, name in enumerate(SKIN_GROUPS)}

    y, z = vertices[:, 1], vertices[:, 2]
    hip_y = joints[list(hip_joints), 1].mean()
    thigh = (joints[list(hip_joints), 1] - joints[list(knee_joints), 1]).mean()
    trunk = masks.pop("trunk")
    trunk_rear = trunk & (z < _front_back_reference(vertices, trunk, num_slabs))
    buttocks = trunk_rear & (y < hip_y + seat_band * thigh)
    for leg in ("left_leg", "right_leg"):
        leg_rear = masks[leg] & (z < _front_back_reference(vertices, masks[leg], num_slabs))
        seat = leg_rear & (y > hip_y - seat_band * thigh)
        buttocks |= seat
        masks[leg] &= ~seat
    masks["torso"] = trunk & ~trunk_rear
    masks["back"] = trunk_rear & ~buttocks
    masks["buttocks"] = buttocks

    parts = {name: mask.nonzero()[:, 0] for name, mask in masks.items()}
    for union, members in PART_UNIONS.items():
        parts[union] = torch.cat([parts[m] for m in members]).sort().values
    return parts


def part_joint_indices(
    part_joint_names: dict[str, list[str]], body_joint_names: list[str]
) -> dict[str, list[int]]:
    """Indices into body_pose of each part's joints, with the unions of `PART_UNIONS` added.

    Args:
        part_joint_names: part name -> names of its joints, among `body_joint_names`.
        body_joint_names: (J,) the body_pose joints in order.

    Returns:
        part name -> sorted indices into body_pose.
    """
    result = {
        part: sorted(body_joint_names.index(name) for name in names)
        for part, names in part_joint_names.items()
    }
    for union, members in PART_UNIONS.items():
        result[union] = sorted(set().union(*(result[m] for m in members)))
    return result


class BodyModel(torch.nn.Module, abc.ABC):
    """A body model: `forward(BodyParams) -> BodyOutput`, holding buffers only.

    Subclasses set the attributes below and call `_register_topology` and `_register_parts` in
    their constructor.

    Attributes:
        name: backend name ("anny", "smplx", "smpl").
        num_vertices: V.
        num_body_joints: J of `BodyParams.body_pose`.
        num_hand_joints: Jh of the hand poses, 0 for models without separate hands.
        body_joint_names: (J,) names of the body_pose joints, in order.
        joint_names: names of `BodyOutput.joints`, in order.
        part_joints: part name -> indices into body_pose of the joints to free when that part
            moves (limb-wise optimization); the unions hands/feet/arms/legs are included.
        faces: (F, 3) long buffer.
    """

    name: str
    num_body_joints: int
    num_hand_joints: int
    body_joint_names: list[str]
    joint_names: list[str]
    part_joints: dict[str, list[int]]

    def _register_topology(
        self,
        faces: Tensor,
        default_betas: Tensor,
        coco_vertex_weights: Tensor,
        coco_joint_weights: Tensor,
    ) -> None:
        """Register the buffers every backend has, but the parts.

        Args:
            faces: (F, 3) triangles.
            default_betas: (S,) the shape of `zero_params`.
            coco_vertex_weights: (17, V) COCO-17 keypoints as weights of the vertices...
            coco_joint_weights: (17, J) ...plus weights of the joints.
        """
        self.num_vertices = coco_vertex_weights.shape[1]
        self.register_buffer("faces", faces.long(), persistent=False)
        self.register_buffer("default_betas", default_betas, persistent=False)
        self.register_buffer("coco_vertex_weights", coco_vertex_weights, persistent=False)
        self.register_buffer("coco_joint_weights", coco_joint_weights, persistent=False)

    def _register_parts(self, parts: dict[str, Tensor]) -> None:
        """Register the part segmentation, name -> (N,) vertex indices (see `segment_parts`)."""
        self._part_names = list(parts)
        for name, indices in parts.items():
            self.register_buffer(f"part_{name}", indices.long(), persistent=False)

    @property
    def num_betas(self) -> int:
        """S, the number of shape coefficients."""
        return self.default_betas.shape[0]

    @property
    def device(self) -> torch.device:
        """Device of the model's buffers."""
        return self.default_betas.device

    @property
    def dtype(self) -> torch.dtype:
        """Floating dtype of the model's buffers."""
        return self.default_betas.dtype

    @property
    def parts(self) -> dict[str, Tensor]:
        """Part name -> (N,) long vertex indices, on the model's device; see `segment_parts`."""
        return {name: getattr(self, f"part_{name}") for name in self._part_names}

    @abc.abstractmethod
    def forward(self, params: BodyParams) -> BodyOutput:
        """Pose the body.

        Args:
            params: batch of B parameter sets, rotations as axis-angle or matrices.

        Returns:
            The posed vertices (B, V, 3) and joints (B, J, 3) in the frame of the module
            docstring, and the faces.
        """

    @abc.abstractmethod
    def to_npz_dict(self, params: BodyParams) -> dict[str, np.ndarray]:
        """The parameters in the backend's own convention, ready for `np.savez`.

        Args:
            params: batch of B parameter sets.

        Returns:
            name -> array; see each backend for the keys.
        """

    @abc.abstractmethod
    def params_from_npz(self, data: dict[str, np.ndarray]) -> BodyParams:
        """Inverse of `to_npz_dict`: parameters on the model's device and dtype, axis-angle.

        Args:
            data: a mapping such as `np.load(path)`.

        Returns:
            The parameters.
        """

    @property
    @abc.abstractmethod
    def _canonical_limbs(self) -> list[CanonicalLimb]:
        """The arms and legs that `canonical_params` opens."""

    def zero_params(self, batch_size: int = 1) -> BodyParams:
        """The rest pose with the default shape, at the origin, on the model's device and dtype.

        Args:
            batch_size: B.

        Returns:
            Axis-angle parameters, all rotations zero.
        """

        def zeros(*shape):
            return torch.zeros(batch_size, *shape, device=self.device, dtype=self.dtype)

        hands = zeros(self.num_hand_joints, 3) if self.num_hand_joints else None
        return BodyParams(
            global_orient=zeros(3),
            body_pose=zeros(self.num_body_joints, 3),
            betas=self.default_betas.expand(batch_size, -1).clone(),
            transl=zeros(3),
            left_hand_pose=hands,
            right_hand_pose=None if hands is None else hands.clone(),
        )

    @torch.no_grad()
    def canonical_params(self, batch_size: int = 1) -> BodyParams:
        """The open star-like pose used for contact rendering.

        Arms point `ARM_DROP_DEG` below the horizontal in the frontal plane and legs
        `LEG_SPREAD_DEG` outwards, so no limb touches the torso; the rest is the zero pose.

        Args:
            batch_size: B.

        Returns:
            Axis-angle parameters on the model's device and dtype.
        """
        params = self.zero_params(1)
        joints = self(params).joints[0]
        for limb in self._canonical_limbs:
            params.body_pose[0, limb.pose_index] = _rotation_between(
                joints[limb.end_joint] - joints[limb.start_joint],
                torch.tensor(limb.direction, device=self.device, dtype=self.dtype),
            )
        return params._map(lambda t: t.expand(batch_size, *t.shape[1:]).clone())

    def coco17_keypoints(self, output: BodyOutput) -> Tensor:
        """COCO-17 keypoints of posed bodies, in the frame of the output.

        Args:
            output: the result of `forward`.

        Returns:
            (B, 17, 3) keypoints in `COCO17_NAMES` order.
        """
        return torch.einsum("kv,bvd->bkd", self.coco_vertex_weights, output.vertices) + (
            torch.einsum("kj,bjd->bkd", self.coco_joint_weights, output.joints)
        )
