"""`reconstruct.py` with a converted InteractVLM checkpoint as `contact.checkpoint`."""

import json

import pytest

from reconstruct import main
from reconstruction.sample_io import read_sample
from tests.cli_args import QUICK
from tests.contact.test_contact_stage import sample_without_contact


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["smpl", "smplx"])
def test_converted_checkpoint_predicts_contact_in_the_pipeline(
    tmp_path, smplx_dir, gen_checkpoint, data_dir, backend
):
    folder = sample_without_contact(tmp_path, smplx_dir, backend)
    out = tmp_path / "out"
    settings = {
        "body.backend": backend,
        "body.model_dir": smplx_dir,
        "export.overlay": "false",
        "contact.checkpoint": gen_checkpoint,
        "contact.interactvlm_data": data_dir,
        "contact.inference_type": "forward",
        "contact.answer": "'The contacting body parts are hands, and the contact region is [SEG].'",
    }
    args = [str(folder), "--out", str(out), *QUICK]
    for key, value in settings.items():
        args += ["--set", f"{key}={value}"]
    assert main(args) == 0
    assert json.loads((out / "metrics.json").read_text())["stages_run"]["contact"] is True
    contact = read_sample(folder).contact
    # SMPL-X gets the contact through the map of InteractVLM's data folder.
    assert contact.body_topology == backend
    assert contact.body_contact.shape == ({"smpl": 6890, "smplx": 10475}[backend],)


def test_anny_without_an_smpl_body_is_refused_in_one_line(tmp_path, gen_checkpoint, data_dir):
    from reconstruction.synthetic import write_synthetic_samples

    folder = write_synthetic_samples(tmp_path / "samples", 1, seed=2, image_size=(64, 64))[0]
    (folder / "contact.npz").unlink()
    (folder / "corresponding_contacts.json").unlink()
    args = [str(folder), "--out", str(tmp_path / "out"), *QUICK]
    args += ["--set", f"contact.checkpoint={gen_checkpoint}"]
    args += ["--set", f"contact.interactvlm_data={data_dir}"]
    assert main(args) == 2


@pytest.mark.slow
def test_memory_benchmark_measures_a_converted_checkpoint(tmp_path, gen_checkpoint, data_dir):
    import json as json_module

    from scripts import benchmark_contact_memory

    out = tmp_path / "memory.json"
    args = ["--interactvlm", str(gen_checkpoint), "--interactvlm-data", str(data_dir)]
    args += ["--options", "fp32", "4bit", "--device", "cpu", "--json", str(out)]
    assert benchmark_contact_memory.main(args) == 0
    fp32, four_bit = json_module.loads(out.read_text())["results"]
    assert fp32["peak_rss_gib"] > 0 and fp32["predict_seconds"] > 0, fp32
    assert "not offered" in four_bit["skipped"]
