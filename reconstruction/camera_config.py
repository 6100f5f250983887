"""What the user may say about the camera; torch-free, so configs parse without loading torch."""

import math
from dataclasses import dataclass

from reconstruction.errors import ConfigError


@dataclass
class CameraConfig:
    """Intrinsics when the sample gives none.

    The first field that is set wins, then the image's EXIF, then the default field of view
    (`reconstruction.camera.DEFAULT_FOV_DEG`).

    Attributes:
        focal_px: focal length in pixels.
        fov_deg: horizontal field of view in degrees.
    """

    focal_px: float | None = None
    fov_deg: float | None = None

    def __post_init__(self):
        if self.focal_px is not None and not (self.focal_px > 0 and math.isfinite(self.focal_px)):
            raise ConfigError(f"focal_px must be a positive number of pixels, got {self.focal_px}")
        if self.fov_deg is not None and not 0 < self.fov_deg < 180:
            raise ConfigError(f"fov_deg must be in (0, 180) degrees, got {self.fov_deg}")
