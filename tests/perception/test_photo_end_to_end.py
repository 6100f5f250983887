"""`reconstruct.py photo.jpg` with tiny random models: every stage runs, every file is written.

The models are untrained, so the scene means nothing; what is checked is that a bare photo goes
through perception, body initialization, retrieval, fitting and export, and that a second run
reuses the stage outputs.
"""

import json
from pathlib import Path

import numpy as np
from PIL import Image

from reconstruct import main

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "chair__synth_0_0"
STAGE_FILES = {
    "human_detection.npz",
    "object_detection.npz",
    "keypoints_2d.json",
    "depth.npz",
    "body_init.npz",
    "object.obj",
}


def tiny_args(folders, tmp_path):
    overrides = {
        "perception.detector": folders["grounding_dino"],
        "perception.segmenter": folders["sam"],
        "perception.depth_model": "depth_pro",
        "perception.depth_pro": folders["depth_pro"],
        "perception.person_detector": folders["rt_detr"],
        "perception.pose": folders["vitpose"],
        "perception.clip": folders["clip"],
        "perception.object_threshold": 0.0,
        "perception.person_threshold": 0.0,
        "retrieval.cache_dir": tmp_path / "gallery_cache",
        "fit.progress": "false",
        "export.overlay": "false",
    }
    args = ["--config", "fast"]
    for key, value in overrides.items():
        args += ["--set", f"{key}={value}"]
    for stage in range(3):
        args += ["--set", f"fit.stages.{stage}.iterations=2"]
    for stage in range(2):
        args += ["--set", f"fit.body_init.stages.{stage}.iterations=2"]
    return args


def test_bare_photo_runs_every_stage(tiny_folders, tmp_path, capsys):
    # A landscape crop: the tiny detector's smallest feature map needs a non-square input.
    photo = tmp_path / "chair__0001.png"
    image = np.asarray(Image.open(EXAMPLE / f"{EXAMPLE.name}.png"))
    Image.fromarray(image[48:208]).save(photo)
    out = tmp_path / "out"
    assert main([str(photo), "--out", str(out), *tiny_args(tiny_folders, tmp_path)]) == 0
    sample = out / "chair__0001"
    assert STAGE_FILES <= {p.name for p in sample.iterdir()}
    assert (sample / photo.name).is_file()
    metrics = json.loads((out / "metrics.json").read_text())
    ran = metrics["stages_run"]
    assert ran["perception"]["object_name"] == "chair" and ran["body_init"]
    assert ran["retrieval"]["category"]
    assert {"scene.glb", "body.ply", "object.ply", "body_params.npz"} <= {
        p.name for p in out.iterdir()
    }

    # A second run finds every stage's output in the sample folder and only fits again.
    assert main([str(photo), "--out", str(out), *tiny_args(tiny_folders, tmp_path)]) == 0
    again = json.loads((out / "metrics.json").read_text())["stages_run"]
    stages = {key: again[key] for key in ("perception", "body_init", "retrieval", "contact")}
    assert stages == {"perception": None, "body_init": False, "retrieval": None, "contact": False}
    assert "chair__0001: ok" in capsys.readouterr().out
