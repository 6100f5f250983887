"""Training losses of the contact estimator, as pure functions of tensors.

Every loss returns a scalar and is finite on empty targets (no contact in a view or on a mesh).
The training loop sums them with a dict of weights keyed by the names in `DEFAULT_WEIGHTS`.
"""

import torch
import torch.nn.functional as F
from torch import Tensor

DEFAULT_WEIGHTS = {
    "token_ce": 1.0,
    "mask_focal": 2.0,
    "mask_dice": 0.5,
    "body_focal": 1.0,
    "body_sparsity": 0.1,
    "object_dice": 0.5,
    "object_mse": 1.0,
}
"""Weights of the terms returned by the functions below, by name."""


def token_cross_entropy(logits: Tensor, labels: Tensor, ignore_index: int = -100) -> Tensor:
    """Next-token cross-entropy, as a causal language model computes it.

    Args:
        logits: (B, L, V) scores for the token after each position.
        labels: (B, L) token ids, `ignore_index` where no loss is wanted.
        ignore_index: label value that is skipped.

    Returns:
        () mean over the predicted tokens; 0 (with a gradient path) when none is labelled.
    """
    shifted_logits = logits[:, :-1].flatten(0, 1).float()  # (B * (L-1), V)
    shifted_labels = labels[:, 1:].flatten()
    valid = shifted_labels != ignore_index
    if not valid.any():
        return shifted_logits.sum() * 0.0
    return F.cross_entropy(shifted_logits[valid], shifted_labels[valid])


def sigmoid_focal_loss(
    logits: Tensor, targets: Tensor, alpha: float = 0.25, gamma: float = 2.0
) -> Tensor:
    """Focal binary cross-entropy on logits (Lin et al. 2017), averaged over all elements.

    Args:
        logits: (...) scores.
        targets: (...) in [0, 1], the shape of `logits`.
        alpha: weight of the positives (1 - alpha for the negatives); negative to disable.
        gamma: focusing exponent.

    Returns:
        () mean over the elements.
    """
    targets = targets.to(logits.dtype)
    probs = logits.sigmoid()
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_true = probs * targets + (1 - probs) * (1 - targets)
    loss = ce * (1 - p_true) ** gamma
    if alpha >= 0:
        loss = loss * (alpha * targets + (1 - alpha) * (1 - targets))
    return loss.mean()


def probability_focal_loss(
    probs: Tensor, targets: Tensor, alpha: float = 0.25, gamma: float = 2.0, eps: float = 1e-6
) -> Tensor:
    """Focal binary cross-entropy on probabilities (e.g. lifted per-vertex contact).

    Args:
        probs: (...) in [0, 1].
        targets: (...) in [0, 1], the shape of `probs`.
        alpha: weight of the positives (1 - alpha for the negatives); negative to disable.
        gamma: focusing exponent.
        eps: probabilities are clamped to [eps, 1 - eps] so the log stays finite.

    Returns:
        () mean over the elements.
    """
    probs = probs.clamp(eps, 1 - eps)
    logits = torch.log(probs) - torch.log1p(-probs)
    return sigmoid_focal_loss(logits, targets, alpha, gamma)


def dice_loss(probs: Tensor, targets: Tensor, smooth: float = 1.0) -> Tensor:
    """1 - soft Dice, per item over its last dimensions, averaged over items.

    Args:
        probs: (M, ...) in [0, 1], M items (masks or vertex maps).
        targets: (M, ...) in [0, 1].
        smooth: added to numerator and denominator: empty prediction on empty target scores 0.

    Returns:
        () mean over the M items of 1 - (2 |p t| + s) / (|p| + |t| + s).
    """
    probs = probs.flatten(1)
    targets = targets.flatten(1).to(probs.dtype)
    numerator = 2 * (probs * targets).sum(-1) + smooth
    denominator = probs.sum(-1) + targets.sum(-1) + smooth
    return (1 - numerator / denominator).mean()


def mask_losses(logits: Tensor, targets: Tensor) -> dict[str, Tensor]:
    """2D losses of the per-view masks.

    The Dice of a sample is taken over all its views together. Contact is often out of sight
    in some views, and a per-view Dice would reward an empty prediction there with its whole
    weight: on sparse contact, that pull drives every mask to empty before the decoder learns
    where contact is (seen on randomly initialized models, whose masks collapsed to 1e-7).

    Args:
        logits: (B, N, h, w) mask logits, N views of each of B samples (meshes).
        targets: (B, N, h, w) in [0, 1] at the same resolution.

    Returns:
        {"mask_focal": focal BCE over all pixels, "mask_dice": Dice per sample over its N views,
        averaged over the B samples}.
    """
    if logits.shape != targets.shape:
        raise ValueError(f"mask logits {tuple(logits.shape)} vs targets {tuple(targets.shape)}")
    return {
        "mask_focal": sigmoid_focal_loss(logits, targets),
        "mask_dice": dice_loss(logits.sigmoid(), targets),
    }


def body_vertex_losses(probs: Tensor, targets: Tensor) -> dict[str, Tensor]:
    """3D losses of lifted body contact.

    Args:
        probs: (B, V) per-vertex contact probabilities (e.g. `lift.lift_to_vertices`).
        targets: (B, V) in [0, 1].

    Returns:
        {"body_focal": focal BCE, "body_sparsity": mean probability (L1 towards no contact)}.
    """
    return {
        "body_focal": probability_focal_loss(probs, targets),
        "body_sparsity": probs.abs().mean(),
    }


def object_vertex_losses(probs: Tensor, targets: Tensor) -> dict[str, Tensor]:
    """3D losses of lifted object contact.

    Args:
        probs: (B, V) per-vertex contact probabilities on the object.
        targets: (B, V) in [0, 1].

    Returns:
        {"object_dice": Dice per sample averaged, "object_mse": mean squared error}.
    """
    return {
        "object_dice": dice_loss(probs, targets),
        "object_mse": F.mse_loss(probs, targets.to(probs.dtype)),
    }


def weighted_total(terms: dict[str, Tensor], weights: dict[str, float] = DEFAULT_WEIGHTS) -> Tensor:
    """Sum of `weights[name] * terms[name]` over the terms present.

    Raises:
        KeyError: a term has no weight.
    """
    missing = set(terms) - set(weights)
    if missing:
        raise KeyError(f"no weight for the loss terms {sorted(missing)}")
    return sum(weights[name] * value for name, value in terms.items())
