"""Metric monocular depth: Depth Pro (depth and focal length) or Depth Anything (metric)."""

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from perception.preprocess import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    group_by_shape,
    multiple_size,
    normalize,
    pad_batch,
    read_processor_config,
    resize,
    to_uint8_rgb,
)
from reconstruction.errors import HoifitError

# Depth Pro normalizes to [-1, 1].
DEPTH_PRO_MEAN = (0.5, 0.5, 0.5)
DEPTH_PRO_STD = (0.5, 0.5, 0.5)
MIN_FOV_DEG, MAX_FOV_DEG = 5.0, 170.0


class DepthEstimator:
    """Metric depth in metres, and the focal length where the model estimates one.

    Args:
        model: a `DepthProForDepthEstimation` or a metric `DepthAnythingForDepthEstimation`.
        device: where the model runs.
        input_size: Depth Anything's minimum input side (Depth Pro's is fixed by its config).
        mean: normalization mean; the model family's default when None.
        std: normalization standard deviation; the family's default when None.
    """

    def __init__(self, model, device: torch.device, input_size: int = 518, mean=None, std=None):
        self.model = model.to(device).eval()
        self.device = device
        config = model.config
        self.kind = config.model_type
        if self.kind == "depth_pro":
            side = round(config.patch_size / min(config.scaled_images_ratios))
            self.input_size = side
            self.mean, self.std = mean or DEPTH_PRO_MEAN, std or DEPTH_PRO_STD
        elif self.kind == "depth_anything":
            if config.depth_estimation_type != "metric":
                raise HoifitError(
                    "this Depth Anything checkpoint predicts relative depth: use a metric one, "
                    "e.g. depth-anything/Depth-Anything-V2-Metric-Indoor-Small-hf"
                )
            self.input_size = input_size
            self.multiple = config.backbone_config.patch_size
            self.mean, self.std = mean or IMAGENET_MEAN, std or IMAGENET_STD
        else:
            raise ValueError(f"unsupported depth model type {self.kind!r}")

    @classmethod
    def from_pretrained(cls, folder: Path, device: torch.device) -> "DepthEstimator":
        """Load a checkpoint folder of either family."""
        from transformers import (
            AutoConfig,
            DepthAnythingForDepthEstimation,
            DepthProForDepthEstimation,
        )

        config = AutoConfig.from_pretrained(folder)
        settings = read_processor_config(folder)
        if config.model_type == "depth_pro":
            model = DepthProForDepthEstimation.from_pretrained(folder)
        else:
            model = DepthAnythingForDepthEstimation.from_pretrained(folder)
        size = settings.get("size", {})
        return cls(
            model,
            device,
            input_size=size.get("height", 518),
            mean=settings.get("image_mean"),
            std=settings.get("image_std"),
        )

    def estimate(self, image: np.ndarray) -> tuple[np.ndarray, float | None]:
        """Depth of one image.

        Args:
            image: (H, W, 3) uint8 RGB.

        Returns:
            depth (H, W) float32 metres (positive) and the focal length in pixels of `image`
            (Depth Pro), or None (Depth Anything).
        """
        return self.estimate_batch([image])[0]

    def estimate_batch(self, images: list[np.ndarray]) -> list[tuple[np.ndarray, float | None]]:
        """`estimate` for several images; images of one shape run as one batch."""
        images = [to_uint8_rgb(image) for image in images]
        results: list = [None] * len(images)
        for indices in group_by_shape(images).values():
            for i, result in zip(indices, self._run([images[i] for i in indices]), strict=True):
                results[i] = result
        return results

    @torch.no_grad()
    def _run(self, images: list[np.ndarray]) -> list[tuple[np.ndarray, float | None]]:
        """Images of one shape -> (depth, focal) each."""
        height, width = images[0].shape[:2]
        if self.kind == "depth_pro":
            size = (self.input_size, self.input_size)
        else:
            size = multiple_size(height, width, self.input_size, self.multiple)
        pixel_values, _ = pad_batch(
            [normalize(resize(i, size), self.mean, self.std) for i in images]
        )
        outputs = self.model(pixel_values=pixel_values.to(self.device))
        predicted = outputs.predicted_depth.float()[:, None]  # (B, 1, h, w)
        predicted = F.interpolate(predicted, (height, width), mode="bilinear", align_corners=False)
        predicted = predicted[:, 0]  # (B, H, W)
        if self.kind == "depth_anything":
            depth = predicted.clamp(min=1e-3).cpu().numpy().astype(np.float32)
            return [(d, None) for d in depth]
        results = []
        fov = getattr(outputs, "field_of_view", None)
        for b in range(len(images)):
            # Depth Pro predicts inverse depth for a canonical camera of focal = width (pixels);
            # the field of view rescales it to this image's focal length.
            inverse = predicted[b]
            focal = None
            if fov is not None:
                # A degenerate field of view (0 or 180 degrees) would make the focal 0 or inf.
                fov_deg = min(max(float(fov[b]), MIN_FOV_DEG), MAX_FOV_DEG)
                focal = 0.5 * width / math.tan(0.5 * math.radians(fov_deg))
                inverse = inverse * width / focal
            depth = 1.0 / inverse.clamp(min=1e-4, max=1e4)
            results.append((depth.cpu().numpy().astype(np.float32), focal))
        return results
