"""Support: a ground-standing object stands upright on the floor."""

import torch
from torch import Tensor

from optim.losses.robust import safe_norm

TILT_LENGTH_M = 0.5
"""Metres: `support` prices a tilt as the distance a point this far up the object's axis moves."""


def support_loss(
    object_vertices: Tensor, object_up: Tensor, floor: Tensor, tilt_length: float = TILT_LENGTH_M
) -> Tensor:
    """How far an object is from standing upright on the floor, in metres.

    Two parts, summed:
    - the gap |h| between the object's lowest vertex and the floor, h its height above the
      floor: floating (h > 0) and sinking (h < 0) cost alike;
    - the tilt, tilt_length * |u - n| = tilt_length * 2 sin(theta / 2), with u the object's up
      axis, n the floor's normal and theta the angle between them: the distance a point
      `tilt_length` metres up an upright object's axis moves when the object tilts by theta
      (30 degrees: 0.2588 m at the default 0.5 m; upside down: 1 m). Unlike 1 - cos(theta) it
      grows linearly from upright, so small tilts are not free.

    Args:
        object_vertices: (B, V, 3) posed object vertices, camera frame, metres.
        object_up: (B, 3) unit up axis of the object in the camera frame (the second column of
            its rotation: objects are modelled y-up).
        floor: (4,) plane (n, d), n unit pointing up; x is n . x + d metres above the floor
            (`optim.floor`); d NaN for a floor of unknown height (only the tilt counts).
        tilt_length: metres, the lever arm that turns the tilt into a distance.

    Returns:
        (B,) metres, 0 for an upright object resting on the floor. Gradients are finite upright
        and on the floor.
    """
    normal, offset = floor[:3].to(object_vertices), floor[3].to(object_vertices)
    tilt = tilt_length * safe_norm(object_up - normal)  # (B,)
    if torch.isnan(offset):
        return tilt
    lowest = (object_vertices @ normal).min(-1).values + offset  # (B,)
    return lowest.abs() + tilt
