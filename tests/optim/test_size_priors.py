import pytest

from optim.size_priors import DEFAULT_SIZE, SIZES, SYNONYMS, normalize_category, typical_size


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
