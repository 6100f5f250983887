import pytest

from optim.size_priors import (
    DEFAULT_SIZE,
    GROUND_STANDING,
    HEIGHTS,
    SIZES,
    SYNONYMS,
    guess_metres_per_unit,
    implausible_size,
    is_ground_standing,
    normalize_category,
    typical_height,
    typical_size,
)


@pytest.mark.parametrize(
    "name, expected",
    [
        ("chair", "chair"),
        ("  Chairs ", "chair"),
        ("Sofa", "couch"),
        ("sofas", "couch"),
        ("boxes", "box"),
        ("benches", "bench"),
        ("knives", "knife"),
        ("cell_phone", "cell phone"),
        ("Cellphone", "cell phone"),
        ("phone", "cell phone"),
        ("surf board", "surfboard"),
        ("skis", "skis"),
        ("ski", "skis"),
        ("baseball bats", "baseball bat"),
        ("Sports-Ball", "sports ball"),
        ("tennis racquet", "tennis racket"),
        ("bus", "bus"),
        ("glasses", "wine glass"),
        ("flux capacitor", None),
        ("", None),
    ],
)
def test_normalize_category(name, expected):
    assert normalize_category(name) == expected


def test_table_is_consistent():
    assert all(size > 0 and log_std > 0 for size, log_std in SIZES.values())
    assert all(target in SIZES for target in SYNONYMS.values())
    assert not set(SYNONYMS) & set(SIZES)


def test_typical_size_defaults():
    assert typical_size(None) == DEFAULT_SIZE
    assert typical_size("flux capacitor") == DEFAULT_SIZE
    assert typical_size("Sofa") == SIZES["couch"]


def test_ground_standing_categories():
    assert GROUND_STANDING <= set(SIZES)
    for name in ("chair", "Chairs", "sofa", "dining table", "bike", "bench"):
        assert is_ground_standing(name), name
    for name in ("cup", "box", "suitcase", "skateboard", "ladder", "flux capacitor", None):
        assert not is_ground_standing(name), name


def test_furniture_of_a_standard_height_has_one():
    assert set(HEIGHTS) <= GROUND_STANDING
    assert all(height > 0 and log_std > 0 for height, log_std in HEIGHTS.values())
    assert typical_height("dining tables") == HEIGHTS["table"]
    assert typical_height("coffee table")[0] < typical_height("table")[0]
    for name in ("box", "cup", "flux capacitor", None):
        assert typical_height(name) is None, name


@pytest.mark.parametrize(
    "extent, category, expected",
    [
        (0.9, "chair", 1.0),  # metres
        (95.0, "chair", 0.01),  # centimetres
        (950.0, "chair", 0.001),  # millimetres
        (9.5, "chair", 0.1),  # a mesh normalized to ten units
        (1.0, "cup", 0.1),  # a unit box: 10 cm is nearer a cup than 1 m
        (0.0175, "bicycle", 100.0),
        (50.0, None, 0.01),  # the default size, 0.5 m
    ],
)
def test_guess_metres_per_unit(extent, category, expected):
    assert guess_metres_per_unit(extent, category) == pytest.approx(expected)


def test_implausible_size():
    assert not implausible_size(0.95 * 4.9, "chair") and implausible_size(0.95 * 5.1, "chair")
    assert not implausible_size(0.95 / 4.9, "chair") and implausible_size(0.95 / 5.1, "chair")
    # An unknown category's wide spread (log std 1) allows a factor of e^3, about 20.
    assert not implausible_size(0.5 * 19, None) and implausible_size(0.5 * 21, "flux capacitor")
