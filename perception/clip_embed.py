"""CLIP image and text embeddings (for object-mesh retrieval)."""

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from perception.preprocess import (
    CLIP_MEAN,
    CLIP_STD,
    center_crop,
    normalize,
    pad_batch,
    read_processor_config,
    resize,
    to_uint8_rgb,
)


class ClipEmbedder:
    """CLIP embeddings, L2-normalized so that a dot product is the cosine similarity.

    Args:
        model: a `CLIPModel`.
        tokenizer: its tokenizer.
        device: where the model runs.
        mean: normalization mean (RGB, [0, 1] scale).
        std: normalization standard deviation.
    """

    def __init__(self, model, tokenizer, device: torch.device, mean=CLIP_MEAN, std=CLIP_STD):
        self.model = model.to(device).eval()
        self.tokenizer = tokenizer
        self.device = device
        self.input_size = model.config.vision_config.image_size
        self.max_tokens = model.config.text_config.max_position_embeddings
        self.mean, self.std = mean, std

    @classmethod
    def from_pretrained(cls, folder: Path, device: torch.device) -> "ClipEmbedder":
        """Load a checkpoint folder (config, weights, tokenizer)."""
        from transformers import AutoTokenizer, CLIPModel

        settings = read_processor_config(folder)
        return cls(
            CLIPModel.from_pretrained(folder),
            AutoTokenizer.from_pretrained(folder),
            device,
            mean=settings.get("image_mean", CLIP_MEAN),
            std=settings.get("image_std", CLIP_STD),
        )

    @property
    def dim(self) -> int:
        """Embedding size D."""
        return self.model.config.projection_dim

    @torch.no_grad()
    def embed_images(self, images: list[np.ndarray]) -> np.ndarray:
        """Embed images: shorter side resized to the input size, then centre-cropped.

        Args:
            images: N arrays (H_i, W_i, 3) uint8 RGB.

        Returns:
            (N, D) float32, unit rows.
        """
        side = self.input_size
        inputs = []
        for image in images:
            height, width = to_uint8_rgb(image).shape[:2]
            factor = side / min(height, width)
            size = max(side, round(height * factor)), max(side, round(width * factor))
            inputs.append(
                normalize(
                    center_crop(resize(image, size, Image.BICUBIC), side), self.mean, self.std
                )
            )
        pixel_values, _ = pad_batch(inputs)
        features = self.model.get_image_features(pixel_values=pixel_values.to(self.device))
        return self._unit(features.pooler_output)

    @torch.no_grad()
    def embed_texts(self, texts: list[str]) -> np.ndarray:
        """Embed texts.

        Args:
            texts: N strings.

        Returns:
            (N, D) float32, unit rows.
        """
        tokens = self.tokenizer(
            list(texts),
            padding=True,
            truncation=True,
            max_length=self.max_tokens,
            return_tensors="pt",
        )
        features = self.model.get_text_features(
            input_ids=tokens["input_ids"].to(self.device),
            attention_mask=tokens["attention_mask"].to(self.device),
        )
        return self._unit(features.pooler_output)

    @staticmethod
    def _unit(features: torch.Tensor) -> np.ndarray:
        features = torch.nn.functional.normalize(features.float(), dim=-1)
        return features.cpu().numpy().astype(np.float32)
