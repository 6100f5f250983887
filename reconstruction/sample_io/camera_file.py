"""camera.json: the pinhole intrinsics of the image, hoifit's file.

`{"K": 3x3 pixels, "width": W, "height": H}`. Without it the camera comes from the configured
focal length or field of view, else EXIF, else the default field of view
(`image_io.camera_for_image`).
"""

from pathlib import Path

import torch

from reconstruction.atomic_io import atomic_write_json
from reconstruction.camera import Camera
from reconstruction.errors import HoifitError
from reconstruction.sample_io.parsing import load_json, numeric_array
from reconstruction.sample_io.sample import CAMERA_FILE


def read_camera(path: Path, width: int, height: int) -> Camera:
    """The camera of camera.json, checked against the image's `width` x `height` pixels.

    Raises:
        HoifitError: a malformed file or a camera for another image size.
    """
    data = load_json(path)
    if not isinstance(data, dict) or "K" not in data:
        raise HoifitError(f'{path}: expected {{"K": 3x3, "width": W, "height": H}}')
    K = numeric_array(path, data["K"], "K")
    if K.shape != (3, 3) or not (K[0, 0] > 0 and K[1, 1] > 0):
        raise HoifitError(f"{path}: K must be a 3x3 matrix with positive focal lengths")
    size = (int(data.get("width", width)), int(data.get("height", height)))
    if size != (width, height):
        raise HoifitError(
            f"{path}: the camera is for a {size[0]}x{size[1]} image but the image is "
            f"{width}x{height}; rescale K or the image"
        )
    return Camera(float(K[0, 0]), float(K[1, 1]), float(K[0, 2]), float(K[1, 2]), width, height)


def write_camera(folder: str | Path, camera: Camera) -> None:
    """Write camera.json: K and the image size."""
    atomic_write_json(
        Path(folder) / CAMERA_FILE,
        {
            "K": camera.K(dtype=torch.float64).tolist(),
            "width": camera.width,
            "height": camera.height,
        },
    )
