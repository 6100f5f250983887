import torch

from optim.losses.robust import geman_mcclure, safe_norm, weighted_mean


def test_safe_norm_matches_the_norm_and_is_differentiable_at_zero():
    x = torch.tensor([[3.0, 4.0, 0.0], [0.0, 0.0, 0.0]], dtype=torch.float64, requires_grad=True)
    norm = safe_norm(x)
    torch.testing.assert_close(
        norm, torch.tensor([5.0, 0.0], dtype=torch.float64), atol=1e-6, rtol=0
    )
    norm.sum().backward()
    assert torch.isfinite(x.grad).all()
    torch.testing.assert_close(x.grad[0], torch.tensor([0.6, 0.8, 0.0], dtype=torch.float64))
    assert (x.grad[1] == 0).all()


def test_safe_norm_gradcheck():
    x = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: safe_norm(v, keepdim=True), (x,))


def test_geman_mcclure_known_values():
    x_sq = torch.tensor([0.0, 4.0, 1e8])
    torch.testing.assert_close(
        geman_mcclure(x_sq, 2.0), torch.tensor([0.0, 2.0, 4.0]), rtol=1e-6, atol=0
    )


def test_weighted_mean_is_zero_without_weight():
    values = torch.tensor([[1.0, 3.0], [5.0, 7.0]], requires_grad=True)
    weights = torch.tensor([[1.0, 3.0], [0.0, 0.0]])
    mean = weighted_mean(values, weights)
    torch.testing.assert_close(mean, torch.tensor([2.5, 0.0]))
    mean.sum().backward()
    torch.testing.assert_close(values.grad, torch.tensor([[0.25, 0.75], [0.0, 0.0]]))
