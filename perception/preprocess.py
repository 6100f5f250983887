"""Image preprocessing for the perception models, in numpy and PIL (no torchvision).

Coordinates: the resize functions scale pixel coordinates by plain factors (a box edge at x in
the original image is at x * factor in the resized one); padding goes to the bottom and right,
so it never moves coordinates. `crop_transform` maps crop coordinates to image coordinates with
an affine transform; all of these are undone exactly by the matching inverse.
"""

import numpy as np
import torch
from PIL import Image

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def shortest_edge_size(height: int, width: int, shortest: int, longest: int) -> tuple[int, int]:
    """DETR-style size: the shorter side becomes `shortest` unless the longer exceeds `longest`.

    Returns:
        (height, width) of the resized image.
    """
    factor = min(shortest / min(height, width), longest / max(height, width))
    return max(1, round(height * factor)), max(1, round(width * factor))


def longest_edge_size(height: int, width: int, longest: int) -> tuple[int, int]:
    """Size whose longer side is `longest`, aspect ratio kept. Returns (height, width)."""
    factor = longest / max(height, width)
    return max(1, round(height * factor)), max(1, round(width * factor))


def multiple_size(height: int, width: int, minimum: int, multiple: int) -> tuple[int, int]:
    """Smallest aspect-keeping size with both sides >= `minimum`, rounded to a `multiple`.

    Returns:
        (height, width), each a multiple of `multiple` (Depth Anything's "lower bound" resize).
    """
    factor = max(minimum / height, minimum / width)
    return (
        max(multiple, round(height * factor / multiple) * multiple),
        max(multiple, round(width * factor / multiple) * multiple),
    )


def resize(image: np.ndarray, size: tuple[int, int], resample=Image.BILINEAR) -> np.ndarray:
    """Resize an image.

    Args:
        image: (H, W, 3) uint8.
        size: (height, width) of the result.
        resample: a PIL resampling filter.

    Returns:
        (height, width, 3) float32 in [0, 1].
    """
    height, width = size
    resized = Image.fromarray(image).resize((width, height), resample)
    return np.asarray(resized, dtype=np.float32) / 255.0


def normalize(image: np.ndarray, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> np.ndarray:
    """(H, W, 3) float in [0, 1] -> (H, W, 3) float32, channel-wise (x - mean) / std."""
    return ((image - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)).astype(np.float32)


def center_crop(image: np.ndarray, size: int) -> np.ndarray:
    """The central (size, size) window of a (H, W, C) image whose sides are >= size."""
    top = (image.shape[0] - size) // 2
    left = (image.shape[1] - size) // 2
    return image[top : top + size, left : left + size]


def pad_batch(
    images: list[np.ndarray], size: tuple[int, int] | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack images into one batch, zero-padding each at the bottom and right.

    Args:
        images: B arrays (H_i, W_i, 3) float32.
        size: (height, width) to pad to; the largest image's size by default.

    Returns:
        pixel_values (B, 3, H, W) float32 and pixel_mask (B, H, W) int64, 1 on real pixels.
    """
    height = size[0] if size else max(image.shape[0] for image in images)
    width = size[1] if size else max(image.shape[1] for image in images)
    pixels = np.zeros((len(images), 3, height, width), np.float32)
    mask = np.zeros((len(images), height, width), np.int64)
    for i, image in enumerate(images):
        h, w = image.shape[:2]
        pixels[i, :, :h, :w] = image.transpose(2, 0, 1)
        mask[i, :h, :w] = 1
    return torch.from_numpy(pixels), torch.from_numpy(mask)


def cxcywh_to_xyxy(boxes: np.ndarray, width: float, height: float) -> np.ndarray:
    """Normalized (cx, cy, w, h) boxes (N, 4) -> pixel XYXY (N, 4) in an image of that size."""
    boxes = np.asarray(boxes, np.float64)
    cx, cy, w, h = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    xyxy = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    xyxy *= np.array([width, height, width, height])
    return np.clip(xyxy, 0, [width, height, width, height]).astype(np.float32)


def crop_transform(
    box: np.ndarray, crop_size: tuple[int, int], padding: float = 1.25
) -> np.ndarray:
    """The affine map from crop coordinates to image coordinates for a top-down pose crop.

    The box is grown to the crop's aspect ratio about its centre and then by `padding`.

    Args:
        box: (4,) XYXY pixels.
        crop_size: (height, width) of the crop.
        padding: growth factor of the box.

    Returns:
        (2, 3) matrix A with image_xy = A @ [crop_x, crop_y, 1].
    """
    x0, y0, x1, y1 = (float(v) for v in box)
    crop_h, crop_w = crop_size
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    w, h = max(x1 - x0, 1.0), max(y1 - y0, 1.0)
    aspect = crop_w / crop_h
    if w > aspect * h:
        h = w / aspect
    else:
        w = h * aspect
    w, h = w * padding, h * padding
    return np.array([[w / crop_w, 0, cx - w / 2], [0, h / crop_h, cy - h / 2]], np.float64)


def apply_transform(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a (2, 3) affine matrix to (N, 2) points."""
    points = np.asarray(points, np.float64)
    return points @ matrix[:, :2].T + matrix[:, 2]


def invert_transform(matrix: np.ndarray) -> np.ndarray:
    """The inverse of a (2, 3) affine matrix, as a (2, 3) matrix."""
    full = np.vstack([matrix, [0, 0, 1]])
    return np.linalg.inv(full)[:2]


def crop(image: np.ndarray, matrix: np.ndarray, crop_size: tuple[int, int]) -> np.ndarray:
    """Sample a crop of an image through a crop-to-image affine map.

    Args:
        image: (H, W, 3) uint8.
        matrix: (2, 3) from `crop_transform`.
        crop_size: (height, width).

    Returns:
        (height, width, 3) float32 in [0, 1]; outside the image is black.
    """
    height, width = crop_size
    data = tuple(matrix.reshape(-1))
    sampled = Image.fromarray(image).transform(
        (width, height), Image.AFFINE, data, resample=Image.BILINEAR
    )
    return np.asarray(sampled, dtype=np.float32) / 255.0


def group_by_shape(images: list[np.ndarray]) -> dict[tuple, list[int]]:
    """Indices of the images, grouped by their shape (so each group can run as one batch)."""
    groups: dict[tuple, list[int]] = {}
    for i, image in enumerate(images):
        groups.setdefault(image.shape, []).append(i)
    return groups


def to_uint8_rgb(image: np.ndarray) -> np.ndarray:
    """Check that an image is (H, W, 3) uint8; raise ValueError otherwise."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(
            f"expected an (H, W, 3) uint8 RGB image, got {image.shape} {image.dtype}: "
            "read images with reconstruction.image_io.load_image"
        )
    return image


def read_processor_config(folder) -> dict:
    """The checkpoint's `preprocessor_config.json` as a dict; empty when the folder has none."""
    import json
    from pathlib import Path

    path = Path(folder) / "preprocessor_config.json"
    return json.loads(path.read_text()) if path.is_file() else {}
