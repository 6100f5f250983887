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
    assert contact is not None and inputs.num_pairs == 0 and inputs.contact_is_prior
    assert contact[anny.parts["buttocks"]].min() > 0.5
    assert contact[anny.parts["head"]].max() == 0
    # The object side: the seat's top, not its legs.
    top = inputs.object_vertices[:, 1] > inputs.object_vertices[:, 1].quantile(0.5)
    assert inputs.object_contact is not None and inputs.object_contact[~top].max() < 0.7

    config.contact_prior = False
    off = prepare_fit_inputs(sample, anny, config, torch.device("cpu"), category="chair")
    assert off.body_contact is None and off.object_contact is None and not off.contact_is_prior


def test_the_photo_decides_which_hand_holds_the_object(anny):
    from dataclasses import replace

    from hoifit.fit_inputs import _drop_limbs_away_from_object

    prior = np.zeros(anny.num_vertices, dtype=np.float32)
    for part in ("left_hand", "right_hand", "arms"):
        prior[anny.parts[part].numpy()] = 0.5
    mask = np.zeros((200, 200), dtype=bool)
    mask[90:110, 20:40] = True  # the object, beside the right wrist
    keypoints = np.zeros((17, 3))
    keypoints[:, 2] = 1.0
    keypoints[0, :2], keypoints[15, :2] = (100, 10), (100, 190)  # 180 px tall
    keypoints[10, :2] = (45, 100)  # right wrist 5 px from the object: near
    keypoints[9, :2] = (160, 100)  # left wrist 120 px away: away
    sample = replace(read_sample(EXAMPLE), keypoints_2d=keypoints, object_mask=mask)
    kept = _drop_limbs_away_from_object(prior, anny, sample)
    assert kept[anny.parts["left_hand"]].max() == 0 and kept[anny.parts["left_arm"]].max() == 0
    assert (
        kept[anny.parts["right_hand"]].min() == 0.5 and kept[anny.parts["right_arm"]].min() == 0.5
    )

    keypoints[9, :2] = (60, 100)  # both wrists near (a box in both hands): both stay
    np.testing.assert_array_equal(_drop_limbs_away_from_object(prior, anny, sample), prior)
    keypoints[9, 2] = keypoints[10, 2] = 0.1  # wrists unseen: the prior stays
    keypoints[9, :2] = (160, 100)
    np.testing.assert_array_equal(_drop_limbs_away_from_object(prior, anny, sample), prior)
