"""The short training run and the inference memory benchmark, on tiny random models."""

import json

import numpy as np
import pytest

import contact.evaluate as evaluation
from reconstruction.sample_io import read_ground_truth
from reconstruction.synthetic import write_synthetic_samples
from reconstruction.synthetic.interactions import INTERACTIONS
from scripts import benchmark_contact_memory, contact_short_run


@pytest.fixture(scope="module")
def scenes(tmp_path_factory, smplx_dir):
    """Two chairs and two stools: the first two interactions, twice (sample indices cycle through
    the interactions)."""
    root = tmp_path_factory.mktemp("scenes")
    options = {"image_size": (64, 64), "body_backend": "smpl", "model_dir": smplx_dir}
    folders = write_synthetic_samples(root / "a", 2, **options)
    folders += write_synthetic_samples(root / "b", 2, start=len(INTERACTIONS), **options)
    return folders


@pytest.mark.slow
def test_baselines_are_the_training_maps(scenes):
    train, test = scenes[:3], scenes[3:]  # chair, stool, chair | stool
    truths = [read_ground_truth(folder) for folder in train]
    baselines = contact_short_run.baseline_predictions(train, test)
    assert set(baselines) == {"zero", "average", "category_average"}
    name = test[0].name
    body, obj = baselines["average"][name]
    np.testing.assert_allclose(body, np.mean([t.body_contact for t in truths], axis=0))
    # The only stool in training gives the stool's object map and its category's body map.
    np.testing.assert_allclose(obj, truths[1].object_contact)
    np.testing.assert_allclose(baselines["category_average"][name][0], truths[1].body_contact)
    zero_body, zero_object = baselines["zero"][name]
    assert not zero_body.any() and zero_object.shape == obj.shape and not zero_object.any()


@pytest.mark.slow
def test_short_run_end_to_end(tmp_path, smplx_dir, monkeypatch, capsys):
    # A stand-in geodesic matrix: the real one is computed from the licensed SMPL mesh.
    monkeypatch.setattr(
        evaluation,
        "body_geodesic_matrix",
        lambda backend, dtype, model_dir: np.full((6890, 6890), 0.1, np.float16),
    )
    out = tmp_path / "run"
    args = ["--out", str(out), "--train", "2", "--test", "2", "--steps", "2", "--size", "tiny"]
    args += ["--image-size", "64", "--render-size", "48", "--batch-size", "2"]
    args += ["--body-backend", "smpl", "--body-model-dir", smplx_dir]
    assert contact_short_run.main(args) == 0
    summary = json.loads((out / "results.json").read_text())
    assert set(summary["results"]) == {"model", "zero", "average", "category_average"}
    for result in summary["results"].values():
        assert result["damon"]["num_images"] == 2 and result["piad"]["num_samples"] == 2
    assert summary["results"]["zero"]["damon"]["recall"] == 0.0
    assert (out / "predictions" / "model" / "chair__synth_1_0" / "contact.npz").is_file()
    assert "| category_average |" in capsys.readouterr().out


@pytest.mark.slow
def test_memory_benchmark_runs_each_option_or_says_why_not(tmp_path):
    out = tmp_path / "memory.json"
    args = ["--random-size", "tiny", "--options", "fp32", "4bit", "--device", "cpu"]
    assert benchmark_contact_memory.main([*args, "--json", str(out)]) == 0
    fp32, four_bit = json.loads(out.read_text())["results"]
    assert fp32["option"] == "fp32" and fp32["peak_rss_gib"] > 0 and fp32["predict_seconds"] > 0
    assert "CUDA GPU" in four_bit["skipped"]
