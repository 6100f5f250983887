"""Pinhole camera in the OpenCV convention: x right, y down, z forward, metres; K in pixels.

Pixel (u, v) = (column, row); the centre of the top-left pixel is (0, 0).
"""

import math
from dataclasses import dataclass

import torch
from torch import Tensor

DEFAULT_FOV_DEG = 55.0
"""Horizontal field of view assumed when nothing better is known: close to what phone cameras
and the usual HOI datasets have (PICO/DAMON photos are mostly phone shots)."""


@dataclass(frozen=True)
class Camera:
    """Intrinsics of one image.

    Attributes:
        fx, fy: focal lengths in pixels.
        cx, cy: principal point in pixels.
        width, height: image size in pixels.
    """

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int

    @classmethod
    def from_focal(cls, focal_px: float, width: int, height: int) -> "Camera":
        """Square pixels, principal point at the image centre."""
        if not (focal_px > 0 and math.isfinite(focal_px)):
            raise ValueError(f"focal length must be a positive number of pixels, got {focal_px}")
        return cls(focal_px, focal_px, (width - 1) / 2, (height - 1) / 2, width, height)

    @classmethod
    def from_fov(cls, fov_deg: float, width: int, height: int) -> "Camera":
        """From the horizontal field of view in degrees."""
        if not 0 < fov_deg < 180:
            raise ValueError(f"field of view must be in (0, 180) degrees, got {fov_deg}")
        return cls.from_focal(width / 2 / math.tan(math.radians(fov_deg) / 2), width, height)

    @classmethod
    def from_exif(cls, exif: dict, width: int, height: int) -> "Camera | None":
        """From EXIF's 35 mm-equivalent focal length (tag FocalLengthIn35mmFilm, 41989).

        The 35 mm frame is 36 mm wide, so f_px = f_35 / 36 * max(width, height) for a landscape or
        portrait photo alike. Returns None when the tag is missing or zero.
        """
        f35 = exif.get(41989) or exif.get("FocalLengthIn35mmFilm")
        try:
            f35 = float(f35)
        except (TypeError, ValueError):
            return None
        if not f35 > 0:
            return None
        return cls.from_focal(f35 / 36.0 * max(width, height), width, height)

    @classmethod
    def default(cls, width: int, height: int) -> "Camera":
        """The documented default: `DEFAULT_FOV_DEG` across the longer image side."""
        fov = math.radians(DEFAULT_FOV_DEG)
        return cls.from_focal(max(width, height) / 2 / math.tan(fov / 2), width, height)

    def K(self, device=None, dtype=torch.float32) -> Tensor:
        """The 3x3 intrinsic matrix."""
        return torch.tensor(
            [[self.fx, 0, self.cx], [0, self.fy, self.cy], [0, 0, 1]], device=device, dtype=dtype
        )

    def scaled(self, factor: float) -> "Camera":
        """The same camera for the image resized by `factor` (e.g. 0.5 halves width and height)."""
        width, height = round(self.width * factor), round(self.height * factor)
        # Pixel centres map as u' = (u + 0.5) * factor - 0.5.
        return Camera(
            self.fx * factor,
            self.fy * factor,
            (self.cx + 0.5) * factor - 0.5,
            (self.cy + 0.5) * factor - 0.5,
            width,
            height,
        )


def project_points(points: Tensor, K: Tensor, eps: float = 1e-8) -> Tensor:
    """Project camera-frame points to pixels.

    Args:
        points: (..., N, 3) camera-frame points in metres.
        K: (3, 3) or (..., 3, 3) intrinsics, broadcast against the leading dimensions.
        eps: depths closer to zero than this are clamped to it, so the division stays finite.
            Points behind the camera project mirrored: callers that render cull them first.

    Returns:
        (..., N, 2) pixel coordinates (u, v).
    """
    z = points[..., 2:3]
    z = torch.where(z.abs() < eps, torch.full_like(z, eps), z)
    xy = points[..., :2] / z
    fx, fy = K[..., 0, 0, None], K[..., 1, 1, None]
    cx, cy = K[..., 0, 2, None], K[..., 1, 2, None]
    return torch.stack((fx * xy[..., 0] + cx, fy * xy[..., 1] + cy), dim=-1)
