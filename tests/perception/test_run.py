import numpy as np
import pytest

from hoifit.registry import load_model
from perception.config import PerceptionConfig
from perception.run import nearest_box, run_perception
from reconstruction.errors import HoifitError


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


def loader(config, calls=None):
    """The stage -> model callable the composition root passes, recording what was asked."""

    def model(stage):
        if calls is not None:
            calls.append(stage)
        return load_model(stage, config.model_for(stage))

    return model


def test_everything_found_in_a_bare_image(image, config):
    calls = []
    result = run_perception(image, loader(config, calls), config, "chair")
    assert result.object_name == "chair"
    assert result.object.mask.shape == (48, 80) and result.object.box.shape == (4,)
    assert result.person.mask.dtype == bool and result.person.box.shape == (4,)
    assert result.keypoints_2d.shape == (17, 3)
    assert result.depth.shape == (48, 80) and np.all(result.depth > 0)
    assert result.focal_px > 0 and result.person_count >= 1
    assert set(calls) == {"detector", "person_detector", "segmenter", "pose", "depth"}
    if result.person_count > 1:
        assert any("nearest the object" in m for m in result.messages)
    summary = result.summary()
    assert summary["ran"] == ["object_detection", "person_detection", "keypoints_2d", "depth"]


def test_known_boxes_are_segmented_not_detected(image, config):
    calls = []
    result = run_perception(
        image,
        loader(config, calls),
        config,
        object_box=np.array([1.0, 2.0, 30.0, 40.0]),
        person_box=np.array([40.0, 2.0, 70.0, 45.0]),
        want_keypoints=False,
        want_depth=False,
    )
    assert calls == ["segmenter"]
    np.testing.assert_array_equal(result.object.box, [1, 2, 30, 40])
    assert result.keypoints_2d is None and result.depth is None and result.person_count is None


def test_depth_anything_gives_no_focal_length(image, config):
    config.depth_model = "depth_anything"
    result = run_perception(image, loader(config), config, "cup")
    assert result.depth is not None and result.focal_px is None


def test_clear_errors(image, config):
    with pytest.raises(HoifitError, match="no object name"):
        run_perception(image, loader(config), config)
    config.object_threshold = 1.0
    with pytest.raises(HoifitError, match="no 'chair' found"):
        run_perception(image, loader(config), config, "chair")
    config.object_threshold, config.person_threshold = 0.0, 1.0
    with pytest.raises(HoifitError, match="no person found"):
        run_perception(image, loader(config), config, "chair")


def test_nearest_person():
    boxes = np.array([[0, 0, 10, 10], [50, 50, 70, 90], [40, 40, 60, 60]], float)
    assert nearest_box(boxes, np.array([55, 55, 65, 65])) == 1
    assert nearest_box(boxes, np.array([100, 100, 110, 110])) == 1
