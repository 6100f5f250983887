"""What the fitting reads of a sample: annotated contact, else the category's contact prior."""

import shutil
from pathlib import Path

import numpy as np
import torch

from hoifit.config import load_config
from hoifit.fit_inputs import prepare_fit_inputs
from reconstruction.sample_io import read_sample

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "chair__synth_0_0"


def test_annotated_contact_is_used_as_is(anny):
    sample = read_sample(EXAMPLE)
    inputs = prepare_fit_inputs(sample, anny, load_config("fast").fit, torch.device("cpu"))
    assert inputs.num_pairs > 0
    np.testing.assert_allclose(inputs.body_contact.numpy(), sample.contact.body_contact)


def test_without_contact_the_category_prior_pulls_the_seat_parts(anny, tmp_path):
    folder = shutil.copytree(EXAMPLE, tmp_path / EXAMPLE.name)
    (folder / "contact.npz").unlink()
    (folder / "corresponding_contacts.json").unlink()
    sample = read_sample(folder)
    config = load_config("fast").fit
    inputs = prepare_fit_inputs(sample, anny, config, torch.device("cpu"), category="chair")
    contact = inputs.body_contact
    assert contact is not None and inputs.num_pairs == 0
    assert contact[anny.parts["buttocks"]].min() > 0.5
    assert contact[anny.parts["head"]].max() == 0
    # The object side: the seat's top, not its legs.
    top = inputs.object_vertices[:, 1] > inputs.object_vertices[:, 1].quantile(0.5)
    assert inputs.object_contact is not None and inputs.object_contact[~top].max() < 0.7

    config.contact_prior = False
    off = prepare_fit_inputs(sample, anny, config, torch.device("cpu"), category="chair")
    assert off.body_contact is None and off.object_contact is None
