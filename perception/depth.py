"""Metric monocular depth: Depth Pro (depth and focal length) or Depth Anything (metric)."""

from pathlib import Path

import numpy as np
import torch

from perception.preprocess import DepthProImageProcessor, group_by_shape, to_uint8_rgb
from reconstruction.errors import HoifitError


class DepthEstimator:
    """Metric depth in metres, and the focal length where the model estimates one.

    Args:
        model: a `DepthProForDepthEstimation` or a metric `DepthAnythingForDepthEstimation`.
        processor: its image processor: hoifit's `DepthProImageProcessor` for Depth Pro, a
            `DPTImageProcessorPil` for Depth Anything.
        device: where the model runs.
    """

    def __init__(self, model, processor, device: torch.device):
        self.model = model.to(device).eval()
        self.processor = processor
        self.device = device
        config = model.config
        self.kind = config.model_type
        if self.kind == "depth_anything" and config.depth_estimation_type != "metric":
            raise HoifitError(
                "this Depth Anything checkpoint predicts relative depth: use a metric one, "
                "e.g. depth-anything/Depth-Anything-V2-Metric-Indoor-Small-hf"
            )
        if self.kind not in ("depth_pro", "depth_anything"):
            raise ValueError(f"unsupported depth model type {self.kind!r}")

    @classmethod
    def from_pretrained(cls, folder: Path, device: torch.device) -> "DepthEstimator":
        """Load a checkpoint folder of either family (config, weights, preprocessor config)."""
        from transformers import (
            AutoConfig,
            DepthAnythingForDepthEstimation,
            DepthProForDepthEstimation,
            DPTImageProcessorPil,
        )

        if AutoConfig.from_pretrained(folder).model_type == "depth_pro":
            model = DepthProForDepthEstimation.from_pretrained(folder)
            processor = DepthProImageProcessor.from_pretrained(folder)
        else:
            model = DepthAnythingForDepthEstimation.from_pretrained(folder)
            processor = DPTImageProcessorPil.from_pretrained(folder)
        return cls(model, processor, device)

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
        sizes = [image.shape[:2] for image in images]
        if self.kind == "depth_pro":
            pixel_values = self.processor(images)
        else:
            pixel_values = self.processor(
                images, return_tensors="pt", input_data_format="channels_last"
            )["pixel_values"]
        outputs = self.model(pixel_values=pixel_values.to(self.device))
        results = self.processor.post_process_depth_estimation(outputs, target_sizes=sizes)
        if self.kind == "depth_anything":
            # Bicubic upsampling can overshoot below zero next to the nearest surfaces.
            return [
                (r["predicted_depth"].clamp(min=1e-3).float().cpu().numpy(), None) for r in results
            ]
        return [(r["predicted_depth"].cpu().numpy(), r["focal_length"]) for r in results]
