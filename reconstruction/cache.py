"""Where hoifit keeps what it computes once and reuses: SDF grids, geodesics, galleries."""

import os
from pathlib import Path


def cache_folder(name: str) -> Path:
    """`$HOIFIT_CACHE_DIR/<name>`, or `~/.cache/hoifit/<name>` when the variable is unset."""
    root = os.environ.get("HOIFIT_CACHE_DIR")
    return (Path(root) if root else Path.home() / ".cache" / "hoifit") / name
