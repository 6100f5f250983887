"""Nearest neighbours between point sets, found without gradient and in bounded memory."""

import torch
from torch import Tensor

MAX_PAIRS = 1 << 23
"""Distances evaluated at once (32 MB in float32); queries are processed in chunks below it."""


@torch.no_grad()
def nearest_neighbors(
    queries: Tensor, candidates: Tensor, candidate_mask: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """For each query point, the index of its nearest candidate point, batch by batch.

    Only indices come out: the caller gathers the pairs and computes distances with gradient,
    which is cheaper than differentiating a dense distance matrix. Distances are computed
    exactly (no matrix-product expansion, which loses precision far from the origin), in chunks
    of queries so that memory stays below `MAX_PAIRS` distances.

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
    blocked = torch.where(candidate_mask, 0.0, torch.inf).to(queries.dtype)[:, None, :]
    chunk = max(1, MAX_PAIRS // (batch * num_candidates))
    for start in range(0, num_queries, chunk):
        part = queries[:, start : start + chunk]
        distances = torch.cdist(part, candidates, compute_mode="donot_use_mm_for_euclid_dist")
        indices[:, start : start + chunk] = (distances + blocked).argmin(-1)  # (B, chunk)
    return indices, found


def gather_points(points: Tensor, indices: Tensor) -> Tensor:
    """points[b, indices[b, q]] for every b and q: (B, N, D), (B, Q) -> (B, Q, D)."""
    return torch.gather(points, 1, indices[..., None].expand(-1, -1, points.shape[-1]))
