import pytest
import torch

from optim.losses import depth_loss, depth_pixels, inner_pixels, ordinal_depth_loss


def scene(batch=1, size=6):
    generator = torch.Generator().manual_seed(0)
    rendered = 2 + torch.rand(batch, size, size, generator=generator, dtype=torch.float64)
    mask = torch.ones(batch, size, size, dtype=torch.bool)
    return rendered, mask, torch.ones(size, size, dtype=torch.bool)


@pytest.mark.parametrize("robust, expected", [("l1", 0.2), ("l2", 0.04), ("huber", 0.2 - 0.025)])
def test_constant_offset(robust, expected):
    rendered, mask, target_mask = scene()
    loss = depth_loss(rendered, mask, rendered[0] + 0.2, target_mask, robust=robust)
    torch.testing.assert_close(loss, torch.tensor([expected], dtype=torch.float64))


def test_huber_is_quadratic_below_delta():
    rendered, mask, target_mask = scene()
    loss = depth_loss(rendered, mask, rendered[0] + 0.01, target_mask, delta=0.05)
    torch.testing.assert_close(loss, torch.tensor([0.5 * 0.01**2 / 0.05], dtype=torch.float64))


def test_scale_shift_removes_an_affine_difference():
    rendered, mask, target_mask = scene(batch=2)
    target = 0.5 * rendered[0] - 0.3
    loss = depth_loss(rendered, mask, target, target_mask, scale_shift=True)
    assert loss[0].item() == pytest.approx(0, abs=1e-9)
    assert loss[1].item() > 1e-3, "the other batch differs by more than an affine map"


def test_only_pixels_covered_by_both_masks_count():
    rendered, mask, target_mask = scene()
    target = rendered[0].clone()
    target[:, :3] = torch.nan  # off the target mask: must not leak NaN
    target_mask[:, :3] = False
    target[0, 3] += 1.0
    mask[0, 0, 3] = False  # the only wrong pixel is not rendered
    rendered = rendered.clone().requires_grad_()
    loss = depth_loss(rendered, mask, target, target_mask)
    assert loss.item() == 0
    loss.backward()
    assert torch.isfinite(rendered.grad).all()


def test_unknown_depth_is_ignored():
    # A depth map's holes are 0: compared, they would pull the render onto the camera.
    rendered, mask, target_mask = scene()
    target = rendered[0].clone() + 0.01
    holed = target.clone()
    holed[2:4, 1:5] = 0
    assert depth_loss(rendered, mask, holed, target_mask).item() == pytest.approx(
        depth_loss(rendered, mask, target, target_mask).item()
    )


def test_depth_is_compared_inside_the_edges_unless_the_mask_is_small():
    large = torch.zeros(12, 12, dtype=torch.bool)
    large[2:10, 3:9] = True
    inner = depth_pixels(large)
    assert torch.equal(inner, inner_pixels(large)) and inner.sum() == 6 * 4
    small = torch.zeros(12, 12, dtype=torch.bool)
    small[4:7, 4:8] = True  # 2 inner pixels: too few, all 12 are compared
    assert torch.equal(depth_pixels(small), small)


def test_depth_without_overlap_or_with_flat_render_is_finite():
    rendered, mask, target_mask = scene()
    rendered.requires_grad_()
    loss = depth_loss(rendered, mask, rendered[0].detach(), ~target_mask, scale_shift=True)
    assert loss.item() == 0
    loss.backward()
    assert torch.isfinite(rendered.grad).all()
    flat = torch.full((1, 6, 6), 3.0, dtype=torch.float64, requires_grad=True)
    loss = depth_loss(flat, mask, rendered[0].detach(), target_mask, scale_shift=True)
    loss.backward()
    assert torch.isfinite(loss).all() and torch.isfinite(flat.grad).all()


def test_depth_gradcheck():
    rendered, mask, target_mask = scene(batch=2, size=4)
    rendered.requires_grad_()
    target = 1.5 * rendered[0].detach() + 0.1 + 0.05 * torch.randn(4, 4, dtype=torch.float64)
    soft_mask = torch.rand(2, 4, 4, dtype=torch.float64)
    for scale_shift in (False, True):
        assert torch.autograd.gradcheck(
            lambda r, s=scale_shift: depth_loss(r, soft_mask, target, target_mask, "l2", s),
            (rendered,),
        )


def ordinal_scene(z_body, z_object):
    """Two fully overlapping 4x4 renders; person mask on the left half, object mask on the right."""
    depth_body = torch.full((1, 4, 4), z_body, requires_grad=True)
    depth_object = torch.full((1, 4, 4), z_object, requires_grad=True)
    rendered = torch.ones(1, 4, 4, dtype=torch.bool)
    person = torch.zeros(4, 4, dtype=torch.bool)
    person[:, :2] = True
    return depth_body, rendered, depth_object, rendered, person, ~person


def test_ordinal_depth_penalizes_the_wrong_order():
    # Left half: body must be in front; right half: object. Body 1 m behind: left pixels cost
    # about 1 m, right ones about 0.
    loss = ordinal_depth_loss(*ordinal_scene(3.0, 2.0))
    assert loss.item() == pytest.approx(0.5, abs=1e-3)
    depth_body, *rest = ordinal_scene(2.5, 2.5)
    loss = ordinal_depth_loss(depth_body, *rest)
    assert loss.item() == pytest.approx(0.01 * torch.log(torch.tensor(2.0)).item(), rel=1e-5)
    loss.backward()
    assert depth_body.grad[0, :, :2].sum() > 0 and depth_body.grad[0, :, 2:].sum() < 0


def test_ordinal_depth_uses_the_depth_map_where_both_masks_cover():
    depth_body, rendered, depth_object, _, person, _ = ordinal_scene(2.0, 3.0)
    both = torch.ones(4, 4, dtype=torch.bool)
    assert ordinal_depth_loss(depth_body, rendered, depth_object, rendered, both, both).item() == 0
    observed = torch.full((4, 4), 3.1)  # the object is the visible surface
    loss = ordinal_depth_loss(depth_body, rendered, depth_object, rendered, both, both, observed)
    assert loss.item() == pytest.approx(1.0, abs=1e-3)


def test_ordinal_depth_without_overlap_is_zero():
    depth_body, rendered, depth_object, _, person, obj = ordinal_scene(3.0, 2.0)
    loss = ordinal_depth_loss(depth_body, rendered, depth_object, ~rendered, person, obj)
    assert loss.item() == 0
    loss.backward()
    assert torch.isfinite(depth_body.grad).all() and (depth_body.grad == 0).all()
