import pytest
import torch

from optim.losses import contact_paired, contact_unpaired, nearest_neighbors
from optim.losses import nearest as nearest_module


def test_paired_distance_of_points_three_metres_apart():
    body = torch.zeros(2, 1, 3)
    obj = torch.tensor([[[0.0, 0.0, 3.0]], [[0.0, 3.0, 0.0]]])
    torch.testing.assert_close(contact_paired(body, obj), torch.tensor([3.0, 3.0]))


def test_paired_weights_and_robust_scale():
    body = torch.zeros(1, 2, 3)
    obj = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 0.0, 3.0]]])
    weights = torch.tensor([1.0, 3.0])
    torch.testing.assert_close(contact_paired(body, obj, weights), torch.tensor([2.5]))
    # Geman-McClure at d = sigma is sigma^2 / 2.
    robust = contact_paired(body, obj[:, :1], robust_sigma=1.0)
    torch.testing.assert_close(robust, torch.tensor([0.5]))


def test_paired_is_zero_without_pairs_or_weight():
    body = torch.zeros(3, 0, 3, requires_grad=True)
    loss = contact_paired(body, torch.zeros(3, 0, 3))
    assert loss.shape == (3,) and (loss == 0).all()
    loss.sum().backward()
    zero_weights = contact_paired(torch.zeros(1, 2, 3), torch.ones(1, 2, 3), torch.zeros(2))
    assert zero_weights.item() == 0


@pytest.mark.parametrize("robust_sigma", [None, 0.1])
def test_paired_gradient_is_finite_at_coincident_points(robust_sigma):
    body = torch.rand(2, 5, 3, requires_grad=True)
    loss = contact_paired(body, body.detach().clone(), robust_sigma=robust_sigma)
    assert loss.abs().max() < 1e-6
    loss.sum().backward()
    assert torch.isfinite(body.grad).all() and body.grad.abs().max() < 1e-6


def test_paired_gradcheck():
    body = torch.randn(2, 4, 3, dtype=torch.float64, requires_grad=True)
    obj = torch.randn(2, 4, 3, dtype=torch.float64, requires_grad=True)
    weights = torch.rand(4, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda b, o: contact_paired(b, o, weights), (body, obj))
    assert torch.autograd.gradcheck(lambda b, o: contact_paired(b, o, None, 0.5), (body, obj))


@pytest.mark.parametrize("kd_tree", [False, True])
def test_nearest_neighbors_matches_brute_force_with_masks_and_chunks(monkeypatch, kd_tree):
    generator = torch.Generator().manual_seed(0)
    queries = torch.rand(3, 50, 3, generator=generator) + 5.0
    candidates = torch.rand(3, 40, 3, generator=generator) + 5.0
    mask = torch.rand(3, 40, generator=generator) > 0.5
    mask[2] = False
    monkeypatch.setattr(nearest_module, "MAX_PAIRS", 300)  # forces chunks of 2 queries
    # Every search through the k-d tree, or none.
    monkeypatch.setattr(nearest_module, "KD_TREE_MIN_PAIRS", 0 if kd_tree else 1 << 62)
    indices, found = nearest_neighbors(queries, candidates, mask)
    assert found.tolist() == [True, True, False]
    for b in range(2):
        distances = ((queries[b, :, None] - candidates[b, None]) ** 2).sum(-1)
        distances[:, ~mask[b]] = torch.inf
        assert torch.equal(indices[b], distances.argmin(1))


def naive_unpaired(body, body_prob, obj, obj_prob, min_prob):
    """Loop reference: per batch, per point, the nearest partner among the participants."""
    result = []
    for b in range(body.shape[0]):
        bp = body_prob[b] if body_prob.ndim == 2 else body_prob
        body_ids = [i for i in range(body.shape[1]) if bp[i] > min_prob]
        if obj_prob is None:
            obj_ids, op = list(range(obj.shape[1])), None
        else:
            op = obj_prob[b] if obj_prob.ndim == 2 else obj_prob
            obj_ids = [j for j in range(obj.shape[1]) if op[j] > min_prob]
        total = 0.0
        for sources, weights, targets, src, dst in (
            (body_ids, bp, obj_ids, body[b], obj[b]),
            (obj_ids, op, body_ids, obj[b], body[b]),
        ):
            if weights is None or not sources or not targets:
                continue
            num = den = 0.0
            for i in sources:
                nearest = min(float((src[i] - dst[j]).norm()) for j in targets)
                num += float(weights[i]) * nearest
                den += float(weights[i])
            total += num / den
        result.append(total)
    return torch.tensor(result, dtype=torch.float64)


@pytest.mark.parametrize("shapes", ["shared", "batched", "no_object_prob"])
def test_unpaired_matches_a_naive_loop(shapes):
    generator = torch.Generator().manual_seed(1)
    body = torch.rand(2, 60, 3, generator=generator, dtype=torch.float64)
    obj = torch.rand(2, 30, 3, generator=generator, dtype=torch.float64) + 0.3
    body_prob = torch.rand(2, 60, generator=generator, dtype=torch.float64) ** 3
    obj_prob = torch.rand(2, 30, generator=generator, dtype=torch.float64) ** 3
    if shapes == "shared":
        body_prob, obj_prob = body_prob[0], obj_prob[0]
    if shapes == "no_object_prob":
        obj_prob = None
    expected = naive_unpaired(body, body_prob, obj, obj_prob, 0.05)
    loss = contact_unpaired(body, body_prob, obj, obj_prob, 0.05)
    torch.testing.assert_close(loss, expected)


def test_unpaired_without_contact_is_zero_with_finite_gradient():
    body = torch.rand(2, 20, 3, requires_grad=True)
    obj = torch.rand(2, 10, 3, requires_grad=True)
    for body_prob, obj_prob in (
        (torch.zeros(20), torch.rand(10)),
        (torch.full((20,), 0.01), None),
        (torch.rand(20), torch.zeros(10)),
        (
            torch.stack((torch.zeros(20), torch.ones(20))),
            torch.stack((torch.ones(10), torch.zeros(10))),
        ),
    ):
        loss = contact_unpaired(body, body_prob, obj, obj_prob)
        if obj_prob is None or obj_prob.ndim == 1:
            assert (loss == 0).all()
        else:
            assert (loss == 0).all(), "each batch lacks contact on one side"
        loss.sum().backward()
        assert torch.isfinite(body.grad).all() and torch.isfinite(obj.grad).all()


def test_unpaired_is_zero_with_finite_gradient_at_coincident_contact():
    points = torch.rand(1, 15, 3, requires_grad=True)
    loss = contact_unpaired(points, torch.ones(15), points.detach().clone(), torch.ones(15))
    assert loss.item() < 1e-6
    loss.backward()
    assert torch.isfinite(points.grad).all()


def test_unpaired_pulls_the_contact_regions_together():
    body = torch.tensor([[[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]]])
    obj = torch.tensor([[[0.0, 0.0, 2.0], [5.0, 5.0, 5.0]]], requires_grad=True)
    loss = contact_unpaired(body, torch.tensor([1.0, 0.0]), obj, torch.tensor([1.0, 0.0]))
    torch.testing.assert_close(loss, torch.tensor([4.0]))  # 2 m each way
    loss.backward()
    torch.testing.assert_close(obj.grad[0, 0], torch.tensor([0.0, 0.0, 2.0]))
    assert (obj.grad[0, 1] == 0).all()


def test_unpaired_with_a_reach_saturates_far_gaps_and_keeps_near_ones():
    body = torch.tensor([[[0.0, 0.0, 0.0]], [[0.0, 0.0, 0.0]]])
    gaps = torch.tensor([0.02, 0.9])  # a hand nearly on the object, one across the room
    obj = torch.zeros(2, 1, 3)
    obj[:, 0, 2] = gaps
    obj.requires_grad_(True)
    loss = contact_unpaired(body, torch.ones(1), obj, torch.ones(1), reach=0.3)
    torch.testing.assert_close(loss, 2 * gaps * 0.3 / (gaps + 0.3))  # both ways
    assert loss[1] < 2 * 0.3
    loss.sum().backward()
    pull = obj.grad[:, 0, 2]
    assert pull[0] > 0.85 * 2 and pull[1] < 0.1 * 2  # d/dd of 2 d r / (d + r): 2 r^2 / (d + r)^2
    plain = contact_unpaired(body, torch.ones(1), obj.detach(), torch.ones(1))
    torch.testing.assert_close(plain, 2 * gaps)
