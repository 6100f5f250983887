import json

import numpy as np
import pytest

from tests.perception import tiny_models

# Small input sizes keep the tiny models fast; real checkpoints ship their own.
PROCESSOR_SIZES = {
    "grounding_dino": {"size": {"shortest_edge": 48, "longest_edge": 80}},
    "rt_detr": {"size": {"height": 64, "width": 64}},
    "depth_anything": {"size": {"height": 28, "width": 28}},
}


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
        folder = getattr(tiny_models, f"save_{name}")(root / name)
        if name in PROCESSOR_SIZES:
            (folder / "preprocessor_config.json").write_text(json.dumps(PROCESSOR_SIZES[name]))
        folders[name] = folder
    return folders


@pytest.fixture
def image():
    """A non-square (H=48, W=80) RGB image."""
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (48, 80, 3), dtype=np.uint8)
