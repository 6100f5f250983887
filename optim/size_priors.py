"""Typical sizes of everyday objects, by category: the scale prior's table.

Each entry is (size, log_std): `size` is a typical largest bounding-box extent of the real
object in metres, `log_std` the standard deviation of the natural log of that extent across
instances (0.1 for objects made to a standard, like bats and snowboards, about 0.5 for boxes or
dogs, which vary by a factor of e). Names follow COCO where COCO has the category; lookups go
through `normalize_category`, which also knows synonyms and plurals.

Furniture is made to standard heights while its length and depth vary (a table is 0.7 to
0.8 m high whether it seats two or ten), so ground-standing categories whose height is
standard also have a typical height (`HEIGHTS`).
"""

import math

from reconstruction.category_names import spellings

SIZES: dict[str, tuple[float, float]] = {
    # furniture
    "chair": (0.95, 0.2),
    "stool": (0.6, 0.3),
    "bench": (1.5, 0.3),
    "couch": (2.0, 0.25),
    "bed": (2.05, 0.15),
    "table": (1.4, 0.35),
    "coffee table": (1.1, 0.25),
    "desk": (1.3, 0.25),
    "cabinet": (1.0, 0.4),
    "shelf": (1.6, 0.4),
    "pillow": (0.6, 0.25),
    "toilet": (0.75, 0.15),
    "sink": (0.6, 0.3),
    "bathtub": (1.6, 0.15),
    "door": (2.05, 0.1),
    "ladder": (2.0, 0.4),
    # containers and bags
    "box": (0.5, 0.6),
    "suitcase": (0.65, 0.25),
    "backpack": (0.5, 0.2),
    "handbag": (0.35, 0.3),
    "bag": (0.45, 0.4),
    "basket": (0.45, 0.35),
    "bucket": (0.32, 0.25),
    "trash can": (0.7, 0.35),
    "vase": (0.3, 0.5),
    # tableware and kitchen
    "bottle": (0.28, 0.3),
    "wine glass": (0.2, 0.2),
    "cup": (0.1, 0.3),
    "mug": (0.11, 0.2),
    "bowl": (0.17, 0.35),
    "plate": (0.26, 0.2),
    "pan": (0.45, 0.2),
    "pot": (0.3, 0.3),
    "knife": (0.25, 0.3),
    "fork": (0.19, 0.15),
    "spoon": (0.18, 0.2),
    "oven": (0.75, 0.25),
    "microwave": (0.5, 0.15),
    "refrigerator": (1.75, 0.15),
    "toaster": (0.3, 0.15),
    # sports
    "sports ball": (0.22, 0.5),
    "basketball": (0.24, 0.05),
    "soccer ball": (0.22, 0.05),
    "tennis ball": (0.067, 0.05),
    "baseball": (0.074, 0.05),
    "baseball bat": (0.84, 0.1),
    "baseball glove": (0.3, 0.15),
    "tennis racket": (0.68, 0.1),
    "golf club": (1.1, 0.1),
    "hockey stick": (1.5, 0.15),
    "skateboard": (0.8, 0.15),
    "surfboard": (2.0, 0.3),
    "snowboard": (1.55, 0.1),
    "skis": (1.7, 0.15),
    "frisbee": (0.27, 0.1),
    "kite": (1.0, 0.5),
    "dumbbell": (0.35, 0.3),
    "barbell": (2.0, 0.2),
    "yoga mat": (1.8, 0.1),
    # vehicles and wheeled things
    "bicycle": (1.75, 0.12),
    "motorcycle": (2.1, 0.15),
    "car": (4.5, 0.15),
    "truck": (7.0, 0.35),
    "bus": (12.0, 0.2),
    "boat": (5.0, 0.8),
    "scooter": (1.1, 0.25),
    "wheelchair": (1.05, 0.15),
    "stroller": (1.0, 0.2),
    "shopping cart": (1.0, 0.15),
    # electronics
    "laptop": (0.35, 0.15),
    "keyboard": (0.45, 0.2),
    "mouse": (0.11, 0.15),
    "cell phone": (0.15, 0.15),
    "remote": (0.18, 0.2),
    "tv": (1.0, 0.4),
    "monitor": (0.6, 0.25),
    "tablet": (0.25, 0.2),
    "camera": (0.13, 0.3),
    "headphones": (0.2, 0.2),
    # small household things and tools
    "book": (0.25, 0.25),
    "umbrella": (1.0, 0.25),
    "toothbrush": (0.19, 0.1),
    "hair drier": (0.25, 0.2),
    "scissors": (0.2, 0.2),
    "clock": (0.3, 0.4),
    "teddy bear": (0.4, 0.6),
    "potted plant": (0.6, 0.6),
    "broom": (1.4, 0.15),
    "mop": (1.4, 0.15),
    "shovel": (1.1, 0.2),
    "rake": (1.5, 0.15),
    "hammer": (0.33, 0.2),
    "axe": (0.8, 0.3),
    "screwdriver": (0.2, 0.2),
    "saw": (0.6, 0.3),
    "hat": (0.3, 0.2),
    "shoe": (0.28, 0.15),
    # musical instruments
    "guitar": (1.0, 0.1),
    "violin": (0.6, 0.1),
    "drum": (0.5, 0.4),
    "piano": (1.5, 0.2),
    "microphone": (0.2, 0.25),
    # animals
    "horse": (2.4, 0.2),
    "dog": (0.8, 0.45),
    "cat": (0.5, 0.25),
    "cow": (2.4, 0.15),
    "sheep": (1.3, 0.2),
    "elephant": (6.0, 0.25),
}
"""Category -> (typical largest extent in metres, std of its natural log)."""

HEIGHTS: dict[str, tuple[float, float]] = {
    "chair": (0.9, 0.15),  # dining and office chairs, backrest included: 0.8 to 1.05 m
    "bench": (0.55, 0.3),  # a seat at 0.45 m, or a backrest to 0.8 m
    "couch": (0.85, 0.15),
    "bed": (0.6, 0.3),
    "table": (0.74, 0.12),  # dining and writing tables: 0.70 to 0.78 m
    "coffee table": (0.45, 0.15),
    "desk": (0.75, 0.1),
    "toilet": (0.75, 0.15),
    "bicycle": (1.05, 0.12),
    "wheelchair": (0.9, 0.1),
}
"""Ground-standing category -> (typical height in metres, std of its natural log), for those whose
height is standard (catalogue figures of everyday furniture); `scale_prior` and the object's
initial scale weigh it beside the largest extent (`SIZES`), which varies more."""

SYNONYMS: dict[str, str] = {
    "sofa": "couch",
    "armchair": "chair",
    "dining table": "table",
    "bookshelf": "shelf",
    "bookcase": "shelf",
    "cupboard": "cabinet",
    "closet": "cabinet",
    "luggage": "suitcase",
    "purse": "handbag",
    "trashcan": "trash can",
    "bin": "trash can",
    "glass": "wine glass",
    "teacup": "cup",
    "coffee mug": "mug",
    "fridge": "refrigerator",
    "ball": "sports ball",
    "football": "soccer ball",
    "bat": "baseball bat",
    "racket": "tennis racket",
    "racquet": "tennis racket",
    "tennis racquet": "tennis racket",
    "glove": "baseball glove",
    "ski": "skis",
    "mat": "yoga mat",
    "bike": "bicycle",
    "motorbike": "motorcycle",
    "cart": "shopping cart",
    "laptop computer": "laptop",
    "computer mouse": "mouse",
    "phone": "cell phone",
    "mobile phone": "cell phone",
    "smartphone": "cell phone",
    "remote control": "remote",
    "television": "tv",
    "tv monitor": "tv",
    "screen": "monitor",
    "hair dryer": "hair drier",
    "hairdryer": "hair drier",
    "teddy": "teddy bear",
    "plant": "potted plant",
}
"""Other names -> the table's name."""

GROUND_STANDING = frozenset(
    {
        "chair",
        "stool",
        "bench",
        "couch",
        "bed",
        "table",
        "coffee table",
        "desk",
        "cabinet",
        "shelf",
        "toilet",
        "bathtub",
        "refrigerator",
        "oven",
        "trash can",
        "piano",
        "bicycle",
        "motorcycle",
        "car",
        "truck",
        "bus",
        "wheelchair",
        "stroller",
        "shopping cart",
        "horse",
        "cow",
        "elephant",
    }
)
"""Categories that stand upright on the floor: their hypotheses stay upright and the `support`
term keeps them on it. Things that are often carried, tilted or leant (boxes, suitcases, ladders,
skateboards, scooters, dogs) are left free, like everything handheld."""

UNIT_GUESS_FACTOR = 5.0
"""A size more than this factor off its category's typical size, either way, is implausible
(`implausible_size`), unless the category's own spread allows it."""

DEFAULT_SIZE = (0.5, 1.0)
"""(size in metres, log std) for an unknown or missing category: a hand-held to furniture-sized
object, with a log std of 1 (a factor of e either way costs as much as one standard deviation)."""

# Names with their spaces removed, so that "surf board" and "cellphone" resolve too.
_COMPACT = {name.replace(" ", ""): name for name in (*SIZES, *SYNONYMS)}


def _lookup(name: str) -> str | None:
    name = _COMPACT.get(name.replace(" ", ""), None)
    return SYNONYMS.get(name, name) if name is not None else None


def normalize_category(category: str) -> str | None:
    """The table's name for a category, or None when it is not known.

    Looks up each of `reconstruction.category_names.spellings` (lower case, '_' and '-' as
    spaces, singulars of a plural ending such as "boxes", "knives", "skis", then the last word
    alone), ignoring spacing ("surf board"), and maps synonyms ("sofa" -> "couch").

    Args:
        category: a free-form category name.

    Returns:
        A key of `SIZES`, or None.
    """
    for form in spellings(category):
        found = _lookup(form)
        if found is not None:
            return found
    return None


def typical_size(category: str | None) -> tuple[float, float]:
    """Typical largest extent (metres) and its log std for a category.

    Args:
        category: a free-form category name (see `normalize_category`), or None.

    Returns:
        (size_m, log_std); `DEFAULT_SIZE` for None or an unknown category.
    """
    if category is None:
        return DEFAULT_SIZE
    name = normalize_category(category)
    return DEFAULT_SIZE if name is None else SIZES[name]


def typical_height(category: str | None) -> tuple[float, float] | None:
    """Typical height (metres) and its log std for a category with a standard height.

    Args:
        category: a free-form category name (see `normalize_category`), or None.

    Returns:
        (height_m, log_std) from `HEIGHTS`, or None when the category has none.
    """
    return None if category is None else HEIGHTS.get(normalize_category(category))


def is_ground_standing(category: str | None) -> bool:
    """Whether objects of a category stand on the floor (`GROUND_STANDING`).

    Args:
        category: a free-form category name (see `normalize_category`), or None.
    """
    return category is not None and normalize_category(category) in GROUND_STANDING


def implausible_size(extent_m: float, category: str | None) -> bool:
    """Whether a size is too far from its category's to be taken in metres as it is.

    Far means beyond max(`UNIT_GUESS_FACTOR`, exp(3 log_std)) either way: a factor of 5 for a
    chair, 20 for an unknown category (`DEFAULT_SIZE`), whose spread is wide.

    Args:
        extent_m: the largest bounding-box extent, metres, > 0.
        category: a free-form category name, or None.
    """
    size, log_std = typical_size(category)
    return abs(math.log(extent_m / size)) > max(math.log(UNIT_GUESS_FACTOR), 3 * log_std)


def guess_metres_per_unit(extent: float, category: str | None) -> float:
    """The power of ten that brings a mesh's size nearest its category's typical size.

    For a mesh of unknown units: 1 for metres, 0.01 for centimetres, 0.001 for millimetres, and
    0.1 or 10 for a mesh normalized to a unit box.

    Args:
        extent: the mesh's largest bounding-box extent, in its own units, > 0.
        category: a free-form category name; None or unknown uses `DEFAULT_SIZE`.

    Returns:
        Metres per mesh unit, 10^k with k the integer nearest log10(typical size / extent).
    """
    size, _ = typical_size(category)
    return 10.0 ** round(math.log10(size / extent))
