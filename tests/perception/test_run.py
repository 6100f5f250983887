import json

import numpy as np
import pytest
from PIL import Image

from perception.config import PerceptionConfig
from perception.run import nearest_box, object_name_from, run_perception
from reconstruction.errors import HoifitError
from reconstruction.image_io import load_image


@pytest.fixture
def config(tiny_folders):
    return PerceptionConfig(
        detector=str(tiny_folders["grounding_dino"]),
        segmenter=str(tiny_folders["sam"]),
        depth_pro=str(tiny_folders["depth_pro"]),
        depth_anything=str(tiny_folders["depth_anything"]),
        person_detector=str(tiny_folders["rt_detr"]),
        pose=str(tiny_folders["vitpose"]),
        clip=str(tiny_folders["clip"]),
        object_threshold=0.0,
        person_threshold=0.0,
    )


def test_run_writes_then_skips(tmp_path, image, config):
    folder = tmp_path / "chair__0001"
    models = {}
    summary = run_perception(folder, image, config=config, models=models)
    assert summary["object_name"] == "chair"
    assert set(summary["ran"]) == {
        "object_detection.npz",
        "human_detection.npz",
        "keypoints_2d.json",
        "depth.npz",
        "camera.json",
    }
    assert summary["person_count"] >= 1 and summary["focal_px"] > 0
    if summary["person_count"] > 1:
        assert any("nearest the object" in m for m in summary["messages"])
    with np.load(folder / "human_detection.npz") as data:
        assert data["mask"].shape == (48, 80) and data["bbox"].shape == (4,)
    with np.load(folder / "depth.npz") as data:
        assert data["depth"].shape == (48, 80) and np.all(data["depth"] > 0)
    keypoints = json.loads((folder / "keypoints_2d.json").read_text())["keypoints"]
    assert np.asarray(keypoints).shape == (17, 3)
    camera = json.loads((folder / "camera.json").read_text())
    assert camera["width"] == 80 and camera["height"] == 48

    again = run_perception(folder, image, config=config, models=models)
    assert again["ran"] == []
    assert len(again["skipped"]) == 4 and again["person_box"] is not None


def test_depth_anything_writes_no_camera(tmp_path, image, config):
    config.depth_model = "depth_anything"
    (tmp_path / "s").mkdir()
    summary = run_perception(tmp_path / "s", image, "cup", config=config)
    assert "depth.npz" in summary["ran"] and "camera.json" not in summary["ran"]
    assert summary["focal_px"] is None


def test_clear_errors(tmp_path, image, config):
    with pytest.raises(HoifitError, match="no object name"):
        run_perception(tmp_path / "plain", image, config=config)
    config.object_threshold = 1.0
    with pytest.raises(HoifitError, match="no 'chair' found"):
        run_perception(tmp_path / "a", image, "chair", config=config)
    config.object_threshold, config.person_threshold = 0.0, 1.0
    with pytest.raises(HoifitError, match="no person found"):
        run_perception(tmp_path / "b", image, "chair", config=config)


def test_object_name_and_nearest_person(tmp_path):
    folder = tmp_path / "sample"
    folder.mkdir()
    Image.new("RGB", (4, 4)).save(folder / "skate_board__0001.jpg")
    assert object_name_from(folder) == "skate board"
    assert object_name_from(tmp_path / "bike__7") == "bike"
    boxes = np.array([[0, 0, 10, 10], [50, 50, 70, 90], [40, 40, 60, 60]], float)
    assert nearest_box(boxes, np.array([55, 55, 65, 65])) == 1
    assert nearest_box(boxes, np.array([100, 100, 110, 110])) == 1


@pytest.mark.parametrize("mode", ["L", "RGBA", "P"])
def test_non_rgb_images_are_loaded_as_rgb(tmp_path, image, config, mode):
    path = tmp_path / f"cup__{mode}.png"
    Image.fromarray(image).convert(mode).save(path)
    loaded, _ = load_image(path)
    assert loaded.shape == (48, 80, 3) and loaded.dtype == np.uint8
    summary = run_perception(tmp_path / mode, loaded, "cup", config=config)
    assert "depth.npz" in summary["ran"]
