import math

import pytest
import torch
from scipy.spatial.transform import Rotation

from reconstruction.rotations import (
    axis_angle_to_matrix,
    matrix_to_axis_angle,
    matrix_to_rotation_6d,
    rotation_6d_to_matrix,
)


def random_axis_angle(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, generator=g, dtype=torch.float64)


def test_axis_angle_matches_scipy():
    aa = random_axis_angle(200)
    expected = torch.from_numpy(Rotation.from_rotvec(aa.numpy()).as_matrix())
    assert torch.allclose(axis_angle_to_matrix(aa), expected, atol=1e-12)


@pytest.mark.parametrize("angle", [0.0, 1e-9, 1e-4, 1.0, math.pi - 1e-6, math.pi])
def test_axis_angle_round_trip_at_every_angle(angle):
    axes = torch.nn.functional.normalize(random_axis_angle(50, seed=1), dim=-1)
    aa = axes * angle
    R = axis_angle_to_matrix(aa)
    back = axis_angle_to_matrix(matrix_to_axis_angle(R))
    assert torch.allclose(back, R, atol=1e-9)


def test_6d_round_trip_and_orthonormal():
    R = axis_angle_to_matrix(random_axis_angle(100))
    assert torch.allclose(rotation_6d_to_matrix(matrix_to_rotation_6d(R)), R, atol=1e-12)
    d6 = torch.randn(100, 6, dtype=torch.float64)
    M = rotation_6d_to_matrix(d6)
    eye = torch.eye(3, dtype=torch.float64).expand(100, 3, 3)
    assert torch.allclose(M @ M.transpose(-1, -2), eye, atol=1e-12)
    assert torch.allclose(torch.linalg.det(M), torch.ones(100, dtype=torch.float64))


def test_gradients_finite_at_zero_rotation():
    aa = torch.zeros(4, 3, dtype=torch.float64, requires_grad=True)
    axis_angle_to_matrix(aa).sum().backward()
    assert torch.isfinite(aa.grad).all()
    assert torch.autograd.gradcheck(axis_angle_to_matrix, (random_axis_angle(3).requires_grad_(),))
    small = (1e-5 * random_axis_angle(3)).requires_grad_()
    assert torch.autograd.gradcheck(axis_angle_to_matrix, (small,))
