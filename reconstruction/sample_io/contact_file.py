"""contact.npz: per-vertex contact probabilities, hoifit's file; and a sample's contact as a whole.

contact.npz holds probabilities in [0, 1]: `body_contact` (V,) on the body mesh named by
`body_topology` ("anny", "smplx" or "smpl"), `object_contact` (Vo,) on object.obj's vertices;
either may be missing. A sample's `SampleContact` gathers contact.npz and PICO's paired
annotation, corresponding_contacts.json (`pico_contacts`); `read_contact` and `write_contact`
read and write both.
"""

from pathlib import Path

import numpy as np

from reconstruction.errors import HoifitError
from reconstruction.object_model import ObjectMesh
from reconstruction.sample_io.npz import load_npz, write_npz
from reconstruction.sample_io.parsing import numeric_array
from reconstruction.sample_io.pico_contacts import read_pairs, write_pairs
from reconstruction.sample_io.sample import (
    BODY_VERTEX_COUNTS,
    CONTACT_FILE,
    PAIRS_FILE,
    SampleContact,
)


def read_contact(folder: Path, object_mesh: ObjectMesh | None) -> SampleContact | None:
    """The contact.npz and corresponding_contacts.json of a folder, or None with neither.

    Args:
        folder: the sample folder.
        object_mesh: object.obj, to check object contact and object points against, or None.

    Raises:
        HoifitError: a malformed file (the message names it).
    """
    contact = SampleContact()
    path = folder / CONTACT_FILE
    if path.is_file():
        data = load_npz(path)
        if "body_contact" not in data and "object_contact" not in data:
            raise HoifitError(f"{path}: holds neither 'body_contact' nor 'object_contact'")
        if "body_contact" in data:
            topology = str(data.get("body_topology", ""))
            if topology not in BODY_VERTEX_COUNTS:
                raise HoifitError(
                    f"{path}: 'body_topology' must be one of {sorted(BODY_VERTEX_COUNTS)}"
                )
            contact.body_contact = _probabilities(
                path, data["body_contact"], "body_contact", BODY_VERTEX_COUNTS[topology]
            )
            contact.body_topology = topology
        if "object_contact" in data:
            expected = None if object_mesh is None else len(object_mesh.vertices)
            contact.object_contact = _probabilities(
                path, data["object_contact"], "object_contact", expected
            )
    path = folder / PAIRS_FILE
    if path.is_file():
        contact.pairs, contact.unpaired = read_pairs(path, object_mesh)
    if contact.body_contact is None and contact.object_contact is None and contact.pairs is None:
        return None
    return contact


def _probabilities(path: Path, value, name: str, expected: int | None) -> np.ndarray:
    array = numeric_array(path, value, name, np.float32).reshape(-1)
    if expected is not None and len(array) != expected:
        raise HoifitError(f"{path}: '{name}' has {len(array)} values but the mesh has {expected}")
    if (array < 0).any() or (array > 1).any():
        raise HoifitError(f"{path}: '{name}' must be probabilities in [0, 1]")
    return array


def write_contact(folder: str | Path, contact: SampleContact) -> None:
    """Write contact.npz and, with pairs or unpaired body contact, corresponding_contacts.json."""
    arrays = {}
    if contact.body_contact is not None:
        arrays["body_contact"] = np.asarray(contact.body_contact, dtype=np.float32)
        arrays["body_topology"] = np.array(contact.body_topology)
    if contact.object_contact is not None:
        arrays["object_contact"] = np.asarray(contact.object_contact, dtype=np.float32)
    if arrays:
        write_npz(Path(folder) / CONTACT_FILE, arrays)
    if contact.pairs is not None or contact.unpaired is not None:
        write_pairs(folder, contact.pairs, contact.unpaired)
