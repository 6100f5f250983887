"""Person detection with RT-DETR (COCO classes)."""

from pathlib import Path

import numpy as np
import torch

from perception.preprocess import to_uint8_rgb


class PersonDetector:
    """RT-DETR restricted to the "person" class.

    Args:
        model: an `RTDetrForObjectDetection`.
        processor: its `RTDetrImageProcessorPil`.
        device: where the model runs.
    """

    def __init__(self, model, processor, device: torch.device):
        self.model = model.to(device).eval()
        self.processor = processor
        self.device = device
        label2id = {name.lower(): int(i) for name, i in model.config.label2id.items()}
        self.person_id = label2id.get("person", 0)

    @classmethod
    def from_pretrained(cls, folder: Path, device: torch.device) -> "PersonDetector":
        """Load a checkpoint folder (config, weights, preprocessor config)."""
        from transformers import RTDetrForObjectDetection, RTDetrImageProcessorPil

        return cls(
            RTDetrForObjectDetection.from_pretrained(folder),
            RTDetrImageProcessorPil.from_pretrained(folder),
            device,
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
        inputs = self.processor(images, return_tensors="pt", input_data_format="channels_last")
        outputs = self.model(pixel_values=inputs["pixel_values"].to(self.device))
        found = self.processor.post_process_object_detection(
            outputs, threshold=threshold, target_sizes=[image.shape[:2] for image in images]
        )
        results = []
        for image, result in zip(images, found, strict=True):
            height, width = image.shape[:2]
            # The detections come by decreasing score, over all classes.
            person = (result["labels"] == self.person_id).cpu()
            boxes = result["boxes"].float().cpu()[person].numpy()
            # Predicted boxes may reach past the image border.
            boxes = np.clip(boxes, 0, [width, height, width, height]).astype(np.float32)
            results.append((boxes, result["scores"].float().cpu()[person].numpy()))
        return results
