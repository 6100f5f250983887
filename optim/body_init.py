"""Body initialization from 2D evidence: COCO-17 keypoints and the person mask.

Hypotheses: every pose of the interaction pose library (standing, sitting, bending, crouching,
reaching, lying, ...; `reconstruction.interaction_library`), each placed in the camera frame at
the person's distance and turned about the vertical axis by several angles, because keypoints
alone confuse a person seen from the front with one seen from behind. All of them are fitted at
once by the body-only schedule of the staged fitter (`optim.config.BodyInitConfig`, run by
`optim.fitter.fit_body`): the first stage moves only the root against the keypoints (cheap),
then the best few, ranked by that fit and by how likely each pose is next to the object's
category (a chair suggests sitting), are fitted to the keypoints and the person mask, and the
best is kept. The person's distance comes from the torso's size unless `BodyInitConfig.depth`
asks for the depth map's (a monocular map's scale is too uncertain to place the body by).
"""

import math

import numpy as np
import torch

from optim.config import BodyInitConfig, FitConfig
from optim.fitter import TORSO_KEYPOINTS, fit_body
from optim.inputs import FitInputs
from reconstruction.body_models import BodyModel, BodyParams
from reconstruction.camera import Camera
from reconstruction.errors import HoifitError
from reconstruction.interaction_library import category_pose_weights, pose_library
from reconstruction.resample import resample_depth, resample_map, scale_keypoints, working_camera
from reconstruction.rotations import axis_angle_to_matrix, matrix_to_axis_angle

MIN_CONFIDENCE = 0.1
"""Keypoints below this confidence count as not detected."""


def person_distance(
    model: BodyModel,
    keypoints: np.ndarray,
    camera: Camera,
    depth: np.ndarray | None,
    mask: np.ndarray | None,
) -> float:
    """Distance of the person in metres: the depth map inside the mask, else the torso's size.

    Args:
        model: the body model (its rest-pose torso gives the metric size).
        keypoints: (17, 3) COCO-17 (u, v, confidence), pixels.
        camera: intrinsics of the image.
        depth: (H, W) metres, 0 where unknown, or None.
        mask: (H, W) bool person mask, or None.

    Raises:
        HoifitError: no depth and fewer than two torso keypoints.
    """
    if depth is not None and mask is not None and ((depth > 0) & mask).any():
        return float(np.median(depth[(depth > 0) & mask]))
    torso = keypoints[list(TORSO_KEYPOINTS)]
    seen = torso[:, 2] > MIN_CONFIDENCE
    if seen.sum() < 2:
        raise HoifitError(
            "cannot place the body: fewer than two torso keypoints were detected; use a photo "
            "where the person's shoulders or hips are visible"
        )
    with torch.no_grad():
        rest = model.coco17_keypoints(model(model.zero_params(1)))[0, list(TORSO_KEYPOINTS)]
    pixels = np.ptp(torso[seen, :2], axis=0).max()
    metres = np.ptp(rest.cpu().numpy()[seen], axis=0).max()
    return float(camera.fx * metres / max(pixels, 1.0))


def facing_hypotheses(
    model: BodyModel,
    keypoints: np.ndarray,
    camera: Camera,
    distance: float,
    turns: int,
    poses: BodyParams | None = None,
) -> BodyParams:
    """Poses at the keypoints' centre and `distance`, each turned about the vertical.

    Args:
        model: the body model.
        keypoints: (17, 3) COCO-17 (u, v, confidence), pixels.
        camera: intrinsics of the image.
        distance: metres along z.
        turns: T evenly spaced turns about the body's vertical axis, the first facing the camera.
        poses: N poses in the canonical body frame (y up, facing +z; `PoseLibrary.params`);
            None for the rest pose alone.

    Returns:
        (N * T) axis-angle parameters in the camera frame (the body turned by pi about x into
        the y-down frame), pose-major: hypothesis i is pose i // T at turn i % T.
    """
    device, dtype = model.faces.device, model.dtype
    poses = model.zero_params(1) if poses is None else poses
    count = poses.batch_size
    yaw = torch.zeros(turns, 3, dtype=dtype, device=device)
    yaw[:, 1] = torch.arange(turns, dtype=dtype, device=device) * (2 * math.pi / turns)
    flip = axis_angle_to_matrix(torch.tensor([math.pi, 0.0, 0.0], dtype=dtype, device=device))
    own = axis_angle_to_matrix(poses.to_axis_angle().global_orient.to(device, dtype))  # (N, 3, 3)
    orient = flip @ axis_angle_to_matrix(yaw)[None] @ own[:, None]  # (N, T, 3, 3)
    params = poses.to_axis_angle()._map(
        lambda t: t.to(device, dtype).repeat_interleave(turns, dim=0)
    )
    params.global_orient = matrix_to_axis_angle(orient.reshape(count * turns, 3, 3))
    centre = keypoints[keypoints[:, 2] > MIN_CONFIDENCE, :2].mean(0)
    params.transl = (
        torch.tensor(
            [
                (centre[0] - camera.cx) / camera.fx * distance,
                (centre[1] - camera.cy) / camera.fy * distance,
                distance,
            ],
            dtype=dtype,
            device=device,
        )
        .expand(count * turns, 3)
        .clone()
    )
    return params


def initialize_body(
    model: BodyModel,
    keypoints: np.ndarray,
    camera: Camera,
    person_mask: np.ndarray | None = None,
    depth: np.ndarray | None = None,
    config: FitConfig | None = None,
    category: str | None = None,
) -> BodyParams:
    """Fit the body model to 2D keypoints, the person mask and depth.

    Args:
        model: any body backend.
        keypoints: (17, 3) COCO-17 (u, v, confidence) in the image's pixels.
        camera: intrinsics of the image.
        person_mask: (H, W) bool, or None.
        depth: (H, W) metres, 0 where unknown, or None; used only with `body_init.depth`.
        config: the fitting's settings: `body_init` (hypotheses and schedule), `resolution`,
            `sigma`, `progress`.
        category: the object's category, which weighs the library's poses; None for none.

    Returns:
        Body parameters (batch 1, axis-angle) in the camera frame.

    Raises:
        HoifitError: too few keypoints to place the body, or the fit diverged.
    """
    config = config or FitConfig()
    body_config: BodyInitConfig = config.body_init
    device, dtype = model.faces.device, model.dtype
    if (keypoints[:, 2] > MIN_CONFIDENCE).sum() < 4:
        raise HoifitError(
            "cannot initialize the body: fewer than four body keypoints were detected; use a "
            "photo where more of the person is visible or supply body_init.npz"
        )
    if not body_config.depth:
        depth = None
    distance = person_distance(model, keypoints, camera, depth, person_mask)
    poses, log_prior = None, None
    if body_config.pose_library:
        library = pose_library(model)
        poses = library.params(model)
        weights = torch.as_tensor(category_pose_weights(category, library), dtype=torch.float32)
        log_prior = -body_config.prior_weight * weights.log().repeat_interleave(body_config.turns)
    start = facing_hypotheses(model, keypoints, camera, distance, body_config.turns, poses)
    small, scale = working_camera(camera, config.resolution)
    size = (small.height, small.width)
    inputs = FitInputs(
        body_model=model,
        body_init=start,
        K=small.K(device=device, dtype=dtype),
        image_size=size,
        person_mask=None if person_mask is None else resample_map(person_mask, size, device, dtype),
        depth=None if depth is None else resample_depth(depth, size, device, dtype),
        keypoints_2d=scale_keypoints(keypoints, scale, device, dtype),
    )
    result = fit_body(inputs, body_config.stages, config, body_config.keep, log_prior)
    return result.body.to_axis_angle().detach()
