"""Tiny random models for every perception stage, saved like hub folders.

Each `save_*` function writes a folder that `hoifit.registry.load_model` loads through the
same code path as a downloaded checkpoint (config, safetensors weights, tokenizer files and a
preprocessor config sized for the tiny model, with the published checkpoint's other settings).
"""

import json
from pathlib import Path

import torch
from tokenizers import Tokenizer, models, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast

WORDS = ["a", "person", "chair", "cup", "photo", "of", "the", "bike", "table"]


def save_tokenizer(
    folder: Path, special: dict[str, int], template: str | None = None, **roles: str
) -> None:
    """A word-level tokenizer whose special tokens have the given ids."""
    vocab = {}
    free = iter(i for i in range(10_000) if i not in special.values())
    for word in [*WORDS, ".", "[UNK]"]:
        vocab[word] = next(free)
    for token, index in special.items():
        vocab[token] = index
    tokenizer = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Whitespace(), pre_tokenizers.Punctuation()]
    )
    if template is not None:
        tokenizer.post_processor = processors.TemplateProcessing(
            single=template, special_tokens=[(t, i) for t, i in special.items() if t in template]
        )
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="[UNK]", **roles)
    fast.save_pretrained(folder)


def save_grounding_dino(folder: Path) -> Path:
    from transformers import (
        GroundingDinoConfig,
        GroundingDinoForObjectDetection,
        GroundingDinoImageProcessorPil,
    )

    torch.manual_seed(0)
    config = GroundingDinoConfig(
        backbone_config={
            "model_type": "swin",
            "embed_dim": 8,
            "depths": [1, 1, 1, 1],
            "num_heads": [1, 1, 1, 1],
            "window_size": 4,
            "out_features": ["stage2", "stage3", "stage4"],
            "out_indices": [2, 3, 4],
        },
        text_config={
            "model_type": "bert",
            "vocab_size": 128,
            "hidden_size": 16,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "intermediate_size": 16,
        },
        num_queries=10,
        encoder_layers=1,
        decoder_layers=2,
        encoder_ffn_dim=16,
        decoder_ffn_dim=16,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        d_model=32,
        num_feature_levels=4,
        encoder_n_points=2,
        decoder_n_points=2,
        max_text_len=16,
    )
    GroundingDinoForObjectDetection(config).eval().save_pretrained(folder)
    GroundingDinoImageProcessorPil(size={"shortest_edge": 48, "longest_edge": 80}).save_pretrained(
        folder
    )
    save_tokenizer(
        folder,
        {"[PAD]": 0, "[CLS]": 101, "[SEP]": 102, "[MASK]": 103},
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
    )
    return folder


def save_sam(folder: Path) -> Path:
    from transformers import SamConfig, SamImageProcessorPil, SamModel

    torch.manual_seed(0)
    config = SamConfig(
        vision_config={
            "hidden_size": 16,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "mlp_dim": 32,
            "output_channels": 16,
            "image_size": 64,
            "patch_size": 16,
            "window_size": 2,
            "global_attn_indexes": [1],
            "num_pos_feats": 8,
        },
        prompt_encoder_config={"hidden_size": 16, "image_size": 64, "patch_size": 16},
        mask_decoder_config={
            "hidden_size": 16,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "mlp_dim": 16,
            "iou_head_hidden_dim": 16,
        },
    )
    SamModel(config).eval().save_pretrained(folder)
    SamImageProcessorPil(
        size={"longest_edge": 64}, pad_size={"height": 64, "width": 64}
    ).save_pretrained(folder)
    return folder


def _dinov2(image_size: int, **extra) -> dict:
    return {
        "model_type": "dinov2",
        "hidden_size": 16,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "mlp_ratio": 2,
        "image_size": image_size,
        "patch_size": 8,
        **extra,
    }


def save_depth_pro(folder: Path) -> Path:
    from transformers import DepthProConfig, DepthProForDepthEstimation

    torch.manual_seed(0)
    config = DepthProConfig(
        fusion_hidden_size=16,
        patch_size=32,
        intermediate_hook_ids=[1, 0],
        intermediate_feature_dims=[8, 8],
        scaled_images_ratios=[0.5, 1],
        scaled_images_overlap_ratios=[0.0, 0.25],
        scaled_images_feature_dims=[16, 8],
        use_fov_model=True,
        image_model_config=_dinov2(32),
        patch_model_config=_dinov2(32),
        fov_model_config=_dinov2(32),
    )
    DepthProForDepthEstimation(config).eval().save_pretrained(folder)
    # transformers' Depth Pro processor needs torchvision, so its config is written by hand; the
    # input side is patch_size / min(scaled_images_ratios).
    processor = {
        "image_processor_type": "DepthProImageProcessorFast",
        "size": {"height": 64, "width": 64},
        "image_mean": [0.5, 0.5, 0.5],
        "image_std": [0.5, 0.5, 0.5],
        "rescale_factor": 1 / 255,
    }
    (folder / "preprocessor_config.json").write_text(json.dumps(processor))
    return folder


def save_depth_anything(folder: Path) -> Path:
    from transformers import (
        DepthAnythingConfig,
        DepthAnythingForDepthEstimation,
        DPTImageProcessorPil,
    )
    from transformers.image_utils import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD

    torch.manual_seed(0)
    config = DepthAnythingConfig(
        backbone_config=_dinov2(
            28,
            patch_size=14,
            num_hidden_layers=4,
            out_indices=[1, 2, 3, 4],
            reshape_hidden_states=False,
        ),
        reassemble_hidden_size=16,
        neck_hidden_sizes=[8, 8, 8, 8],
        fusion_hidden_size=8,
        head_hidden_size=8,
        depth_estimation_type="metric",
        max_depth=20,
    )
    DepthAnythingForDepthEstimation(config).eval().save_pretrained(folder)
    DPTImageProcessorPil(
        size={"height": 28, "width": 28},
        keep_aspect_ratio=True,
        ensure_multiple_of=14,
        image_mean=IMAGENET_DEFAULT_MEAN,
        image_std=IMAGENET_DEFAULT_STD,
    ).save_pretrained(folder)
    return folder


def save_rt_detr(folder: Path) -> Path:
    from transformers import RTDetrConfig, RTDetrForObjectDetection, RTDetrImageProcessorPil

    torch.manual_seed(0)
    config = RTDetrConfig(
        backbone_config={
            "model_type": "rt_detr_resnet",
            "embedding_size": 8,
            "hidden_sizes": [8, 8, 8, 8],
            "depths": [1, 1, 1, 1],
            "layer_type": "basic",
            "out_features": ["stage2", "stage3", "stage4"],
        },
        encoder_in_channels=[8, 8, 8],
        encoder_hidden_dim=16,
        encoder_ffn_dim=16,
        encoder_attention_heads=2,
        d_model=16,
        decoder_in_channels=[16, 16, 16],
        decoder_ffn_dim=16,
        decoder_attention_heads=2,
        decoder_layers=1,
        decoder_n_points=2,
        num_queries=10,
        num_labels=3,
        id2label={0: "person", 1: "chair", 2: "cup"},
        label2id={"person": 0, "chair": 1, "cup": 2},
    )
    RTDetrForObjectDetection(config).eval().save_pretrained(folder)
    RTDetrImageProcessorPil(size={"height": 64, "width": 64}).save_pretrained(folder)
    return folder


def save_vitpose(folder: Path) -> Path:
    from transformers import VitPoseConfig, VitPoseForPoseEstimation, VitPoseImageProcessorPil

    torch.manual_seed(0)
    config = VitPoseConfig(
        backbone_config={
            "model_type": "vitpose_backbone",
            "image_size": [64, 48],
            "patch_size": [16, 16],
            "hidden_size": 16,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "mlp_ratio": 2,
            "out_indices": [1],
        },
        num_labels=17,
        scale_factor=4,
        use_simple_decoder=True,
    )
    VitPoseForPoseEstimation(config).eval().save_pretrained(folder)
    VitPoseImageProcessorPil(size={"height": 64, "width": 48}).save_pretrained(folder)
    return folder


def save_clip(folder: Path) -> Path:
    from transformers import CLIPConfig, CLIPImageProcessorPil, CLIPModel

    torch.manual_seed(0)
    config = CLIPConfig(
        text_config={
            "vocab_size": 64,
            "hidden_size": 16,
            "intermediate_size": 16,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "max_position_embeddings": 16,
            "bos_token_id": 30,
            "eos_token_id": 31,
            "pad_token_id": 0,
        },
        vision_config={
            "hidden_size": 16,
            "intermediate_size": 16,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "image_size": 32,
            "patch_size": 16,
        },
        projection_dim=8,
    )
    CLIPModel(config).eval().save_pretrained(folder)
    CLIPImageProcessorPil(
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
    ).save_pretrained(folder)
    save_tokenizer(
        folder,
        {"[PAD]": 0, "<|startoftext|>": 30, "<|endoftext|>": 31},
        template="<|startoftext|> $A <|endoftext|>",
        pad_token="[PAD]",
        bos_token="<|startoftext|>",
        eos_token="<|endoftext|>",
    )
    return folder
