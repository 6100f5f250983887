"""The main command end to end: a sample folder in, every export out; bad input, clear errors."""

import json

import numpy as np
import pytest
import smplx
import torch
from PIL import Image

from reconstruct import main
from reconstruction.procedural_objects import make_object


@pytest.fixture()
def sample(tmp_path):
    folder = tmp_path / "chair_demo"
    folder.mkdir()
    make_object("chair").export(folder / "object.obj")
    Image.new("RGB", (160, 120), (90, 120, 60)).save(folder / "image.jpg")
    return folder


def test_anny_scene_from_a_sample_folder(sample, tmp_path, capsys):
    out = tmp_path / "out"
    assert main([str(sample), "--out", str(out), "--device", "cpu"]) == 0
    expected = {
        "scene.glb",
        "body.ply",
        "object.ply",
        "body_params.npz",
        "object_pose.json",
        "overlay.png",
        "side.png",
        "config.yaml",
        "timings.json",
    }
    assert expected <= {p.name for p in out.iterdir()}
    assert np.asarray(Image.open(out / "overlay.png")).shape == (120, 160, 3)
    pose = json.loads((out / "object_pose.json").read_text())
    assert pose["scale"] == [pytest.approx(1.0)]
    assert "wrote" in capsys.readouterr().out


def test_smplx_parameters_load_into_smplx(sample, tmp_path, smplx_dir):
    out = tmp_path / "out"
    args = [
        str(sample),
        "--out",
        str(out),
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
    import trimesh

    body = trimesh.load(out / "body.ply", process=False)
    assert np.allclose(vertices.numpy(), body.vertices, atol=1e-4)


@pytest.mark.parametrize(
    "setup, message",
    [
        (lambda f: f / "missing", "does not exist"),
        (lambda f: ((f / "object.obj").unlink(), f)[1], "no object mesh"),
        (lambda f: ((f / "object.obj").write_text("v 0 0 nan\nf 1 1 1\n"), f)[1], "object.obj"),
        (lambda f: ((f / "image.jpg").write_bytes(b""), f)[1], "empty"),
    ],
)
def test_bad_input_is_one_clear_line(sample, tmp_path, capsys, setup, message):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("earlier result")
    assert main([str(setup(sample)), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and message in err and "\n" not in err
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_bad_config_override(sample, capsys):
    assert main([str(sample), "--set", "body.backend_typo=smplx"]) == 2
    assert "unknown config key" in capsys.readouterr().err
