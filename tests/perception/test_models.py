"""Every wrapper with a tiny random checkpoint, loaded through `load_model` from a folder."""

import numpy as np
import pytest

from hoifit.registry import load_model
from perception.detection import Detection


def _pose_crop(box, aspect, padding=1.25):
    """The image window ViTPose crops for a box: grown to the input's aspect (width / height)
    about its centre, then by `padding`; as XYXY."""
    x0, y0, x1, y1 = box
    width, height = x1 - x0, y1 - y0
    width, height = max(width, aspect * height), max(height, width / aspect)
    half = np.array([width, height]) * padding / 2
    centre = np.array([x0 + x1, y0 + y1]) / 2
    return np.concatenate([centre - half, centre + half])


def _in_image(boxes, image):
    height, width = image.shape[:2]
    boxes = np.asarray(boxes)
    return bool(np.all(boxes >= 0) and np.all(boxes[:, [0, 2]] <= width)) and bool(
        np.all(boxes[:, [1, 3]] <= height)
    )


def test_detector(tiny_folders, image):
    detector = load_model("detector", str(tiny_folders["grounding_dino"]))
    found = detector.detect(image, ["person", "chair"], threshold=0.0)
    assert found and all(isinstance(d, Detection) for d in found)
    assert {d.label for d in found} <= {"person", "chair"}
    assert all(d.box.shape == (4,) and 0 <= d.score <= 1 for d in found)
    assert _in_image([d.box for d in found], image)
    assert [d.score for d in found] == sorted((d.score for d in found), reverse=True)
    other = np.ascontiguousarray(image[:40, :30])
    batch = detector.detect_batch([image, other], ["person", "chair"], threshold=0.0)
    assert len(batch) == 2 and _in_image([d.box for d in batch[1]], other)
    twice = detector.detect_batch([image, image], ["person", "chair"], threshold=0.0)
    np.testing.assert_allclose(twice[1][0].box, found[0].box, atol=1e-3)
    assert detector.detect(image, ["person"], threshold=1.0) == []


def test_segmenter(tiny_folders, image):
    segmenter = load_model("segmenter", str(tiny_folders["sam"]))
    boxes = np.array([[5, 5, 40, 30], [50, 10, 79, 47]], np.float32)
    masks = segmenter.segment(image, boxes)
    assert masks.shape == (2, 48, 80) and masks.dtype == bool
    other = np.ascontiguousarray(image[:30])
    batch = segmenter.segment_batch([image, other], [boxes, boxes[:1]])
    assert batch[0].shape == (2, 48, 80) and batch[1].shape == (1, 30, 80)
    np.testing.assert_array_equal(batch[0], masks)
    assert segmenter.segment(image, np.zeros((0, 4))).shape == (0, 48, 80)


@pytest.mark.parametrize("name", ["depth_pro", "depth_anything"])
def test_depth(tiny_folders, image, name):
    estimator = load_model("depth", str(tiny_folders[name]))
    depth, focal = estimator.estimate(image)
    assert depth.shape == (48, 80) and depth.dtype == np.float32
    assert np.all(depth > 0) and np.all(np.isfinite(depth))
    if name == "depth_pro":
        assert focal is not None and focal > 0
    else:
        assert focal is None
    other = np.ascontiguousarray(image[:, :60])
    results = estimator.estimate_batch([image, other, image])
    assert [r[0].shape for r in results] == [(48, 80), (48, 60), (48, 80)]
    np.testing.assert_allclose(results[0][0], depth, rtol=1e-4)


def test_person_detector(tiny_folders, image):
    detector = load_model("person_detector", str(tiny_folders["rt_detr"]))
    boxes, scores = detector.detect(image, threshold=0.0)
    assert boxes.shape == (len(scores), 4) and boxes.dtype == np.float32 and len(scores) > 0
    assert _in_image(boxes, image) and np.all(np.diff(scores) <= 0)
    batch = detector.detect_batch([image, np.ascontiguousarray(image[:20])], threshold=0.0)
    assert len(batch) == 2 and _in_image(batch[1][0], image[:20])


def test_pose(tiny_folders, image):
    pose = load_model("pose", str(tiny_folders["vitpose"]))
    boxes = np.array([[10, 5, 30, 45], [40, 0, 79, 47]], np.float32)
    keypoints = pose.keypoints(image, boxes)
    assert keypoints.shape == (2, 17, 3) and keypoints.dtype == np.float32
    assert np.all((keypoints[..., 2] >= 0) & (keypoints[..., 2] <= 1))
    # Keypoints lie in the padded crop around their box (input 64 x 48, heatmaps 16 x 12), in
    # original pixels, give or take the refinement of the peaks, which moves a peak of these
    # random heatmaps by up to two heatmap pixels.
    for box, points in zip(boxes, keypoints, strict=True):
        x0, y0, x1, y1 = _pose_crop(box, 48 / 64)
        step_x, step_y = 2 * (x1 - x0) / (12 - 1), 2 * (y1 - y0) / (16 - 1)
        assert np.all((points[:, 0] >= x0 - step_x) & (points[:, 0] <= x1 + step_x))
        assert np.all((points[:, 1] >= y0 - step_y) & (points[:, 1] <= y1 + step_y))
    assert pose.keypoints(image, np.zeros((0, 4))).shape == (0, 17, 3)
    batch = pose.keypoints_batch([image, image], [np.zeros((0, 4)), boxes])
    assert batch[0].shape == (0, 17, 3)
    np.testing.assert_allclose(batch[1], keypoints, atol=1e-4)


def test_clip(tiny_folders, image):
    clip = load_model("clip", str(tiny_folders["clip"]))
    images = clip.embed_images([image, np.ascontiguousarray(image[:20, :20])])
    texts = clip.embed_texts(["a photo of a chair", "cup"])
    assert images.shape == (2, clip.dim) and texts.shape == (2, clip.dim)
    np.testing.assert_allclose(np.linalg.norm(images, axis=1), 1, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(texts, axis=1), 1, atol=1e-5)


def test_rejects_non_rgb(tiny_folders):
    pose = load_model("pose", str(tiny_folders["vitpose"]))
    with pytest.raises(ValueError, match="load_image"):
        pose.keypoints(np.zeros((10, 10), np.uint8), np.zeros((1, 4)))
