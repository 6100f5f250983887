"""Contact losses: paired correspondences, and probability maps on the body and the object."""

import torch
from torch import Tensor

from optim.losses.nearest import gather_points, nearest_neighbors
from optim.losses.robust import geman_mcclure, safe_norm, weighted_mean

MIN_CONTACT_PROB = 0.05
"""Default threshold of `contact_unpaired`: points at or below it take no part."""


def _penalty(difference: Tensor, robust_sigma: float | None, reach: float | None = None) -> Tensor:
    """The penalty of each distance d (metres).

    d; with a sigma, Geman-McClure of d^2 (m^2); with a reach, d * reach / (d + reach) (metres).
    """
    if robust_sigma is not None:
        return geman_mcclure((difference * difference).sum(-1), robust_sigma)
    distance = safe_norm(difference)
    return distance if reach is None else distance * reach / (distance + reach)


def contact_paired(
    body_points: Tensor,
    object_points: Tensor,
    weights: Tensor | None = None,
    robust_sigma: float | None = None,
) -> Tensor:
    """Mean distance between paired contact points, body point i to object point i.

    Args:
        body_points: (B, P, 3) points on the body (vertices or barycentric samples), camera
            frame, metres.
        object_points: (B, P, 3) their partners on the object, same frame.
        weights: (P,) or (B, P) non-negative weights of the pairs; None for equal weights.
        robust_sigma: None for the plain distance; else Geman-McClure with this scale in
            metres (see `geman_mcclure`), which bounds the pull of wrong pairs.

    Returns:
        (B,) weighted mean over pairs of the distance (metres), or of the Geman-McClure
        penalty of the squared distance (m^2, at most robust_sigma^2) when robust_sigma is
        given. 0 when P = 0 or the weights sum to 0. Gradients are finite when points coincide.
    """
    penalty = _penalty(body_points - object_points, robust_sigma)  # (B, P)
    if weights is None:
        weights = torch.ones_like(penalty)
    return weighted_mean(penalty, weights.to(penalty))


def _select(prob: Tensor, batch: int, count: int, min_prob: float) -> tuple[Tensor, Tensor]:
    """Indices (K,) of the points above threshold in any batch, and their weights (B, K)."""
    weights = torch.broadcast_to(prob, (batch, count))
    weights = torch.where(weights > min_prob, weights, 0)
    keep = (weights > 0).any(0).nonzero()[:, 0]
    return keep, weights[:, keep]


def _directed(
    sources: Tensor, source_weights: Tensor, targets: Tensor, target_mask, reach
) -> Tensor:
    """(B,) weighted mean over sources of the penalty to their nearest allowed target."""
    if sources.shape[1] == 0 or targets.shape[1] == 0:
        # Still a function of the inputs, so the total loss keeps a graph.
        return sources.sum((1, 2)) * 0 + targets.sum((1, 2)) * 0
    indices, found = nearest_neighbors(sources, targets, target_mask)  # (B, K), (B,)
    penalty = _penalty(sources - gather_points(targets, indices), None, reach)  # (B, K)
    return weighted_mean(penalty, source_weights * found[:, None])


def contact_unpaired(
    body_vertices: Tensor,
    body_prob: Tensor,
    object_points: Tensor,
    object_prob: Tensor | None = None,
    min_prob: float = MIN_CONTACT_PROB,
    reach: float | None = None,
) -> Tensor:
    """Distance between the body's and the object's contact regions, both ways.

    Body -> object: each body vertex with contact probability above `min_prob` is matched to
    its nearest object point among the object's contact points (those above `min_prob`; all
    points when `object_prob` is None), and the distances are averaged with the body
    probabilities as weights. Object -> body (only with `object_prob`): each object contact
    point is matched to its nearest body contact vertex, averaged with the object
    probabilities as weights. The loss is the sum of the two directions, so both regions are
    pulled onto each other: neither can be satisfied by touching one corner of the other.

    Matching is by hard nearest neighbour, re-found at every call without gradient; the
    gradient flows through the matched pairs' distance. Only points above the threshold are
    ever compared (contact is sparse), in chunks of bounded memory: no V x N matrix.

    Args:
        body_vertices: (B, V, 3) posed body vertices, camera frame, metres.
        body_prob: (V,) or (B, V) per-vertex contact probability in [0, 1].
        object_points: (B, N, 3) posed object points (vertices or surface samples), same frame.
        object_prob: (N,) or (B, N) per-point contact probability, or None.
        min_prob: points with probability at or below this do not participate.
        reach: None for distances; else each distance d counts as d * reach / (d + reach):
            about d when near, never more than `reach` when far, so contact that is only
            guessed pulls parts that nearly touch together while the image keeps the object
            where it shows it when the guessed parts lie far apart (its gradient is 1/4 at d =
            reach, 1/16 at 3 reach).

    Returns:
        (B,) metres: body->object mean distance plus, with `object_prob`, object->body mean
        distance (each saturated with `reach`). 0 for a batch with no body contact vertex
        (and, for the reverse term, no object contact point).
    """
    batch = body_vertices.shape[0]
    body_keep, body_weights = _select(
        body_prob.to(body_vertices), batch, body_vertices.shape[1], min_prob
    )
    body_contact = body_vertices[:, body_keep]  # (B, K, 3)
    if object_prob is None:
        return _directed(body_contact, body_weights, object_points, None, reach)
    object_keep, object_weights = _select(
        object_prob.to(object_points), batch, object_points.shape[1], min_prob
    )
    object_contact = object_points[:, object_keep]  # (B, M, 3)
    forward = _directed(body_contact, body_weights, object_contact, object_weights > 0, reach)
    backward = _directed(object_contact, object_weights, body_contact, body_weights > 0, reach)
    return forward + backward
