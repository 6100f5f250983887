"""The sample's image: `<folder>.jpg` (or any image suffix), named like the folder.

A folder without an image named like it may hold `image.*` or a single image instead. hoifit
writes `<folder>.png`, PICO's naming.
"""

from pathlib import Path

import numpy as np

from reconstruction.atomic_io import atomic_write_png
from reconstruction.errors import HoifitError
from reconstruction.image_io import IMAGE_SUFFIXES, find_image


def find_sample_image(folder: Path) -> Path:
    """The image named like the folder, else `image.*` or the folder's only image.

    Raises:
        HoifitError: the folder holds no image.
    """
    named = sorted(
        p for p in folder.iterdir() if p.stem == folder.name and p.suffix.lower() in IMAGE_SUFFIXES
    )
    if named:
        return named[0]
    path = find_image(folder)
    if path is None:
        raise HoifitError(
            f"{folder} holds no image: put the image in it as {folder.name}.jpg (or .png)"
        )
    return path


def write_image(folder: str | Path, image: np.ndarray) -> Path:
    """Write the image as `<folder name>.png`, PICO's naming.

    Args:
        folder: the sample folder.
        image: (H, W, 3) uint8.

    Returns:
        The image's path.
    """
    path = Path(folder) / f"{Path(folder).name}.png"
    atomic_write_png(path, image)
    return path
