"""Person detection with RT-DETR (COCO classes)."""

from pathlib import Path

import numpy as np
import torch

from perception.preprocess import (
    cxcywh_to_xyxy,
    normalize,
    pad_batch,
    read_processor_config,
    resize,
    to_uint8_rgb,
)


class PersonDetector:
    """RT-DETR restricted to the "person" class.

    Args:
        model: an `RTDetrForObjectDetection`.
        device: where the model runs.
        input_size: (height, width) the image is resized to (RT-DETR does not keep the aspect).
        mean: normalization mean or None (RT-DETR only rescales to [0, 1]).
        std: normalization standard deviation or None.
    """

    def __init__(self, model, device: torch.device, input_size=(640, 640), mean=None, std=None):
        self.model = model.to(device).eval()
        self.device = device
        self.input_size = tuple(input_size)
        self.mean, self.std = mean, std
        label2id = {name.lower(): int(i) for name, i in model.config.label2id.items()}
        self.person_id = label2id.get("person", 0)

    @classmethod
    def from_pretrained(cls, folder: Path, device: torch.device) -> "PersonDetector":
        """Load a checkpoint folder."""
        from transformers import RTDetrForObjectDetection

        settings = read_processor_config(folder)
        size = settings.get("size", {})
        normalized = settings.get("do_normalize", False)
        return cls(
            RTDetrForObjectDetection.from_pretrained(folder),
            device,
            input_size=(size.get("height", 640), size.get("width", 640)),
            mean=settings.get("image_mean") if normalized else None,
            std=settings.get("image_std") if normalized else None,
        )

    def detect(self, image: np.ndarray, threshold: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
        """Detect people.

        Args:
            image: (H, W, 3) uint8 RGB.
            threshold: minimum score.

        Returns:
            boxes (N, 4) float32 XYXY pixels of `image` and scores (N,) float32, by decreasing
            score.
        """
        return self.detect_batch([image], threshold)[0]

    @torch.no_grad()
    def detect_batch(
        self, images: list[np.ndarray], threshold: float = 0.5
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """`detect` for several images in one batch."""
        images = [to_uint8_rgb(image) for image in images]
        inputs = [resize(image, self.input_size) for image in images]
        if self.mean is not None:
            inputs = [normalize(x, self.mean, self.std) for x in inputs]
        pixel_values, _ = pad_batch(inputs)
        outputs = self.model(pixel_values=pixel_values.to(self.device))
        scores = outputs.logits.sigmoid()[..., self.person_id].float().cpu().numpy()  # (B, Q)
        results = []
        for b, image in enumerate(images):
            height, width = image.shape[:2]
            boxes = cxcywh_to_xyxy(outputs.pred_boxes[b].float().cpu().numpy(), width, height)
            order = np.argsort(-scores[b], kind="stable")
            order = order[scores[b][order] > threshold]
            results.append((boxes[order], scores[b][order].astype(np.float32)))
        return results
