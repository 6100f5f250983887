"""Body initialization from keypoints, mask and depth, against synthetic ground truth."""

import math

import numpy as np
import pytest
import torch

from optim.body_init import facing_hypotheses, initialize_body
from optim.config import FitConfig, StageConfig
from optim.fitter import fit_body
from optim.inputs import FitInputs
from reconstruction.camera import project_points
from reconstruction.errors import HoifitError
from reconstruction.resample import resample_map, scale_keypoints, working_camera
from reconstruction.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from reconstruction.synthetic import make_scene


@pytest.fixture(scope="module")
def body_model(anny):
    return anny


@pytest.fixture(scope="module")
def scene(body_model):
    return make_scene(1, seed=11, noise="none", image_size=(160, 160), body_model=body_model)


@pytest.mark.slow
def test_body_lands_on_the_keypoints_at_metric_depth(body_model, scene):
    sample, truth = scene.sample, scene.truth
    params = initialize_body(
        body_model, truth.keypoints_2d, sample.camera, sample.person_mask, sample.depth
    )
    with torch.no_grad():
        out = body_model(params)
        projected = project_points(body_model.coco17_keypoints(out), sample.camera.K())[0]
    visible = truth.keypoints_2d[:, 2] > 0
    error_px = np.linalg.norm(projected.numpy() - truth.keypoints_2d[:, :2], axis=1)[visible]
    assert np.median(error_px) < 6.0, error_px
    vertices = out.vertices[0].numpy()
    assert abs(vertices.mean(0)[2] - truth.body_vertices.mean(0)[2]) < 0.25  # metres
    assert np.linalg.norm(vertices - truth.body_vertices, axis=1).mean() < 0.25


@pytest.mark.slow
def test_without_depth_the_torso_size_gives_the_distance(body_model, scene):
    sample, truth = scene.sample, scene.truth
    params = initialize_body(body_model, truth.keypoints_2d, sample.camera, sample.person_mask)
    with torch.no_grad():
        z = body_model(params).vertices[0].numpy().mean(0)[2]
    assert abs(z - truth.body_vertices.mean(0)[2]) / truth.body_vertices.mean(0)[2] < 0.3


def test_too_few_keypoints_is_a_clear_error(body_model, scene):
    keypoints = scene.truth.keypoints_2d.copy()
    keypoints[3:, 2] = 0
    with pytest.raises(HoifitError, match="fewer than four body keypoints"):
        initialize_body(body_model, keypoints, scene.sample.camera)


def test_fit_body_keeps_the_hypothesis_that_explains_the_image(body_model, scene):
    # The true body and the same body turned about its vertical axis: the 2D evidence (mask and
    # keypoints) must pick the true one, whatever its place in the batch.
    sample, truth = scene.sample, scene.truth
    params = body_model.params_from_npz(truth.body_params).to_axis_angle()
    turns = torch.tensor([math.pi, 0.0, math.pi / 2])
    up = torch.tensor([0.0, 1.0, 0.0])
    orient = axis_angle_to_matrix(params.global_orient)  # (1, 3, 3)
    batch = params._map(lambda t: t.expand(3, *t.shape[1:]).clone())
    batch.global_orient = matrix_to_axis_angle(orient @ axis_angle_to_matrix(turns[:, None] * up))
    config = FitConfig(resolution=96)
    small, scale = working_camera(sample.camera, config.resolution)
    size = (small.height, small.width)
    inputs = FitInputs(
        body_model=body_model,
        body_init=batch,
        K=small.K(),
        image_size=size,
        person_mask=resample_map(truth.person_mask, size),
        keypoints_2d=scale_keypoints(truth.keypoints_2d, scale),
    )
    stage = StageConfig(
        name="hold",
        optimize=["body_translation"],
        weights={"keypoints_2d": 100.0, "silhouette_body": 1.0},
        iterations=2,
        lr=1e-4,
    )
    result = fit_body(inputs, [stage], config)
    assert result.index == 1 and result.totals.shape == (3,)
    assert torch.argmin(result.totals) == 1
    kept = body_model(result.body).vertices[0].detach().numpy()
    assert np.abs(kept - truth.body_vertices).max() < 0.01


def test_facing_hypotheses_turn_about_the_vertical(body_model, scene):
    start = facing_hypotheses(
        body_model, scene.truth.keypoints_2d, scene.sample.camera, distance=3.0, turns=4
    )
    rotations = axis_angle_to_matrix(start.global_orient)
    assert start.transl.shape == (4, 3) and torch.allclose(start.transl[:, 2], torch.tensor(3.0))
    # Each turn keeps the body upright (its up axis along -y, the camera's up).
    up = rotations @ torch.tensor([0.0, 1.0, 0.0])
    assert torch.allclose(up, torch.tensor([0.0, -1.0, 0.0]).expand(4, 3), atol=1e-5)
    relative = rotations[0].T @ rotations[2]
    assert torch.isclose(torch.diagonal(relative).sum(), torch.tensor(-1.0), atol=1e-5)


def test_a_root_only_stage_moves_the_body_rigidly_as_the_model_does(body_model, scene):
    from optim.fitter import SceneLosses
    from optim.state import FitState
    from reconstruction.object_model import ObjectPose

    start = facing_hypotheses(
        body_model, scene.truth.keypoints_2d, scene.sample.camera, distance=2.5, turns=3
    )
    start.body_pose = start.body_pose + 0.2 * torch.randn_like(start.body_pose)
    camera, _ = working_camera(scene.sample.camera, 64)
    inputs = FitInputs(body_model=body_model, body_init=start, K=camera.K(), image_size=(64, 64))
    state = FitState.create(start, ObjectPose.identity(3))
    scene_losses = SceneLosses(inputs, FitConfig())
    full = scene_losses.body(state)
    rigid = scene_losses.body(state, scene_losses.local_body(state))
    torch.testing.assert_close(
        scene_losses.keypoints(rigid), body_model.coco17_keypoints(full), atol=1e-4, rtol=0
    )  # 0.1 mm: float32 sums over the 14k vertex weights
    assert "vertices" not in vars(rigid)  # keypoints alone never moved the mesh
    torch.testing.assert_close(rigid.vertices, full.vertices, atol=1e-5, rtol=0)
    torch.testing.assert_close(rigid.joints, full.joints, atol=1e-5, rtol=0)
