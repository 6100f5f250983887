"""Losses of contact-guided fitting: pure, batched, differentiable functions of tensors.

Every loss takes B hypotheses (or scenes) and returns a (B,) tensor; it is 0, with finite
gradients, when its evidence is missing (no contact, empty masks, no points, zero confidences).
The fitting loop combines them from a dict of weights whose keys are the names below, and logs
each term under its name:

Name (weight key) -> function: what it measures [units].

- `contact_paired` -> `contact_paired`: mean distance of paired body/object contact points
  (PICO's correspondences) [m].
- `contact_unpaired` -> `contact_unpaired`: probability-weighted distance between the body's and
  the object's contact regions, both ways; saturated at `FitConfig.prior_contact_reach` when the
  contact is only the category's prior [m].
- `penetration_body_in_object` -> `penetration_body_in_object`: total depth of the body vertices
  inside the object, from the object's SDF grid, each vertex weighted by its share of the body's
  surface, at most an average vertex's (`vertex_area_weights`) [m].
- `penetration_object_in_body` -> `penetration_object_in_body`: total depth of the object points
  inside the body, from the closest point on the body surface [m].
- `silhouette_body` -> `silhouette_iou_loss`: 1 - soft IoU of the body's silhouette and the person
  mask over `occlusion_valid_mask(person_mask, object_mask)` [unitless].
- `silhouette_object` -> `silhouette_iou_loss`: the same for the object's silhouette and mask, over
  `occlusion_valid_mask(object_mask, person_mask)` [unitless].
- `depth` -> `depth_loss`: robust difference of rendered and observed depth where both the render
  and the mask cover a pixel, one in from the mask's edge (`depth_pixels`) [m].
- `ordinal_depth` -> `ordinal_depth_loss`: body/object depth order where both renders overlap, as
  the masks show it [m].
- `keypoints_2d` -> `keypoint_loss`: confidence-weighted robust reprojection error of the 2D
  keypoints [px^2].
- `keypoints_torso` -> `keypoint_loss` on the shoulders and hips only: places the body's root
  before its limbs move [px^2].
- `pose_prior` -> `pose_prior`: distance of the body pose from its initialization plus
  joint-angle limits [rad^2].
- `shape_prior` -> `shape_prior`: distance of the body shape from the default shape [unitless].
- `scale_prior` -> `scale_prior`: log-normal prior of the object's size for its category, and of
  its height for furniture made to a standard one (`optim.size_priors`) [unitless].
- `coarse_interaction` -> `coarse_interaction`: distance of the object's centroid from the body
  beyond the object's mean radius; needs no contact estimate (PHOSA-style) [m].
- `centroid` -> `mask_centroid_loss`: squared distance of the object silhouette's centroid from
  its mask's centroid over the squared image diagonal [unitless].
- `support` -> `support_loss`: a ground-standing object's gap to the floor (both ways) plus its
  tilt from the floor's normal as a distance (`TILT_LENGTH_M` up its axis); evaluated only for
  ground-standing categories (`optim.size_priors.is_ground_standing`) with a floor [m].

With a robust sigma, the contact losses are in m^2 (Geman-McClure of squared distances);
`depth_loss` with `robust="l2"` is in m^2.
"""

from optim.config import LOSS_NAMES
from optim.losses.closest_point import closest_points_on_mesh, vertex_face_rings
from optim.losses.contact import contact_paired, contact_unpaired
from optim.losses.depth import depth_loss, depth_pixels, inner_pixels, ordinal_depth_loss
from optim.losses.interaction import coarse_interaction
from optim.losses.keypoints import keypoint_loss
from optim.losses.nearest import nearest_neighbors
from optim.losses.penetration import (
    body_in_object_depth,
    object_in_body_depth,
    penetration_body_in_object,
    penetration_object_in_body,
    vertex_area_weights,
)
from optim.losses.priors import pose_prior, rotation_angle, scale_prior, shape_prior
from optim.losses.robust import geman_mcclure, safe_norm, weighted_mean
from optim.losses.silhouette import (
    mask_centroid,
    mask_centroid_loss,
    occlusion_valid_mask,
    silhouette_iou_loss,
)
from optim.losses.support import support_loss

__all__ = [
    "LOSS_NAMES",
    "closest_points_on_mesh",
    "vertex_face_rings",
    "contact_paired",
    "contact_unpaired",
    "depth_loss",
    "depth_pixels",
    "inner_pixels",
    "ordinal_depth_loss",
    "coarse_interaction",
    "keypoint_loss",
    "nearest_neighbors",
    "body_in_object_depth",
    "object_in_body_depth",
    "penetration_body_in_object",
    "penetration_object_in_body",
    "vertex_area_weights",
    "pose_prior",
    "rotation_angle",
    "scale_prior",
    "shape_prior",
    "geman_mcclure",
    "safe_norm",
    "weighted_mean",
    "mask_centroid",
    "mask_centroid_loss",
    "occlusion_valid_mask",
    "silhouette_iou_loss",
    "support_loss",
]
