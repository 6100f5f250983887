import torch

from optim.losses import coarse_interaction


def test_touching_object_costs_nothing_and_far_object_costs_its_gap():
    body = torch.tensor([[[0.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
    # A square of radius 0.1 around its centroid.
    square = torch.tensor([[0.1, 0, 0], [-0.1, 0, 0], [0, 0.1, 0], [0, -0.1, 0]])
    near = (square + torch.tensor([0.05, 0.0, 0.0]))[None]
    far = (square + torch.tensor([1.1, 0.0, 0.0]))[None]
    assert coarse_interaction(body, near).item() == 0
    assert torch.isclose(coarse_interaction(body, far), torch.tensor([1.0]), atol=1e-6).all()


def test_gradient_pulls_object_towards_body_and_is_finite_when_coincident():
    body = torch.zeros(2, 3, 3)
    obj = torch.tensor([[[2.0, 0, 0], [2.2, 0, 0]], [[0.0, 0, 0], [0.0, 0, 0]]]).requires_grad_()
    coarse_interaction(body, obj).sum().backward()
    assert torch.isfinite(obj.grad).all()
    # Moving the whole object towards the body (-x) lowers the loss at unit rate.
    assert torch.isclose(obj.grad[0, :, 0].sum(), torch.tensor(1.0))
