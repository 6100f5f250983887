"""Coarse interaction: without contact maps, an interacting object should touch the body."""

from torch import Tensor

from optim.losses.nearest import gather_points, nearest_neighbors
from optim.losses.robust import safe_norm


def coarse_interaction(body_vertices: Tensor, object_vertices: Tensor) -> Tensor:
    """How far the object stays from the body, beyond touching distance.

    In the spirit of PHOSA's coarse interaction term: it needs no contact estimate, only the
    belief that the person interacts with the object. The object's centroid should be no farther
    from the body surface than the object's mean radius.

    Args:
        body_vertices: (B, V, 3) camera frame, metres.
        object_vertices: (B, Vo, 3) camera frame, metres.

    Returns:
        (B,) relu(distance from the object centroid to its nearest body vertex - mean distance of
        the object's vertices from their centroid), metres.
    """
    centroid = object_vertices.mean(1, keepdim=True)  # (B, 1, 3)
    radius = safe_norm(object_vertices - centroid).mean(1)  # (B,)
    index, _ = nearest_neighbors(centroid, body_vertices)
    nearest = gather_points(body_vertices, index)  # (B, 1, 3)
    return (safe_norm(nearest - centroid)[:, 0] - radius).clamp_min(0)
