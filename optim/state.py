"""The variables the fitting optimizes: object pose and scale, body pose and shape.

The optimizer owns these tensors; the body model and the object are functions of them. Rotations
are optimized in the continuous 6D representation, object scale as log-scale.
"""

from dataclasses import dataclass, fields

import torch
from torch import Tensor

from reconstruction.body_models import BodyParams
from reconstruction.object_model import ObjectPose
from reconstruction.rotations import matrix_to_rotation_6d, rotation_6d_to_matrix


@dataclass
class FitState:
    """Optimization variables for K object hypotheses and one body (or K bodies).

    Attributes:
        object_rot6d: (K, 6).
        object_transl: (K, 3) camera frame, metres.
        object_log_scale: (K, 1).
        body_orient6d: (B, 6) global orientation; B is 1, or K for body hypotheses fitted
            without an object.
        body_transl: (B, 3) root position, camera frame, metres.
        body_pose6d: (B, J, 6) body joint rotations.
        body_betas: (B, S) shape.
        left_hand6d: (B, Jh, 6) or None.
        right_hand6d: (B, Jh, 6) or None.
    """

    object_rot6d: Tensor
    object_transl: Tensor
    object_log_scale: Tensor
    body_orient6d: Tensor
    body_transl: Tensor
    body_pose6d: Tensor
    body_betas: Tensor
    left_hand6d: Tensor | None = None
    right_hand6d: Tensor | None = None

    @classmethod
    def create(cls, body: BodyParams, object_pose: ObjectPose) -> "FitState":
        """Start from body parameters (batch 1, or K for body hypotheses) and K object poses."""
        body = body.to_matrices()

        def six(rotations):
            return None if rotations is None else matrix_to_rotation_6d(rotations).clone()

        return cls(
            object_rot6d=object_pose.rot6d.detach().clone(),
            object_transl=object_pose.transl.detach().clone(),
            object_log_scale=object_pose.log_scale.detach().clone(),
            body_orient6d=six(body.global_orient.detach()),
            body_transl=body.transl.detach().clone(),
            body_pose6d=six(body.body_pose.detach()),
            body_betas=body.betas.detach().clone(),
            left_hand6d=six(None if body.left_hand_pose is None else body.left_hand_pose.detach()),
            right_hand6d=six(
                None if body.right_hand_pose is None else body.right_hand_pose.detach()
            ),
        )

    @property
    def num_hypotheses(self) -> int:
        """K, the number of object hypotheses."""
        return self.object_rot6d.shape[0]

    def body_params(self) -> BodyParams:
        """Body parameters (rotation matrices) for the body model."""

        def matrices(six):
            return None if six is None else rotation_6d_to_matrix(six)

        return BodyParams(
            global_orient=rotation_6d_to_matrix(self.body_orient6d),
            body_pose=rotation_6d_to_matrix(self.body_pose6d),
            betas=self.body_betas,
            transl=self.body_transl,
            left_hand_pose=matrices(self.left_hand6d),
            right_hand_pose=matrices(self.right_hand6d),
        )

    def object_pose(self) -> ObjectPose:
        """The K object poses."""
        return ObjectPose(self.object_rot6d, self.object_transl, self.object_log_scale)

    def tensors(self) -> dict[str, Tensor]:
        """Every variable by field name (None ones left out)."""
        return {
            f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None
        }

    def snapshot(self) -> "FitState":
        """A detached copy (for keeping the best state and rolling back)."""
        return FitState(**{name: t.detach().clone() for name, t in self.tensors().items()})

    def restore(self, other: "FitState") -> None:
        """Copy `other`'s values into this state's tensors in place."""
        with torch.no_grad():
            for name, tensor in self.tensors().items():
                tensor.copy_(getattr(other, name))

    @property
    def num_bodies(self) -> int:
        """1, or K when each hypothesis has a body of its own (a body fitted alone)."""
        return self.body_transl.shape[0]

    def select(self, index: int | list[int]) -> "FitState":
        """A new state keeping some hypotheses (and their bodies, when bodies are many).

        Args:
            index: one hypothesis, or a list of them (in the new order).
        """
        keep = slice(index, index + 1) if isinstance(index, int) else list(index)
        many = self.num_bodies > 1
        return FitState(
            **{
                name: tensor[keep].clone() if name.startswith("object_") or many else tensor
                for name, tensor in self.snapshot().tensors().items()
            }
        )
