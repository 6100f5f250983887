"""Open-vocabulary object detection with Grounding DINO."""

from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

from perception.preprocess import to_uint8_rgb


@dataclass
class Detection:
    """One detected object.

    Attributes:
        label: the text label it matched.
        box: (4,) float32 XYXY in pixels of the original image.
        score: confidence in [0, 1].
    """

    label: str
    box: np.ndarray
    score: float


class Detector:
    """Grounding DINO: boxes for free-text labels ("person", "chair").

    Args:
        model: a `GroundingDinoForObjectDetection`.
        tokenizer: its (BERT) tokenizer.
        processor: its `GroundingDinoImageProcessorPil`.
        device: where the model runs.
    """

    def __init__(self, model, tokenizer, processor, device: torch.device):
        self.model = model.to(device).eval()
        self.tokenizer = tokenizer
        self.processor = processor
        self.device = device

    @classmethod
    def from_pretrained(cls, folder: Path, device: torch.device) -> "Detector":
        """Load a checkpoint folder (config, weights, tokenizer, preprocessor config)."""
        from transformers import (
            AutoTokenizer,
            GroundingDinoForObjectDetection,
            GroundingDinoImageProcessorPil,
        )

        return cls(
            GroundingDinoForObjectDetection.from_pretrained(folder),
            AutoTokenizer.from_pretrained(folder),
            GroundingDinoImageProcessorPil.from_pretrained(folder),
            device,
        )

    def detect(
        self, image: np.ndarray, labels: list[str], threshold: float = 0.3
    ) -> list[Detection]:
        """Detect the labelled objects in one image.

        Args:
            image: (H, W, 3) uint8 RGB.
            labels: object names, e.g. ["person", "chair"].
            threshold: minimum score.

        Returns:
            Detections sorted by decreasing score, boxes in pixels of `image`.
        """
        return self.detect_batch([image], labels, threshold)[0]

    @torch.no_grad()
    def detect_batch(
        self, images: list[np.ndarray], labels: list[str], threshold: float = 0.3
    ) -> list[list[Detection]]:
        """`detect` for several images (padded into one batch) with the same labels."""
        if not labels:
            raise ValueError("Grounding DINO needs at least one label")
        images = [to_uint8_rgb(image) for image in images]
        inputs = self.processor(images, return_tensors="pt", input_data_format="channels_last")
        input_ids, token_labels = self._prompt(labels)
        input_ids = input_ids.expand(len(images), -1).to(self.device)
        outputs = self.model(
            pixel_values=inputs["pixel_values"].to(self.device),
            pixel_mask=inputs["pixel_mask"].to(self.device),
            input_ids=input_ids,
            attention_mask=torch.ones_like(input_ids),
            token_type_ids=torch.zeros_like(input_ids),
        )
        # Only the labels' own tokens may score a query ([CLS], the dots and [SEP] may not), so a
        # query's score is its best label token, and that token names its label.
        logits = outputs.logits.float()  # (B, Q, max_text_len)
        on_label = torch.zeros(logits.shape[-1], dtype=torch.bool)
        on_label[: len(token_labels)] = torch.from_numpy(token_labels >= 0)
        found = self.processor.post_process_object_detection(
            SimpleNamespace(
                logits=logits.masked_fill(~on_label.to(logits.device), float("-inf")),
                pred_boxes=outputs.pred_boxes.float(),
            ),
            threshold=threshold,
            target_sizes=[image.shape[:2] for image in images],
        )
        results = []
        for image, result in zip(images, found, strict=True):
            height, width = image.shape[:2]
            order = torch.argsort(result["scores"], descending=True, stable=True).cpu()
            scores = result["scores"].cpu()[order].tolist()
            tokens = result["labels"].cpu()[order].numpy()
            boxes = result["boxes"].cpu()[order].numpy()
            # Predicted boxes may reach past the image border.
            boxes = np.clip(boxes, 0, [width, height, width, height]).astype(np.float32)
            results.append(
                [
                    Detection(labels[token_labels[token]], box, score)
                    for token, box, score in zip(tokens, boxes, scores, strict=True)
                ]
            )
        return results

    def _prompt(self, labels: list[str]) -> tuple[torch.Tensor, np.ndarray]:
        """Token ids of "label. label." and the label index of each token.

        Tokenizing label by label tells exactly which tokens belong to which label, whatever the
        tokenizer.

        Returns:
            input ids (1, T) and (T,) int64: the index in `labels` of each token, -1 for [CLS],
            the dots and [SEP].
        """
        tokenizer = self.tokenizer
        ids = [] if tokenizer.cls_token_id is None else [tokenizer.cls_token_id]
        owners = [-1] * len(ids)
        dot = tokenizer.convert_tokens_to_ids(".")
        for index, label in enumerate(labels):
            tokens = tokenizer(label.lower().strip(), add_special_tokens=False)["input_ids"]
            tokens = tokens or [tokenizer.unk_token_id]
            ids.extend([*tokens, dot])
            owners.extend([index] * len(tokens) + [-1])
        if tokenizer.sep_token_id is not None:
            ids.append(tokenizer.sep_token_id)
            owners.append(-1)
        max_len = self.model.config.max_text_len
        if len(ids) > max_len:
            raise ValueError(f"the labels need {len(ids)} tokens; Grounding DINO takes {max_len}")
        return torch.tensor([ids]), np.array(owners, np.int64)
