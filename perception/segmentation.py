"""Box-prompted segmentation with SAM."""

from pathlib import Path

import numpy as np
import torch

from perception.preprocess import to_uint8_rgb


class Segmenter:
    """SAM: one mask per box prompt.

    Args:
        model: a `SamModel`.
        processor: a `SamProcessor` (with a `SamImageProcessorPil`): it resizes and pads the
            images, scales the boxes with them and upsamples the masks back.
        device: where the model runs.
    """

    def __init__(self, model, processor, device: torch.device):
        self.model = model.to(device).eval()
        self.processor = processor
        self.device = device

    @classmethod
    def from_pretrained(cls, folder: Path, device: torch.device) -> "Segmenter":
        """Load a checkpoint folder (config, weights, preprocessor config)."""
        from transformers import SamImageProcessorPil, SamModel, SamProcessor

        processor = SamProcessor(image_processor=SamImageProcessorPil.from_pretrained(folder))
        return cls(SamModel.from_pretrained(folder), processor, device)

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
        # Images with fewer boxes repeat a box, since a batch needs as many boxes per image;
        # the extra masks are dropped below.
        prompts = []
        for image_boxes in boxes:
            filler = image_boxes[:1] if len(image_boxes) else np.zeros((1, 4), np.float32)
            prompts.append(
                np.concatenate([image_boxes, filler.repeat(count - len(image_boxes), 0)])
            )
        inputs = self.processor(
            images=images,
            input_boxes=[p.tolist() for p in prompts],
            input_data_format="channels_last",
            return_tensors="pt",
        )
        outputs = self.model(
            pixel_values=inputs["pixel_values"].to(self.device),
            # The processor scales the boxes in float64.
            input_boxes=inputs["input_boxes"].float().to(self.device),
            multimask_output=False,
        )
        masks = self.processor.post_process_masks(
            outputs.pred_masks.float().cpu(),  # (B, N, 1, h, w)
            inputs["original_sizes"],
            inputs["reshaped_input_sizes"],
        )
        return [m[: len(b), 0].numpy() for m, b in zip(masks, boxes, strict=True)]
