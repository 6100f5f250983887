"""Each wrapper's preprocessing and post-processing at the published settings of its default
checkpoint, on a real-sized photo.

The wrappers run stand-in models that record what they are fed and answer with known outputs.
What they are fed is compared with the transformers processor built directly from the settings
(fed a PIL image, as on the model cards) and with the settings' steps done by hand; what they
return is compared with known answers in pixels of the photo. Depth Pro, whose transformers
processor needs torchvision, is compared with its processor's documented steps.
"""

import json
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image
from transformers import (
    AutoTokenizer,
    DPTImageProcessorPil,
    GroundingDinoImageProcessorPil,
    RTDetrImageProcessorPil,
    SamImageProcessorPil,
    SamProcessor,
    VitPoseImageProcessorPil,
)

from perception.depth import DepthEstimator
from perception.detection import Detection, Detector
from perception.keypoints import PoseEstimator
from perception.person_detection import PersonDetector
from perception.preprocess import DepthProImageProcessor, group_by_shape, to_uint8_rgb
from perception.segmentation import Segmenter
from tests.perception.tiny_models import save_tokenizer

CPU = torch.device("cpu")
HEIGHT, WIDTH = 1536, 2048
IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
RESCALE = 0.00392156862745098  # 1 / 255
BILINEAR, BICUBIC = 2, 3  # PIL resampling filters, as the configs name them

# The preprocessor_config.json of each default checkpoint, as published on the hub.
GROUNDING_DINO = {  # IDEA-Research/grounding-dino-tiny
    "do_normalize": True,
    "do_pad": True,
    "do_rescale": True,
    "do_resize": True,
    "format": "coco_detection",
    "image_mean": IMAGENET_MEAN,
    "image_processor_type": "GroundingDinoImageProcessor",
    "image_std": IMAGENET_STD,
    "processor_class": "GroundingDinoProcessor",
    "resample": BILINEAR,
    "rescale_factor": RESCALE,
    "size": {"longest_edge": 1333, "shortest_edge": 800},
}
SAM = {  # facebook/sam-vit-base
    "do_convert_rgb": True,
    "do_normalize": True,
    "do_pad": True,
    "do_rescale": True,
    "do_resize": True,
    "image_mean": IMAGENET_MEAN,
    "image_processor_type": "SamImageProcessor",
    "image_std": IMAGENET_STD,
    "pad_size": {"height": 1024, "width": 1024},
    "processor_class": "SamProcessor",
    "resample": BILINEAR,
    "rescale_factor": RESCALE,
    "size": {"longest_edge": 1024},
}
DEPTH_ANYTHING = {  # depth-anything/Depth-Anything-V2-Metric-Indoor-Small-hf
    "do_normalize": True,
    "do_pad": False,
    "do_rescale": True,
    "do_resize": True,
    "ensure_multiple_of": 14,
    "image_mean": IMAGENET_MEAN,
    "image_processor_type": "DPTImageProcessor",
    "image_std": IMAGENET_STD,
    "keep_aspect_ratio": True,
    "resample": BICUBIC,
    "rescale_factor": RESCALE,
    "size": {"height": 518, "width": 518},
    "size_divisor": None,
}
DEPTH_PRO = {  # apple/DepthPro-hf
    "do_normalize": True,
    "do_rescale": True,
    "do_resize": True,
    "image_mean": [0.5, 0.5, 0.5],
    "image_processor_type": "DepthProImageProcessorFast",
    "image_std": [0.5, 0.5, 0.5],
    "resample": BILINEAR,
    "rescale_factor": RESCALE,
    "size": {"height": 1536, "width": 1536},
}
RT_DETR = {  # PekingU/rtdetr_r50vd_coco_o365
    "do_normalize": False,
    "do_pad": False,
    "do_rescale": True,
    "do_resize": True,
    "format": "coco_detection",
    "image_mean": IMAGENET_MEAN,
    "image_processor_type": "RTDetrImageProcessor",
    "image_std": IMAGENET_STD,
    "resample": BILINEAR,
    "rescale_factor": RESCALE,
    "size": {"height": 640, "width": 640},
}
VITPOSE = {  # usyd-community/vitpose-base-simple
    "do_affine_transform": True,
    "do_normalize": True,
    "do_rescale": True,
    "image_mean": IMAGENET_MEAN,
    "image_processor_type": "VitPoseImageProcessor",
    "image_std": IMAGENET_STD,
    "normalize_factor": 200.0,
    "rescale_factor": RESCALE,
    "size": {"height": 256, "width": 192},
}


class StandIn(torch.nn.Module):
    """Stands in for a checkpoint: keeps its last inputs and answers with `answer(inputs)`."""

    def __init__(self, config, answer):
        super().__init__()
        self.config = config
        self.answer = answer
        self.inputs = {}

    def forward(self, **inputs):
        self.inputs = inputs
        return self.answer(inputs)


@pytest.fixture(scope="module")
def photo():
    """A random (1536, 2048, 3) uint8 image: every resampling filter gives different pixels."""
    return np.random.default_rng(0).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)


def _checkpoint(folder, settings):
    """A folder holding `settings` as its preprocessor_config.json, as downloaded."""
    (folder / "preprocessor_config.json").write_text(json.dumps(settings))
    return folder


def _by_hand(image, size, resample, settings):
    """The PIL resize, rescale and normalize a config asks for -> (3, height, width) float32."""
    height, width = size
    resized = np.asarray(Image.fromarray(image).resize((width, height), resample), np.float64)
    pixels = resized * settings["rescale_factor"]
    if settings["do_normalize"]:
        pixels = (pixels - settings["image_mean"]) / settings["image_std"]
    return pixels.transpose(2, 0, 1).astype(np.float32)


def test_detector_feeds_and_reads_grounding_dino_as_published(tmp_path, photo):
    save_tokenizer(
        tmp_path,
        {"[PAD]": 0, "[CLS]": 101, "[SEP]": 102},
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
    )

    def answer(inputs):
        logits = torch.full((1, 900, 256), -10.0)
        # Prompt tokens: [CLS] person . chair . [SEP]
        logits[0, 0, 3] = 2.0  # query 0: chair
        logits[0, 1, 1] = 0.5  # query 1: person
        logits[0, 2, 0] = 5.0  # query 2: only [CLS], which names no label
        boxes = torch.full((1, 900, 4), 0.5)
        boxes[0, 0] = torch.tensor([0.5, 0.5, 0.2, 0.4])  # normalized (cx, cy, w, h)
        boxes[0, 1] = torch.tensor([0.25, 0.5, 0.1, 0.5])
        return SimpleNamespace(logits=logits, pred_boxes=boxes)

    model = StandIn(SimpleNamespace(max_text_len=256), answer)
    folder = _checkpoint(tmp_path, GROUNDING_DINO)
    detector = Detector(
        model,
        AutoTokenizer.from_pretrained(folder),
        GroundingDinoImageProcessorPil.from_pretrained(folder),
        CPU,
    )
    found = detector.detect(photo, ["person", "chair"], threshold=0.3)

    expected = GroundingDinoImageProcessorPil(**GROUNDING_DINO)(
        Image.fromarray(photo), return_tensors="pt"
    )
    # The shorter side becomes 800, the longer int(800 * 2048 / 1536).
    assert model.inputs["pixel_values"].shape == (1, 3, 800, 1066)
    torch.testing.assert_close(model.inputs["pixel_values"], expected["pixel_values"])
    torch.testing.assert_close(model.inputs["pixel_mask"], expected["pixel_mask"])
    np.testing.assert_allclose(
        model.inputs["pixel_values"][0].numpy(),
        _by_hand(photo, (800, 1066), BILINEAR, GROUNDING_DINO),
        atol=1e-5,
    )
    assert [(d.label, round(d.score, 4)) for d in found] == [("chair", 0.8808), ("person", 0.6225)]
    np.testing.assert_allclose(found[0].box, [819.2, 460.8, 1228.8, 1075.2], rtol=1e-6)
    np.testing.assert_allclose(found[1].box, [409.6, 384.0, 614.4, 1152.0], rtol=1e-6)
    assert all(isinstance(d, Detection) and d.box.dtype == np.float32 for d in found)


def test_segmenter_feeds_and_reads_sam_as_published(tmp_path, photo):
    def answer(inputs):
        # Low-resolution logits over the padded 1024 x 1024 input: positive on its top 96 of 256
        # rows, which is the top half of the 768-row resized photo.
        masks = torch.full((1, 2, 1, 256, 256), -5.0)
        masks[..., :96, :] = 5.0
        return SimpleNamespace(pred_masks=masks)

    model = StandIn(SimpleNamespace(), answer)
    segmenter = Segmenter(
        model, SamProcessor(SamImageProcessorPil.from_pretrained(_checkpoint(tmp_path, SAM))), CPU
    )
    boxes = np.array([[200, 300, 1000, 1200], [1500, 100, 2000, 1500]], np.float32)
    masks = segmenter.segment(photo, boxes)

    expected = SamProcessor(SamImageProcessorPil(**SAM))(
        images=Image.fromarray(photo), input_boxes=[boxes.tolist()], return_tensors="pt"
    )
    torch.testing.assert_close(model.inputs["pixel_values"], expected["pixel_values"])
    # The longer side becomes 1024 (a factor 0.5) and the padding fills the bottom rows.
    np.testing.assert_allclose(
        model.inputs["pixel_values"][0, :, :768].numpy(),
        _by_hand(photo, (768, 1024), BILINEAR, SAM),
        atol=1e-5,
    )
    assert not model.inputs["pixel_values"][0, :, 768:].any()
    np.testing.assert_allclose(model.inputs["input_boxes"][0].numpy(), boxes * 0.5)
    assert model.inputs["input_boxes"].dtype == torch.float32
    assert masks.shape == (2, HEIGHT, WIDTH) and masks.dtype == bool
    assert masks[:, : HEIGHT // 2 - 8].all() and not masks[:, HEIGHT // 2 + 8 :].any()


def test_depth_anything_is_fed_and_read_as_published(tmp_path, photo):
    def answer(inputs):
        return SimpleNamespace(predicted_depth=torch.full((1, 37, 49), 2.5))

    config = SimpleNamespace(model_type="depth_anything", depth_estimation_type="metric")
    model = StandIn(config, answer)
    processor = DPTImageProcessorPil.from_pretrained(_checkpoint(tmp_path, DEPTH_ANYTHING))
    depth, focal = DepthEstimator(model, processor, CPU).estimate(photo)

    expected = DPTImageProcessorPil(**DEPTH_ANYTHING)(Image.fromarray(photo), return_tensors="pt")
    torch.testing.assert_close(model.inputs["pixel_values"], expected["pixel_values"])
    # The side nearer to 518 gets there (the height, a factor 518 / 1536), the other follows to
    # a multiple of 14: round(2048 * 518 / 1536 / 14) * 14 = 686; bicubic, ImageNet statistics.
    np.testing.assert_allclose(
        model.inputs["pixel_values"][0].numpy(),
        _by_hand(photo, (518, 686), BICUBIC, DEPTH_ANYTHING),
        atol=1e-5,
    )
    assert depth.shape == (HEIGHT, WIDTH) and depth.dtype == np.float32 and focal is None
    np.testing.assert_allclose(depth, 2.5, rtol=1e-5)


def _bilinear(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of (C, H, W) by the half-pixel rule without antialiasing (torch's
    `interpolate(mode="bilinear", align_corners=False)`), written out one axis at a time."""

    def along(array, axis, count):
        source = (np.arange(count) + 0.5) * array.shape[axis] / count - 0.5
        source = np.clip(source, 0, None)
        low = np.floor(source).astype(int)
        high = np.minimum(low + 1, array.shape[axis] - 1)
        shape = [1] * array.ndim
        shape[axis] = count
        weight = (source - low).reshape(shape)
        return np.take(array, low, axis) * (1 - weight) + np.take(array, high, axis) * weight

    return along(along(image, 1, size[0]), 2, size[1])


def test_depth_pro_processor_follows_the_documented_steps(tmp_path, photo):
    processor = DepthProImageProcessor.from_pretrained(_checkpoint(tmp_path, DEPTH_PRO))
    pixels = processor([photo, photo[::-1]])  # the second upside down

    # transformers' DepthProImageProcessor: rescale and normalize first, then resize to
    # `size` with its `resample` (bilinear) and antialias=False.
    assert DEPTH_PRO["resample"] == BILINEAR
    normalized = photo.transpose(2, 0, 1) * DEPTH_PRO["rescale_factor"]
    mean, std = (np.array(DEPTH_PRO[key])[:, None, None] for key in ("image_mean", "image_std"))
    expected = _bilinear((normalized - mean) / std, (1536, 1536))
    assert pixels.shape == (2, 3, 1536, 1536) and pixels.dtype == torch.float32
    # torch finds the source positions in float32, a few 1e-4 off at these sizes; resizing the
    # uint8 image first (as PIL processors do) is up to 4e-3 off, antialiasing far more.
    np.testing.assert_allclose(pixels[0].numpy(), expected, atol=5e-4)
    # The height stays 1536, so the upside-down photo gives upside-down pixels.
    np.testing.assert_allclose(pixels[1].numpy(), expected[:, ::-1], atol=5e-4)


def test_depth_pro_processor_defaults_fill_a_partial_config(tmp_path):
    folder = _checkpoint(tmp_path, {"size": {"height": 64, "width": 48}})
    pixels = DepthProImageProcessor.from_pretrained(folder)([np.full((30, 20, 3), 255, np.uint8)])
    # White is 1 / 255 * 255 = 1 before Depth Pro's normalization to [-1, 1].
    assert pixels.shape == (1, 3, 64, 48)
    np.testing.assert_allclose(pixels.numpy(), 1.0, rtol=1e-6)


def test_depth_pro_post_processing_gives_metric_depth_and_focal_length(tmp_path, photo):
    def answer(inputs):
        # Inverse depth 0.5 for the canonical camera (focal length = width); fields of view
        # of 90 degrees and a degenerate 0 degrees.
        count = len(inputs["pixel_values"])
        return SimpleNamespace(
            predicted_depth=torch.full((count, 24, 32), 0.5),
            field_of_view=torch.tensor([90.0, 0.0][:count]),
        )

    model = StandIn(SimpleNamespace(model_type="depth_pro"), answer)
    processor = DepthProImageProcessor.from_pretrained(_checkpoint(tmp_path, DEPTH_PRO))
    estimator = DepthEstimator(model, processor, CPU)
    (depth, focal), (_, degenerate) = estimator.estimate_batch([photo, photo])

    assert model.inputs["pixel_values"].shape == (2, 3, 1536, 1536)
    # 90 degrees: focal = (W / 2) / tan(45 degrees); depth = 1 / (0.5 * W / focal) = 1.
    assert focal == pytest.approx(WIDTH / 2)
    assert depth.shape == (HEIGHT, WIDTH) and depth.dtype == np.float32
    np.testing.assert_allclose(depth, 1.0, rtol=1e-5)
    # 0 degrees is held at 5, so the focal length stays finite.
    assert degenerate == pytest.approx(WIDTH / 2 / math.tan(math.radians(2.5)))


def test_person_detector_feeds_and_reads_rt_detr_as_published(tmp_path, photo):
    def answer(inputs):
        logits = torch.full((1, 300, 3), -10.0)
        logits[0, 5, 0] = 1.0  # person, 0.73
        logits[0, 7, 1] = 3.0  # chair: not a person
        logits[0, 9, 0] = 0.2  # person, 0.55
        logits[0, 11, 0] = -0.2  # person, 0.45: under the threshold
        boxes = torch.full((1, 300, 4), 0.5)
        boxes[0, 5] = torch.tensor([0.5, 0.5, 0.25, 0.5])  # normalized (cx, cy, w, h)
        boxes[0, 9] = torch.tensor([0.95, 0.5, 0.2, 0.2])  # reaches past the right border
        return SimpleNamespace(logits=logits, pred_boxes=boxes)

    config = SimpleNamespace(label2id={"person": 0, "chair": 1, "cup": 2})
    model = StandIn(config, answer)
    processor = RTDetrImageProcessorPil.from_pretrained(_checkpoint(tmp_path, RT_DETR))
    boxes, scores = PersonDetector(model, processor, CPU).detect(photo, threshold=0.5)

    expected = RTDetrImageProcessorPil(**RT_DETR)(Image.fromarray(photo), return_tensors="pt")
    torch.testing.assert_close(model.inputs["pixel_values"], expected["pixel_values"])
    # A square 640 x 640 whatever the aspect, rescaled to [0, 1] and not normalized.
    np.testing.assert_allclose(
        model.inputs["pixel_values"][0].numpy(),
        _by_hand(photo, (640, 640), BILINEAR, RT_DETR),
        atol=1e-6,
    )
    np.testing.assert_allclose(scores, [1 / (1 + math.exp(-1.0)), 1 / (1 + math.exp(-0.2))])
    assert boxes.dtype == np.float32 and scores.dtype == np.float32
    np.testing.assert_allclose(boxes, [[768, 384, 1280, 1152], [1740.8, 614.4, 2048, 921.6]])


def test_pose_estimator_feeds_and_reads_vitpose_as_published(tmp_path, photo):
    peaks = [(12, 16, 0.9), (30, 40, 1.3)]  # heatmap (x, y) and value, for keypoints 0 and 1

    def answer(inputs):
        y, x = np.mgrid[:64, :48]
        heatmaps = np.zeros((len(inputs["pixel_values"]), 17, 64, 48), np.float32)
        for k, (px, py, value) in enumerate(peaks):
            heatmaps[:, k] = value * np.exp(-((x - px) ** 2 + (y - py) ** 2) / 8)
        return SimpleNamespace(heatmaps=torch.from_numpy(heatmaps))

    config = SimpleNamespace(num_labels=17, backbone_config=SimpleNamespace())
    model = StandIn(config, answer)
    processor = VitPoseImageProcessorPil.from_pretrained(_checkpoint(tmp_path, VITPOSE))
    boxes = np.array([[600, 300, 900, 1300], [100, 1000, 1100, 1400]], np.float32)
    keypoints = PoseEstimator(model, processor, CPU).keypoints(photo, boxes)

    coco = np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1)
    expected = VitPoseImageProcessorPil(**VITPOSE)(
        Image.fromarray(photo), boxes=[coco], return_tensors="pt"
    )
    assert model.inputs["pixel_values"].shape == (2, 3, 256, 192)
    torch.testing.assert_close(model.inputs["pixel_values"], expected["pixel_values"])
    assert keypoints.shape == (2, 17, 3) and keypoints.dtype == np.float32
    for box, points in zip(boxes, keypoints, strict=True):
        # The crop: the box grown to the input's aspect (192 / 256) about its centre, then by
        # 1.25. Heatmap pixel (0, 0) is the crop's top-left corner, (47, 63) its bottom-right.
        width, height = box[2] - box[0], box[3] - box[1]
        width, height = 1.25 * max(width, 0.75 * height), 1.25 * max(height, width / 0.75)
        left, top = (box[0] + box[2] - width) / 2, (box[1] + box[3] - height) / 2
        for k, (px, py, value) in enumerate(peaks):
            corner = [left + px * width / 47, top + py * height / 63]
            np.testing.assert_allclose(points[k, :2], corner, rtol=1e-4)
            assert points[k, 2] == pytest.approx(min(value, 1.0))


def test_input_checks_and_grouping():
    with pytest.raises(ValueError, match="load_image"):
        to_uint8_rgb(np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        to_uint8_rgb(np.zeros((4, 4, 3), np.float32))
    images = [np.zeros((4, 6, 3)), np.zeros((5, 6, 3)), np.zeros((4, 6, 3))]
    assert group_by_shape(images) == {(4, 6, 3): [0, 2], (5, 6, 3): [1]}
