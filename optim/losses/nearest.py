"""Nearest neighbours between point sets, found without gradient and in bounded memory."""

import numpy as np
import torch
from scipy.spatial import cKDTree
from torch import Tensor

MAX_PAIRS = 1 << 23
"""Distances evaluated at once (32 MB in float32); queries are processed in chunks below it."""

KD_TREE_MIN_PAIRS = 1 << 16
"""On the CPU, a search over at least this many (query, candidate) pairs per batch uses a k-d
tree (scipy's cKDTree: build and query in O((Q + C) log C)) rather than every distance: on a
body of 14k vertices and 2k object points it is about 20x faster. Smaller searches, and every
search on other devices, compute all distances (`torch.cdist`), which the GPU does fast."""


@torch.no_grad()
def nearest_neighbors(
    queries: Tensor, candidates: Tensor, candidate_mask: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """For each query point, the index of its nearest candidate point, batch by batch.

    Only indices come out: the caller gathers the pairs and computes distances with gradient,
    which is cheaper than differentiating a dense distance matrix. Distances are computed
    exactly (no matrix-product expansion, which loses precision far from the origin): all of
    them in chunks of queries so that memory stays below `MAX_PAIRS` distances, or, for large
    searches on the CPU, through a k-d tree (`KD_TREE_MIN_PAIRS`). Ties between equally near
    candidates may go either way.

    Args:
        queries: (B, Q, 3) points.
        candidates: (B, C, 3) points.
        candidate_mask: (B, C) or (C,) bool, the candidates that may be chosen; None for all.

    Returns:
        indices (B, Q) long into the candidates (0 where a batch has no allowed candidate), and
        found (B,) bool, whether the batch has at least one allowed candidate.
    """
    batch, num_queries = queries.shape[:2]
    num_candidates = candidates.shape[1]
    indices = torch.zeros(batch, num_queries, dtype=torch.long, device=queries.device)
    if candidate_mask is None:
        candidate_mask = torch.ones(num_candidates, dtype=torch.bool, device=queries.device)
    candidate_mask = torch.broadcast_to(candidate_mask, (batch, num_candidates))
    found = candidate_mask.any(1)
    if num_queries == 0 or num_candidates == 0:
        return indices, found
    if queries.device.type == "cpu" and num_queries * num_candidates >= KD_TREE_MIN_PAIRS:
        return _kd_tree_search(queries, candidates, candidate_mask, indices), found
    blocked = torch.where(candidate_mask, 0.0, torch.inf).to(queries.dtype)[:, None, :]
    chunk = max(1, MAX_PAIRS // (batch * num_candidates))
    for start in range(0, num_queries, chunk):
        part = queries[:, start : start + chunk]
        distances = torch.cdist(part, candidates, compute_mode="donot_use_mm_for_euclid_dist")
        indices[:, start : start + chunk] = (distances + blocked).argmin(-1)  # (B, chunk)
    return indices, found


def _kd_tree_search(
    queries: Tensor, candidates: Tensor, candidate_mask: Tensor, indices: Tensor
) -> Tensor:
    """`nearest_neighbors` on the CPU through one k-d tree per batch of allowed candidates."""
    queries_np = queries.detach().double().numpy()
    candidates_np = candidates.detach().double().numpy()
    masks = candidate_mask.numpy()
    for b in range(queries.shape[0]):
        allowed = np.flatnonzero(masks[b])
        if allowed.size == 0:
            continue
        # Built anew at every call (the points move): an unbalanced tree of uncompacted nodes
        # builds faster, which matters more than its query speed here, and one worker avoids
        # starting threads for a search of a few milliseconds. The result is the same.
        tree = cKDTree(candidates_np[b, allowed], balanced_tree=False, compact_nodes=False)
        _, nearest = tree.query(queries_np[b], k=1)
        indices[b] = torch.from_numpy(allowed[nearest])
    return indices


def gather_points(points: Tensor, indices: Tensor) -> Tensor:
    """points[b, indices[b, q]] for every b and q: (B, N, D), (B, Q) -> (B, Q, D)."""
    return torch.gather(points, 1, indices[..., None].expand(-1, -1, points.shape[-1]))
