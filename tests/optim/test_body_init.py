"""Body initialization from keypoints, mask and depth, against synthetic ground truth."""

import numpy as np
import pytest
import torch

from optim.body_init import initialize_body
from reconstruction.camera import project_points
from reconstruction.errors import HoifitError
from reconstruction.synthetic import make_scene


@pytest.fixture(scope="module")
def body_model(anny):
    return anny


@pytest.fixture(scope="module")
def scene(body_model):
    return make_scene(1, seed=11, noise="none", image_size=(160, 160), body_model=body_model)


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
