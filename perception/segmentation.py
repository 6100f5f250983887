"""Box-prompted segmentation with SAM."""

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from perception.preprocess import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    longest_edge_size,
    normalize,
    pad_batch,
    read_processor_config,
    resize,
    to_uint8_rgb,
)


class Segmenter:
    """SAM: one mask per box prompt.

    Args:
        model: a `SamModel`.
        device: where the model runs.
        mean: normalization mean (RGB, [0, 1] scale).
        std: normalization standard deviation.
    """

    def __init__(self, model, device: torch.device, mean=IMAGENET_MEAN, std=IMAGENET_STD):
        self.model = model.to(device).eval()
        self.device = device
        self.input_size = model.config.vision_config.image_size
        self.mean, self.std = mean, std

    @classmethod
    def from_pretrained(cls, folder: Path, device: torch.device) -> "Segmenter":
        """Load a checkpoint folder."""
        from transformers import SamModel

        settings = read_processor_config(folder)
        return cls(
            SamModel.from_pretrained(folder),
            device,
            mean=settings.get("image_mean", IMAGENET_MEAN),
            std=settings.get("image_std", IMAGENET_STD),
        )

    def segment(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """Segment the object in each box.

        Args:
            image: (H, W, 3) uint8 RGB.
            boxes: (N, 4) XYXY pixels of `image`.

        Returns:
            (N, H, W) bool masks.
        """
        return self.segment_batch([image], [boxes])[0]

    @torch.no_grad()
    def segment_batch(self, images: list[np.ndarray], boxes: list[np.ndarray]) -> list[np.ndarray]:
        """`segment` for several images in one batch; returns B arrays (N_i, H_i, W_i) bool."""
        images = [to_uint8_rgb(image) for image in images]
        boxes = [np.asarray(b, np.float32).reshape(-1, 4) for b in boxes]
        count = max(len(b) for b in boxes)
        if count == 0:
            return [np.zeros((0, *image.shape[:2]), bool) for image in images]
        inputs, prompts, sizes = [], [], []
        for image, image_boxes in zip(images, boxes, strict=True):
            size = longest_edge_size(*image.shape[:2], self.input_size)
            factor = size[1] / image.shape[1], size[0] / image.shape[0]
            inputs.append(normalize(resize(image, size), self.mean, self.std))
            scaled = image_boxes * np.array([*factor, *factor], np.float32)
            # Images with fewer boxes repeat a box; the extra masks are dropped below.
            filler = scaled[:1] if len(scaled) else np.zeros((1, 4), np.float32)
            prompts.append(np.concatenate([scaled, np.repeat(filler, count - len(scaled), 0)]))
            sizes.append(size)
        pixel_values, _ = pad_batch(inputs, (self.input_size, self.input_size))
        outputs = self.model(
            pixel_values=pixel_values.to(self.device),
            input_boxes=torch.from_numpy(np.stack(prompts)).to(self.device),
            multimask_output=False,
        )
        low_res = outputs.pred_masks[:, :, 0].float()  # (B, N, h, w)
        padded = F.interpolate(
            low_res, (self.input_size, self.input_size), mode="bilinear", align_corners=False
        )
        masks = []
        for b, image in enumerate(images):
            height, width = sizes[b]
            cropped = padded[b : b + 1, : len(boxes[b]), :height, :width]
            full = F.interpolate(cropped, image.shape[:2], mode="bilinear", align_corners=False)
            masks.append((full[0] > 0).cpu().numpy())
        return masks
