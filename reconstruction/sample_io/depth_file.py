"""depth.npz: metric depth of the image, hoifit's file.

`depth` (H, W) float32, depth along the camera's z axis in metres at the image's size, 0 where
unknown.
"""

from pathlib import Path

import numpy as np

from reconstruction.errors import HoifitError
from reconstruction.sample_io.npz import load_npz, write_npz
from reconstruction.sample_io.parsing import numeric_array
from reconstruction.sample_io.sample import DEPTH_FILE


def read_depth(path: Path, image_size: tuple[int, int]) -> np.ndarray:
    """(H, W) float32 depth in metres, checked against the image's (H, W) `image_size`.

    Raises:
        HoifitError: no `depth` array, another size, or negative values.
    """
    data = load_npz(path)
    if "depth" not in data:
        raise HoifitError(f"{path}: no 'depth' array; expected depth (H, W) in metres")
    depth = numeric_array(path, data["depth"], "depth", np.float32)
    if depth.shape != image_size:
        raise HoifitError(
            f"{path}: depth is {depth.shape} but the image is {image_size}; resize it to the image"
        )
    if (depth < 0).any():
        raise HoifitError(f"{path}: negative depth values; depth is metres, 0 where unknown")
    return depth


def write_depth(folder: str | Path, depth: np.ndarray) -> None:
    """Write depth.npz: `depth` (H, W) float32 metres, 0 where unknown."""
    write_npz(Path(folder) / DEPTH_FILE, {"depth": np.asarray(depth, dtype=np.float32)})
