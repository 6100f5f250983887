"""Body initialization from 2D evidence: COCO-17 keypoints, the person mask and metric depth.

Fits any body backend from its rest pose so that the fitting stage starts from a body in the
camera frame at metric scale. Several turns about the vertical axis are tried at once (a batch),
because keypoints alone confuse a person seen from the front with one seen from behind; the one
that explains the keypoints and the mask best is kept.

Stages: the root alone (orientation and translation) against the torso keypoints, then the whole
body pose with all keypoints, the mask, the depth inside the mask and a pose prior.
"""

import math
from dataclasses import dataclass

import numpy as np
import torch

from optim import losses as L
from reconstruction.body_models import BodyModel, BodyParams
from reconstruction.camera import Camera, project_points
from reconstruction.errors import HoifitError
from reconstruction.rasterizer import rasterize
from reconstruction.resample import resample_depth, resample_map, scale_keypoints, working_camera
from reconstruction.rotations import (
    axis_angle_to_matrix,
    matrix_to_axis_angle,
    matrix_to_rotation_6d,
    rotation_6d_to_matrix,
)
from reconstruction.soft_silhouette import soft_silhouette

TORSO = (5, 6, 11, 12)
"""COCO-17 shoulders and hips."""


@dataclass
class BodyInitConfig:
    """Settings of the body initialization.

    Attributes:
        turns: rotations about the vertical axis tried at once.
        root_iterations: Adam steps on the root alone.
        pose_iterations: Adam steps on the root and the body pose.
        lr: Adam learning rate.
        resolution: longer side of the mask and depth the losses compare.
        weights: loss weights of the second stage (`keypoints_2d`, `silhouette_body`, `depth`,
            `pose_prior`).
    """

    turns: int = 4
    root_iterations: int = 60
    pose_iterations: int = 80
    lr: float = 0.03
    resolution: int = 128
    weights: dict = None

    def __post_init__(self):
        if self.weights is None:
            self.weights = {
                "keypoints_2d": 100.0,
                "silhouette_body": 1.0,
                "depth": 2.0,
                "pose_prior": 0.2,
            }


def _start_depth(
    model: BodyModel,
    keypoints: np.ndarray,
    camera: Camera,
    depth: np.ndarray | None,
    mask: np.ndarray | None,
) -> float:
    """Distance of the person: the depth map inside the mask, else the torso's pixel size."""
    if depth is not None and mask is not None and ((depth > 0) & mask).any():
        return float(np.median(depth[(depth > 0) & mask]))
    torso = keypoints[list(TORSO)]
    if (torso[:, 2] > 0.1).sum() < 2:
        raise HoifitError(
            "cannot place the body: fewer than two torso keypoints were detected; use a photo "
            "where the person's shoulders or hips are visible"
        )
    with torch.no_grad():
        rest = model.coco17_keypoints(model(model.zero_params(1)))[0, list(TORSO)].cpu().numpy()
    seen = torso[:, 2] > 0.1
    pixels = np.ptp(torso[seen, :2], axis=0).max()
    metres = np.ptp(rest[seen], axis=0).max()
    return float(camera.fx * metres / max(pixels, 1.0))


def initialize_body(
    model: BodyModel,
    keypoints: np.ndarray,
    camera: Camera,
    person_mask: np.ndarray | None = None,
    depth: np.ndarray | None = None,
    config: BodyInitConfig | None = None,
) -> BodyParams:
    """Fit the body model to 2D keypoints, the person mask and depth.

    Args:
        model: any body backend.
        keypoints: (17, 3) COCO-17 (u, v, confidence) in the image's pixels.
        camera: intrinsics of the image.
        person_mask: (H, W) bool, or None.
        depth: (H, W) metres, 0 where unknown, or None.
        config: iterations, weights, hypotheses.

    Returns:
        Body parameters (batch 1, axis-angle) in the camera frame.

    Raises:
        HoifitError: too few keypoints to place the body.
    """
    config = config or BodyInitConfig()
    device, dtype = model.faces.device, model.dtype
    if (keypoints[:, 2] > 0.1).sum() < 4:
        raise HoifitError(
            "cannot initialize the body: fewer than four body keypoints were detected; use a "
            "photo where more of the person is visible or supply body_init.npz"
        )
    small, scale = working_camera(camera, config.resolution)
    size = (small.height, small.width)
    K = small.K(device=device, dtype=dtype)
    target = scale_keypoints(keypoints, scale, device, dtype)
    mask = None if person_mask is None else resample_map(person_mask, size, device, dtype)
    depth_map = None if depth is None else resample_depth(depth, size, device, dtype)

    # Start: rest pose, facing the camera (turned pi about x into the y-down camera frame) and
    # turned about the vertical by each hypothesis, at the estimated distance.
    turns = config.turns
    yaw = torch.zeros(turns, 3, dtype=dtype, device=device)
    yaw[:, 1] = torch.arange(turns, dtype=dtype, device=device) * (2 * math.pi / turns)
    flip = axis_angle_to_matrix(torch.tensor([math.pi, 0.0, 0.0], dtype=dtype, device=device))
    orient6d = matrix_to_rotation_6d(flip @ axis_angle_to_matrix(yaw)).clone()
    z = _start_depth(model, keypoints, camera, depth, person_mask)
    seen = keypoints[:, 2] > 0.1
    center = keypoints[seen, :2].mean(0)
    transl = torch.tensor(
        [[(center[0] - camera.cx) / camera.fx * z, (center[1] - camera.cy) / camera.fy * z, z]],
        dtype=dtype,
        device=device,
    ).repeat(turns, 1)
    rest = model.zero_params(turns)
    pose6d = matrix_to_rotation_6d(axis_angle_to_matrix(rest.body_pose)).clone()
    init_pose = axis_angle_to_matrix(rest.body_pose)

    def body(orient, translation, pose):
        # The rest parameters are the same for every hypothesis: take as many rows as needed.
        count = orient.shape[0]

        def rows(t):
            return None if t is None else t[:count]

        params = BodyParams(
            global_orient=rotation_6d_to_matrix(orient),
            body_pose=rotation_6d_to_matrix(pose),
            betas=rest.betas[:count],
            transl=translation,
            left_hand_pose=rows(rest.left_hand_pose),
            right_hand_pose=rows(rest.right_hand_pose),
        )
        return params, model(params)

    def losses(orient, translation, pose, torso_only):
        params, out = body(orient, translation, pose)
        projected = project_points(model.coco17_keypoints(out), K)
        kp_target = target.clone()
        if torso_only:
            keep = torch.zeros(17, dtype=torch.bool, device=device)
            keep[list(TORSO)] = True
            kp_target[~keep, 2] = 0
        total = config.weights["keypoints_2d"] * L.keypoint_loss(
            projected, kp_target, image_diag=math.hypot(*size)
        )
        if torso_only:
            return total
        if mask is not None:
            soft = soft_silhouette(out.vertices, model.faces, K, size, 0.5)
            total = total + config.weights["silhouette_body"] * L.silhouette_iou_loss(soft, mask)
        if depth_map is not None and mask is not None:
            frags = rasterize(out.vertices, model.faces, K, size)
            total = total + config.weights["depth"] * L.depth_loss(
                frags.depth, frags.mask, depth_map, mask > 0.5
            )
        total = total + config.weights["pose_prior"] * L.pose_prior(
            rotation_6d_to_matrix(pose), init_pose
        )
        return total

    variables = [orient6d, transl, pose6d]
    for iterations, torso_only, moving in (
        (config.root_iterations, True, variables[:2]),
        (config.pose_iterations, False, variables),
    ):
        for v in variables:
            v.requires_grad_(any(v is m for m in moving))
        optimizer = torch.optim.Adam(moving, lr=config.lr)
        for _ in range(iterations):
            optimizer.zero_grad(set_to_none=True)
            total = losses(orient6d, transl, pose6d, torso_only)
            if not torch.isfinite(total).all():
                raise HoifitError(
                    "body initialization diverged (non-finite loss); check the keypoints file"
                )
            total.sum().backward()
            optimizer.step()
    with torch.no_grad():
        final = losses(orient6d, transl, pose6d, False)
        best = int(torch.argmin(final))
        params, _ = body(
            orient6d[best : best + 1], transl[best : best + 1], pose6d[best : best + 1]
        )
    return BodyParams(
        global_orient=matrix_to_axis_angle(params.global_orient),
        body_pose=matrix_to_axis_angle(params.body_pose),
        betas=params.betas,
        transl=params.transl,
        left_hand_pose=params.left_hand_pose,
        right_hand_pose=params.right_hand_pose,
    ).detach()
