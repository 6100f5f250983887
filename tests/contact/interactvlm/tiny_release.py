"""Synthetic InteractVLM releases at tiny sizes, in the published layout, for the tests.

The key names follow the state-dict list of the published checkpoints (LLaMA under "model.",
LLaVA-v1's single "model.mm_projector", SAM under "model.visual_model." with segment-anything's
own names, LISA's "model.text_hidden_fcs", the "vi_v1" camera encoder and, for the joint model,
the attention splitter); the values are random, the weights bf16 in sharded files with an index;
the tokenizer is a character-level SentencePiece model with LLaMA's settings, trained here.
"""

import io
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

SIZES = dict(
    hidden=32,
    intermediate=64,
    layers=2,
    heads=4,
    mm_hidden=16,
    out_dim=32,
    sam_hidden=32,
    sam_layers=2,
    sam_heads=2,
    sam_grid=8,
    sam_patch=16,
    sam_mlp=64,
    decoder_mlp=64,
    gate_hidden=16,
    splitter_hidden=16,
)
RENDER_SIZE = SIZES["sam_grid"] * SIZES["sam_patch"]  # 128: the tiny SAM's input side

CORPUS = [
    "A chat between a curious human and an artificial intelligence assistant. The assistant "
    "gives helpful, detailed, and polite answers to the human's questions.",
    "USER: Which body parts are in contact with the chair? Segment these contact areas. "
    "ASSISTANT: The contacting body parts are hands, and the contact region is.",
    "What type of affordance does the human-object interaction suggest? Then, segment the area "
    "on the bottle where the human is making contact. The affordance type is grasp.",
    "Segment the area on the human's body that is in direct contact with the table in this image.",
    "0123456789 xyzqvjkXYZQVJK",
]


def toy_sentencepiece() -> bytes:
    """A character-level SentencePiece model with LLaMA's settings (byte fallback, dummy prefix,
    no whitespace normalization, unk 0, bos 1, eos 2)."""
    import sentencepiece

    writer = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(CORPUS * 3),
        model_writer=writer,
        model_type="char",
        vocab_size=400,
        hard_vocab_limit=False,
        byte_fallback=True,
        add_dummy_prefix=True,
        remove_extra_whitespaces=False,
        normalization_rule_name="identity",
        character_coverage=1.0,
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=-1,
        minloglevel=2,
    )
    return writer.getvalue()


def added_tokens(base_vocab: int, token_type: str) -> dict[str, int]:
    """[SEG], <im_start>, <im_end> after the SentencePiece vocabulary, then [HSEG], [OSEG]."""
    names = ["[SEG]", "<im_start>", "<im_end>"]
    if token_type == "Gen-Hu-Obj":
        names += ["[HSEG]", "[OSEG]"]
    return {name: base_vocab + i for i, name in enumerate(names)}


def release_shapes(vocab: int, token_type: str) -> dict[str, tuple[int, ...]]:
    """Release key -> shape at the tiny sizes, in the published order."""
    s = SIZES
    h, i, out = s["hidden"], s["intermediate"], s["out_dim"]
    shapes = {"model.embed_tokens.weight": (vocab, h)}
    for layer in range(s["layers"]):
        p = f"model.layers.{layer}."
        for proj in "qkvo":
            shapes[f"{p}self_attn.{proj}_proj.weight"] = (h, h)
        shapes[f"{p}self_attn.rotary_emb.inv_freq"] = (h // s["heads"] // 2,)
        shapes[f"{p}mlp.gate_proj.weight"] = (i, h)
        shapes[f"{p}mlp.up_proj.weight"] = (i, h)
        shapes[f"{p}mlp.down_proj.weight"] = (h, i)
        shapes[f"{p}input_layernorm.weight"] = (h,)
        shapes[f"{p}post_attention_layernorm.weight"] = (h,)
    shapes["model.norm.weight"] = (h,)
    shapes["model.mm_projector.weight"] = (h, s["mm_hidden"])
    shapes["model.mm_projector.bias"] = (h,)

    v = "model.visual_model."
    sh, grid, patch = s["sam_hidden"], s["sam_grid"], s["sam_patch"]
    head_dim = sh // s["sam_heads"]
    shapes[f"{v}image_encoder.pos_embed"] = (1, grid, grid, sh)
    shapes[f"{v}image_encoder.patch_embed.proj.weight"] = (sh, 3, patch, patch)
    shapes[f"{v}image_encoder.patch_embed.proj.bias"] = (sh,)
    for block in range(s["sam_layers"]):
        p = f"{v}image_encoder.blocks.{block}."
        is_global = block == s["sam_layers"] - 1
        rel = 2 * grid - 1 if is_global else 27
        for norm in ("norm1", "norm2"):
            shapes[f"{p}{norm}.weight"] = (sh,)
            shapes[f"{p}{norm}.bias"] = (sh,)
        shapes[f"{p}attn.rel_pos_h"] = (rel, head_dim)
        shapes[f"{p}attn.rel_pos_w"] = (rel, head_dim)
        shapes[f"{p}attn.qkv.weight"] = (3 * sh, sh)
        shapes[f"{p}attn.qkv.bias"] = (3 * sh,)
        shapes[f"{p}attn.proj.weight"] = (sh, sh)
        shapes[f"{p}attn.proj.bias"] = (sh,)
        shapes[f"{p}mlp.lin1.weight"] = (s["sam_mlp"], sh)
        shapes[f"{p}mlp.lin1.bias"] = (s["sam_mlp"],)
        shapes[f"{p}mlp.lin2.weight"] = (sh, s["sam_mlp"])
        shapes[f"{p}mlp.lin2.bias"] = (sh,)
    shapes[f"{v}image_encoder.neck.0.weight"] = (out, sh, 1, 1)
    shapes[f"{v}image_encoder.neck.1.weight"] = (out,)
    shapes[f"{v}image_encoder.neck.1.bias"] = (out,)
    shapes[f"{v}image_encoder.neck.2.weight"] = (out, out, 3, 3)
    shapes[f"{v}image_encoder.neck.3.weight"] = (out,)
    shapes[f"{v}image_encoder.neck.3.bias"] = (out,)
    p = f"{v}prompt_encoder."
    shapes[f"{p}pe_layer.positional_encoding_gaussian_matrix"] = (2, out // 2)
    for k in range(4):
        shapes[f"{p}point_embeddings.{k}.weight"] = (1, out)
    shapes[f"{p}not_a_point_embed.weight"] = (1, out)
    shapes[f"{p}mask_downscaling.0.weight"] = (4, 1, 2, 2)
    shapes[f"{p}mask_downscaling.0.bias"] = (4,)
    shapes[f"{p}mask_downscaling.1.weight"] = (4,)
    shapes[f"{p}mask_downscaling.1.bias"] = (4,)
    shapes[f"{p}mask_downscaling.3.weight"] = (16, 4, 2, 2)
    shapes[f"{p}mask_downscaling.3.bias"] = (16,)
    shapes[f"{p}mask_downscaling.4.weight"] = (16,)
    shapes[f"{p}mask_downscaling.4.bias"] = (16,)
    shapes[f"{p}mask_downscaling.6.weight"] = (out, 16, 1, 1)
    shapes[f"{p}mask_downscaling.6.bias"] = (out,)
    shapes[f"{p}no_mask_embed.weight"] = (1, out)
    p = f"{v}mask_decoder."
    half = out // 2
    shapes[f"{p}iou_token.weight"] = (1, out)
    shapes[f"{p}mask_tokens.weight"] = (4, out)

    def cross(prefix):
        for proj in "qkv":
            shapes[f"{prefix}.{proj}_proj.weight"] = (half, out)
            shapes[f"{prefix}.{proj}_proj.bias"] = (half,)
        shapes[f"{prefix}.out_proj.weight"] = (out, half)
        shapes[f"{prefix}.out_proj.bias"] = (out,)

    for layer in range(2):
        t = f"{p}transformer.layers.{layer}."
        for proj in ("q", "k", "v", "out"):
            shapes[f"{t}self_attn.{proj}_proj.weight"] = (out, out)
            shapes[f"{t}self_attn.{proj}_proj.bias"] = (out,)
        shapes[f"{t}norm1.weight"] = (out,)
        shapes[f"{t}norm1.bias"] = (out,)
        cross(f"{t}cross_attn_token_to_image")
        shapes[f"{t}norm2.weight"] = (out,)
        shapes[f"{t}norm2.bias"] = (out,)
        shapes[f"{t}mlp.lin1.weight"] = (s["decoder_mlp"], out)
        shapes[f"{t}mlp.lin1.bias"] = (s["decoder_mlp"],)
        shapes[f"{t}mlp.lin2.weight"] = (out, s["decoder_mlp"])
        shapes[f"{t}mlp.lin2.bias"] = (out,)
        shapes[f"{t}norm3.weight"] = (out,)
        shapes[f"{t}norm3.bias"] = (out,)
        shapes[f"{t}norm4.weight"] = (out,)
        shapes[f"{t}norm4.bias"] = (out,)
        cross(f"{t}cross_attn_image_to_token")
    cross(f"{p}transformer.final_attn_token_to_image")
    shapes[f"{p}transformer.norm_final_attn.weight"] = (out,)
    shapes[f"{p}transformer.norm_final_attn.bias"] = (out,)
    shapes[f"{p}output_upscaling.0.weight"] = (out, out // 4, 2, 2)
    shapes[f"{p}output_upscaling.0.bias"] = (out // 4,)
    shapes[f"{p}output_upscaling.1.weight"] = (out // 4,)
    shapes[f"{p}output_upscaling.1.bias"] = (out // 4,)
    shapes[f"{p}output_upscaling.3.weight"] = (out // 4, out // 8, 2, 2)
    shapes[f"{p}output_upscaling.3.bias"] = (out // 8,)
    for k in range(4):
        m = f"{p}output_hypernetworks_mlps.{k}.layers."
        for layer in (0, 1):
            shapes[f"{m}{layer}.weight"] = (out, out)
            shapes[f"{m}{layer}.bias"] = (out,)
        shapes[f"{m}2.weight"] = (out // 8, out)
        shapes[f"{m}2.bias"] = (out // 8,)
    m = f"{p}iou_prediction_head.layers."
    for layer in (0, 1):
        shapes[f"{m}{layer}.weight"] = (out, out)
        shapes[f"{m}{layer}.bias"] = (out,)
    shapes[f"{m}2.weight"] = (4, out)
    shapes[f"{m}2.bias"] = (4,)

    shapes["model.text_hidden_fcs.0.0.weight"] = (h, h)
    shapes["model.text_hidden_fcs.0.0.bias"] = (h,)
    shapes["model.text_hidden_fcs.0.2.weight"] = (out, h)
    shapes["model.text_hidden_fcs.0.2.bias"] = (out,)
    shapes["lm_head.weight"] = (vocab, h)
    g = s["gate_hidden"]
    shapes["cam_pose_encoder.spatial_encoder.0.weight"] = (g, 5)
    shapes["cam_pose_encoder.spatial_encoder.0.bias"] = (g,)
    shapes["cam_pose_encoder.spatial_encoder.2.weight"] = (g, g)
    shapes["cam_pose_encoder.spatial_encoder.2.bias"] = (g,)
    for view in range(4):
        shapes[f"cam_pose_encoder.view_transforms.{view}.weight"] = (out, g)
        shapes[f"cam_pose_encoder.view_transforms.{view}.bias"] = (out,)
    if token_type == "Gen-Hu-Obj":
        sp = s["splitter_hidden"]
        shapes["attention_splitter.input_proj.weight"] = (sp, out)
        shapes["attention_splitter.input_proj.bias"] = (sp,)
        for name in ("query_human", "query_object", "key", "value"):
            shapes[f"attention_splitter.{name}.weight"] = (sp, sp)
            shapes[f"attention_splitter.{name}.bias"] = (sp,)
        shapes["attention_splitter.output_proj.weight"] = (out, sp)
        shapes["attention_splitter.output_proj.bias"] = (out,)
    return shapes


def random_tensor(key: str, shape, generator) -> torch.Tensor:
    """Values of a plausible scale for the kind of tensor."""
    noise = torch.randn(shape, generator=generator)
    if key.endswith("inv_freq"):
        return 1.0 / (10000 ** (torch.arange(0, 2 * shape[0], 2).float() / (2 * shape[0])))
    if "norm" in key or "downscaling.1" in key or "downscaling.4" in key or "neck.1" in key:
        return 1 + 0.1 * noise if key.endswith("weight") else 0.1 * noise
    if "neck.3" in key or "output_upscaling.1" in key:
        return 1 + 0.1 * noise if key.endswith("weight") else 0.1 * noise
    if key.endswith("bias"):
        return 0.1 * noise
    if "gaussian" in key or "embed_tokens" in key or "tokens.weight" in key or "embed." in key:
        return noise
    if "pos_embed" in key or "rel_pos" in key:
        return 0.1 * noise
    fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else shape[0]
    return noise / fan_in**0.5


def write_release(
    folder: Path,
    token_type: str = "Gen",
    human_view_set: str | None = "4MV-Z_Vitru_mv2",
    object_view_set: str | None = "4viewsFix",
    weights: str = "bin",
    shards: int = 3,
    seed: int = 0,
    config_overrides: dict | None = None,
) -> dict[str, torch.Tensor]:
    """Write a tiny release folder; returns its state dict (bf16)."""
    folder.mkdir(parents=True)
    model_proto = toy_sentencepiece()
    (folder / "tokenizer.model").write_bytes(model_proto)
    import sentencepiece

    base_vocab = sentencepiece.SentencePieceProcessor(model_proto=model_proto).get_piece_size()
    added = added_tokens(base_vocab, token_type)
    vocab = base_vocab + len(added)
    (folder / "added_tokens.json").write_text(json.dumps(added))
    (folder / "special_tokens_map.json").write_text(
        json.dumps(
            {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<unk>"}
        )
    )
    (folder / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "tokenizer_class": "LlamaTokenizer",
                "model_max_length": 512,
                "padding_side": "right",
                "legacy": True,
            }
        )
    )
    # As transformers 4.31 saves it with the model (the original code needs the flag).
    (folder / "generation_config.json").write_text(
        json.dumps({"_from_model_config": True, "bos_token_id": 1, "eos_token_id": 2})
    )

    s = SIZES
    interactvlm = {
        "use_fusion": False,
        "use_uncertainty": False,
        "img_emb_len": 255,
        "seg_token_idx": added["[SEG]"],
        "hseg_token_idx": added.get("[HSEG]"),
        "oseg_token_idx": added.get("[OSEG]"),
        "token_type": token_type,
        "hC_sam_view_type": human_view_set,
        "oC_sam_view_type": object_view_set,
        "hC_loss_weight": 3.0,
        "oC_loss_weight": 3.0,
        "hC_question_type": "parts",
        "oC_question_type": "afford",
        "multiview_channels": 4,
        "multiview_cam_cond": True,
        "cam_encoder_type": "vi_v1",
    }
    config = {
        "_name_or_path": "tiny-interactvlm",
        "architectures": ["InteractVLMForCausalLM"],
        "model_type": "llava",
        "hidden_size": s["hidden"],
        "intermediate_size": s["intermediate"],
        "num_hidden_layers": s["layers"],
        "num_attention_heads": s["heads"],
        "num_key_value_heads": s["heads"],
        "max_position_embeddings": 4096,
        "rms_norm_eps": 1e-5,
        "vocab_size": vocab,
        "pad_token_id": 0,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "hidden_act": "silu",
        "rope_scaling": None,
        "tie_word_embeddings": False,
        "torch_dtype": "bfloat16",
        "use_cache": False,
        "mm_hidden_size": s["mm_hidden"],
        "mm_vision_select_layer": -2,
        "mm_vision_select_feature": "patch",
        "mm_use_im_start_end": True,
        "mm_use_im_patch_token": False,
        "mm_vision_tower": "openai/clip-vit-large-patch14",
        "vision_tower": "openai/clip-vit-large-patch14",
        "image_aspect_ratio": "square",
        "out_dim": s["out_dim"],
        "train_mask_decoder": True,
        **interactvlm,
        **(config_overrides or {}),
    }
    config = {k: v for k, v in config.items() if v is not ...}
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    pretrained = {
        "version": "./LISA-13B-llama2-v1",
        "vision_tower": "openai/clip-vit-large-patch14",
        "out_dim": s["out_dim"],
        "use_mm_start_end": True,
        "use_feat_fusion": False,
        **{k: v for k, v in interactvlm.items() if k != "use_fusion"},
    }
    (folder / "pretrained_config.json").write_text(json.dumps(pretrained, indent=2))

    generator = torch.Generator().manual_seed(seed)
    shapes = release_shapes(vocab, token_type)
    state = {
        k: random_tensor(k, shape, generator).to(torch.bfloat16) for k, shape in shapes.items()
    }
    keys = list(state)
    chunks = np.array_split(np.arange(len(keys)), shards)
    weight_map = {}
    for n, chunk in enumerate(chunks):
        if weights == "bin":
            name = f"pytorch_model-{n + 1:05d}-of-{shards:05d}.bin"
            torch.save({keys[j]: state[keys[j]] for j in chunk}, folder / name)
        else:
            from safetensors.torch import save_file

            name = f"model-{n + 1:05d}-of-{shards:05d}.safetensors"
            save_file({keys[j]: state[keys[j]].contiguous() for j in chunk}, str(folder / name))
        weight_map.update({keys[j]: name for j in chunk})
    index = "pytorch_model.bin.index.json" if weights == "bin" else "model.safetensors.index.json"
    total = sum(t.numel() * 2 for t in state.values())
    (folder / index).write_text(
        json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map})
    )
    return state


def write_clip(folder: Path) -> None:
    """A tiny CLIPModel folder laid out like openai/clip-vit-large-patch14 (224 px, patch 14)."""
    from transformers import CLIPConfig, CLIPModel

    torch.manual_seed(0)
    config = CLIPConfig(
        text_config=dict(
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            vocab_size=64,
            max_position_embeddings=16,
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
        ),
        vision_config=dict(
            hidden_size=SIZES["mm_hidden"],
            intermediate_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            image_size=224,
            patch_size=14,
        ),
        projection_dim=8,
    )
    CLIPModel(config).save_pretrained(str(folder))


def disk_maps(size: int, num_vertices: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A render (a shaded disk on white) and maps like the shipped ones, random vertex ids.

    A few disk pixels carry an id outside SMPL (they must not vote).
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    centre = size / 2 + rng.uniform(-size / 8, size / 8, 2)
    inside = (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 < (size * 0.35) ** 2
    image = np.full((size, size, 3), 255, dtype=np.uint8)
    image[inside] = rng.integers(40, 220, (int(inside.sum()), 3))
    # Neighbouring pixels share vertices, as on a real surface.
    base = rng.integers(0, num_vertices - 3, (size, size))
    ids = np.stack([base, base + 1, base + 2], -1)
    ids = np.where(inside[..., None], ids, -1)
    odd = inside & (rng.random((size, size)) < 0.02)
    ids[odd, 2] = num_vertices + 5
    bary = rng.random((size, size, 3)).astype(np.float32)
    bary /= bary.sum(-1, keepdims=True)
    bary = np.where(inside[..., None], bary, -1).astype(np.float32)
    return image, ids.astype(np.int64), bary


def write_data_folder(folder: Path, maps_folder: str, views, size: int = RENDER_SIZE) -> None:
    """An InteractVLM data/ folder with body renders and maps of one view set."""
    renders = folder / "hcontact_vitruvian"
    maps = folder / maps_folder
    renders.mkdir(parents=True, exist_ok=True)
    maps.mkdir(parents=True, exist_ok=True)
    vertex_maps, bary_maps = {}, {}
    for i, view in enumerate(views):
        image, ids, bary = disk_maps(size, 6890, seed=i)
        Image.fromarray(image).save(renders / f"body_render_norm_{view}.png")
        vertex_maps[view], bary_maps[view] = ids, bary
    np.savez(maps / "pixel_to_vertex_map_1024.npz", **vertex_maps)
    np.savez(maps / "bary_coords_map_1024.npz", **bary_maps)


def write_smpl_to_smplx(folder: Path):
    """smpl_to_smplx.pkl as joblib writes it: each SMPL-X vertex the mean of two SMPL vertices
    (sparse, so that the test file stays small; the published one is dense)."""
    import joblib
    import scipy.sparse

    rows = np.repeat(np.arange(10475), 2)
    cols = np.random.default_rng(0).integers(0, 6890, size=rows.shape)
    matrix = scipy.sparse.csr_matrix((np.full(rows.shape, 0.5, np.float32), (rows, cols)))
    matrix.resize(10475, 6890)
    joblib.dump({"matrix": matrix}, folder / "smpl_to_smplx.pkl")
    return matrix
