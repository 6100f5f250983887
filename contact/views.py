"""Fixed cameras around a normalized mesh for multi-view contact localization.

Frames. A mesh is first normalized (`normalize_mesh`): centred on its bounding-box centre and
scaled so it fits in the unit sphere; the normalized frame keeps the model's axes (y up, the body
facing +z). Cameras follow the OpenCV convention (x right, y down, z forward) and map a normalized
point x to the camera frame as R @ x + t.

Angles. A view is placed in spherical coordinates around its look-at point: the camera sits at
distance d, azimuth a measured about +y from +z towards +x, elevation e above the xz plane, i.e.
at d * (cos e sin a, sin e, cos e cos a). Angles are taken modulo 360, so elevation 315 is -45
(the camera below the mesh, looking up) and azimuth 315 is -45 (in front of the body, on its
right side, which is -x).

Vertical shift. `y_shift` (normalized units, i.e. radii of the unit sphere) moves the mesh up
along +y by that much in front of an unshifted camera; equivalently the camera and its look-at
point move down together, the look-at point becoming (0, -y_shift, 0). Seen from below, the near
feet would otherwise run off the bottom of the image: with the body views' 0.3 the canonical body
fits in all four views.
"""

import math
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class ViewSpec:
    """One camera around the normalized mesh.

    Attributes:
        elevation_deg: angle above the horizontal (xz) plane, degrees; 315 means -45 (below).
        azimuth_deg: angle about +y from +z towards +x, degrees.
        y_shift: translation of the mesh along +y relative to the camera, normalized units.
    """

    elevation_deg: float
    azimuth_deg: float
    y_shift: float = 0.0


VIEW_DISTANCE = 2.0
"""Camera distance from the look-at point, in normalized units (the mesh fits in radius 1)."""

BODY_VIEWS = (
    ViewSpec(45.0, 315.0),
    ViewSpec(315.0, 315.0, y_shift=0.3),
    ViewSpec(45.0, 135.0),
    ViewSpec(315.0, 135.0, y_shift=0.3),
)
"""The four body views: front-right from above and below, back-left from above and below."""

OBJECT_VIEWS = (
    ViewSpec(30.0, 45.0),
    ViewSpec(330.0, 135.0),
    ViewSpec(30.0, 225.0),
    ViewSpec(330.0, 315.0),
)
"""Four object views, one per quadrant of azimuth, alternating 30 degrees above and below.

Objects have no canonical front and are touched on top (seats, table tops) as often as
underneath (a held bottle's base, a table's edge), so every side is seen once and the top and the
bottom twice each.
"""


def view_extrinsics(
    spec: ViewSpec, distance: float = VIEW_DISTANCE, dtype: torch.dtype = torch.float32
) -> tuple[Tensor, Tensor]:
    """World-to-camera transform of one view, looking at (0, -y_shift, 0), +y up in the image.

    Args:
        spec: the view.
        distance: camera distance from its look-at point, normalized units.
        dtype: floating dtype of the result.

    Returns:
        R: (3, 3) rotation, rows the camera's x (right), y (down), z (forward) axes in the
            normalized mesh frame.
        t: (3,) translation, so x_cam = R @ x + t.
    """
    elev = math.radians(spec.elevation_deg)
    azim = math.radians(spec.azimuth_deg)
    target = torch.tensor([0.0, -spec.y_shift, 0.0], dtype=torch.float64)
    offset = torch.tensor(
        [math.cos(elev) * math.sin(azim), math.sin(elev), math.cos(elev) * math.cos(azim)],
        dtype=torch.float64,
    )
    center = target + distance * offset
    forward = -offset
    up = torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64)
    if torch.linalg.cross(forward, up).norm() < 1e-6:
        # Looking straight up or down: the image's up is then the mesh's -z (its back).
        up = torch.tensor([0.0, 0.0, -1.0], dtype=torch.float64)
    right = torch.nn.functional.normalize(torch.linalg.cross(forward, up), dim=0)
    down = torch.linalg.cross(forward, right)
    R = torch.stack((right, down, forward))
    t = -R @ center
    return R.to(dtype), t.to(dtype)


def normalize_mesh(vertices: Tensor) -> tuple[Tensor, tuple[Tensor, Tensor]]:
    """Centre a mesh on its bounding-box centre and scale it into the unit sphere.

    Args:
        vertices: (V, 3) in any units.

    Returns:
        normalized: (V, 3), (vertices - center) / scale, the farthest vertex at distance 1.
        (center, scale): (3,) and () in the input units, to map back.
    """
    center = (vertices.amin(0) + vertices.amax(0)) / 2
    scale = (vertices - center).norm(dim=-1).amax()
    # A single point (or empty extent) stays where it is instead of dividing by zero.
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    return (vertices - center) / scale, (center, scale)
