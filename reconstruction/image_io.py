"""Reading input images: orientation, colour mode, size, and the camera that goes with them."""

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from reconstruction.camera import Camera
from reconstruction.camera_config import CameraConfig
from reconstruction.errors import HoifitError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


def load_image(path: str | Path) -> tuple[np.ndarray, dict]:
    """Read an image as RGB, upright.

    EXIF orientation is applied (phones store portrait photos rotated); grayscale and palette
    images become RGB; transparent pixels are composited over white.

    Returns:
        image (H, W, 3) uint8 and the EXIF tags as a dict (empty when there are none).

    Raises:
        HoifitError: missing, empty or unreadable file.
    """
    path = Path(path)
    if not path.is_file():
        raise HoifitError(f"image {path} does not exist: check the path")
    if path.stat().st_size == 0:
        raise HoifitError(f"image {path} is empty (0 bytes): re-export or re-download it")
    try:
        with Image.open(path) as raw:
            exif = dict(raw.getexif())
            # Camera settings such as the focal length live in the Exif sub-IFD (0x8769).
            exif.update(raw.getexif().get_ifd(0x8769))
            image = ImageOps.exif_transpose(raw)
            image.load()
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise HoifitError(f"cannot read image {path} ({error}): use a JPEG or PNG file") from error
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    return np.asarray(image.convert("RGB")), exif


def camera_for_image(width: int, height: int, exif: dict, config: CameraConfig) -> Camera:
    """Intrinsics for an image: configured focal, else configured FOV, else EXIF, else default."""
    if config.focal_px is not None:
        return Camera.from_focal(config.focal_px, width, height)
    if config.fov_deg is not None:
        return Camera.from_fov(config.fov_deg, width, height)
    return Camera.from_exif(exif, width, height) or Camera.default(width, height)


def fit_to_max_size(image: np.ndarray, camera: Camera, max_size: int) -> tuple[np.ndarray, Camera]:
    """Downscale an image whose longer side exceeds `max_size`, adjusting the intrinsics.

    Args:
        image: (H, W, 3) uint8.
        camera: intrinsics of `image`.
        max_size: longest side allowed, in pixels.

    Returns:
        The (possibly) resized image and its camera.
    """
    height, width = image.shape[:2]
    factor = max_size / max(height, width)
    if factor >= 1:
        return image, camera
    scaled = camera.scaled(factor)
    resized = Image.fromarray(image).resize((scaled.width, scaled.height), Image.LANCZOS)
    return np.asarray(resized), scaled


def find_image(folder: str | Path) -> Path | None:
    """The sample image in a folder: `image.*` first, else the only image file; None if none."""
    folder = Path(folder)
    images = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    named = [p for p in images if p.stem == "image"]
    if named:
        return named[0]
    # Previews we wrote ourselves are never the input.
    images = [p for p in images if p.stem not in ("overlay", "side")]
    if len(images) > 1:
        raise HoifitError(
            f"{folder} holds several images ({', '.join(p.name for p in images[:3])}...): "
            "name the input image.jpg or pass the image path"
        )
    return images[0] if images else None
