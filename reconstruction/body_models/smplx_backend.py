"""SMPL-X and SMPL through the `smplx` package.

The model files are licensed: register and download them yourself (SMPL-X at
https://smpl-x.is.tue.mpg.de, SMPL at https://smpl.is.tue.mpg.de) and never commit them. hoifit
finds them in `model_dir`, or else in the folder named by the `HOIFIT_SMPLX_DIR` environment
variable, laid out as `smplx.create` expects:

    <dir>/smplx/SMPLX_NEUTRAL.npz   (also _MALE, _FEMALE; .pkl is accepted too)
    <dir>/smpl/SMPL_NEUTRAL.pkl     (the official files renamed, as the smplx README says)

Mapping onto `BodyParams`: `body_pose` is SMPL-X's 21 body joints (SMPL's 23, which include
its two hand joints: SMPL has no hand poses), hand poses are the 15 finger joints of each hand
as full rotations from the flat hand (no PCA, no mean pose). The face (jaw, eyes, expression)
is held neutral. `betas` are the first `num_betas` shape coefficients, zero by default.

smplx rotates the body about the pelvis joint J0(betas) and adds its `transl`; hoifit puts the
pelvis at the origin, so its `transl` is smplx's plus J0(betas). `to_npz_dict` and
`params_from_npz` convert between the two.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import smplx
import torch
from smplx.joint_names import JOINT_NAMES
from smplx.vertex_ids import vertex_ids as SMPLX_VERTEX_IDS
from torch import Tensor

from reconstruction.body_models.base import (
    COCO17_NAMES,
    BodyModel,
    BodyOutput,
    BodyParams,
    CanonicalLimb,
    canonical_limb_directions,
    part_joint_indices,
    segment_parts,
)

MODEL_DIR_ENV = "HOIFIT_SMPLX_DIR"
GENDERS = ("neutral", "male", "female")

_MODEL_FILES = {
    "smplx": ("smplx", "SMPLX", (".npz", ".pkl"), "https://smpl-x.is.tue.mpg.de"),
    "smpl": ("smpl", "SMPL", (".pkl",), "https://smpl.is.tue.mpg.de"),
}

_SMPLX_JOINTS = list(JOINT_NAMES[:55])
_SMPL_JOINTS = [*JOINT_NAMES[:22], "left_hand", "right_hand"]

# Face keypoints are vertices (smplx's standard ids); the others are skeleton joints.
_COCO_VERTEX = {
    "nose": "nose",
    "left_eye": "leye",
    "right_eye": "reye",
    "left_ear": "lear",
    "right_ear": "rear",
}
_FACE_POSE_KEYS = ("jaw_pose", "leye_pose", "reye_pose", "expression")


def _skin_group(joint: str) -> str:
    """The `SKIN_GROUPS` label of an SMPL(-X) joint."""
    if joint in ("pelvis", "spine1", "spine2", "spine3", "left_collar", "right_collar"):
        return "trunk"
    if joint == "neck":
        return "neck"
    if joint in ("head", "jaw", "left_eye_smplhf", "right_eye_smplhf"):
        return "head"
    side, _, rest = joint.partition("_")
    if rest in ("hip", "knee"):
        return f"{side}_leg"
    if rest in ("ankle", "foot"):
        return f"{side}_foot"
    if rest in ("shoulder", "elbow"):
        return f"{side}_arm"
    # Wrist, SMPL's hand joint and the finger joints.
    return f"{side}_hand"


def _part_joint_names(model_type: str) -> dict[str, list[str]]:
    names = {
        "torso": ["spine1", "spine2", "spine3"],
        "back": ["spine1", "spine2", "spine3"],
        "buttocks": ["left_hip", "right_hip"],
        "neck": ["neck"],
        "head": ["neck", "head"],
    }
    for side in ("left", "right"):
        names[f"{side}_arm"] = [f"{side}_collar", f"{side}_shoulder", f"{side}_elbow"]
        names[f"{side}_hand"] = [f"{side}_wrist"] + (
            [f"{side}_hand"] if model_type == "smpl" else []
        )
        names[f"{side}_leg"] = [f"{side}_hip", f"{side}_knee", f"{side}_ankle"]
        names[f"{side}_foot"] = [f"{side}_ankle", f"{side}_foot"]
    return names


def find_model_file(model_type: str, gender: str, model_dir: str | None) -> Path:
    """The licensed model file of SMPL-X or SMPL.

    Args:
        model_type: "smplx" or "smpl".
        gender: "neutral", "male" or "female".
        model_dir: the folder holding `smplx/` and `smpl/`; None for `$HOIFIT_SMPLX_DIR`.

    Returns:
        Path of the file.

    Raises:
        FileNotFoundError: no folder is configured or the file is not in it; the message names
            the file expected and where to get it.
    """
    folder, prefix, suffixes, url = _MODEL_FILES[model_type]
    model_dir = model_dir or os.environ.get(MODEL_DIR_ENV)
    stem = f"{prefix}_{gender.upper()}"
    if model_dir is None:
        raise FileNotFoundError(
            f"{prefix} model not configured: pass model_dir or set {MODEL_DIR_ENV} to a folder "
            f"holding {folder}/{stem}{suffixes[0]} (register and download at {url})"
        )
    candidates = [Path(model_dir) / folder / f"{stem}{suffix}" for suffix in suffixes]
    for path in candidates:
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"{prefix} model file not found: {candidates[0]} (set model_dir or {MODEL_DIR_ENV}; "
        f"register and download at {url})"
    )


class SMPLXModel(BodyModel):
    """SMPL-X or SMPL behind the `BodyModel` interface; see the module docstring."""

    def __init__(
        self,
        model_type: str = "smplx",
        model_dir: str | None = None,
        gender: str = "neutral",
        num_betas: int = 10,
        num_expression_coeffs: int = 10,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        """Load the model file.

        Args:
            model_type: "smplx" or "smpl".
            model_dir: folder with the model files; None for `$HOIFIT_SMPLX_DIR`.
            gender: "neutral", "male" or "female".
            num_betas: shape coefficients to use (smplx caps it to what the file has).
            num_expression_coeffs: SMPL-X expression size, kept at zero; it only sets the
                size of `expression` in `to_npz_dict`.
            device: where the buffers live.
            dtype: floating dtype of the buffers and outputs.
        """
        super().__init__()
        if model_type not in _MODEL_FILES:
            raise ValueError(
                f"model_type must be one of {sorted(_MODEL_FILES)}, got {model_type!r}"
            )
        if gender not in GENDERS:
            raise ValueError(f"gender must be one of {GENDERS}, got {gender!r}")
        path = find_model_file(model_type, gender, model_dir)
        self.name = model_type
        self.gender = gender
        if model_type == "smplx":
            self.layer = smplx.SMPLXLayer(
                str(path),
                gender=gender,
                num_betas=num_betas,
                num_expression_coeffs=num_expression_coeffs,
                use_pca=False,
                ext=path.suffix[1:],
                dtype=dtype,
            )
            self.joint_names = _SMPLX_JOINTS
            self.num_hand_joints = self.layer.NUM_HAND_JOINTS
            face_vertex_ids = SMPLX_VERTEX_IDS["smplx"]
        else:
            self.layer = smplx.SMPLLayer(str(path), num_betas=num_betas, dtype=dtype)
            self.joint_names = _SMPL_JOINTS
            self.num_hand_joints = 0
            face_vertex_ids = SMPLX_VERTEX_IDS["smplh"]
        self.num_body_joints = self.layer.NUM_BODY_JOINTS
        self.body_joint_names = self.joint_names[1 : 1 + self.num_body_joints]
        self.part_joints = part_joint_indices(_part_joint_names(model_type), self.body_joint_names)

        # J0(betas) = root_template + root_shapedirs @ betas, the pelvis of the unposed body.
        pelvis_weights = self.layer.J_regressor[0]
        self.register_buffer(
            "root_template", pelvis_weights @ self.layer.v_template, persistent=False
        )
        self.register_buffer(
            "root_shapedirs",
            torch.einsum("v,vcs->cs", pelvis_weights, self.layer.shapedirs),
            persistent=False,
        )

        num_vertices = self.layer.v_template.shape[0]
        coco_vertex = torch.zeros(len(COCO17_NAMES), num_vertices, dtype=dtype)
        coco_joint = torch.zeros(len(COCO17_NAMES), len(self.joint_names), dtype=dtype)
        for k, name in enumerate(COCO17_NAMES):
            if name in _COCO_VERTEX:
                coco_vertex[k, face_vertex_ids[_COCO_VERTEX[name]]] = 1
            else:
                coco_joint[k, self.joint_names.index(name)] = 1
        self._register_topology(
            faces=self.layer.faces_tensor,
            default_betas=torch.zeros(self.layer.num_betas, dtype=dtype),
            coco_vertex_weights=coco_vertex,
            coco_joint_weights=coco_joint,
        )

        # The unposed template is already in the shared frame, up to the shift to the pelvis
        # that does not change the parts.
        rest_vertices = self.layer.v_template
        self._register_parts(
            segment_parts(
                rest_vertices,
                self.layer.J_regressor @ rest_vertices,
                self.layer.lbs_weights.argmax(1),
                [_skin_group(joint) for joint in self.joint_names],
                hip_joints=(1, 2),
                knee_joints=(4, 5),
            )
        )
        self.to(device=device, dtype=dtype)

    @property
    def _canonical_limbs(self) -> list[CanonicalLimb]:
        directions = canonical_limb_directions()
        limbs = []
        for side in ("left", "right"):
            for start, end, kind in (("shoulder", "wrist", "arm"), ("hip", "ankle", "leg")):
                limbs.append(
                    CanonicalLimb(
                        pose_index=self.body_joint_names.index(f"{side}_{start}"),
                        start_joint=self.joint_names.index(f"{side}_{start}"),
                        end_joint=self.joint_names.index(f"{side}_{end}"),
                        direction=directions[f"{side}_{kind}"],
                    )
                )
        return limbs

    def _root_position(self, betas: Tensor) -> Tensor:
        """(B, 3) pelvis joint J0 of the unposed body of shape betas (B, S)."""
        return self.root_template + betas @ self.root_shapedirs.T

    def forward(self, params: BodyParams) -> BodyOutput:
        """Pose the body; see `BodyModel.forward`. Joints are the skeleton's (55 or 24)."""
        p = params.to_matrices()
        kwargs = {
            "betas": p.betas,
            "global_orient": p.global_orient,
            "body_pose": p.body_pose,
            "transl": p.transl - self._root_position(p.betas),
        }
        if self.num_hand_joints:
            kwargs.update(left_hand_pose=p.left_hand_pose, right_hand_pose=p.right_hand_pose)
        elif p.left_hand_pose is not None or p.right_hand_pose is not None:
            raise ValueError("SMPL has no separate hand poses: its body_pose holds the hands")
        out = self.layer(**kwargs)
        return BodyOutput(
            vertices=out.vertices,
            joints=out.joints[:, : len(self.joint_names)],
            faces=self.faces,
        )

    def to_npz_dict(self, params: BodyParams) -> dict[str, np.ndarray]:
        """The parameters in smplx's own convention: axis-angle, flattened as smplx takes them.

        Load them back into smplx with the same model folder:

            d = dict(np.load(path))
            model = smplx.create(folder, model_type=str(d.pop("model_type")),
                                 gender=str(d.pop("gender")), use_pca=False, flat_hand_mean=True,
                                 num_betas=d["betas"].shape[1],
                                 num_expression_coeffs=d["expression"].shape[1], **d)
            vertices = model().vertices

        (SMPL: no hand or face keys, and only num_betas to pass.)

        Args:
            params: B parameter sets.

        Returns:
            `global_orient` (B, 3), `body_pose` (B, 63) for SMPL-X or (B, 69) for SMPL, `betas`
            (B, S), `transl` (B, 3) in smplx's convention; SMPL-X adds `left_hand_pose` and
            `right_hand_pose` (B, 45) from the flat hand, and zero `jaw_pose`, `leye_pose`,
            `reye_pose` (B, 3) and `expression` (B, E); plus the strings `gender` and
            `model_type`.
        """
        p = params.detach().to_axis_angle()
        batch = p.batch_size
        arrays = {
            "global_orient": p.global_orient,
            "body_pose": p.body_pose.reshape(batch, -1),
            "betas": p.betas,
            "transl": p.transl - self._root_position(p.betas),
        }
        if self.num_hand_joints:
            zeros = torch.zeros_like(p.global_orient)
            arrays.update(
                left_hand_pose=p.left_hand_pose.reshape(batch, -1),
                right_hand_pose=p.right_hand_pose.reshape(batch, -1),
                jaw_pose=zeros,
                leye_pose=zeros,
                reye_pose=zeros,
                expression=zeros.new_zeros(batch, self.layer.num_expression_coeffs),
            )
        result = {key: value.cpu().numpy() for key, value in arrays.items()}
        result["gender"] = np.array(self.gender)
        result["model_type"] = np.array(self.name)
        return result

    def params_from_npz(self, data: dict[str, np.ndarray]) -> BodyParams:
        """Inverse of `to_npz_dict`; see `BodyModel.params_from_npz`.

        Accepts unbatched arrays too ((3,) for (1, 3)); missing hand poses are flat hands. A
        non-neutral face (jaw, eyes, expression) cannot be represented and is dropped with a
        warning.

        Raises:
            ValueError: the file's betas are not `num_betas` long.
        """

        def tensor(key: str, *shape: int) -> Tensor:
            value = torch.as_tensor(np.asarray(data[key]), device=self.device, dtype=self.dtype)
            return value.reshape(-1, *shape)

        num_betas = np.shape(data["betas"])[-1]
        if num_betas != self.num_betas:
            raise ValueError(
                f"the file has {num_betas} betas, this model takes {self.num_betas}: build it "
                f"with num_betas={num_betas}"
            )
        betas = tensor("betas", num_betas)
        hands = {}
        if self.num_hand_joints:
            for side in ("left", "right"):
                key = f"{side}_hand_pose"
                hands[key] = (
                    tensor(key, self.num_hand_joints, 3)
                    if key in data
                    else betas.new_zeros(len(betas), self.num_hand_joints, 3)
                )
            if any(key in data and np.any(np.asarray(data[key])) for key in _FACE_POSE_KEYS):
                warnings.warn(
                    "the file's face pose/expression is dropped: hoifit holds the face neutral",
                    stacklevel=2,
                )
        return BodyParams(
            global_orient=tensor("global_orient", 3),
            body_pose=tensor("body_pose", self.num_body_joints, 3),
            betas=betas,
            transl=tensor("transl", 3) + self._root_position(betas),
            **hands,
        )
