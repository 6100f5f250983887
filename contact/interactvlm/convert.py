"""Convert a published InteractVLM release folder into a hoifit contact checkpoint folder.

Input (as published, transformers 4.31): a flat `llava` config.json, pretrained_config.json,
sharded `.bin` (or `.safetensors`) weights with an index, and the slow LLaMA tokenizer files. The
CLIP tower is not in a release; it comes from `--clip` (the stock openai/clip-vit-large-patch14,
which was frozen in training).

Output:

    OUT/meta.json                 token ids, tasks (view set, cameras, question type), thresholds
    OUT/llava/                    LlavaForConditionalGeneration: config.json + safetensors shards
    OUT/sam/                      SamModel: config.json + model.safetensors
    OUT/heads.safetensors         projection, camera gates, attention splitter
    OUT/tokenizer/                the release's tokenizer files, unchanged

Weights keep the release's dtype. The language model's embedding and output matrices get one row
more, for the image placeholder id transformers 5 needs (that id is never generated). LLaVA-v1's
single linear projector becomes `linear_1`, with `linear_2` the identity and a "linear"
activation, which is exact. SAM's original names are mapped to `SamModel`'s; its sizes come from
the tensor shapes. Shards are read one at a time and the language model is written shard by shard,
so memory peaks at about one shard plus SAM.

Every key must land somewhere and every expected key must be filled with the expected shape; a
release with other keys (feature fusion, uncertainty, separate decoders, another camera encoder, a
vision tower) or other shapes is refused with an `InteractVLMError`, and nothing is left at OUT.
"""

import json
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import Tensor

from contact.interactvlm.config import (
    HEADS_FILE,
    LLAVA_FOLDER,
    META_FILE,
    SAM_FOLDER,
    TOKENIZER_FILES,
    TOKENIZER_FOLDER,
    CheckpointMeta,
    InteractVLMError,
    ReleaseConfig,
    read_release_config,
)
from contact.interactvlm.model import InteractVLMHeads

DEFAULT_CLIP = "openai/clip-vit-large-patch14"
SAM_PREFIX = "model.visual_model."


# --------------------------------------------------------------------------- weight files


def release_weight_files(release_dir: Path) -> list[Path]:
    """The weight shards of a release, in index order.

    Raises:
        InteractVLMError: no weights, an unreadable index, or a shard named by it is missing.
    """
    for index_name in ("pytorch_model.bin.index.json", "model.safetensors.index.json"):
        index_path = release_dir / index_name
        if index_path.is_file():
            try:
                weight_map = json.loads(index_path.read_text())["weight_map"]
            except (OSError, ValueError, KeyError) as error:
                raise InteractVLMError(f"cannot read {index_path}: {error}") from error
            names = sorted(set(weight_map.values()))
            missing = [n for n in names if not (release_dir / n).is_file()]
            if missing:
                raise InteractVLMError(
                    f"{release_dir} lacks the weight shard {missing[0]} named by {index_name}: "
                    "unzip the whole release"
                )
            return [release_dir / n for n in names]
    for single in ("pytorch_model.bin", "model.safetensors"):
        if (release_dir / single).is_file():
            return [release_dir / single]
    raise InteractVLMError(
        f"{release_dir} has no weights (pytorch_model*.bin or model*.safetensors with an index)"
    )


def load_shard(path: Path) -> dict[str, Tensor]:
    """One weight file on the CPU, without executing pickled code."""
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch and safetensors raise many types for a damaged file
        raise InteractVLMError(f"cannot read the weight file {path}: {error}") from error


# --------------------------------------------------------------------------- key mapping

_LLAMA_LAYER = re.compile(r"^model\.layers\.(\d+)\.(.+)$")
_HEAD_KEYS = (
    (re.compile(r"^model\.text_hidden_fcs\.0\.([02])\.(weight|bias)$"), r"projection.\1.\2"),
    (
        re.compile(r"^cam_pose_encoder\.spatial_encoder\.([02])\.(weight|bias)$"),
        r"camera_encoder.spatial.\1.\2",
    ),
    (
        re.compile(r"^cam_pose_encoder\.view_transforms\.(\d+)\.(weight|bias)$"),
        r"camera_encoder.view_gates.\1.\2",
    ),
    (re.compile(r"^attention_splitter\.(.+)$"), r"splitter.\1"),
)
_UNSUPPORTED = (
    ("vision_tower", "a CLIP vision tower inside the release"),
    ("visual_model.fusion", "feature fusion (use_fusion)"),
    ("visual_model.uncertainty", "an uncertainty head (use_uncertainty)"),
    ("_mask_decoder.", "separate human/object mask decoders (-DifDe)"),
    ("cam_pose_encoder.linear1", "the 'simple' camera encoder"),
)


def route_key(key: str) -> tuple[str, str] | None:
    """Where a release key goes: ("llava" | "sam" | "heads", new key), or None to drop it.

    SAM keys keep their original name here (minus the prefix); `sam_key` maps them once SAM's
    depth is known.

    Raises:
        InteractVLMError: a key hoifit does not know.
    """
    for marker, what in _UNSUPPORTED:
        if marker in key:
            raise InteractVLMError(
                f"the release holds {what} (key {key}), which hoifit does not implement"
            )
    if key.startswith(SAM_PREFIX):
        return "sam", key[len(SAM_PREFIX) :]
    if key in ("model.embed_tokens.weight", "model.norm.weight"):
        return "llava", "model.language_model." + key[len("model.") :]
    layer = _LLAMA_LAYER.match(key)
    if layer:
        if layer.group(2) == "self_attn.rotary_emb.inv_freq":
            return None  # a transformers-4.31 buffer, recomputed by transformers 5
        return "llava", f"model.language_model.layers.{layer.group(1)}.{layer.group(2)}"
    if key.startswith("model.mm_projector."):
        return "llava", "model.multi_modal_projector.linear_1." + key.rsplit(".", 1)[1]
    if key == "lm_head.weight":
        return "llava", key
    for pattern, replacement in _HEAD_KEYS:
        if pattern.match(key):
            return "heads", pattern.sub(replacement, key)
    raise InteractVLMError(f"the release holds the unknown key {key}; hoifit cannot convert it")


_SAM_RULES = (
    (r"^image_encoder\.pos_embed$", "vision_encoder.pos_embed"),
    (r"^image_encoder\.patch_embed\.proj\.", "vision_encoder.patch_embed.projection."),
    (r"^image_encoder\.blocks\.(\d+)\.norm([12])\.", r"vision_encoder.layers.\1.layer_norm\2."),
    (
        r"^image_encoder\.blocks\.(\d+)\.(attn\.(?:qkv|proj)\.|attn\.rel_pos_[hw]$|mlp\.lin[12]\.)",
        r"vision_encoder.layers.\1.\2",
    ),
    (r"^image_encoder\.neck\.0\.", "vision_encoder.neck.conv1."),
    (r"^image_encoder\.neck\.1\.", "vision_encoder.neck.layer_norm1."),
    (r"^image_encoder\.neck\.2\.", "vision_encoder.neck.conv2."),
    (r"^image_encoder\.neck\.3\.", "vision_encoder.neck.layer_norm2."),
    (
        r"^prompt_encoder\.pe_layer\.positional_encoding_gaussian_matrix$",
        "prompt_encoder.shared_embedding.positional_embedding",
    ),
    (r"^prompt_encoder\.point_embeddings\.(\d+)\.", r"prompt_encoder.point_embed.\1."),
    (r"^prompt_encoder\.(not_a_point_embed|no_mask_embed)\.", r"prompt_encoder.\1."),
    (r"^prompt_encoder\.mask_downscaling\.0\.", "prompt_encoder.mask_embed.conv1."),
    (r"^prompt_encoder\.mask_downscaling\.1\.", "prompt_encoder.mask_embed.layer_norm1."),
    (r"^prompt_encoder\.mask_downscaling\.3\.", "prompt_encoder.mask_embed.conv2."),
    (r"^prompt_encoder\.mask_downscaling\.4\.", "prompt_encoder.mask_embed.layer_norm2."),
    (r"^prompt_encoder\.mask_downscaling\.6\.", "prompt_encoder.mask_embed.conv3."),
    (r"^mask_decoder\.(iou_token|mask_tokens)\.", r"mask_decoder.\1."),
    (
        r"^mask_decoder\.transformer\.layers\.(\d+)\."
        r"(self_attn|cross_attn_token_to_image|cross_attn_image_to_token)\.",
        r"mask_decoder.transformer.layers.\1.\2.",
    ),
    (
        r"^mask_decoder\.transformer\.layers\.(\d+)\.mlp\.(lin[12])\.",
        r"mask_decoder.transformer.layers.\1.mlp.\2.",
    ),
    (
        r"^mask_decoder\.transformer\.layers\.(\d+)\.norm(\d)\.",
        r"mask_decoder.transformer.layers.\1.layer_norm\2.",
    ),
    (
        r"^mask_decoder\.transformer\.final_attn_token_to_image\.",
        "mask_decoder.transformer.final_attn_token_to_image.",
    ),
    (
        r"^mask_decoder\.transformer\.norm_final_attn\.",
        "mask_decoder.transformer.layer_norm_final_attn.",
    ),
    (r"^mask_decoder\.output_upscaling\.0\.", "mask_decoder.upscale_conv1."),
    (r"^mask_decoder\.output_upscaling\.1\.", "mask_decoder.upscale_layer_norm."),
    (r"^mask_decoder\.output_upscaling\.3\.", "mask_decoder.upscale_conv2."),
)
_SAM_RULES = tuple((re.compile(p), r) for p, r in _SAM_RULES)
_SAM_MLP = re.compile(
    r"^mask_decoder\.(output_hypernetworks_mlps\.\d+|iou_prediction_head)\.layers\.(\d+)\.(.+)$"
)


def sam_key(key: str, mlp_depth: dict[str, int]) -> str:
    """Original segment-anything name (without prefix) -> `SamModel` name.

    Args:
        key: e.g. "image_encoder.blocks.3.norm1.weight".
        mlp_depth: number of layers of each decoder MLP, by its name
            ("output_hypernetworks_mlps.0", "iou_prediction_head").

    Raises:
        InteractVLMError: a SAM key hoifit does not know.
    """
    mlp = _SAM_MLP.match(key)
    if mlp:
        name, index, rest = mlp.group(1), int(mlp.group(2)), mlp.group(3)
        last = mlp_depth[name] - 1
        layer = "proj_in" if index == 0 else "proj_out" if index == last else f"layers.{index - 1}"
        return f"mask_decoder.{name}.{layer}.{rest}"
    for pattern, replacement in _SAM_RULES:
        if pattern.match(key):
            return pattern.sub(replacement, key, count=1)
    raise InteractVLMError(f"the release holds the unknown SAM key {SAM_PREFIX}{key}")


def sam_state_dict(original: dict[str, Tensor]) -> dict[str, Tensor]:
    """The whole SAM of a release (original names, no prefix) in `SamModel` names."""
    depth: dict[str, int] = {}
    for key in original:
        mlp = _SAM_MLP.match(key)
        if mlp:
            depth[mlp.group(1)] = max(depth.get(mlp.group(1), 0), int(mlp.group(2)) + 1)
    state = {sam_key(k, depth): v for k, v in original.items()}
    gaussian = "prompt_encoder.shared_embedding.positional_embedding"
    if gaussian in state:
        state["shared_image_embedding.positional_embedding"] = state[gaussian].clone()
    return state


def _shape(state: dict[str, Tensor], key: str) -> tuple[int, ...]:
    if key not in state:
        raise InteractVLMError(f"the release lacks the SAM weight {SAM_PREFIX}{key}")
    return tuple(state[key].shape)


def sam_config(original: dict[str, Tensor]):
    """A `SamConfig` with the sizes of a release's SAM, read from its tensor shapes.

    Args:
        original: the SAM tensors under their original names (no prefix).

    Raises:
        InteractVLMError: a missing tensor or inconsistent shapes.
    """
    from transformers import SamConfig, SamMaskDecoderConfig, SamPromptEncoderConfig
    from transformers.models.sam.configuration_sam import SamVisionConfig

    hidden, _, patch, _ = _shape(original, "image_encoder.patch_embed.proj.weight")
    grid = _shape(original, "image_encoder.pos_embed")[1]
    blocks = sorted(
        {int(m.group(1)) for k in original if (m := re.match(r"image_encoder\.blocks\.(\d+)\.", k))}
    )
    if not blocks or blocks != list(range(len(blocks))):
        raise InteractVLMError("the release's SAM image encoder blocks are missing or not numbered")
    rel = [_shape(original, f"image_encoder.blocks.{i}.attn.rel_pos_h") for i in blocks]
    head_dim = rel[0][1]
    global_blocks = [i for i, shape in zip(blocks, rel, strict=True) if shape[0] == 2 * grid - 1]
    windows = {shape[0] for shape in rel if shape[0] != 2 * grid - 1}
    if len(windows) > 1 or hidden % head_dim:
        raise InteractVLMError("the release's SAM image encoder has inconsistent attention shapes")
    window = (windows.pop() + 1) // 2 if windows else 14
    out_channels = _shape(original, "image_encoder.neck.0.weight")[0]
    decoder_layers = len(
        {k.split(".")[3] for k in original if k.startswith("mask_decoder.transformer.layers.")}
    )
    num_pos_feats = _shape(original, "prompt_encoder.pe_layer.positional_encoding_gaussian_matrix")
    image_size = grid * patch
    vision = SamVisionConfig(
        hidden_size=hidden,
        output_channels=out_channels,
        num_hidden_layers=len(blocks),
        num_attention_heads=hidden // head_dim,
        image_size=image_size,
        patch_size=patch,
        mlp_dim=_shape(original, "image_encoder.blocks.0.mlp.lin1.weight")[0],
        window_size=window,
        global_attn_indexes=global_blocks,
        num_pos_feats=num_pos_feats[1],
    )
    prompt = SamPromptEncoderConfig(
        hidden_size=out_channels,
        image_size=image_size,
        patch_size=patch,
        mask_input_channels=_shape(original, "prompt_encoder.mask_downscaling.3.weight")[0],
        num_point_embeddings=len(
            {k.split(".")[2] for k in original if k.startswith("prompt_encoder.point_embeddings.")}
        ),
    )
    cross_q = "mask_decoder.transformer.layers.0.cross_attn_token_to_image.q_proj.weight"
    iou_layers = {
        int(k.split(".")[3]) for k in original if k.startswith("mask_decoder.iou_prediction_head.")
    }
    decoder = SamMaskDecoderConfig(
        hidden_size=_shape(original, "mask_decoder.iou_token.weight")[1],
        mlp_dim=_shape(original, "mask_decoder.transformer.layers.0.mlp.lin1.weight")[0],
        num_hidden_layers=decoder_layers,
        # SAM's decoder has 8 heads; no shape records it.
        num_attention_heads=8,
        attention_downsample_rate=out_channels // _shape(original, cross_q)[0],
        num_multimask_outputs=_shape(original, "mask_decoder.mask_tokens.weight")[0] - 1,
        iou_head_depth=len(iou_layers),
        iou_head_hidden_dim=_shape(original, "mask_decoder.iou_prediction_head.layers.0.weight")[0],
        # The original decoder transformer uses nn.LayerNorm's default eps.
        layer_norm_eps=1e-5,
    )
    return SamConfig(
        vision_config=vision, prompt_encoder_config=prompt, mask_decoder_config=decoder
    )


# --------------------------------------------------------------------------- CLIP


def resolve_clip(clip: str) -> Path:
    """A local folder with the CLIP model: `clip` itself, or its hub snapshot.

    Raises:
        InteractVLMError: not a folder and not downloadable.
    """
    path = Path(clip).expanduser()
    if path.is_dir():
        return path
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(clip, allow_patterns=["*.json", "*.safetensors", "*.txt"]))
    except Exception as error:  # the hub raises many types (offline, unknown repo, ...)
        raise InteractVLMError(
            f"cannot get the CLIP model {clip!r} ({type(error).__name__}); pass --clip with a "
            "local folder holding openai/clip-vit-large-patch14"
        ) from error


def clip_vision_weights(clip_dir: Path) -> dict[str, Tensor]:
    """The vision tower of a CLIP folder (CLIPModel or CLIPVisionModel), without prefixes.

    Raises:
        InteractVLMError: no weights in the folder.
    """
    files = sorted(clip_dir.glob("*.safetensors")) or sorted(clip_dir.glob("pytorch_model*.bin"))
    if not files:
        raise InteractVLMError(f"the CLIP folder {clip_dir} holds no weights")
    weights = {}
    for path in files:
        for key, value in load_shard(path).items():
            if key.startswith("vision_model."):
                weights[key[len("vision_model.") :]] = value
            elif key.split(".")[0] in ("embeddings", "encoder", "pre_layrnorm", "post_layernorm"):
                weights[key] = value
    return weights


# --------------------------------------------------------------------------- conversion


def llava_config(release: ReleaseConfig, clip_dir: Path):
    """The transformers-5 `LlavaConfig` of a release (vocabulary + 1 for the image id).

    Raises:
        InteractVLMError: a CLIP model that does not fit the release.
    """
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig

    try:
        vision = CLIPVisionConfig.from_pretrained(str(clip_dir))
    except Exception as error:  # a missing or malformed config.json
        raise InteractVLMError(f"cannot read the CLIP config in {clip_dir}: {error}") from error
    if vision.hidden_size != release.mm_hidden_size:
        raise InteractVLMError(
            f"the CLIP model has width {vision.hidden_size} but the release expects "
            f"mm_hidden_size {release.mm_hidden_size}: use openai/clip-vit-large-patch14"
        )
    image_seq_length = (vision.image_size // vision.patch_size) ** 2
    if image_seq_length != release.img_emb_len + 1:
        raise InteractVLMError(
            f"the CLIP model gives {image_seq_length} features but the release expects "
            f"img_emb_len + 1 = {release.img_emb_len + 1}"
        )
    llama = release.llama
    text = LlamaConfig(
        vocab_size=llama["vocab_size"] + 1,
        hidden_size=llama["hidden_size"],
        intermediate_size=llama["intermediate_size"],
        num_hidden_layers=llama["num_hidden_layers"],
        num_attention_heads=llama["num_attention_heads"],
        num_key_value_heads=llama["num_key_value_heads"],
        max_position_embeddings=llama["max_position_embeddings"],
        rms_norm_eps=llama["rms_norm_eps"],
        rope_parameters={"rope_type": "default", "rope_theta": llama["rope_theta"]},
        pad_token_id=llama["pad_token_id"],
        bos_token_id=llama["bos_token_id"],
        eos_token_id=llama["eos_token_id"],
        tie_word_embeddings=False,
    )
    return LlavaConfig(
        vision_config=vision,
        text_config=text,
        image_token_index=llama["vocab_size"],
        image_seq_length=image_seq_length,
        projector_hidden_act="linear",
        vision_feature_layer=release.vision_select_layer,
        vision_feature_select_strategy="default",
        multimodal_projector_bias=True,
        tie_word_embeddings=False,
    )


def _expected_shapes(module_factory) -> dict[str, tuple[int, ...]]:
    with torch.device("meta"):
        module = module_factory()
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def _check_keys(kind: str, got: dict[str, tuple], expected: dict[str, tuple]) -> None:
    missing = sorted(set(expected) - set(got))
    unexpected = sorted(set(got) - set(expected))
    if missing:
        raise InteractVLMError(
            f"the release lacks {len(missing)} {kind} weight(s), e.g. {missing[0]} "
            "(after renaming); it is incomplete or of another kind"
        )
    if unexpected:
        raise InteractVLMError(
            f"the release has {len(unexpected)} {kind} weight(s) hoifit does not expect, "
            f"e.g. {unexpected[0]} (after renaming)"
        )
    for key, shape in got.items():
        if shape != expected[key]:
            raise InteractVLMError(
                f"{kind} weight {key} has shape {list(shape)} but the config implies "
                f"{list(expected[key])}"
            )


def _add_row(tensor: Tensor) -> Tensor:
    """A zero row appended: the image placeholder id's embedding / logit weights."""
    return torch.cat([tensor, tensor.new_zeros(1, tensor.shape[1])])


def _iter_release(files: list[Path]) -> Iterator[tuple[int, dict[str, Tensor]]]:
    for index, path in enumerate(files):
        yield index, load_shard(path)


def _write_llava(
    release: ReleaseConfig, config, files: list[Path], clip_dir: Path, out: Path
) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """Write the LLaVA folder shard by shard; return the SAM and head tensors met on the way."""
    from safetensors.torch import save_file
    from transformers import LlavaForConditionalGeneration

    expected = _expected_shapes(lambda: LlavaForConditionalGeneration(config))
    out.mkdir(parents=True)
    vocab = release.llama["vocab_size"]
    sam, heads, shapes, weight_map = {}, {}, {}, {}
    projector_dtype = torch.bfloat16
    total = len(files) + 1
    size = 0
    for index, shard in _iter_release(files):
        tensors = {}
        for key in list(shard):
            value = shard.pop(key)
            target = route_key(key)
            if target is None:
                continue
            kind, new_key = target
            if kind == "sam":
                sam[new_key] = value
            elif kind == "heads":
                heads[new_key] = value
            else:
                if new_key.endswith("embed_tokens.weight") or new_key == "lm_head.weight":
                    if value.shape[0] != vocab:
                        raise InteractVLMError(
                            f"{key} has {value.shape[0]} rows but config.json says vocab_size "
                            f"{vocab}"
                        )
                    value = _add_row(value)
                if new_key.startswith("model.multi_modal_projector."):
                    projector_dtype = value.dtype
                tensors[new_key] = value.contiguous()
        name = f"model-{index + 1:05d}-of-{total:05d}.safetensors"
        if tensors:
            save_file(tensors, str(out / name), metadata={"format": "pt"})
        for key, value in tensors.items():
            shapes[key] = tuple(value.shape)
            weight_map[key] = name
            size += value.numel() * value.element_size()
        del shard, tensors

    extra = {
        "model.vision_tower." + k: v.contiguous() for k, v in clip_vision_weights(clip_dir).items()
    }
    hidden = release.llama["hidden_size"]
    extra["model.multi_modal_projector.linear_2.weight"] = torch.eye(hidden, dtype=projector_dtype)
    extra["model.multi_modal_projector.linear_2.bias"] = torch.zeros(hidden, dtype=projector_dtype)
    name = f"model-{total:05d}-of-{total:05d}.safetensors"
    for key, value in extra.items():
        if key in shapes:
            raise InteractVLMError(f"the release already holds {key}")
        shapes[key] = tuple(value.shape)
        weight_map[key] = name
        size += value.numel() * value.element_size()
    _check_keys("language model", shapes, expected)
    save_file(extra, str(out / name), metadata={"format": "pt"})
    index = {"metadata": {"total_size": size}, "weight_map": dict(sorted(weight_map.items()))}
    (out / "model.safetensors.index.json").write_text(json.dumps(index, indent=2))
    config.save_pretrained(str(out))
    return sam, heads


def _write_sam(original: dict[str, Tensor], release: ReleaseConfig, out: Path) -> None:
    from safetensors.torch import save_file
    from transformers import SamModel

    if not original:
        raise InteractVLMError(f"the release holds no SAM weights ({SAM_PREFIX}*)")
    config = sam_config(original)
    if config.mask_decoder_config.hidden_size != release.out_dim:
        raise InteractVLMError(
            f"SAM's prompt size {config.mask_decoder_config.hidden_size} differs from the "
            f"config's out_dim {release.out_dim}"
        )
    state = {k: v.contiguous() for k, v in sam_state_dict(original).items()}
    expected = _expected_shapes(lambda: SamModel(config))
    _check_keys("SAM", {k: tuple(v.shape) for k, v in state.items()}, expected)
    out.mkdir(parents=True)
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
    config.save_pretrained(str(out))


def head_sizes(release: ReleaseConfig, heads: dict[str, Tensor]) -> dict:
    """Sizes of the heads: language width and out_dim from the config, MLP widths from shapes.

    Raises:
        InteractVLMError: a head is missing.
    """
    gate = heads.get("camera_encoder.spatial.0.weight")
    if gate is None:
        raise InteractVLMError("the release lacks the camera encoder (cam_pose_encoder.*)")
    splitter = heads.get("splitter.input_proj.weight")
    if (splitter is not None) != (release.token_type == "Gen-Hu-Obj"):
        raise InteractVLMError(
            f"token_type {release.token_type} but the release "
            f"{'has' if splitter is not None else 'lacks'} an attention_splitter"
        )
    return {
        "hidden_size": release.llama["hidden_size"],
        "out_dim": release.out_dim,
        "num_views": release.camera_views,
        "gate_hidden": int(gate.shape[0]),
        "splitter_hidden": None if splitter is None else int(splitter.shape[0]),
    }


def _write_heads(heads: dict[str, Tensor], sizes: dict, path: Path) -> None:
    from safetensors.torch import save_file

    expected = _expected_shapes(lambda: InteractVLMHeads(**sizes))
    _check_keys("head", {k: tuple(v.shape) for k, v in heads.items()}, expected)
    save_file({k: v.contiguous() for k, v in heads.items()}, str(path), metadata={"format": "pt"})


def _token_ids(release: ReleaseConfig, release_dir: Path) -> tuple[dict, dict]:
    path = release_dir / "added_tokens.json"
    try:
        added = {str(k): int(v) for k, v in json.loads(path.read_text()).items()}
    except (OSError, ValueError, AttributeError) as error:
        raise InteractVLMError(f"cannot read the tokenizer file {path}: {error}") from error
    ids = dict(release.seg_ids)
    names = {"seg": "[SEG]", "hseg": "[HSEG]", "oseg": "[OSEG]"}
    for name, token in names.items():
        if name in ids and added.get(token, ids[name]) != ids[name]:
            raise InteractVLMError(
                f"config.json says {name}_token_idx {ids[name]} but added_tokens.json has "
                f"{token} = {added[token]}"
            )
    for name, token in (("im_start", "<im_start>"), ("im_end", "<im_end>")):
        if token not in added:
            raise InteractVLMError(f"{path} lacks {token}")
        ids[name] = added[token]
    vocab = release.llama["vocab_size"]
    if any(not 0 <= v < vocab for v in added.values()):
        raise InteractVLMError(f"{path} has ids outside config.json's vocab_size {vocab}")
    ids.update(
        bos=release.llama["bos_token_id"], eos=release.llama["eos_token_id"], unk=0, image=vocab
    )
    return ids, added


def convert_release(release_dir: str | Path, out_dir: str | Path, clip: str | None = None) -> Path:
    """Convert an InteractVLM release folder to a hoifit contact checkpoint folder.

    Args:
        release_dir: the unzipped release (config.json, weights, tokenizer files).
        out_dir: the folder to create; it must not exist or be empty.
        clip: hub id or local folder of the CLIP model; default: the release's vision tower
            (openai/clip-vit-large-patch14).

    Returns:
        `out_dir`.

    Raises:
        InteractVLMError: a missing file, an unknown setting or key, or shapes that disagree with
            the config. Nothing is left at `out_dir` then.
    """
    release_dir, out_dir = Path(release_dir), Path(out_dir)
    if not release_dir.is_dir():
        raise InteractVLMError(f"release folder {release_dir} does not exist")
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise InteractVLMError(f"{out_dir} already exists and is not empty: choose another --out")
    release = read_release_config(release_dir)
    for name in TOKENIZER_FILES[:2]:
        if not (release_dir / name).is_file():
            raise InteractVLMError(f"{release_dir} lacks the tokenizer file {name}")
    token_ids, added = _token_ids(release, release_dir)
    files = release_weight_files(release_dir)
    clip_name = str(clip or release.vision_tower or DEFAULT_CLIP)
    clip_dir = resolve_clip(clip_name)
    config = llava_config(release, clip_dir)

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        sam, heads = _write_llava(release, config, files, clip_dir, work / LLAVA_FOLDER)
        _write_sam(sam, release, work / SAM_FOLDER)
        del sam
        sizes = head_sizes(release, heads)
        _write_heads(heads, sizes, work / HEADS_FILE)
        (work / TOKENIZER_FOLDER).mkdir()
        for name in TOKENIZER_FILES:
            if (release_dir / name).is_file():
                shutil.copy2(release_dir / name, work / TOKENIZER_FOLDER / name)
        meta = CheckpointMeta(
            token_type=release.token_type,
            token_ids=token_ids,
            added_tokens=added,
            human=release.human,
            object=release.object,
            image_seq_length=config.image_seq_length,
            heads=sizes,
            source={
                "release": release_dir.resolve().name,
                "config_files": list(release.config_files),
                "clip": clip_name,
                "weights": [f.name for f in files],
            },
        )
        (work / META_FILE).write_text(json.dumps(meta.to_json(), indent=2))
        if out_dir.exists():
            out_dir.rmdir()
        work.rename(out_dir)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return out_dir
