"""Tiny random LLaVA, SAM and tokenizer, saved to folders, standing in for real checkpoints."""

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

WORDS = "where does the person touch chair ? body object contact is at".split()
SPECIALS = ["<unk>", "<pad>", "<s>", "</s>", "<image>"]
LLAVA_IMAGE_SIZE = 28
IMAGE_TOKENS = (LLAVA_IMAGE_SIZE // 14) ** 2
"""Image features LLaVA inserts (the 'default' strategy drops CLIP's class token)."""
SAM_IMAGE_SIZE = 64
SAM_DIM = 32


def tiny_tokenizer() -> PreTrainedTokenizerFast:
    """A whitespace word-level tokenizer over `WORDS`."""
    vocab = {token: i for i, token in enumerate(SPECIALS + WORDS)}
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


def save_tiny_llava(folder: Path, seed: int = 0) -> PreTrainedTokenizerFast:
    """Write a random two-layer LLaVA and its tokenizer to `folder`; return the tokenizer."""
    torch.manual_seed(seed)
    tokenizer = tiny_tokenizer()
    vision = CLIPVisionConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        image_size=LLAVA_IMAGE_SIZE,
        patch_size=14,
        projection_dim=32,
    )
    text = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    config = LlavaConfig(
        vision_config=vision,
        text_config=text,
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
        image_seq_length=IMAGE_TOKENS,
    )
    LlavaForConditionalGeneration(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return tokenizer


def save_tiny_sam(folder: Path, seed: int = 0) -> None:
    """Write a random two-layer SAM (64 px input, 8x8 embeddings, 32x32 masks) to `folder`."""
    torch.manual_seed(seed)
    config = SamConfig(
        vision_config=SamVisionConfig(
            hidden_size=32,
            output_channels=SAM_DIM,
            num_hidden_layers=2,
            num_attention_heads=2,
            image_size=SAM_IMAGE_SIZE,
            patch_size=8,
            window_size=4,
            global_attn_indexes=(1,),
            num_pos_feats=SAM_DIM // 2,
            mlp_dim=64,
        ),
        prompt_encoder_config=SamPromptEncoderConfig(
            hidden_size=SAM_DIM, image_size=SAM_IMAGE_SIZE, patch_size=8, mask_input_channels=4
        ),
        mask_decoder_config=SamMaskDecoderConfig(
            hidden_size=SAM_DIM,
            mlp_dim=64,
            num_attention_heads=2,
            iou_head_hidden_dim=32,
        ),
    )
    SamModel(config).save_pretrained(folder)
