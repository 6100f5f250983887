"""Object categories' rotational symmetries: which turns of an object leave it looking the same.

The evaluation judges rotation modulo these (`reconstruction.evaluation`); the object
initialization keeps hypotheses that differ modulo these (`optim.object_init`).
"""

import torch
from torch import Tensor

FULL, AXIAL, HALF_TURN = "full", "axial", "half_turn"
CATEGORY_SYMMETRY = {
    "ball": FULL,
    "bottle": AXIAL,
    "cup": AXIAL,
    "stool": AXIAL,
    "bat": AXIAL,
    "box": HALF_TURN,
    "table": HALF_TURN,
    "bench": HALF_TURN,
}
"""Rotations of its canonical frame that leave a category's object looking the same: FULL any
rotation; AXIAL any rotation about its vertical (y) axis; HALF_TURN a half turn about it. Other
categories (chair, bicycle, ...) have none. A cup's handle and a stool's legs are small enough to
be taken as axial, since a photo rarely settles them."""

HALF_TURN_Y = (-1.0, 1.0, -1.0)
"""Diagonal of the half turn about y."""


def pairwise_cosines(rotations: Tensor, symmetry: str | None) -> Tensor:
    """Cosine of the smallest angle between every two rotations, modulo a symmetry.

    Args:
        rotations: (K, 3, 3) rotations of an object's canonical frame (y up).
        symmetry: FULL, AXIAL, HALF_TURN or None.

    Returns:
        (K, K) cosines: of the geodesic angle, the least over the symmetry's turns; under AXIAL
        of the angle between the up axes (the smallest turn that moves one onto the other).
    """
    if symmetry == FULL:
        return torch.ones(rotations.shape[:1] * 2, dtype=rotations.dtype, device=rotations.device)
    if symmetry == AXIAL:
        up = rotations[:, :, 1]
        return up @ up.T
    cosines = (torch.einsum("aij,bij->ab", rotations, rotations) - 1) / 2
    if symmetry == HALF_TURN:
        turned = rotations * rotations.new_tensor(HALF_TURN_Y)  # R @ diag(-1, 1, -1)
        cosines = torch.maximum(cosines, (torch.einsum("aij,bij->ab", turned, rotations) - 1) / 2)
    return cosines
