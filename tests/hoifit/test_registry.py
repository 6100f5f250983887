import subprocess
import sys
from pathlib import Path

import pytest

from hoifit.registry import (
    MODELS,
    STAGES,
    MissingWeightsError,
    load_model,
    register_model,
)
from reconstruction.errors import HoifitError


def test_every_stage_has_a_default_with_licence_and_size():
    assert {info.stage for info in MODELS.values()} == set(STAGES)
    assert all(info.licence and info.download_gb > 0 for info in MODELS.values())


def test_missing_folder_names_model_and_command(tmp_path):
    with pytest.raises(MissingWeightsError) as error:
        load_model("segmenter", str(tmp_path / "nowhere"))
    message = str(error.value)
    assert "\n" not in message and isinstance(error.value, HoifitError)
    assert str(tmp_path / "nowhere") in message
    assert "python scripts/download_weights.py segmenter" in message


def test_missing_hub_weights_offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    # An empty cache, so that a machine holding the real weights still sees them missing.
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(MissingWeightsError) as error:
        load_model("depth")
    message = str(error.value)
    assert "Depth Pro" in message and "apple/DepthPro-hf" in message
    assert "python scripts/download_weights.py depth" in message and "\n" not in message


def test_register_model_and_wrong_type(tiny_folders):
    sentinel = object()
    register_model("pose", "fake_pose", lambda folder, device: sentinel)
    assert load_model("pose", "fake_pose") is sentinel
    with pytest.raises(HoifitError, match="cannot use as the pose"):
        load_model("pose", str(tiny_folders["sam"]))
    with pytest.raises(ValueError):
        register_model("nope", "x", lambda folder, device: None)


def test_download_script_fails_in_one_line():
    script = Path(__file__).resolve().parents[2] / "scripts" / "download_weights.py"
    result = subprocess.run(
        [sys.executable, str(script), "clip"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().startswith("error: cannot download openai/clip-vit-base-patch32")
