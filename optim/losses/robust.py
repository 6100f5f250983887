"""Robust penalties and a norm whose gradient stays finite where the vector is zero."""

import torch
from torch import Tensor

SAFE_NORM_EPS = 1e-12
"""Default of `safe_norm`'s eps, in squared units (1e-12 m^2: below a micrometre)."""


def safe_norm(
    x: Tensor, dim: int = -1, eps: float = SAFE_NORM_EPS, keepdim: bool = False
) -> Tensor:
    """Euclidean norm with a finite gradient everywhere, including at zero.

    Exact where |x|^2 >= eps; below, |x|^2 / sqrt(eps), which meets it continuously at
    |x| = sqrt(eps) and is 0 with a zero gradient at x = 0 (the plain norm's gradient x / |x|
    is NaN there). The gradient's norm is at most 2.

    Args:
        x: (..., D, ...) vectors along `dim`.
        dim: the vector dimension.
        eps: squared units of x, > 0.
        keepdim: keep `dim` with size 1.

    Returns:
        x's shape without `dim` (or with size 1 there): the norms, units of x.
    """
    squared = (x * x).sum(dim, keepdim=keepdim)
    large = squared >= eps
    exact = torch.where(large, squared, eps).sqrt()  # no sqrt(0) even in the unused branch
    return torch.where(large, exact, squared / eps**0.5)


def geman_mcclure(x_sq: Tensor, sigma: float) -> Tensor:
    """Geman-McClure penalty of squared residuals: sigma^2 * x^2 / (x^2 + sigma^2).

    Behaves like x^2 for |x| << sigma and saturates at sigma^2 for |x| >> sigma, so outliers pull
    with a vanishing force. Taking the squared residual avoids a square root, so the gradient is
    finite (zero) at x = 0.

    Args:
        x_sq: (...) squared residuals, units u^2.
        sigma: the scale where the penalty bends, units u, > 0.

    Returns:
        (...) penalties, units u^2, in [0, sigma^2).
    """
    sigma_sq = sigma * sigma
    return sigma_sq * x_sq / (x_sq + sigma_sq)


def weighted_mean(values: Tensor, weights: Tensor, dim: int = -1) -> Tensor:
    """Sum(w * v) / sum(w) along `dim`, 0 (with zero gradient) where the weights sum to 0.

    Args:
        values: (..., N, ...) values; must be finite where the weight is 0 (0 * inf is NaN).
        weights: broadcastable to `values`, >= 0.
        dim: the dimension to reduce.

    Returns:
        `values`' shape without `dim`.
    """
    weights = torch.broadcast_to(weights, values.shape).to(values.dtype)
    total = weights.sum(dim)
    numerator = (weights * values).sum(dim)
    return torch.where(total > 0, numerator / torch.where(total > 0, total, 1), 0)
