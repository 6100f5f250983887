"""Conversion of tiny releases in the published layout: exact round trip, refusals."""

import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from contact.interactvlm import InteractVLMError, convert_release, is_interactvlm_checkpoint
from contact.interactvlm.config import HUMAN_CAMERAS, read_meta, read_release_config
from tests.contact.interactvlm.tiny_release import write_release

ROOT = Path(__file__).resolve().parents[3]
SHARED_KEYS = Path("/work/shared/interactvlm")


def converted_tensors(folder: Path) -> dict[str, torch.Tensor]:
    tensors = {}
    for path in sorted(folder.rglob("*.safetensors")):
        part = path.relative_to(folder).parts[0]
        tensors.update({f"{part}:{k}": v for k, v in load_file(str(path)).items()})
    return tensors


def digest(t: torch.Tensor) -> str:
    return hashlib.sha256(t.contiguous().view(torch.uint8).numpy().tobytes()).hexdigest()


@pytest.mark.parametrize("which", ["gen", "joint"])
def test_round_trip_is_exact(which, request):
    (_, state) = request.getfixturevalue(f"{which}_release")
    folder = request.getfixturevalue(f"{which}_checkpoint")
    model = request.getfixturevalue(f"{which}_model")  # loaded strictly: no missing/unexpected
    out = converted_tensors(folder)

    # Every release tensor is in the checkpoint bit for bit, found by value, not by name
    # (the release's random values are unique), except the 4.31 rotary buffers and the two
    # vocabulary matrices, which grow by a row (checked below).
    grown_keys = ("lm_head.weight", "model.embed_tokens.weight")
    release = {
        digest(v): k for k, v in state.items() if not k.endswith("inv_freq") and k not in grown_keys
    }
    found = {digest(v) for v in out.values()}
    assert not set(release) - found
    # And the only extra tensors are the documented ones.
    vocab = state["lm_head.weight"].shape[0]
    extra = {k for k, v in out.items() if digest(v) not in release}
    assert all(
        k.startswith("llava:model.vision_tower.")
        or k
        in {
            "llava:model.multi_modal_projector.linear_2.weight",
            "llava:model.multi_modal_projector.linear_2.bias",
            "llava:lm_head.weight",
            "llava:model.language_model.embed_tokens.weight",
            "sam:shared_image_embedding.positional_embedding",
        }
        for k in extra
    ), extra
    for key in ("lm_head.weight", "model.language_model.embed_tokens.weight"):
        grown = out[f"llava:{key}"]
        assert grown.shape[0] == vocab + 1 and torch.equal(
            grown[:vocab], state[key.replace("language_model.", "")]
        )
    llava = model.llava
    assert llava.config.image_token_id == vocab == model.meta.token_ids["image"]
    projector = llava.model.multi_modal_projector
    assert torch.equal(projector.linear_2.weight, torch.eye(projector.linear_2.weight.shape[0]))
    assert not projector.linear_2.bias.any() and llava.config.projector_hidden_act == "linear"
    # Names checked by hand for each part.
    assert torch.equal(
        llava.model.language_model.layers[1].self_attn.q_proj.weight,
        state["model.layers.1.self_attn.q_proj.weight"].float(),
    )
    sam = model.sam
    assert torch.equal(
        sam.vision_encoder.layers[1].layer_norm2.weight,
        state["model.visual_model.image_encoder.blocks.1.norm2.weight"].float(),
    )
    assert sam.config.vision_config.global_attn_indexes == [1]
    assert sam.config.mask_decoder_config.layer_norm_eps == 1e-5
    assert torch.equal(
        sam.mask_decoder.iou_prediction_head.proj_out.weight,
        state["model.visual_model.mask_decoder.iou_prediction_head.layers.2.weight"].float(),
    )
    assert torch.equal(
        sam.mask_decoder.output_hypernetworks_mlps[2].layers[0].bias,
        state["model.visual_model.mask_decoder.output_hypernetworks_mlps.2.layers.1.bias"].float(),
    )
    assert torch.equal(
        model.heads.camera_encoder.view_gates[3].weight,
        state["cam_pose_encoder.view_transforms.3.weight"].float(),
    )


def test_meta(gen_checkpoint, joint_checkpoint):
    assert is_interactvlm_checkpoint(gen_checkpoint)
    assert not is_interactvlm_checkpoint(gen_checkpoint / "llava")
    meta = read_meta(gen_checkpoint)
    assert meta.token_type == "Gen" and meta.object is None
    assert meta.human.view_set == "4MV-Z_Vitru_mv2"
    assert meta.human.maps_folder == "hcontact_vitruvian_mv2"
    assert meta.human.question_type == "parts" and meta.human.cameras == HUMAN_CAMERAS
    assert meta.token_ids["seg"] == meta.added_tokens["[SEG]"]
    assert meta.thresholds == {"human_display": 0.3, "object_vote": 0.3, "evaluation": 0.5}
    assert meta.source["release"] == "interactvlm-3d-hcontact-tiny"
    joint = read_meta(joint_checkpoint)
    assert joint.token_type == "Gen-Hu-Obj"
    assert joint.object.view_set == "4MV-Z_HM_BM" and joint.object.question_type == "afford"
    assert joint.human.maps_folder == "hcontact_vitruvian"
    assert joint.token_ids["hseg"] == joint.added_tokens["[HSEG]"]


@pytest.mark.skipif(not SHARED_KEYS.is_dir(), reason="published key lists not available")
@pytest.mark.parametrize(
    ("token_type", "name"), [("Gen", "keys_gen"), ("Gen-Hu-Obj", "keys_huobj")]
)
def test_tiny_release_follows_the_published_key_list(token_type, name, tmp_path):
    """The synthetic release has the published keys, up to layer counts."""
    published = json.loads((SHARED_KEYS / f"{name}.json").read_text())
    from tests.contact.interactvlm.tiny_release import release_shapes

    def pattern(key):
        return re.sub(r"\.(layers|blocks)\.\d+\.", r".\1.{i}.", key)

    ours = {pattern(k) for k in release_shapes(100, token_type)}
    assert ours == {pattern(k) for k in published}


def refusal(tmp_path, clip_dir, **kwargs):
    release = tmp_path / "release"
    write_release(release, **kwargs)
    with pytest.raises(InteractVLMError) as error:
        convert_release(release, tmp_path / "out", str(clip_dir))
    assert "\n" not in str(error.value)
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["release"]  # no partial output left
    return str(error.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"human_view_set": "4MV-Z_Vitru_wScene"}, "unknown human view set"),
        ({"object_view_set": "8MV-Z_HM", "human_view_set": None}, "unknown object view set"),
        ({"config_overrides": {"hC_question_type": "why"}}, "unknown hC_question_type"),
        ({"config_overrides": {"cam_encoder_type": "view_index"}}, "unknown camera encoder"),
        ({"config_overrides": {"token_type": "Gen-Int"}}, "unknown token_type"),
        ({"config_overrides": {"use_fusion": True}}, "use_fusion"),
        ({"config_overrides": {"hidden_size": 48}}, "shape"),
        ({"config_overrides": {"vocab_size": 500}}, "rows"),
        ({"config_overrides": {"num_hidden_layers": 3}}, "lacks"),
    ],
)
def test_unknown_configs_are_refused(kwargs, message, tmp_path, clip_dir):
    assert message in refusal(tmp_path, clip_dir, **kwargs)


def test_fallback_to_pretrained_config(tmp_path, clip_dir):
    """InteractVLM fields missing from config.json come from pretrained_config.json."""
    release = tmp_path / "release"
    write_release(release, config_overrides={"cam_encoder_type": ..., "hC_question_type": ...})
    assert read_release_config(release).human.question_type == "parts"
    config = json.loads((release / "pretrained_config.json").read_text())
    config["cam_encoder_type"] = "simple"
    (release / "pretrained_config.json").write_text(json.dumps(config))
    with pytest.raises(InteractVLMError, match="unknown camera encoder"):
        read_release_config(release)


def test_missing_files_and_keys_are_refused(tmp_path, clip_dir):
    release = tmp_path / "release"
    state = write_release(release)
    shard = release / "pytorch_model-00002-of-00003.bin"
    saved = shard.read_bytes()
    shard.unlink()
    with pytest.raises(InteractVLMError, match="lacks the weight shard"):
        convert_release(release, tmp_path / "out", str(clip_dir))
    # A shard without one tensor.
    keys = torch.load(release / "pytorch_model-00003-of-00003.bin", weights_only=True)
    shard.write_bytes(saved)
    keys.pop("lm_head.weight")
    torch.save(keys, release / "pytorch_model-00003-of-00003.bin")
    with pytest.raises(InteractVLMError, match="lacks 1 language model weight"):
        convert_release(release, tmp_path / "out", str(clip_dir))
    # An extra module the releases never hold.
    keys["lm_head.weight"] = state["lm_head.weight"]
    keys["model.visual_model.uncertainty.conv.weight"] = torch.zeros(1)
    torch.save(keys, release / "pytorch_model-00003-of-00003.bin")
    with pytest.raises(InteractVLMError, match="uncertainty"):
        convert_release(release, tmp_path / "out", str(clip_dir))
    (release / "added_tokens.json").unlink()
    with pytest.raises(InteractVLMError, match="added_tokens.json"):
        convert_release(release, tmp_path / "out", str(clip_dir))
    (release / "config.json").unlink()
    with pytest.raises(InteractVLMError, match="no config.json"):
        convert_release(release, tmp_path / "out", str(clip_dir))
    assert not (tmp_path / "out").exists()


def test_script_prints_one_line_and_exits_2(tmp_path, clip_dir):
    release = tmp_path / "release"
    write_release(release, human_view_set="4MV-Z_Vitru_wScene")
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "convert_interactvlm.py"),
            str(release),
            "--out",
            str(tmp_path / "out"),
            "--clip",
            str(clip_dir),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "unknown human view set" in result.stderr
    shutil.rmtree(release)
