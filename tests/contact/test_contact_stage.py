"""The contact stage of `reconstruct.py`: a trained checkpoint fills a sample's missing contact."""

import json

import numpy as np
import torch

from contact.config import ContactModelConfig
from contact.model import ContactVLM
from contact.random_models import save_random_llava, save_random_sam
from reconstruct import main
from reconstruction.sample_io import read_sample
from reconstruction.synthetic import write_synthetic_samples
from tests.cli_args import QUICK


def sample_without_contact(tmp_path, smplx_dir, body_backend="smpl"):
    """A small synthetic sample (SMPL body unless told) whose contact files are removed."""
    folder = write_synthetic_samples(
        tmp_path / "samples",
        1,
        seed=2,
        image_size=(64, 64),
        body_backend=body_backend,
        model_dir=smplx_dir,
    )[0]
    (folder / "contact.npz").unlink()
    (folder / "corresponding_contacts.json").unlink()
    return folder


def test_checkpoint_predicts_contact_for_a_sample_without_any(tmp_path, smplx_dir):
    save_random_llava(tmp_path / "llava")
    save_random_sam(tmp_path / "sam")
    config = ContactModelConfig(
        vlm=str(tmp_path / "llava"), sam=str(tmp_path / "sam"), lora_dropout=0.0, render_size=48
    )
    torch.manual_seed(0)
    ContactVLM.from_pretrained(config).save_trainable(tmp_path / "trainable.pt")

    folder = sample_without_contact(tmp_path, smplx_dir)
    out = tmp_path / "out"
    args = [
        str(folder),
        "--out",
        str(out),
        *QUICK,
        "--set",
        "body.backend=smpl",
        "--set",
        f"body.model_dir={smplx_dir}",
        "--set",
        "export.overlay=false",
        "--set",
        f"contact.checkpoint={tmp_path / 'trainable.pt'}",
    ]
    assert main(args) == 0
    assert json.loads((out / "metrics.json").read_text())["stages_run"]["contact"] is True
    contact = read_sample(folder).contact
    assert contact.body_topology == "smpl" and contact.body_contact.shape == (6890,)
    assert np.all((contact.body_contact >= 0) & (contact.body_contact <= 1))
    # The folder's object mesh is known, so its contact is predicted too.
    mesh = read_sample(folder).object_mesh
    assert contact.object_contact.shape == (len(mesh.vertices),)
    assert np.all((contact.object_contact >= 0) & (contact.object_contact <= 1))


def test_missing_checkpoint_is_a_clear_error(tmp_path, smplx_dir, capsys):
    folder = sample_without_contact(tmp_path, smplx_dir)
    args = [
        str(folder),
        "--out",
        str(tmp_path / "out"),
        "--set",
        "body.backend=smpl",
        "--set",
        f"body.model_dir={smplx_dir}",
        "--set",
        f"contact.checkpoint={tmp_path / 'none.pt'}",
    ]
    assert main(args) == 2
    assert "scripts/train_contact.py" in capsys.readouterr().err
