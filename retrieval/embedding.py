"""A minimal CLIP embedder for galleries: images and texts to L2-normalized vectors.

The gallery accepts any object with `embed_images` and `embed_texts` (see `Embedder`), so this
one can be swapped for another wrapper. Images are preprocessed by transformers'
`CLIPImageProcessorPil` with the model's processor config.
"""

import logging
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import torch

from reconstruction.errors import HoifitError

logger = logging.getLogger(__name__)

DEFAULT_CLIP_MODEL = "openai/clip-vit-base-patch32"
"""Hub id of the CLIP model used when none is given."""

DOWNLOAD_HINT = "python scripts/download_weights.py clip"
"""The command that fetches the CLIP weights; named in the missing-weight error."""


@runtime_checkable
class Embedder(Protocol):
    """What galleries need from an embedding model: images and texts in one joint space."""

    def embed_images(self, images: list[np.ndarray]) -> np.ndarray:
        """N (H, W, 3) uint8 RGB images -> (N, D) float32, L2-normalized rows."""

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        """N strings -> (N, D) float32, L2-normalized rows."""


class ClipEmbedder:
    """CLIP image and text embeddings from a local folder or a hub id.

    Attributes:
        model_name: the path or hub id the model was loaded from.
        dim: D, the size of the joint embedding.
        device: torch device the model runs on.
        processor: the model's `CLIPImageProcessorPil`.
    """

    def __init__(self, model_name_or_path=DEFAULT_CLIP_MODEL, device="cpu", batch_size: int = 32):
        """Load the model, its tokenizer and its image processor.

        Args:
            model_name_or_path: a folder written by `save_pretrained` or a hub id.
            device: torch device to run on.
            batch_size: images or texts per forward pass.

        Raises:
            HoifitError: the weights or tokenizer cannot be found (the message names the model
                and the download command).
        """
        from transformers import AutoTokenizer, CLIPModel

        self.model_name = str(model_name_or_path)
        self.device = torch.device(device)
        self.batch_size = batch_size
        looks_local = Path(self.model_name).is_absolute() or self.model_name.startswith(".")
        if looks_local and not Path(self.model_name).is_dir():
            raise HoifitError(
                f"CLIP model '{self.model_name}' not found (no such folder); "
                f"get it with `{DOWNLOAD_HINT}` or pass a hub id"
            )
        try:
            self.model = CLIPModel.from_pretrained(self.model_name).to(self.device).eval()
            self.tokenizer = AutoTokenizer.from_pretrained(self.model_name)
        except (OSError, ValueError) as error:
            raise HoifitError(
                f"CLIP model '{self.model_name}' not found ({_first_line(error)}); "
                f"get it with `{DOWNLOAD_HINT}` or pass a local folder"
            ) from error
        self.dim = int(self.model.config.projection_dim)
        self.processor = _image_processor(
            self.model_name, int(self.model.config.vision_config.image_size)
        )

    def preprocess(self, images: list[np.ndarray]) -> torch.Tensor:
        """Resize, centre-crop and normalize images with the model's image processor.

        Args:
            images: N (H, W, 3) uint8 RGB images (a (H, W) grey image is expanded to RGB).

        Returns:
            (N, 3, S_h, S_w) float32 pixel values on CPU.
        """
        batch = []
        for image in images:
            image = np.asarray(image)
            if image.ndim == 2:
                image = np.repeat(image[..., None], 3, axis=-1)
            if image.ndim != 3 or image.shape[-1] != 3 or image.size == 0:
                raise ValueError(f"expected (H, W, 3) RGB images, got shape {image.shape}")
            batch.append(image.astype(np.uint8, copy=False))
        return self.processor(batch, return_tensors="pt", input_data_format="channels_last")[
            "pixel_values"
        ]

    @torch.no_grad()
    def embed_images(self, images: list[np.ndarray]) -> np.ndarray:
        """N (H, W, 3) uint8 RGB images -> (N, D) float32, L2-normalized rows."""
        if len(images) == 0:
            return np.zeros((0, self.dim), np.float32)
        chunks = []
        for start in range(0, len(images), self.batch_size):
            pixels = self.preprocess(images[start : start + self.batch_size]).to(self.device)
            chunks.append(_pooled(self.model.get_image_features(pixel_values=pixels)))
        return _normalized(torch.cat(chunks))

    @torch.no_grad()
    def embed_texts(self, texts: list[str]) -> np.ndarray:
        """N strings -> (N, D) float32, L2-normalized rows."""
        if len(texts) == 0:
            return np.zeros((0, self.dim), np.float32)
        max_length = int(self.model.config.text_config.max_position_embeddings)
        chunks = []
        for start in range(0, len(texts), self.batch_size):
            tokens = self.tokenizer(
                list(texts[start : start + self.batch_size]),
                padding=True,
                truncation=True,
                max_length=max_length,
                return_tensors="pt",
            ).to(self.device)
            features = self.model.get_text_features(
                input_ids=tokens["input_ids"], attention_mask=tokens.get("attention_mask")
            )
            chunks.append(_pooled(features))
        return _normalized(torch.cat(chunks))


def _pooled(features) -> torch.Tensor:
    """The projected features, whether transformers returns a tensor or a model output."""
    return features if isinstance(features, torch.Tensor) else features.pooler_output


def _normalized(features: torch.Tensor) -> np.ndarray:
    """(N, D) -> (N, D) float32 numpy with unit rows."""
    features = torch.nn.functional.normalize(features.float(), dim=-1)
    return features.cpu().numpy().astype(np.float32)


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def _image_processor(model_name: str, image_size: int):
    """The model's `CLIPImageProcessorPil`.

    Falls back to OpenAI CLIP's settings (the class defaults) at the vision tower's input size
    where the model has no processor config (a bare `save_pretrained` of the model).
    """
    from transformers import CLIPImageProcessorPil

    try:
        return CLIPImageProcessorPil.from_pretrained(model_name)
    except (OSError, ValueError):
        logger.info("%s has no image processor config; using OpenAI CLIP's", model_name)
        return CLIPImageProcessorPil(
            size={"shortest_edge": image_size},
            crop_size={"height": image_size, "width": image_size},
        )
