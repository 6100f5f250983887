import json

import numpy as np
import pytest
import torch
from PIL import Image

from retrieval.views import ViewConfig

SMALL_VIEWS = ViewConfig(num_views=4, image_size=64)


@pytest.fixture(scope="session")
def tiny_clip_dir(tmp_path_factory):
    """A randomly initialized tiny CLIP model, tokenizer and processor config in a folder."""
    from transformers import CLIPConfig, CLIPModel, CLIPTokenizer

    folder = tmp_path_factory.mktemp("tiny_clip")
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for letter in "abcdefghijklmnopqrstuvwxyz":
        vocab[letter] = len(vocab)
        vocab[letter + "</w>"] = len(vocab)
    tiny = dict(hidden_size=32, intermediate_size=37, num_hidden_layers=1, num_attention_heads=2)
    config = CLIPConfig(
        text_config=dict(
            vocab_size=len(vocab),
            max_position_embeddings=32,
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
            **tiny,
        ),
        vision_config=dict(image_size=32, patch_size=8, **tiny),
        projection_dim=16,
    )
    torch.manual_seed(0)
    CLIPModel(config).save_pretrained(folder)
    CLIPTokenizer(vocab=vocab, merges=[]).save_pretrained(folder)
    processor = {
        "image_processor_type": "CLIPImageProcessor",
        "size": {"shortest_edge": 36},
        "crop_size": {"height": 32, "width": 32},
        "image_mean": [0.5, 0.5, 0.5],
        "image_std": [0.25, 0.25, 0.25],
    }
    (folder / "preprocessor_config.json").write_text(json.dumps(processor))
    return folder


class LookupEmbedder:
    """A fake embedder with known answers: every image maps to the one-hot vector of the category
    of its nearest reference image (pixel distance at 32x32), every text to the one-hot vector of
    the category it names."""

    def __init__(self, references: dict[str, list[np.ndarray]]):
        self.categories = list(references)
        self.model_name = "lookup"
        self.keys, self.labels = [], []
        for label, images in enumerate(references.values()):
            for image in images:
                self.keys.append(self._key(image))
                self.labels.append(label)
        self.keys = np.stack(self.keys)
        self.calls = 0

    @staticmethod
    def _key(image):
        small = Image.fromarray(np.asarray(image, np.uint8)).resize((32, 32), Image.BILINEAR)
        return np.asarray(small, np.float64).ravel()

    def _one_hot(self, label):
        vector = np.zeros(len(self.categories), np.float32)
        vector[label] = 1
        return vector

    def embed_images(self, images):
        self.calls += 1
        rows = []
        for image in images:
            distances = ((self.keys - self._key(image)) ** 2).sum(axis=1)
            rows.append(self._one_hot(self.labels[int(np.argmin(distances))]))
        return np.stack(rows)

    def embed_texts(self, texts):
        return np.stack([self._one_hot(self.categories.index(text.split()[-1])) for text in texts])
