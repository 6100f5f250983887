import pytest
import torch

from optim.losses import keypoint_loss


def test_known_pixel_offsets():
    target = torch.zeros(17, 3)
    target[:, 2] = 1.0
    projected = torch.zeros(1, 17, 2)
    projected[0, 0] = torch.tensor([3.0, 4.0])  # 5 px off, the rest exact
    sigma = 10.0
    expected = sigma**2 * 25 / (25 + sigma**2) / 17
    torch.testing.assert_close(
        keypoint_loss(projected, target, sigma=sigma), torch.tensor([expected])
    )
    normalized = keypoint_loss(projected, target, sigma=sigma, image_diag=500.0)
    torch.testing.assert_close(normalized, torch.tensor([expected / 500**2]))


def test_confidence_weights_and_threshold():
    target = torch.zeros(3, 3)
    target[:, 2] = torch.tensor([1.0, 0.5, 0.05])
    projected = torch.tensor([[[0.0, 0.0], [0.0, 2.0], [100.0, 0.0]]])
    loss = keypoint_loss(projected, target, sigma=1e6, min_conf=0.1)
    assert loss.item() == pytest.approx(0.5 * 4 / 1.5, rel=1e-4)


def test_batched_targets():
    target = torch.zeros(2, 17, 3)
    target[..., 2] = 1
    target[1, :, 0] = 1.0
    loss = keypoint_loss(torch.zeros(2, 17, 2), target, sigma=1e6)
    assert loss[0].item() == 0 and loss[1].item() == pytest.approx(1.0, rel=1e-4)


def test_zero_confidence_and_exact_keypoints_are_finite():
    projected = torch.rand(2, 17, 2, requires_grad=True)
    target = torch.cat((torch.rand(17, 2) * 1e9, torch.zeros(17, 1)), -1)
    loss = keypoint_loss(projected, target)
    assert (loss == 0).all()
    loss.sum().backward()
    assert (projected.grad == 0).all()
    exact = torch.cat((projected.detach()[0], torch.ones(17, 1)), -1)
    projected.grad = None
    loss = keypoint_loss(projected, exact)
    loss.sum().backward()
    assert torch.isfinite(projected.grad).all()


def test_keypoints_gradcheck():
    projected = torch.rand(2, 5, 2, dtype=torch.float64, requires_grad=True) * 50
    target = torch.cat(
        (torch.rand(5, 2, dtype=torch.float64) * 50, torch.rand(5, 1, dtype=torch.float64)), -1
    )
    assert torch.autograd.gradcheck(lambda p: keypoint_loss(p, target, sigma=20.0), (projected,))
