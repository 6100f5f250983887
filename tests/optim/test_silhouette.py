import torch

from optim.losses import mask_centroid_loss, occlusion_valid_mask, silhouette_iou_loss
from reconstruction.soft_silhouette import soft_silhouette


def square(height, width, top, left, size):
    mask = torch.zeros(height, width)
    mask[top : top + size, left : left + size] = 1
    return mask


def test_iou_of_half_overlapping_squares():
    rendered = square(10, 10, 2, 2, 4)[None]
    target = square(10, 10, 2, 4, 4).bool()
    # Intersection 8, union 24.
    torch.testing.assert_close(silhouette_iou_loss(rendered, target), torch.tensor([1 - 1 / 3]))
    torch.testing.assert_close(
        silhouette_iou_loss(target.float()[None], target), torch.tensor([0.0])
    )


def test_iou_ignores_invalid_pixels():
    rendered = square(10, 10, 2, 2, 4)[None]
    target = square(10, 10, 2, 4, 4).bool()
    valid = torch.ones(10, 10, dtype=torch.bool)
    valid[:, :4] = False  # hides the part of the render outside the target
    torch.testing.assert_close(silhouette_iou_loss(rendered, target, valid), torch.tensor([0.5]))


def test_iou_with_empty_inputs_is_finite():
    empty = torch.zeros(2, 8, 8, requires_grad=True)
    loss = silhouette_iou_loss(empty, torch.zeros(8, 8, dtype=torch.bool))
    assert (loss == 0).all()
    loss.sum().backward()
    assert torch.isfinite(empty.grad).all()
    rendered = square(8, 8, 1, 1, 3)[None].requires_grad_()
    loss = silhouette_iou_loss(rendered, torch.zeros(8, 8))
    assert loss.item() == 1
    loss.backward()
    assert torch.isfinite(rendered.grad).all()
    empty_render = torch.zeros(1, 8, 8, requires_grad=True)
    loss = silhouette_iou_loss(empty_render, square(8, 8, 1, 1, 3))
    assert loss.item() == 1
    loss.backward()
    assert (empty_render.grad[0, 1:4, 1:4] < 0).all(), "covering the mask lowers the loss"


def test_iou_batched_targets_and_gradcheck():
    soft = torch.rand(2, 5, 6, dtype=torch.float64, requires_grad=True)
    target = torch.rand(2, 5, 6) > 0.5
    assert silhouette_iou_loss(soft, target).shape == (2,)
    assert torch.autograd.gradcheck(lambda s: silhouette_iou_loss(s, target), (soft,))


def test_occlusion_valid_mask_ignores_the_occluder_only():
    own = torch.tensor([[True, True, False, False]])
    other = torch.tensor([[False, True, True, False]])
    assert occlusion_valid_mask(own, other).tolist() == [[True, True, False, True]]
    assert occlusion_valid_mask(other, own).tolist() == [[False, True, True, True]]


def test_centroid_distance_over_the_image_diagonal():
    soft = square(30, 40, 10, 10, 5)[None]
    mask = square(30, 40, 14, 13, 5).bool()  # 3 px right, 4 px down
    torch.testing.assert_close(mask_centroid_loss(soft, mask), torch.tensor([25 / 2500]))


def test_centroid_with_empty_inputs_is_zero_and_finite():
    soft = torch.zeros(2, 6, 6, requires_grad=True)
    loss = mask_centroid_loss(soft, square(6, 6, 1, 1, 2))
    assert (loss == 0).all()
    loss.sum().backward()
    assert torch.isfinite(soft.grad).all()
    soft = square(6, 6, 1, 1, 2)[None].requires_grad_()
    loss = mask_centroid_loss(soft, torch.zeros(6, 6, dtype=torch.bool))
    assert loss.item() == 0
    loss.backward()
    assert torch.isfinite(soft.grad).all()


def test_silhouette_losses_move_a_rendered_quad_towards_its_mask():
    K = torch.tensor([[20.0, 0.0, 16.0], [0.0, 20.0, 16.0], [0.0, 0.0, 1.0]])
    verts = torch.tensor([[[-0.2, -0.2, 1.0], [0.2, -0.2, 1.0], [0.2, 0.2, 1.0], [-0.2, 0.2, 1.0]]])
    faces = torch.tensor([[0, 1, 2], [0, 2, 3]])
    shift = torch.zeros(1, 1, 3, requires_grad=True)
    soft = soft_silhouette(verts + shift, faces, K, (32, 32))
    mask = square(32, 32, 12, 16, 8).bool()  # the quad covers rows/columns 12-19
    loss = silhouette_iou_loss(soft, mask) + mask_centroid_loss(soft, mask)
    loss.backward()
    assert shift.grad[0, 0, 0] < 0, "moving right (+x) reduces the loss"
