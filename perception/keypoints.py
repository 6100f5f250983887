"""Top-down 2D body keypoints (COCO-17) with ViTPose."""

from pathlib import Path

import numpy as np
import torch

from perception.preprocess import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    apply_transform,
    crop,
    crop_transform,
    normalize,
    pad_batch,
    read_processor_config,
    to_uint8_rgb,
)


def heatmap_peaks(heatmaps: np.ndarray) -> np.ndarray:
    """Sub-pixel peaks of heatmaps.

    The argmax moves a quarter pixel towards its higher neighbour, the usual refinement for
    heatmaps trained with Gaussian targets.

    Args:
        heatmaps: (K, h, w).

    Returns:
        (K, 3) (x, y, value): the peak in heatmap pixel coordinates (centre of the top-left
        pixel at (0, 0)) and the heatmap's value there.
    """
    count, height, width = heatmaps.shape
    flat = heatmaps.reshape(count, -1)
    index = flat.argmax(1)
    y, x = np.divmod(index, width)
    peaks = np.stack([x, y, flat[np.arange(count), index]], 1).astype(np.float64)
    for k in range(count):
        hm, px, py = heatmaps[k], x[k], y[k]
        if 0 < px < width - 1:
            peaks[k, 0] += 0.25 * np.sign(hm[py, px + 1] - hm[py, px - 1])
        if 0 < py < height - 1:
            peaks[k, 1] += 0.25 * np.sign(hm[py + 1, px] - hm[py - 1, px])
    return peaks


class PoseEstimator:
    """ViTPose on person boxes.

    Args:
        model: a `VitPoseForPoseEstimation` with 17 COCO keypoints.
        device: where the model runs.
        mean: normalization mean (RGB, [0, 1] scale).
        std: normalization standard deviation.
        padding: how much the box grows before cropping.
    """

    def __init__(
        self, model, device: torch.device, mean=IMAGENET_MEAN, std=IMAGENET_STD, padding=1.25
    ):
        self.model = model.to(device).eval()
        self.device = device
        self.input_size = tuple(model.config.backbone_config.image_size)  # (height, width)
        self.mean, self.std = mean, std
        self.padding = padding

    @classmethod
    def from_pretrained(cls, folder: Path, device: torch.device) -> "PoseEstimator":
        """Load a checkpoint folder."""
        from transformers import VitPoseForPoseEstimation

        settings = read_processor_config(folder)
        return cls(
            VitPoseForPoseEstimation.from_pretrained(folder),
            device,
            mean=settings.get("image_mean", IMAGENET_MEAN),
            std=settings.get("image_std", IMAGENET_STD),
        )

    @torch.no_grad()
    def keypoints(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """Keypoints of the person in each box (all boxes run as one batch).

        Args:
            image: (H, W, 3) uint8 RGB.
            boxes: (N, 4) XYXY pixels of `image`.

        Returns:
            (N, 17, 3) float32: (u, v) pixels of `image` and confidence in [0, 1].
        """
        image = to_uint8_rgb(image)
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        if len(boxes) == 0:
            return np.zeros((0, 17, 3), np.float32)
        transforms = [crop_transform(box, self.input_size, self.padding) for box in boxes]
        crops = [
            normalize(crop(image, t, self.input_size), self.mean, self.std) for t in transforms
        ]
        pixel_values, _ = pad_batch(crops)
        kwargs = {}
        if getattr(self.model.config.backbone_config, "num_experts", 1) > 1:
            kwargs["dataset_index"] = torch.zeros(len(boxes), dtype=torch.long, device=self.device)
        heatmaps = self.model(pixel_values=pixel_values.to(self.device), **kwargs).heatmaps
        heatmaps = heatmaps.float().cpu().numpy()  # (N, K, h, w)
        stride = self.input_size[0] / heatmaps.shape[2], self.input_size[1] / heatmaps.shape[3]
        result = np.zeros((len(boxes), heatmaps.shape[1], 3), np.float32)
        for n, transform in enumerate(transforms):
            peaks = heatmap_peaks(heatmaps[n])
            # Heatmap pixel centres -> crop coordinates (pixel-corner origin) -> image pixels.
            corner = np.stack([(peaks[:, 0] + 0.5) * stride[1], (peaks[:, 1] + 0.5) * stride[0]], 1)
            result[n, :, :2] = apply_transform(transform, corner) - 0.5
            result[n, :, 2] = np.clip(peaks[:, 2], 0, 1)
        return result

    def keypoints_batch(
        self, images: list[np.ndarray], boxes: list[np.ndarray]
    ) -> list[np.ndarray]:
        """`keypoints` for several images; returns B arrays (N_i, 17, 3)."""
        return [self.keypoints(i, b) for i, b in zip(images, boxes, strict=True)]
