"""The main command end to end: sample folders in, every export out; bad input, clear errors."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import smplx
import torch
import trimesh
from PIL import Image

from reconstruct import main
from reconstruction.synthetic import write_synthetic_samples
from tests.cli_args import QUICK

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "chair__synth_0_0"
EXPORTS = {
    "scene.glb",
    "body.ply",
    "object.ply",
    "body_params.npz",
    "object_pose.json",
    "overlay.png",
    "side.png",
    "config.yaml",
    "loss_log.csv",
    "metrics.json",
}


@pytest.fixture()
def sample(tmp_path):
    folder = tmp_path / EXAMPLE.name
    shutil.copytree(EXAMPLE, folder)
    return folder


def test_bundled_example_reconstructs(sample, tmp_path, capsys):
    out = tmp_path / "out"
    assert main([str(sample), "--out", str(out), "--device", "cpu", *QUICK]) == 0
    assert EXPORTS <= {p.name for p in out.iterdir()}
    assert np.asarray(Image.open(out / "overlay.png")).shape == (256, 256, 3)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "ok"
    assert [s["name"] for s in metrics["stages"]] == ["body", "object_init", "object", "joint"]
    for key in ("penetration_cm", "contact_dist_cm", "mask_iou"):
        assert np.isfinite(metrics[key])
    log = (out / "loss_log.csv").read_text().splitlines()
    assert log[0].startswith("stage,iteration,total") and len(log) == 1 + 3 + 3 + 3
    assert "chair__synth_0_0: ok" in capsys.readouterr().out


def test_smplx_parameters_load_into_smplx(tmp_path, smplx_dir):
    samples = write_synthetic_samples(
        tmp_path / "samples",
        1,
        seed=3,
        image_size=(96, 96),
        body_backend="smplx",
        model_dir=smplx_dir,
    )
    out = tmp_path / "out"
    args = [
        str(samples[0]),
        "--out",
        str(out),
        *QUICK,
        "--set",
        "body.backend=smplx",
        "--set",
        f"body.model_dir={smplx_dir}",
        "--set",
        "export.overlay=false",
    ]
    assert main(args) == 0
    data = dict(np.load(out / "body_params.npz"))
    assert str(data.pop("body_backend")) == "smplx"
    model = smplx.create(
        smplx_dir,
        model_type=str(data.pop("model_type")),
        gender=str(data.pop("gender")),
        use_pca=False,
        flat_hand_mean=True,
        num_betas=data["betas"].shape[1],
        num_expression_coeffs=data["expression"].shape[1],
    )
    with torch.no_grad():
        vertices = model(**{k: torch.as_tensor(v) for k, v in data.items()}).vertices[0]
    body = trimesh.load(out / "body.ply", process=False)
    assert np.allclose(vertices.numpy(), body.vertices, atol=1e-4)


def test_folder_of_samples_goes_on_after_a_failure(tmp_path, capsys):
    root = tmp_path / "samples"
    shutil.copytree(EXAMPLE, root / EXAMPLE.name)
    broken = root / "box__broken"
    shutil.copytree(EXAMPLE, broken)
    (broken / "object.obj").write_text("v 0 0 nan\nf 1 1 1\n")
    (broken / f"{EXAMPLE.name}.png").rename(broken / "box__broken.png")
    out = tmp_path / "out"
    assert main([str(root), "--out", str(out), *QUICK, "--set", "export.overlay=false"]) == 1
    printed = capsys.readouterr().out
    assert "box__broken: error" in printed and "object.obj" in printed
    assert (out / EXAMPLE.name / "metrics.json").is_file()
    assert not (out / "box__broken").exists()


def test_workers_share_a_folder_of_samples(tmp_path, capsys):
    root = tmp_path / "samples"
    for name in ("chair__a", "chair__b"):
        shutil.copytree(EXAMPLE, root / name)
        (root / name / f"{EXAMPLE.name}.png").rename(root / name / f"{name}.png")
    out = tmp_path / "out"
    args = [str(root), "--out", str(out), "--workers", "2", *QUICK, "--set", "export.overlay=false"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "chair__a: ok" in printed and "chair__b: ok" in printed
    for name in ("chair__a", "chair__b"):
        assert json.loads((out / name / "metrics.json").read_text())["status"] == "ok"


@pytest.mark.parametrize(
    "setup, message",
    [
        (lambda f: f / "missing", "does not exist"),
        # Without weights in the cache, the stages that would fill the gap say what to fetch.
        (lambda f: ((f / "object.obj").unlink(), f)[1], "download_weights.py clip"),
        (lambda f: ((f / "object.obj").write_text("v 0 0 nan\nf 1 1 1\n"), f)[1], "object.obj"),
        (lambda f: ((f / f"{f.name}.png").write_bytes(b""), f)[1], "empty"),
        (
            lambda f: ((f / "body_init.npz").unlink(), (f / "keypoints_2d.json").unlink(), f)[2],
            "download_weights.py",
        ),
        (lambda f: f / f"{f.name}.png", "download_weights.py"),
    ],
)
def test_bad_input_is_one_clear_line(sample, tmp_path, capsys, setup, message):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("earlier result")
    assert main([str(setup(sample)), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and message in err and "\n" not in err
    assert (out / "keep.txt").read_text() == "earlier result"
    assert not (out / "metrics.json").exists() and not (out / "scene.glb").exists()


def test_smplx_sample_with_anny_backend_says_what_to_set(tmp_path, smplx_dir, capsys):
    samples = write_synthetic_samples(
        tmp_path / "samples",
        1,
        seed=4,
        image_size=(64, 64),
        body_backend="smplx",
        model_dir=smplx_dir,
    )
    assert main([str(samples[0]), "--out", str(tmp_path / "out")]) == 2
    assert "--set body.backend=smplx" in capsys.readouterr().err


def test_bad_config_override(sample, capsys):
    assert main([str(sample), "--set", "body.backend_typo=smplx"]) == 2
    assert "unknown config key" in capsys.readouterr().err
