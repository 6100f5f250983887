"""Typed configuration of object-mesh retrieval."""

from dataclasses import dataclass

from reconstruction.errors import ConfigError


@dataclass
class RetrievalConfig:
    """Where the object mesh comes from when the sample has none.

    Attributes:
        gallery: a gallery `.npz` built by `scripts/build_gallery.py`; None uses the built-in
            gallery of procedural meshes (built once, cached under `cache_dir`).
        cache_dir: cache of the built-in gallery; None is `~/.cache/hoifit/gallery` (or
            `$HOIFIT_CACHE_DIR/gallery`).
        text_weight: weight of the category text against the image crop (0 = crop only).
    """

    gallery: str | None = None
    cache_dir: str | None = None
    text_weight: float = 0.5

    def __post_init__(self):
        if not 0 <= self.text_weight <= 1:
            raise ConfigError(f"text_weight must be in [0, 1], got {self.text_weight}")
