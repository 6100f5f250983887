"""Figures of a fitted scene that need no ground truth: penetration, contact, mask agreement."""

import torch

from optim import losses as L
from optim.fitter import FitResult
from optim.inputs import FitInputs
from reconstruction.object_model import object_to_camera
from reconstruction.rasterizer import join_meshes, rasterize


def _iou(rendered: torch.Tensor, mask: torch.Tensor | None) -> float | None:
    if mask is None:
        return None
    target = mask > 0.5
    union = (rendered | target).sum()
    return float((rendered & target).sum() / union) if union else None


@torch.no_grad()
def fit_metrics(inputs: FitInputs, result: FitResult) -> dict:
    """Penetration depth, contact distance and mask IoU of the fitted scene.

    Returns:
        `penetration_cm`: the deeper of the deepest body vertex inside the object and the deepest
        object surface point inside the body; `penetration_body_in_object_cm`,
        `penetration_object_in_body_cm`: each on its own; `contact_dist_cm`: mean distance of
        the paired contact points (None without pairs); `mask_iou_body`, `mask_iou_object`: IoU
        of each mesh's visible pixels (both meshes rendered together) with its mask at the
        fitting resolution, and `mask_iou` their mean (None without masks).
    """
    body = result.body_vertices[None]
    obj = result.object_vertices[None]
    pose = result.object_pose
    body_in = float(L.body_in_object_depth(body, inputs.sdf, pose).max()) * 100
    points = object_to_camera(inputs.object_points, pose)
    object_in = float(L.object_in_body_depth(points, body, inputs.body_model.faces).max()) * 100
    contact = None
    if inputs.num_pairs:
        pair_body = body[:, inputs.pair_body_vertex]
        contact = float((pair_body - inputs.pair_object_points(obj)).norm(dim=-1).mean()) * 100
    verts, faces, mesh_id = join_meshes(
        [(body, inputs.body_model.faces), (obj, inputs.object_faces)]
    )
    face_ids = rasterize(verts, faces, inputs.K, inputs.image_size).face_ids[0]
    front = torch.where(face_ids >= 0, mesh_id[face_ids.clamp(min=0)], -1)
    iou_body = _iou(front == 0, inputs.person_mask)
    iou_object = _iou(front == 1, inputs.object_mask)
    known = [v for v in (iou_body, iou_object) if v is not None]
    return {
        "penetration_cm": max(body_in, object_in),
        "penetration_body_in_object_cm": body_in,
        "penetration_object_in_body_cm": object_in,
        "contact_dist_cm": contact,
        "mask_iou_body": iou_body,
        "mask_iou_object": iou_object,
        "mask_iou": sum(known) / len(known) if known else None,
    }
