"""Between per-view 2D masks and per-vertex values, through the pixel-to-face maps of a render.

Lifting: each pixel's mask probability goes to the three vertices of the face it sees, weighted
by its barycentric coordinates. Per view, a vertex's value is the weighted mean of the
probabilities that reached it (accumulated probability / accumulated weight), so it does not
depend on how many pixels it covers; the views where it was seen (weight > 0) are then averaged.
A vertex seen in no view gets 0. Everything is a sum of index_adds, differentiable with respect to
the masks.

Projecting is the inverse: each pixel interpolates the vertex values of its face with its
barycentric coordinates (0 on the background), e.g. to make mask targets from vertex labels.
"""

import torch
from torch import Tensor

from contact.render import MultiViewRender


def _pixel_corners(
    render: MultiViewRender, faces: Tensor, device: torch.device
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The mesh pixels of all views and the vertices and weights behind them, on `device`.

    The renders may live elsewhere than the values (maps read on the CPU, masks on a GPU).

    Returns:
        hit: (P,) long, flat indices into (N * H * W) of the pixels that see the mesh.
        view: (P,) long, the view of each.
        corners: (P, 3) long, the vertex ids of the face each sees.
        weights: (P, 3) their barycentric weights.
    """
    face_ids = render.face_ids.to(device).flatten()
    hit = (face_ids >= 0).nonzero().squeeze(1)
    pixels_per_view = render.face_ids[0].numel()
    view = torch.div(hit, pixels_per_view, rounding_mode="floor")
    corners = faces.to(device).long().reshape(-1, 3)[face_ids[hit]]
    weights = render.bary.to(device).reshape(-1, 3)[hit]
    return hit, view, corners, weights


def _accumulate(
    values: Tensor, render: MultiViewRender, faces: Tensor, num_vertices: int
) -> tuple[Tensor, Tensor]:
    """Per-view barycentric sums of pixel values and of weights at the vertices.

    Args:
        values: (N, H, W) per-pixel values.
        render: the renders.
        faces: (F, 3) long, the faces that were rendered.
        num_vertices: V.

    Returns:
        value_sum: (N, V) sum over the pixels of weight * value.
        weight_sum: (N, V) sum over the pixels of weight.
    """
    hit, view, corners, weights = _pixel_corners(render, faces, values.device)
    weights = weights.to(values.dtype)  # (P, 3)
    index = (corners + view[:, None] * num_vertices).flatten()  # into (N * V)
    pixel_values = values.reshape(-1)[hit]  # (P,)
    shape = (render.num_views * num_vertices,)
    value_sum = values.new_zeros(shape).index_add(
        0, index, (weights * pixel_values[:, None]).flatten()
    )
    weight_sum = values.new_zeros(shape).index_add(0, index, weights.flatten())
    return value_sum.view(-1, num_vertices), weight_sum.view(-1, num_vertices)


def lift_to_vertices(
    masks: Tensor, render: MultiViewRender, faces: Tensor, num_vertices: int
) -> Tensor:
    """Per-view mask probabilities -> per-vertex probability.

    Args:
        masks: (N, H, W) probabilities in [0, 1], one per view of `render`, at its resolution.
        render: the renders the masks were predicted on.
        faces: (F, 3) long, the faces that were rendered.
        num_vertices: V.

    Returns:
        (V,) in the dtype of `masks`: for each vertex the mean over the views that see it of the
        weighted mean of the probabilities of its pixels; 0 where no view sees it.
        Differentiable with respect to `masks`.

    Raises:
        ValueError: the masks do not match the renders' views and size.
    """
    if masks.shape != render.face_ids.shape:
        raise ValueError(
            f"masks of shape {tuple(masks.shape)} do not match the renders "
            f"{tuple(render.face_ids.shape)} (views, height, width)"
        )
    value_sum, weight_sum = _accumulate(masks, render, faces, num_vertices)
    seen = weight_sum > 0  # (N, V)
    # The safe denominator keeps the gradient finite where a vertex is not seen.
    per_view = value_sum / torch.where(seen, weight_sum, torch.ones_like(weight_sum))
    views_seen = seen.sum(0).clamp(min=1).to(masks.dtype)
    return per_view.sum(0) / views_seen


def vertex_visibility(render: MultiViewRender, faces: Tensor, num_vertices: int) -> Tensor:
    """(N, V) bool: whether a vertex receives weight from some pixel of the view.

    Args:
        render: the renders.
        faces: (F, 3) long, the faces that were rendered.
        num_vertices: V.
    """
    ones = render.bary.new_ones(render.face_ids.shape)
    return _accumulate(ones, render, faces, num_vertices)[1] > 0


def project_vertices_to_masks(
    vertex_values: Tensor, render: MultiViewRender, faces: Tensor
) -> Tensor:
    """Per-vertex values -> per-view images, interpolated with the barycentric weights.

    Args:
        vertex_values: (V,) e.g. a 0/1 contact label or a probability.
        render: the renders.
        faces: (F, 3) long, the faces that were rendered.

    Returns:
        (N, H, W) in the dtype of `vertex_values`, 0 on the background; differentiable with
        respect to `vertex_values`.
    """
    hit, _, corners, weights = _pixel_corners(render, faces, vertex_values.device)
    weights = weights.to(vertex_values.dtype)
    pixels = (weights * vertex_values[corners]).sum(-1)  # (P,)
    out = vertex_values.new_zeros(render.face_ids.numel()).index_put((hit,), pixels)
    return out.view(render.face_ids.shape)
