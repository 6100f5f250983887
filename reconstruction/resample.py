"""Image-space observations at a working resolution: camera, masks, depth and keypoints.

The fitting and the body initialization compare renders with masks and depth at a reduced
resolution; everything is resampled the same way so that it stays aligned with the camera.
"""

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from reconstruction.camera import Camera


def working_camera(camera: Camera, resolution: int) -> tuple[Camera, float]:
    """The camera of the image downscaled so its longer side is at most `resolution`.

    Returns:
        The camera and the scale factor (never above 1).
    """
    scale = min(1.0, resolution / max(camera.width, camera.height))
    return (camera.scaled(scale) if scale < 1 else camera), scale


def resample_map(image: np.ndarray, size: tuple[int, int], device=None, dtype=torch.float32):
    """Area-average an (H, W) map (a mask becomes its coverage fraction) to `size`.

    Returns:
        (h, w) tensor.
    """
    tensor = torch.as_tensor(np.asarray(image, dtype=np.float32), device=device)[None, None]
    return F.interpolate(tensor, size=size, mode="area")[0, 0].to(dtype)


def resample_depth(
    depth: np.ndarray, size: tuple[int, int], device=None, dtype=torch.float32
) -> Tensor:
    """Average the known depth (> 0) of each new pixel; 0 where most of it was unknown.

    Args:
        depth: (H, W) metres, 0 where unknown.
        size: (h, w).
        device: where the result lives.
        dtype: floating dtype of the result.

    Returns:
        (h, w) metres, 0 where unknown.
    """
    known = (depth > 0).astype(np.float32)
    weight = resample_map(known, size, device, dtype)
    average = resample_map(depth * known, size, device, dtype) / weight.clamp_min(1e-6)
    return torch.where(weight > 0.5, average, torch.zeros_like(average))


def scale_keypoints(keypoints: np.ndarray, scale: float, device=None, dtype=torch.float32):
    """(K, 3) (u, v, confidence) in the image's pixels -> in pixels of the image scaled by `scale`.

    Pixel centres map as u' = (u + 0.5) * scale - 0.5.
    """
    scaled = torch.as_tensor(keypoints, dtype=dtype, device=device).clone()
    scaled[:, :2] = (scaled[:, :2] + 0.5) * scale - 0.5
    return scaled
