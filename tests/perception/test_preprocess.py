import numpy as np
import pytest

from perception.preprocess import (
    apply_transform,
    crop,
    crop_transform,
    cxcywh_to_xyxy,
    invert_transform,
    longest_edge_size,
    multiple_size,
    normalize,
    pad_batch,
    resize,
    shortest_edge_size,
)


def test_sizes():
    assert shortest_edge_size(480, 640, 800, 1333) == (800, 1067)
    assert shortest_edge_size(100, 1000, 800, 1333) == (133, 1333)
    assert longest_edge_size(480, 640, 1024) == (768, 1024)
    h, w = multiple_size(480, 640, 518, 14)
    assert h % 14 == 0 and w % 14 == 0 and min(h, w) >= 518 - 7


def test_resize_normalize():
    image = np.full((10, 20, 3), 255, np.uint8)
    out = resize(image, (5, 7))
    assert out.shape == (5, 7, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out, 1.0)
    np.testing.assert_allclose(normalize(out, (0.5,) * 3, (0.5,) * 3), 1.0)


def test_pad_batch_keeps_coordinates():
    a, b = np.ones((4, 6, 3), np.float32), 2 * np.ones((5, 3, 3), np.float32)
    pixels, mask = pad_batch([a, b])
    assert pixels.shape == (2, 3, 5, 6) and mask.shape == (2, 5, 6)
    assert mask[0].sum() == 24 and mask[1].sum() == 15
    # Padding is at the bottom/right, so pixel (row 0, col 0) stays the image's own.
    assert pixels[0, 0, 0, 0] == 1 and pixels[1, 0, 4, 2] == 2 and pixels[1, 0, 0, 5] == 0


def test_box_round_trip_through_resize():
    height, width = 480, 640
    size = shortest_edge_size(height, width, 800, 1333)
    box = np.array([100.0, 50.0, 300.0, 400.0])
    factor = np.array([size[1] / width, size[0] / height] * 2)
    normalized_cxcywh = np.array(
        [
            [
                (box[0] + box[2]) / 2 * factor[0] / size[1],
                (box[1] + box[3]) / 2 * factor[1] / size[0],
                (box[2] - box[0]) * factor[0] / size[1],
                (box[3] - box[1]) * factor[1] / size[0],
            ]
        ]
    )
    np.testing.assert_allclose(cxcywh_to_xyxy(normalized_cxcywh, width, height)[0], box, atol=1e-3)


@pytest.mark.parametrize("box", [[10, 20, 50, 100], [0, 0, 80, 10]])
def test_crop_transform_round_trip(box):
    matrix = crop_transform(np.array(box, float), (64, 48))
    points = np.array([[0.0, 0.0], [48.0, 64.0], [13.5, 7.25]])
    back = apply_transform(invert_transform(matrix), apply_transform(matrix, points))
    np.testing.assert_allclose(back, points, atol=1e-9)
    # The crop keeps its aspect ratio and contains the box.
    corners = apply_transform(matrix, np.array([[0.0, 0.0], [48.0, 64.0]]))
    assert corners[0, 0] <= box[0] and corners[1, 1] >= box[3]
    np.testing.assert_allclose((corners[1] - corners[0])[0] / (corners[1] - corners[0])[1], 48 / 64)


def test_crop_samples_the_right_place():
    image = np.zeros((40, 60, 3), np.uint8)
    image[10:20, 30:40] = 255
    matrix = np.array([[1.0, 0, 30], [0, 1.0, 10]])  # identity scale, offset to the square
    patch = crop(image, matrix, (10, 10))
    assert patch.shape == (10, 10, 3)
    assert patch[2:8, 2:8].min() > 0.99
