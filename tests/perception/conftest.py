import numpy as np
import pytest

from tests.perception import tiny_models


@pytest.fixture(scope="session")
def tiny_folders(tmp_path_factory):
    """Checkpoint folders of tiny random models, by registry name."""
    root = tmp_path_factory.mktemp("tiny_models")
    folders = {}
    for name in (
        "grounding_dino",
        "sam",
        "depth_pro",
        "depth_anything",
        "rt_detr",
        "vitpose",
        "clip",
    ):
        folders[name] = getattr(tiny_models, f"save_{name}")(root / name)
    return folders


@pytest.fixture
def image():
    """A non-square (H=48, W=80) RGB image."""
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (48, 80, 3), dtype=np.uint8)
