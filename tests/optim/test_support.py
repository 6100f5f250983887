"""The support term: a ground-standing object upright on the floor."""

import math

import pytest
import torch

from optim.losses import support_loss
from optim.losses.support import TILT_LENGTH_M
from reconstruction.rotations import axis_angle_to_matrix

FLOOR = torch.tensor([0.0, -1.0, 0.0, 1.2])
"""A level floor 1.2 m below the camera (camera y points down)."""
MODEL_TO_CAMERA = torch.diag(torch.tensor([1.0, -1.0, -1.0]))


def unit_cube(dtype=torch.float32) -> torch.Tensor:
    """(8, 3) corners of a 1 m cube in its own y-up frame, resting on y = 0."""
    corners = torch.tensor(
        [[x, y, z] for x in (-0.5, 0.5) for y in (0.0, 1.0) for z in (-0.5, 0.5)], dtype=dtype
    )
    return corners


def posed(rotation: torch.Tensor, translation: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Cube vertices (1, 8, 3) and up axis (1, 3) in the camera frame."""
    vertices = unit_cube(rotation.dtype) @ rotation.T + translation
    return vertices[None], rotation[:, 1][None]


def on_floor() -> torch.Tensor:
    return torch.tensor([0.1, 1.2, 3.0])  # the cube's base centre on the floor (y = 1.2)


def test_upright_cube_resting_on_the_floor_costs_nothing():
    for yaw in (0.0, 0.7, 2.5):
        rotation = MODEL_TO_CAMERA @ axis_angle_to_matrix(torch.tensor([0.0, yaw, 0.0]))
        vertices, up = posed(rotation, on_floor())
        assert support_loss(vertices, up, FLOOR).item() == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("gap", [0.05, -0.05])
def test_floating_or_sinking_costs_the_gap(gap):
    vertices, up = posed(MODEL_TO_CAMERA, on_floor() + torch.tensor([0.0, -gap, 0.0]))
    assert support_loss(vertices, up, FLOOR).item() == pytest.approx(0.05, abs=1e-6)


def test_tilt_of_30_degrees_about_a_bottom_edge():
    # Tipped about the cube's bottom edge that stays on the floor: no gap, only the tilt.
    tip = axis_angle_to_matrix(torch.tensor([0.0, 0.0, -math.radians(30.0)]))  # lifts +x
    rotation = tip @ MODEL_TO_CAMERA
    edge = torch.tensor([-0.5, 0.0, 0.0])
    translation = on_floor() + edge - rotation @ edge
    vertices, up = posed(rotation, translation)
    expected = TILT_LENGTH_M * 2 * math.sin(math.radians(15.0))
    assert expected == pytest.approx(0.2588, abs=1e-4)
    assert support_loss(vertices, up, FLOOR).item() == pytest.approx(expected, abs=1e-5)


def test_upside_down_and_on_its_side():
    upside_down = MODEL_TO_CAMERA @ axis_angle_to_matrix(torch.tensor([math.pi, 0.0, 0.0]))
    vertices, up = posed(upside_down, on_floor() + torch.tensor([0.0, -1.0, 0.0]))
    assert support_loss(vertices, up, FLOOR).item() == pytest.approx(2 * TILT_LENGTH_M, abs=1e-5)
    side = MODEL_TO_CAMERA @ axis_angle_to_matrix(torch.tensor([0.0, 0.0, math.pi / 2]))
    vertices, up = posed(side, on_floor() + torch.tensor([0.0, -0.5, 0.0]))
    value = support_loss(vertices, up, FLOOR).item()
    assert value == pytest.approx(TILT_LENGTH_M * math.sqrt(2), abs=1e-5)


def test_batched_matches_one_at_a_time():
    generator = torch.Generator().manual_seed(0)
    rotations = axis_angle_to_matrix(torch.randn(5, 3, generator=generator))
    translations = torch.randn(5, 3, generator=generator)
    vertices = unit_cube() @ rotations.transpose(1, 2) + translations[:, None]
    batched = support_loss(vertices, rotations[:, :, 1], FLOOR)
    single = [
        support_loss(vertices[i : i + 1], rotations[i : i + 1, :, 1], FLOOR) for i in range(5)
    ]
    assert torch.allclose(batched, torch.cat(single))


def test_gradients():
    generator = torch.Generator().manual_seed(1)
    axis_angle = (
        0.3 * torch.randn(2, 3, generator=generator, dtype=torch.float64)
    ).requires_grad_()
    shift = torch.tensor([[0.0, 1.1, 3.0], [0.2, 1.3, 2.5]], dtype=torch.float64).requires_grad_()
    floor = FLOOR.double()

    def loss(axis_angle, shift):
        rotation = MODEL_TO_CAMERA.double() @ axis_angle_to_matrix(axis_angle)
        vertices = unit_cube(torch.float64) @ rotation.transpose(1, 2) + shift[:, None]
        return support_loss(vertices, rotation[:, :, 1], floor)

    assert torch.autograd.gradcheck(loss, (axis_angle, shift))
    # Upright and on the floor: the gradient is finite (zero) where |.| and the norm have kinks.
    rotation = MODEL_TO_CAMERA.clone().requires_grad_()
    translation = on_floor().clone().requires_grad_()
    vertices = unit_cube() @ rotation.T + translation
    support_loss(vertices[None], rotation[:, 1][None], FLOOR).sum().backward()
    assert torch.isfinite(rotation.grad).all() and torch.isfinite(translation.grad).all()


def test_a_floor_of_unknown_height_judges_only_the_tilt():
    import math

    cube = torch.tensor(
        [[x, y, z] for x in (-0.1, 0.1) for y in (0.0, 0.2) for z in (-0.1, 0.1)],
        dtype=torch.float64,
    )[None]
    level = torch.tensor([0.0, 1.0, 0.0, math.nan], dtype=torch.float64)
    up = torch.tensor([[0.0, 1.0, 0.0]], dtype=torch.float64)
    assert support_loss(cube + 5.0, up, level).item() == 0.0
    tilted = torch.tensor([[math.sin(0.5), math.cos(0.5), 0.0]], dtype=torch.float64)
    assert support_loss(cube, tilted, level).item() == pytest.approx(0.5 * 2 * math.sin(0.25))
