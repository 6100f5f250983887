"""A photo-protocol sample through `reconstruct.py` and the evaluation, as a user would run it."""

import math

from reconstruct import main
from reconstruction.evaluation import evaluate_result
from reconstruction.synthetic import write_synthetic_samples
from tests.cli_args import QUICK


def test_a_seated_photo_sample_reconstructs_and_evaluates(tmp_path):
    # No body initialization, no contact, another chair in other units and up axis, no camera.
    folder = write_synthetic_samples(
        tmp_path / "samples", 1, seed=0, image_size=(128, 128), protocol="photo"
    )[0]
    assert not (folder / "body_init.npz").exists() and not (folder / "contact.npz").exists()
    out = tmp_path / "out"
    args = [str(folder), "--out", str(out), *QUICK, "--set", "export.overlay=false"]
    args += ["--set", "fit.focal_from_depth=true"]
    for stage in range(2):
        args += ["--set", f"fit.body_init.stages.{stage}.iterations=5"]
    assert main(args) == 0
    assert (folder / "body_init.npz").is_file()  # the body was fitted from the keypoints
    # The 55 degree guess gave way to the focal length that puts the body at the map's depth.
    assert (folder / "camera.json").is_file()
    row = evaluate_result(folder, out)
    assert row["inputs"].startswith("photo")
    for key in ("rot_err_sym_deg", "body_vertex_err_cm", "tilt_deg", "floor_gap_cm"):
        assert row[key] is not None and math.isfinite(row[key]), key
