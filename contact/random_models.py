"""Randomly initialized LLaVA, SAM and tokenizer, saved as checkpoint folders.

They stand in for real checkpoints where none can be downloaded: the tests build the "tiny"
size, and `scripts/contact_short_run.py` trains the "small" one on synthetic scenes. Both load
through `ContactVLM.from_pretrained` exactly like a hub checkpoint. The tokenizer is a
whitespace word-level one over the prompt's words and the given object names, so every word of
`contact.dataset.ContactPrompt`'s question and answer is a token of its own.
"""

from dataclasses import dataclass
from pathlib import Path

import torch
from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from tokenizers.pre_tokenizers import Whitespace
from transformers import (
    CLIPVisionConfig,
    LlamaConfig,
    LlavaConfig,
    LlavaForConditionalGeneration,
    PreTrainedTokenizerFast,
    SamConfig,
    SamMaskDecoderConfig,
    SamModel,
    SamPromptEncoderConfig,
    SamVisionConfig,
)

PROMPT_WORDS = tuple("USER ASSISTANT : where does the person touch ? contact is at object".split())
"""The words of `contact.dataset.QUESTION_TEMPLATE` and its answers, as `Whitespace` splits them."""

SPECIALS = ("<unk>", "<pad>", "<s>", "</s>", "<image>")


@dataclass(frozen=True)
class RandomSize:
    """Sizes of a random LLaVA + SAM pair.

    Attributes:
        llava_image: side of the CLIP tower's input (patch 14).
        vision_dim: CLIP tower width.
        vision_layers: CLIP tower depth.
        text_dim: language model width.
        text_layers: language model depth.
        sam_image: side of SAM's input; its embedding grid is sam_image / sam_patch.
        sam_patch: SAM's patch size.
        sam_dim: SAM's prompt / embedding dimension.
    """

    llava_image: int
    vision_dim: int
    vision_layers: int
    text_dim: int
    text_layers: int
    sam_image: int
    sam_patch: int
    sam_dim: int

    @property
    def image_tokens(self) -> int:
        """Image features LLaVA inserts (the 'default' strategy drops CLIP's class token)."""
        return (self.llava_image // 14) ** 2

    @property
    def mask_size(self) -> int:
        """Side of the decoder's masks: 4x the embedding grid."""
        return self.sam_image // self.sam_patch * 4


SIZES = {
    "tiny": RandomSize(28, 32, 2, 32, 2, 64, 8, 32),
    "small": RandomSize(56, 64, 2, 128, 4, 128, 8, 64),
}
"""The sizes by name: "tiny" for tests (seconds), "small" for short CPU training runs."""


def word_tokenizer(object_names: tuple[str, ...] = ("chair",)) -> PreTrainedTokenizerFast:
    """A whitespace word-level tokenizer over the prompt's words and the object names' words."""
    words = list(PROMPT_WORDS)
    for name in object_names:
        words.extend(word for word in name.split() if word not in words)
    vocab = {token: i for i, token in enumerate((*SPECIALS, *words))}
    backend = Tokenizer(WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = Whitespace()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token="<unk>",
        pad_token="<pad>",
        bos_token="<s>",
        eos_token="</s>",
    )
    tokenizer.add_tokens(["<image>"], special_tokens=True)
    return tokenizer


def save_random_llava(
    folder: Path, size: str = "tiny", object_names: tuple[str, ...] = ("chair",), seed: int = 0
) -> PreTrainedTokenizerFast:
    """Write a random LLaVA of `SIZES[size]` and its tokenizer to `folder`; return the tokenizer."""
    spec = SIZES[size]
    torch.manual_seed(seed)
    tokenizer = word_tokenizer(object_names)
    vision = CLIPVisionConfig(
        hidden_size=spec.vision_dim,
        intermediate_size=2 * spec.vision_dim,
        num_hidden_layers=spec.vision_layers,
        num_attention_heads=4,
        image_size=spec.llava_image,
        patch_size=14,
        projection_dim=spec.vision_dim,
    )
    text = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=spec.text_dim,
        intermediate_size=2 * spec.text_dim,
        num_hidden_layers=spec.text_layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=spec.image_tokens + 64,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    config = LlavaConfig(
        vision_config=vision,
        text_config=text,
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
        image_seq_length=spec.image_tokens,
    )
    LlavaForConditionalGeneration(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return tokenizer


def save_random_sam(folder: Path, size: str = "tiny", seed: int = 0) -> None:
    """Write a random two-layer SAM of `SIZES[size]` to `folder`."""
    spec = SIZES[size]
    torch.manual_seed(seed)
    config = SamConfig(
        vision_config=SamVisionConfig(
            hidden_size=spec.sam_dim,
            output_channels=spec.sam_dim,
            num_hidden_layers=2,
            num_attention_heads=2,
            image_size=spec.sam_image,
            patch_size=spec.sam_patch,
            window_size=4,
            global_attn_indexes=(1,),
            num_pos_feats=spec.sam_dim // 2,
            mlp_dim=2 * spec.sam_dim,
            # SamVisionConfig's default (1e-10) leaves a random encoder's output at ~1e-21:
            # renders would carry no information to the decoder.
            initializer_range=0.02,
        ),
        prompt_encoder_config=SamPromptEncoderConfig(
            hidden_size=spec.sam_dim,
            image_size=spec.sam_image,
            patch_size=spec.sam_patch,
            mask_input_channels=4,
        ),
        mask_decoder_config=SamMaskDecoderConfig(
            hidden_size=spec.sam_dim,
            mlp_dim=2 * spec.sam_dim,
            num_attention_heads=2,
            iou_head_hidden_dim=spec.sam_dim,
        ),
    )
    SamModel(config).save_pretrained(folder)
