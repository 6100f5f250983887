"""object.obj: the object mesh, in PICO's convention.

PICO rotates object meshes by -90 degrees about x when it loads them, (x, y, z) -> (x, z, -y);
`read_object_mesh` does the same, so `Sample.object_mesh` and every object pose are in the
rotated frame, and `write_object_mesh` writes the inverse.
"""

from pathlib import Path

import numpy as np

from reconstruction.atomic_io import atomic_write_bytes
from reconstruction.errors import HoifitError
from reconstruction.object_model import MeshError, ObjectMesh, load_object_mesh
from reconstruction.sample_io.sample import OBJECT_FILE

OBJECT_FILE_ROTATION = np.array([[1, 0, 0], [0, 0, 1], [0, -1, 0]], dtype=np.float32)
"""PICO's load-time rotation of object.obj, -90 degrees about x: (x, y, z) -> (x, z, -y). Its
entries are exactly 0 and +-1, so rotating and rotating back is exact."""


def read_object_mesh(path: Path) -> ObjectMesh:
    """The mesh of an object.obj, rotated into PICO's frame.

    Raises:
        HoifitError: the file is not a readable triangle mesh.
    """
    try:
        mesh = load_object_mesh(path)
    except MeshError as error:
        raise HoifitError(str(error)) from error
    return ObjectMesh(mesh.vertices @ OBJECT_FILE_ROTATION.T, mesh.faces, mesh.name, mesh.path)


def write_object_mesh(folder: str | Path, mesh: ObjectMesh) -> None:
    """Write object.obj from a mesh in PICO's rotated frame, undoing PICO's load rotation.

    Coordinates are written in the shortest form that reads back to the same float32, so a
    write-read round trip through `read_object_mesh` is exact.
    """
    vertices = np.asarray(mesh.vertices, dtype=np.float32) @ OBJECT_FILE_ROTATION
    lines = ["# hoifit object mesh, PICO convention: rotate by -90 degrees about x on load"]
    lines += [
        "v " + " ".join(np.format_float_positional(c, unique=True, trim="-") for c in vertex)
        for vertex in vertices
    ]
    lines += [f"f {a} {b} {c}" for a, b, c in (np.asarray(mesh.faces) + 1).tolist()]
    atomic_write_bytes(Path(folder) / OBJECT_FILE, ("\n".join(lines) + "\n").encode())
