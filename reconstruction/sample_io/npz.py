"""npz files: byte-for-byte reproducible writing, and reading with errors that name the file."""

import io
import zipfile
from pathlib import Path

import numpy as np

from reconstruction.atomic_io import atomic_write_bytes
from reconstruction.errors import HoifitError

_NPZ_TIME = (1980, 1, 1, 0, 0, 0)


def npz_bytes(arrays: dict[str, np.ndarray], compress: bool = True) -> bytes:
    """An .npz file's bytes, identical for identical arrays (fixed member timestamps).

    `np.savez` stamps each member with the current time, so two saves of the same arrays
    differ; this writes the same format with a constant time.

    Args:
        arrays: name -> array (no object arrays).
        compress: deflate the members, as `np.savez_compressed` does.
    """
    buffer = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(buffer, "w", compression=method) as archive:
        for name, value in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.asanyarray(value), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_NPZ_TIME)
            info.compress_type = method
            archive.writestr(info, member.getvalue())
    return buffer.getvalue()


def write_npz(path: Path, arrays: dict[str, np.ndarray], compress: bool = True) -> None:
    """Write a reproducible .npz atomically (see `npz_bytes`)."""
    atomic_write_bytes(path, npz_bytes(arrays, compress))


def load_npz(path: Path) -> dict[str, np.ndarray]:
    """All arrays of an npz file, or a HoifitError naming the file."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except Exception as error:  # numpy and zipfile raise many types for a bad file
        reason = " ".join(str(error).split()) or type(error).__name__
        raise HoifitError(f"{path}: not a readable .npz file ({reason}); rewrite it") from error
