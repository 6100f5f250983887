"""body_init.npz: the body the fitting starts from, hoifit's file.

The body backend's `to_npz_dict` output (camera frame) plus `body_backend` ("anny", "smplx" or
"smpl"); a file without `body_backend` may name it in `model_type`. When the folder has no
body_init.npz, PICO's `osx_human.npz` is the initialization (`osx_human`).
"""

from pathlib import Path

import numpy as np

from reconstruction.errors import HoifitError
from reconstruction.sample_io.npz import load_npz, write_npz
from reconstruction.sample_io.sample import BODY_INIT_FILE, BODY_VERTEX_COUNTS, BodyInit


def read_body_init(path: Path) -> BodyInit:
    """The body of body_init.npz.

    Raises:
        HoifitError: the file names no known body backend.
    """
    data = load_npz(path)
    backend = data.pop("body_backend", data.get("model_type"))
    if backend is None or str(backend) not in BODY_VERTEX_COUNTS:
        raise HoifitError(
            f"{path}: 'body_backend' must be one of {sorted(BODY_VERTEX_COUNTS)}; write it "
            "with write_body_init"
        )
    return BodyInit(str(backend), data, source=BODY_INIT_FILE)


def write_body_init(folder: str | Path, body_init: BodyInit) -> None:
    """Write body_init.npz: the backend's npz dict plus `body_backend`."""
    arrays = dict(body_init.params)
    arrays["body_backend"] = np.array(body_init.backend)
    write_npz(Path(folder) / BODY_INIT_FILE, arrays)
