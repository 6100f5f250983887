"""Reading JSON and numeric values with errors that name the file and the entry."""

import json
from pathlib import Path

import numpy as np

from reconstruction.errors import HoifitError


def load_json(path: Path):
    """A JSON file's content, or a HoifitError naming the file."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        reason = " ".join(str(error).split())
        raise HoifitError(f"{path}: not readable JSON ({reason}); fix or rewrite it") from error


def numeric_array(path: Path, value, name: str, dtype=np.float64) -> np.ndarray:
    """`value` as a finite numeric array, or a HoifitError naming the file and the entry."""
    try:
        array = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError):
        raise HoifitError(f"{path}: '{name}' is not a numeric array") from None
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise HoifitError(f"{path}: '{name}' holds NaN or infinite values")
    return array
