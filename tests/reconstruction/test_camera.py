import math

import pytest
import torch

from reconstruction.camera import DEFAULT_FOV_DEG, Camera, project_points


def test_projection_known_answer():
    cam = Camera(fx=100, fy=200, cx=50, cy=40, width=100, height=80)
    points = torch.tensor([[0.0, 0.0, 2.0], [1.0, -1.0, 2.0]])
    uv = project_points(points, cam.K())
    assert torch.allclose(uv, torch.tensor([[50.0, 40.0], [100.0, -60.0]]))


def test_projection_batched_intrinsics():
    K = torch.stack([Camera.from_focal(f, 64, 48).K() for f in (50.0, 100.0)])
    points = torch.tensor([[0.1, 0.2, 1.0]]).expand(2, 1, 3)
    uv = project_points(points, K)
    assert uv.shape == (2, 1, 2)
    assert torch.allclose(
        uv[1] - uv[1].new_tensor([31.5, 23.5]), 2 * (uv[0] - uv[0].new_tensor([31.5, 23.5]))
    )


def test_fov_and_default():
    cam = Camera.from_fov(90.0, 200, 100)
    assert cam.fx == pytest.approx(100.0)
    assert (cam.cx, cam.cy) == (99.5, 49.5)
    default = Camera.default(300, 400)
    fov = 2 * math.degrees(math.atan(400 / 2 / default.fy))
    assert fov == pytest.approx(DEFAULT_FOV_DEG)


def test_exif_focal():
    cam = Camera.from_exif({41989: 36}, 4000, 3000)
    assert cam.fx == pytest.approx(4000.0)
    assert Camera.from_exif({}, 10, 10) is None
    assert Camera.from_exif({41989: 0}, 10, 10) is None


@pytest.mark.parametrize("bad", [0.0, -5.0, float("nan"), float("inf")])
def test_bad_focal_raises(bad):
    with pytest.raises(ValueError, match="focal"):
        Camera.from_focal(bad, 10, 10)


def test_scaled_camera_projects_consistently():
    cam = Camera.from_focal(500.0, 640, 480)
    half = cam.scaled(0.5)
    assert (half.width, half.height) == (320, 240)
    p = torch.tensor([[0.3, -0.2, 3.0]])
    uv, uv_half = project_points(p, cam.K()), project_points(p, half.K())
    # Pixel centres: u' = (u + 0.5) * s - 0.5.
    assert torch.allclose(uv_half, (uv + 0.5) * 0.5 - 0.5, atol=1e-4)
