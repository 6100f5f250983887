"""The sample-folder store: one skip rule, writes that keep the in-memory sample in step."""

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hoifit.store import SampleStore, object_name_from, sample_folder_for
from perception.run import Detection, PerceptionResult
from reconstruction.errors import HoifitError
from reconstruction.sample_io import read_sample

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "chair__synth_0_0"


@pytest.fixture
def photo_folder(tmp_path):
    photo = tmp_path / "cup__0001.png"
    Image.fromarray(np.zeros((48, 80, 3), np.uint8)).save(photo)
    return sample_folder_for(photo, tmp_path / "out")


def test_a_complete_folder_needs_nothing(tmp_path):
    folder = shutil.copytree(EXAMPLE, tmp_path / EXAMPLE.name)
    store = SampleStore(folder)
    assert store.missing_stages(object_mesh_given=False, contact_model=False) == []
    # Annotated contact is kept even when a contact model is configured.
    assert store.missing_stages(object_mesh_given=False, contact_model=True) == []
    assert store.object_name == "chair"


def test_a_bare_photo_needs_every_stage(photo_folder):
    store = SampleStore(photo_folder)
    assert store.missing_stages(False, True) == ["perception", "body_init", "retrieval", "contact"]
    assert store.missing_stages(True, False) == ["perception", "body_init"]
    assert store.object_name == "cup"
    request = store.perception_request()
    assert request["object_box"] is None and request["want_depth"] and request["want_keypoints"]


def test_perception_results_are_written_and_read_back(photo_folder):
    store = SampleStore(photo_folder)
    mask = np.zeros((48, 80), bool)
    mask[10:20, 5:30] = True
    result = PerceptionResult(
        object_name="cup",
        object=Detection(mask, np.array([5.0, 10.0, 29.0, 19.0])),
        person=Detection(~mask, np.array([0.0, 0.0, 79.0, 47.0])),
        keypoints_2d=np.ones((17, 3), np.float32),
        depth=np.full((48, 80), 2.0, np.float32),
        focal_px=60.0,
    )
    written = store.write_perception(result)
    assert set(written) == {
        "object_detection.npz",
        "human_detection.npz",
        "keypoints_2d.json",
        "depth.npz",
        "camera.json",
    }
    again = read_sample(photo_folder)
    np.testing.assert_array_equal(again.object_mask, store.sample.object_mask)
    assert again.camera.fx == store.sample.camera.fx == 60.0
    assert np.allclose(again.depth, 2.0)
    assert SampleStore(photo_folder).missing_stages(True, False) == ["body_init"]
    # What the folder already holds is never overwritten.
    result.focal_px = 99.0
    assert store.write_perception(result) == []
    assert read_sample(photo_folder).camera.fx == 60.0


def test_predicted_contact_keeps_the_folder_object_contact(tmp_path):
    folder = shutil.copytree(EXAMPLE, tmp_path / EXAMPLE.name)
    store = SampleStore(folder)
    object_contact = store.sample.contact.object_contact
    body = np.full(13718, 0.25, np.float32)
    store.write_contact(body, "anny", None)
    contact = read_sample(folder).contact
    np.testing.assert_allclose(contact.body_contact, body)
    if object_contact is not None:
        np.testing.assert_allclose(contact.object_contact, object_contact)


def test_inputs_that_are_not_samples(tmp_path):
    with pytest.raises(HoifitError, match="does not exist"):
        sample_folder_for(tmp_path / "missing.jpg", tmp_path)
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(HoifitError, match="neither a folder nor an image"):
        sample_folder_for(tmp_path / "notes.txt", tmp_path)


def test_object_name_from_folder_and_image_names(tmp_path):
    folder = tmp_path / "sample"
    folder.mkdir()
    Image.new("RGB", (4, 4)).save(folder / "skate_board__0001.jpg")
    assert object_name_from(folder) == "skate board"
    assert object_name_from(tmp_path / "bike__7") == "bike"


def test_only_the_default_camera_counts_as_a_guess(photo_folder, tmp_path):
    from reconstruction.camera import Camera
    from reconstruction.camera_config import CameraConfig

    store = SampleStore(photo_folder)
    assert store.focal_guessed
    assert not SampleStore(photo_folder, CameraConfig(fov_deg=60.0)).focal_guessed
    store.write_camera(Camera.from_focal(90.0, 80, 48))
    assert not store.focal_guessed and store.sample.camera.fx == 90.0
    again = SampleStore(photo_folder)  # camera.json now
    assert not again.focal_guessed and again.sample.camera.fx == 90.0
    # The example's camera.json is the true camera.
    assert not SampleStore(shutil.copytree(EXAMPLE, tmp_path / EXAMPLE.name)).focal_guessed
