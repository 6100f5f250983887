"""What the fitting reads: one plain structure of tensors, built by the pipeline."""

from dataclasses import dataclass

import torch
from torch import Tensor

from reconstruction.body_models import BodyModel, BodyParams
from reconstruction.sdf import SDFGrid


@dataclass
class FitInputs:
    """Observations and models for one scene, on one device, at the fitting resolution.

    Everything image-space is at `image_size` (the fitting resolution) and in its pixels.

    Attributes:
        body_model: the body model.
        body_init: body parameters the fitting starts from, camera frame: batch 1, or B
            hypotheses for a body fitted alone (`optim.fitter.fit_body`).
        K: (3, 3) intrinsics at the fitting resolution.
        image_size: (H, W) of the fitting resolution.
        object_vertices: (Vo, 3) object mesh in its own frame, metres at scale 1; the object
            fields are None for a body fitted alone.
        object_faces: (Fo, 3) long.
        object_points: (N, 3) object-frame surface samples (penetration into the body).
        sdf: signed-distance grid of the object in its own frame.
        person_mask: (H, W) float in [0, 1] (area fraction), or None.
        object_mask: (H, W) float in [0, 1], or None.
        depth: (H, W) metric depth in metres, 0 where unknown, or None.
        keypoints_2d: (17, 3) COCO-17 (u, v, confidence) in pixels, or None.
        body_contact: (V,) body contact probability, or None.
        contact_is_prior: the contact is the interaction library's guess for the category, not
            an annotated or predicted map (see `FitConfig.prior_contact_poses_body`).
        object_contact: (Vo,) object contact probability, or None.
        pair_body_vertex: (P,) long body vertex of each paired correspondence (P may be 0).
        pair_object_face: (P,) long object face of each pair.
        pair_object_bary: (P, 3) barycentric weights of the object point in that face.
        category: object category for the size prior, or None.
        floor: (4,) floor plane (n, d) in the camera frame, n unit pointing up, metres
            (`optim.floor`), or None.
        ground_standing: the object stands on the floor (`optim.size_priors.is_ground_standing`):
            its hypotheses stand upright on `floor` and the `support` term applies.
        seat_front: (3,) unit direction in the object's frame that a person seated on it faces
            (`reconstruction.interaction_library.seat_front`), when the body sits on a seat
            with a backrest or on a bench (either way across it); None otherwise. The object's
            hypotheses facing the body's way are preferred.
        lying_length: (3,) unit level direction in the object's frame along which a body lying
            on it lies (`reconstruction.interaction_library.support_length`), when the body lies
            on a support; None otherwise. The object's hypotheses along the body are preferred.
    """

    body_model: BodyModel
    body_init: BodyParams
    K: Tensor
    image_size: tuple[int, int]
    object_vertices: Tensor | None = None
    object_faces: Tensor | None = None
    object_points: Tensor | None = None
    sdf: SDFGrid | None = None
    person_mask: Tensor | None = None
    object_mask: Tensor | None = None
    depth: Tensor | None = None
    keypoints_2d: Tensor | None = None
    body_contact: Tensor | None = None
    contact_is_prior: bool = False
    object_contact: Tensor | None = None
    pair_body_vertex: Tensor | None = None
    pair_object_face: Tensor | None = None
    pair_object_bary: Tensor | None = None
    category: str | None = None
    floor: Tensor | None = None
    ground_standing: bool = False
    seat_front: Tensor | None = None
    lying_length: Tensor | None = None

    @property
    def num_pairs(self) -> int:
        """Number of paired correspondences."""
        return 0 if self.pair_body_vertex is None else int(self.pair_body_vertex.numel())

    @property
    def device(self) -> torch.device:
        """Where the tensors live."""
        return self.K.device

    def pair_object_points(self, object_vertices: Tensor) -> Tensor:
        """Object points of the pairs from (B, Vo, 3) posed vertices: (B, P, 3)."""
        corners = object_vertices[:, self.object_faces[self.pair_object_face]]  # (B, P, 3, 3)
        return (corners * self.pair_object_bary[None, :, :, None]).sum(2)
