"""object_frame.json: how object.obj is oriented and scaled, when it is not y-up metres.

hoifit's object convention is y-up and metres (`DESIGN.md`). A mesh from elsewhere may be z-up or
in centimetres; this file says so, for the mesh as `read_object_mesh` returns it (after PICO's
load rotation): `{"up": "+z", "units": "cm"}`. `up` is one of +x, -x, +y, -y, +z, -z; `units`
one of m, cm, mm, or unknown (then the size is guessed from the category). Absent, the mesh is
taken as y-up metres.
"""

from dataclasses import dataclass
from pathlib import Path

from reconstruction.atomic_io import atomic_write_json
from reconstruction.errors import HoifitError
from reconstruction.object_model import UP_TO_Y
from reconstruction.sample_io.parsing import load_json

OBJECT_FRAME_FILE = "object_frame.json"
UP_AXES = tuple(UP_TO_Y)
UNITS = {"m": 1.0, "cm": 0.01, "mm": 0.001, "unknown": None}
"""Metres per mesh unit; None when unknown."""


@dataclass
class ObjectFrame:
    """The frame of a mesh that is not in hoifit's convention.

    Attributes:
        up: the mesh axis that points up in the world, one of `UP_AXES`.
        units: the mesh's length unit, a key of `UNITS`.
    """

    up: str = "+y"
    units: str = "m"

    def __post_init__(self):
        if self.up not in UP_AXES:
            raise HoifitError(
                f"object up axis must be one of {', '.join(UP_AXES)}, got {self.up!r}"
            )
        if self.units not in UNITS:
            raise HoifitError(f"object units must be one of {', '.join(UNITS)}, got {self.units!r}")


def read_object_frame(path: Path) -> ObjectFrame:
    """Read object_frame.json.

    Raises:
        HoifitError: not a JSON object with valid `up` / `units` (the message names the file).
    """
    data = load_json(path)
    if not isinstance(data, dict) or set(data) - {"up", "units"}:
        raise HoifitError(f'{path}: expected {{"up": ..., "units": ...}}, got {data!r}')
    try:
        return ObjectFrame(**data)
    except HoifitError as error:
        raise HoifitError(f"{path}: {error}") from None


def write_object_frame(folder: str | Path, frame: ObjectFrame) -> None:
    """Write object_frame.json."""
    atomic_write_json(Path(folder) / OBJECT_FRAME_FILE, {"up": frame.up, "units": frame.units})
