"""Anny through the `anny` package: the default body model, open and needing no registration.

The mesh is Anny's full body: 13,718 vertices, 27,420 triangles, 104 bones. Its first
instantiation on a machine builds a cache (one to two minutes and 0.8 GB in `~/.cache/anny`, or
`ANNY_CACHE_DIR`); later ones load it in about a second, and a process loads it once.

Mapping onto `BodyParams`:
- `global_orient`, `transl`: the root bone's rotation and position. Anny's zero pose puts the root
  bone's head (the pelvis centre) at the origin for every shape.
- `body_pose`: local rotations of the 35 bones of `BODY_BONES` (legs, spine, arms down to the
  wrists, neck, head).
- `left_hand_pose`, `right_hand_pose`: the 19 finger and metacarpal bones of each hand, in
  Anny's bone order.
- The toes (14 bones per foot) and the eyes are held at rest.
- `betas`: the six phenotypes of `PHENOTYPES`, each in [0, 1] (outside it Anny clamps them).
  Defaults: 0.5 everywhere except age 0.8, an adult: Anny's age 0.5 is a child of about 13, and
  its adult plateau (18 to 64 years) spans 0.77 to 0.83. Gender 0 is male and 1 female; the
  `gender` argument picks 0.5, 0 or 1. With the defaults the body is about 1.83 m tall.

Anny's native frame is z up with the body facing -y; the backend rotates it by
`NATIVE_TO_HOIFIT` into the shared frame (y up, facing +z). Rotations are conjugated by the same
matrix, so a body_pose rotation means the same in both frames' axes. Poses are Anny's
"local-ref" parameterization: a bone's delta is a rotation about its head in world-aligned
axes, which is SMPL's convention.
"""

from __future__ import annotations

import copy
import functools
import warnings

import anny
import anny.paths
import numpy as np
import torch
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
from reconstruction.rotations import matrix_to_axis_angle

NATIVE_TO_HOIFIT = ((1.0, 0.0, 0.0), (0.0, 0.0, 1.0), (0.0, -1.0, 0.0))
"""Rotation taking Anny's frame (z up, facing -y) to hoifit's (y up, facing +z); +x stays the
body's left."""

PHENOTYPES = ("gender", "age", "muscle", "weight", "height", "proportions")
PHENOTYPE_DEFAULTS = {
    "gender": 0.5,
    "age": 0.8,
    "muscle": 0.5,
    "weight": 0.5,
    "height": 0.5,
    "proportions": 0.5,
}
GENDER_PHENOTYPE = {"neutral": 0.5, "male": 0.0, "female": 1.0}

_LEG = ("upperleg01", "upperleg02", "lowerleg01", "lowerleg02", "foot")
_ARM = ("clavicle", "shoulder01", "upperarm01", "upperarm02", "lowerarm01", "lowerarm02", "wrist")
_SPINE = ("spine05", "spine04", "spine03", "spine02", "spine01")
_NECK = ("neck01", "neck02", "neck03")

BODY_BONES = (
    *(f"{bone}.{side}" for side in "LR" for bone in ("pelvis", *_LEG)),
    *_SPINE,
    *(f"{bone}.{side}" for side in "LR" for bone in _ARM),
    *_NECK,
    "head",
)
"""The Anny bones of body_pose, in order."""

POSE_PARAMETERIZATION = "local-ref"


def _side(label: str) -> str:
    return {"L": "left", "R": "right"}[label.rsplit(".", 1)[1]]


def _is_hand_bone(label: str) -> bool:
    return label.startswith(("finger", "metacarpal"))


def _skin_group(label: str) -> str:
    """The `SKIN_GROUPS` label of an Anny bone."""
    base = label.split(".")[0]
    if _is_hand_bone(label) or base == "wrist":
        return f"{_side(label)}_hand"
    if base.startswith("toe") or base == "foot":
        return f"{_side(label)}_foot"
    if base.startswith(("upperleg", "lowerleg")):
        return f"{_side(label)}_leg"
    if base.startswith(("shoulder", "upperarm", "lowerarm")):
        return f"{_side(label)}_arm"
    if base.startswith("neck"):
        return "neck"
    if base in ("head", "eye"):
        return "head"
    # root, pelvis.L/R, spine, clavicles: the clavicle bones skin the top of the chest and back.
    return "trunk"


def _part_joint_names() -> dict[str, list[str]]:
    names = {
        "torso": list(_SPINE),
        "back": list(_SPINE),
        "buttocks": ["pelvis.L", "pelvis.R", "upperleg01.L", "upperleg01.R"],
        "neck": list(_NECK),
        "head": [*_NECK, "head"],
    }
    for side in "LR":
        limb = {"L": "left", "R": "right"}[side]
        names[f"{limb}_arm"] = [f"{bone}.{side}" for bone in _ARM[:-1]]
        names[f"{limb}_hand"] = [f"wrist.{side}"]
        names[f"{limb}_leg"] = [f"{bone}.{side}" for bone in _LEG]
        names[f"{limb}_foot"] = [f"foot.{side}"]
    return names


@functools.cache
def _load_anny(cache_dir: str | None) -> anny.Anny:
    """Anny's full body on the CPU in float64, built once per process and cache folder."""
    previous = anny.paths.get_anny_cache_path()
    if cache_dir is not None:
        anny.paths.set_anny_cache_path(cache_dir)
    try:
        # Dense torch skinning: same speed as Anny's warp kernel at these sizes, and plain torch
        # runs on any device and dtype without compiling a kernel.
        return anny.Anny(skinning_method="lbs", pose_parameterization=POSE_PARAMETERIZATION)
    finally:
        anny.paths.set_anny_cache_path(previous)


class AnnyModel(BodyModel):
    """Anny behind the `BodyModel` interface; see the module docstring for the mapping."""

    name = "anny"

    def __init__(
        self,
        gender: str = "neutral",
        cache_dir: str | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        """Build (or load from cache) the model.

        Args:
            gender: "neutral", "male" or "female": the default gender phenotype.
            cache_dir: Anny's cache folder; None for `ANNY_CACHE_DIR` or `~/.cache/anny`.
            device: where the buffers live.
            dtype: floating dtype of the buffers and outputs.
        """
        super().__init__()
        if gender not in GENDER_PHENOTYPE:
            raise ValueError(f"gender must be one of {sorted(GENDER_PHENOTYPE)}, got {gender!r}")
        self.gender = gender
        self.core = copy.deepcopy(_load_anny(cache_dir))
        self._rest_cache = None
        labels = list(self.core.bone_labels)
        if list(self.core.phenotype_labels) != list(PHENOTYPES):
            raise RuntimeError(f"unexpected Anny phenotypes {self.core.phenotype_labels}")
        self.joint_names = labels
        self.body_joint_names = list(BODY_BONES)
        hand_bones = {
            side: [label for label in labels if _is_hand_bone(label) and _side(label) == side]
            for side in ("left", "right")
        }
        self.num_body_joints = len(BODY_BONES)
        self.num_hand_joints = len(hand_bones["left"])
        self.part_joints = part_joint_indices(_part_joint_names(), self.body_joint_names)

        # Each bone's row in [identity, body_pose..., left hand..., right hand...]: the deltas
        # are gathered from that stack in one indexing, the held bones reading the identity.
        source = [0] * len(labels)
        posed = [*BODY_BONES, *hand_bones["left"], *hand_bones["right"]]
        for row, label in enumerate(posed, start=1):
            source[labels.index(label)] = row
        self.register_buffer("bone_source", torch.tensor(source), persistent=False)
        self.register_buffer(
            "native_to_hoifit",
            torch.tensor(NATIVE_TO_HOIFIT, dtype=torch.float64),
            persistent=False,
        )

        defaults = dict(PHENOTYPE_DEFAULTS, gender=GENDER_PHENOTYPE[gender])
        default_betas = torch.tensor([defaults[k] for k in PHENOTYPES], dtype=torch.float64)
        self._register_topology(
            faces=self.core.faces,
            default_betas=default_betas,
            coco_vertex_weights=anny.KeypointsRegressor.coco(
                self.core, labels=list(COCO17_NAMES)
            ).regression_weights,
            coco_joint_weights=torch.zeros(len(COCO17_NAMES), len(labels), dtype=torch.float64),
        )
        # The parts need the model running in the shared frame, so they come last.
        zero = self(self.zero_params())
        parts = segment_parts(
            zero.vertices[0],
            zero.joints[0],
            self.core.dense_vertex_bone_weights.argmax(1),
            [_skin_group(label) for label in labels],
            hip_joints=(labels.index("upperleg01.L"), labels.index("upperleg01.R")),
            knee_joints=(labels.index("lowerleg01.L"), labels.index("lowerleg01.R")),
        )
        self._register_parts(parts)
        self.to(device=device, dtype=dtype)

    @property
    def _canonical_limbs(self) -> list[CanonicalLimb]:
        directions = canonical_limb_directions()
        limbs = []
        for side, limb in (("L", "left"), ("R", "right")):
            for start, end, kind in (("upperarm01", "wrist", "arm"), ("upperleg01", "foot", "leg")):
                start_bone = f"{start}.{side}"
                limbs.append(
                    CanonicalLimb(
                        pose_index=self.body_joint_names.index(start_bone),
                        start_joint=self.joint_names.index(start_bone),
                        end_joint=self.joint_names.index(f"{end}.{side}"),
                        direction=directions[f"{limb}_{kind}"],
                    )
                )
        return limbs

    def _native_deltas(self, params: BodyParams) -> Tensor:
        """Anny's pose parameters for hoifit parameters.

        Args:
            params: B parameter sets, any rotation form.

        Returns:
            (B, 104, 4, 4) local-ref deltas in Anny's frame; the root's carries global_orient
            and transl, so Anny's own output is the hoifit body rotated back to Anny's frame.
        """
        p = params.to_matrices()
        c = self.native_to_hoifit
        batch = p.batch_size
        stack = [
            torch.eye(3, device=c.device, dtype=c.dtype).expand(batch, 1, 3, 3),
            p.body_pose,
        ]
        if p.left_hand_pose is not None:
            stack += [p.left_hand_pose, p.right_hand_pose]
        else:
            stack.append(stack[0].expand(batch, 2 * self.num_hand_joints, 3, 3))
        rotations = torch.cat(stack, dim=1)[:, self.bone_source]  # (B, 104, 3, 3)
        rotations = torch.cat((p.global_orient[:, None], rotations[:, 1:]), dim=1)
        rotations = c.T @ rotations @ c
        translations = torch.zeros_like(rotations[..., 0])
        translations = torch.cat((p.transl[:, None] @ c, translations[:, 1:]), dim=1)
        deltas = torch.cat((rotations, translations[..., None]), dim=-1)  # (B, 104, 3, 4)
        bottom = torch.zeros_like(deltas[..., :1, :])
        bottom[..., 0, 3] = 1
        return torch.cat((deltas, bottom), dim=-2)

    def _rest_model(self, deltas: Tensor, betas: Tensor) -> dict[str, Tensor]:
        """Anny's rest-pose model (vertices, bone poses) for phenotype coefficients (B, 6).

        Anny's rest bone orientations go through a differentiable Procrustes step that costs far
        more than posing when autograd records it, even if nothing needs its gradient. Fitting
        mostly keeps the shape fixed, so when `betas` needs no gradient the rest model is built
        without autograd and reused while `betas` keeps its value.
        """
        core = self.core

        def build():
            _, phenotypes, local, facial = core.get_tensor_inputs(deltas, betas, None, None)
            coeffs = core._get_phenotype_blendshape_coefficients(phenotypes, local, facial)
            return core.get_rest_model(coeffs)

        if betas.requires_grad:
            return build()
        key = (betas.device, betas.dtype, betas.detach().cpu().numpy().tobytes())
        if self._rest_cache is None or self._rest_cache[0] != key:
            with torch.no_grad():
                self._rest_cache = (key, build())
        return self._rest_cache[1]

    def forward(self, params: BodyParams) -> BodyOutput:
        """Pose the body; see `BodyModel.forward`. Joints are the 104 bone heads."""
        deltas = self._native_deltas(params)
        rest = self._rest_model(deltas, params.betas)
        transforms, bone_poses = self.core.get_bone_transforms(deltas, rest["rest_bone_poses"])
        vertices = self.core.get_skinned_vertices(
            bone_transforms=transforms,
            rest_vertices=rest["rest_vertices"].expand(transforms.shape[0], -1, -1),
        )
        c = self.native_to_hoifit
        return BodyOutput(
            vertices=vertices @ c.T,
            joints=bone_poses[..., :3, 3] @ c.T,
            faces=self.faces,
        )

    def to_npz_dict(self, params: BodyParams) -> dict[str, np.ndarray]:
        """Anny's own parameters, such that Anny reproduces the body in its frame.

        `anny.Anny(pose_parameterization="local-ref")(pose_parameters=d["pose_parameters"],
        phenotype_kwargs=dict(zip(d["phenotype_labels"], d["phenotypes"].T)))` gives the
        vertices of `forward` times `d["native_to_hoifit"]` (row vectors), i.e. in Anny's frame.

        Args:
            params: B parameter sets.

        Returns:
            `pose_parameters` (B, 104, 4, 4) local-ref bone deltas, the root's holding the global
            rotation and translation; `bone_labels` (104,); `phenotypes` (B, 6) and
            `phenotype_labels` (6,); `native_to_hoifit` (3, 3); `pose_parameterization`
            "local-ref"; `model_type` "anny"; `gender` (the default it was built with).
        """
        params = params.detach()
        return {
            "pose_parameters": self._native_deltas(params).cpu().numpy(),
            "bone_labels": np.array(self.joint_names),
            "phenotypes": params.betas.cpu().numpy(),
            "phenotype_labels": np.array(PHENOTYPES),
            "native_to_hoifit": self.native_to_hoifit.cpu().numpy(),
            "pose_parameterization": np.array(POSE_PARAMETERIZATION),
            "model_type": np.array(self.name),
            "gender": np.array(self.gender),
        }

    def params_from_npz(self, data: dict[str, np.ndarray]) -> BodyParams:
        """Inverse of `to_npz_dict`; see `BodyModel.params_from_npz`.

        Phenotypes missing from the file take the defaults. Rotations of the bones hoifit holds
        at rest (toes, eyes) and translations of non-root bones cannot be represented and are
        dropped with a warning.
        """
        if [str(label) for label in data["bone_labels"]] != self.joint_names:
            raise ValueError("the file's bone_labels are not this Anny rig's")
        kind = {"device": self.device, "dtype": self.dtype}
        deltas = torch.as_tensor(np.asarray(data["pose_parameters"]), **kind)
        rotations, translations = deltas[..., :3, :3], deltas[..., :3, 3]
        c = self.native_to_hoifit
        rotations = c @ rotations @ c.T

        source = self.bone_source.tolist()
        eye = torch.eye(3, **kind)
        dropped = [
            self.joint_names[i]
            for i, row in enumerate(source)
            if i > 0 and row == 0 and not torch.allclose(rotations[:, i], eye, atol=1e-6)
        ]
        if translations[:, 1:].abs().max() > 1e-9:
            dropped.append("translations of non-root bones")
        if dropped:
            warnings.warn(f"dropping what hoifit holds at rest in Anny: {dropped}", stacklevel=2)

        def pose(first: int, count: int) -> Tensor:
            bones = [source.index(row) for row in range(first, first + count)]
            return matrix_to_axis_angle(rotations[:, bones])

        labels = [str(label) for label in data["phenotype_labels"]]
        values = torch.as_tensor(np.asarray(data["phenotypes"]), **kind).reshape(-1, len(labels))
        betas = self.default_betas.expand(values.shape[0], -1).clone()
        for i, label in enumerate(labels):
            betas[:, PHENOTYPES.index(label)] = values[:, i]
        jh = self.num_hand_joints
        return BodyParams(
            global_orient=matrix_to_axis_angle(rotations[:, 0]),
            body_pose=pose(1, self.num_body_joints),
            betas=betas,
            transl=translations[:, 0] @ c.T,
            left_hand_pose=pose(1 + self.num_body_joints, jh),
            right_hand_pose=pose(1 + self.num_body_joints + jh, jh),
        )
