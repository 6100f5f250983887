import math

import pytest
import torch

from optim.losses import pose_prior, rotation_angle, scale_prior, shape_prior
from optim.size_priors import DEFAULT_SIZE, typical_height, typical_size
from reconstruction.rotations import axis_angle_to_matrix


def test_rotation_angle_is_exact_and_differentiable_at_zero_and_pi():
    angles = torch.tensor([0.0, 0.3, 1.5, 3.0, math.pi], dtype=torch.float64)
    axis = torch.nn.functional.normalize(torch.tensor([1.0, 2.0, -0.5], dtype=torch.float64), dim=0)
    rotations = axis_angle_to_matrix(angles[:, None] * axis).requires_grad_()
    measured = rotation_angle(rotations)
    torch.testing.assert_close(measured, angles)
    measured.sum().backward()
    assert torch.isfinite(rotations.grad).all()


def test_pose_prior_is_zero_at_the_initialization():
    pose = 0.4 * torch.randn(3, 5, 3)
    for form in (pose, axis_angle_to_matrix(pose)):
        form = form.clone().requires_grad_()
        loss = pose_prior(form, form.detach().clone(), angle_limit_rad=math.pi)
        assert loss.abs().max() < 1e-5
        loss.sum().backward()
        assert torch.isfinite(form.grad).all()
    zero = torch.zeros(2, 4, 3, requires_grad=True)
    loss = pose_prior(zero, torch.zeros(4, 3))
    assert (loss == 0).all()
    loss.sum().backward()
    assert torch.isfinite(zero.grad).all()


def test_pose_prior_known_values():
    theta = 0.5
    pose = torch.zeros(1, 3, 3)
    pose[0, 1, 2] = theta  # one joint rotated by theta about z from the rest pose
    init = torch.zeros(3, 3)
    expected = 2 * (1 - math.cos(theta))  # ||R - I||_F^2 / 2
    assert pose_prior(pose, init, angle_limit_rad=math.pi).item() == pytest.approx(
        expected, rel=1e-5
    )
    assert pose_prior(pose, init, weight_init=3.0).item() == pytest.approx(3 * expected, rel=1e-5)
    # Angle limits only: joint 1 exceeds a 0.2 rad limit by 0.3 rad.
    assert pose_prior(pose, None, angle_limit_rad=0.2).item() == pytest.approx(0.09, rel=1e-4)
    limits = torch.tensor([0.0, 1.0, 0.0])
    assert pose_prior(pose, None, angle_limit_rad=limits).item() == 0


def test_pose_prior_gradcheck():
    pose = 0.5 * torch.randn(2, 4, 3, dtype=torch.float64)
    pose.requires_grad_()
    init = 0.5 * torch.randn(4, 3, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda p: pose_prior(p, init, angle_limit_rad=0.3), (pose,))


def test_shape_prior():
    betas = torch.tensor([[0.5, 0.7], [0.5, 0.5]])
    default = torch.tensor([0.5, 0.5])
    torch.testing.assert_close(shape_prior(betas, default, 0.1), torch.tensor([4.0, 0.0]))
    torch.testing.assert_close(shape_prior(betas), torch.tensor([0.74, 0.5]))
    torch.testing.assert_close(
        shape_prior(betas, default, torch.tensor([1.0, 0.2])), torch.tensor([1.0, 0.0])
    )


def test_scale_prior_is_zero_at_the_typical_size():
    size, log_std = typical_size("chair")
    extent = 0.4  # the mesh at scale 1
    log_scale = torch.tensor([[math.log(size / extent)], [math.log(size / extent) + log_std]])
    torch.testing.assert_close(scale_prior(log_scale, extent, "Chairs"), torch.tensor([0.0, 1.0]))
    assert scale_prior(log_scale[:, 0], extent, "chair").shape == (2,)


def test_scale_prior_of_an_unknown_category_uses_the_default():
    log_scale = torch.zeros(3, 1, requires_grad=True)
    loss = scale_prior(log_scale, 2.0, "flux capacitor")
    expected = (math.log(2.0 / DEFAULT_SIZE[0]) / DEFAULT_SIZE[1]) ** 2
    torch.testing.assert_close(loss, torch.full((3,), expected))
    torch.testing.assert_close(scale_prior(log_scale, 2.0, None), loss)
    loss.sum().backward()
    assert torch.isfinite(log_scale.grad).all()


def test_scale_prior_weighs_the_height_of_furniture_made_to_one():
    size, _ = typical_size("table")
    height, height_std = typical_height("table")
    log_scale = torch.zeros(1, 1)
    # A table of the typical length: at the typical height it costs nothing, at half of it
    # (a low table's mesh) it costs the height's squared z-score.
    torch.testing.assert_close(scale_prior(log_scale, size, "table", height), torch.zeros(1))
    low = scale_prior(log_scale, size, "table", height / 2)
    torch.testing.assert_close(low, torch.tensor([(math.log(0.5) / height_std) ** 2]))
    # A box has no standard height: its mesh height changes nothing.
    box = scale_prior(log_scale, 0.5, "box")
    torch.testing.assert_close(scale_prior(log_scale, 0.5, "box", 0.1), box)
