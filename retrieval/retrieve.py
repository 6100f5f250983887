"""Choosing the object mesh of a sample: its crop and category against a gallery."""

from pathlib import Path

import numpy as np

from reconstruction.cache import cache_folder
from reconstruction.object_model import ObjectMesh, load_object_mesh
from retrieval.config import RetrievalConfig
from retrieval.gallery import Gallery, Match, build_builtin_gallery, query


def retrieve_object_mesh(
    image: np.ndarray,
    box: np.ndarray | None,
    category: str | None,
    embedder,
    config: RetrievalConfig,
) -> tuple[ObjectMesh, Match]:
    """The gallery mesh most like the object's image crop and category.

    Args:
        image: (H, W, 3) uint8.
        box: (4,) XYXY pixel box of the object, or None (category alone).
        category: object name, or None (crop alone).
        embedder: an object with `embed_images` and `embed_texts` (e.g. the CLIP wrapper).
        config: gallery and weighting.

    Returns:
        The mesh (its own frame, as the file holds it) and the match.
    """
    if config.gallery:
        gallery = Gallery.load(config.gallery)
    else:
        cache = Path(config.cache_dir) if config.cache_dir else cache_folder("gallery")
        gallery = build_builtin_gallery(embedder, cache)
    crop = None
    if box is not None:
        x0, y0, x1, y1 = (int(round(v)) for v in box)
        crop = image[max(y0, 0) : max(y1 + 1, y0 + 1), max(x0, 0) : max(x1 + 1, x0 + 1)]
        crop = crop if crop.size else None
    match = query(
        gallery, embedder, image_crop=crop, text=category, k=1, text_weight=config.text_weight
    )[0]
    return load_object_mesh(match.path), match
