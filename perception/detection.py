"""Open-vocabulary object detection with Grounding DINO."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from perception.preprocess import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    cxcywh_to_xyxy,
    normalize,
    pad_batch,
    read_processor_config,
    resize,
    shortest_edge_size,
    to_uint8_rgb,
)


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
        device: where the model runs.
        shortest_edge: input size of the shorter image side.
        longest_edge: cap on the longer image side.
        mean: normalization mean (RGB, [0, 1] scale).
        std: normalization standard deviation.
    """

    def __init__(
        self,
        model,
        tokenizer,
        device: torch.device,
        shortest_edge: int = 800,
        longest_edge: int = 1333,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
    ):
        self.model = model.to(device).eval()
        self.tokenizer = tokenizer
        self.device = device
        self.shortest_edge = shortest_edge
        self.longest_edge = longest_edge
        self.mean, self.std = mean, std

    @classmethod
    def from_pretrained(cls, folder: Path, device: torch.device) -> "Detector":
        """Load a checkpoint folder (config, weights, tokenizer, optional preprocessor config)."""
        from transformers import AutoTokenizer, GroundingDinoForObjectDetection

        settings = read_processor_config(folder)
        size = settings.get("size", {})
        return cls(
            GroundingDinoForObjectDetection.from_pretrained(folder),
            AutoTokenizer.from_pretrained(folder),
            device,
            shortest_edge=size.get("shortest_edge", 800),
            longest_edge=size.get("longest_edge", 1333),
            mean=settings.get("image_mean", IMAGENET_MEAN),
            std=settings.get("image_std", IMAGENET_STD),
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
        inputs = []
        for image in images:
            size = shortest_edge_size(*image.shape[:2], self.shortest_edge, self.longest_edge)
            inputs.append(normalize(resize(image, size), self.mean, self.std))
        pixel_values, pixel_mask = pad_batch(inputs)
        input_ids, spans = self._prompt(labels)
        input_ids = input_ids.expand(len(images), -1).to(self.device)
        outputs = self.model(
            pixel_values=pixel_values.to(self.device),
            pixel_mask=pixel_mask.to(self.device),
            input_ids=input_ids,
            attention_mask=torch.ones_like(input_ids),
            token_type_ids=torch.zeros_like(input_ids),
        )
        token_probs = outputs.logits.sigmoid()[..., : input_ids.shape[1]]  # (B, Q, T)
        # A query's score for a label is its best score over the label's tokens.
        label_probs = torch.stack(
            [token_probs[..., start:end].amax(-1) for start, end in spans], dim=-1
        )  # (B, Q, L)
        scores, label_index = label_probs.max(-1)  # (B, Q)
        results = []
        for b, image in enumerate(images):
            height, width = image.shape[:2]
            boxes = cxcywh_to_xyxy(outputs.pred_boxes[b].float().cpu().numpy(), width, height)
            keep = torch.nonzero(scores[b] > threshold).flatten().tolist()
            keep.sort(key=lambda q: -float(scores[b, q]))
            results.append(
                [
                    Detection(labels[int(label_index[b, q])], boxes[q], float(scores[b, q]))
                    for q in keep
                ]
            )
        return results

    def _prompt(self, labels: list[str]) -> tuple[torch.Tensor, list[tuple[int, int]]]:
        """Token ids of "label. label." and each label's token span [start, end).

        Tokenizing label by label gives the spans exactly, whatever the tokenizer.
        """
        tokenizer = self.tokenizer
        ids = [] if tokenizer.cls_token_id is None else [tokenizer.cls_token_id]
        dot = tokenizer.convert_tokens_to_ids(".")
        spans = []
        for label in labels:
            tokens = tokenizer(label.lower().strip(), add_special_tokens=False)["input_ids"]
            spans.append((len(ids), len(ids) + max(len(tokens), 1)))
            ids.extend(tokens or [tokenizer.unk_token_id])
            ids.append(dot)
        if tokenizer.sep_token_id is not None:
            ids.append(tokenizer.sep_token_id)
        max_len = self.model.config.max_text_len
        if len(ids) > max_len:
            raise ValueError(f"the labels need {len(ids)} tokens; Grounding DINO takes {max_len}")
        return torch.tensor([ids]), spans
