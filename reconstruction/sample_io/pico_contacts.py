"""corresponding_contacts.json: PICO-db's contact annotation, body patches and object patches.

`{"data": [{"name": "humanShape<part>", "contactPoints": ["v <vertex>", ...]}, {"name":
"objShape<part>", "contactPoints": ["f <face> <b0> <b1> <b2>", ...]}, ...]}`, entries in any
order: body vertices of the SMPL mesh, and object points given by a face of object.obj and
barycentric weights in it, indices 0-based. An object point may also be `"v <vertex>"` of
object.obj. hoifit adds the top-level key `"body_topology"` ("anny", "smplx" or "smpl") when the
body indices are not SMPL's; absent means "smpl", PICO's.

A human patch and the object patch of the same part are paired point by point, in order, and
must have equal point counts: they become `ContactPairs`. A human patch may have no object
partner: the public PICO-db demo sample (skateboard, V-COCO 12938) has `humanShapeleftfoottop`,
two body vertices, and no `objShapeleftfoottop`. Such a patch is body contact without a paired
object point. It is read into `UnpairedBodyContact` (vertices, their patch names, the file's
body topology), kept apart from the pairs, which stay one-to-one, and apart from the per-vertex
`SampleContact.body_contact` of contact.npz, which may be an estimate on another topology. Its
meaning is per-vertex body contact 1 on those vertices, merged by maximum with any other
per-vertex body contact (`merge_body_contact_vertices`) once both are on the body model's mesh.
An object patch without a human partner is refused: hoifit has no use for object points
without body points.
"""

import math
from pathlib import Path

import numpy as np

from reconstruction.atomic_io import atomic_write_json
from reconstruction.errors import HoifitError
from reconstruction.object_model import ObjectMesh
from reconstruction.sample_io.parsing import load_json
from reconstruction.sample_io.sample import (
    BODY_VERTEX_COUNTS,
    PAIRS_FILE,
    ContactPairs,
    UnpairedBodyContact,
)

_HUMAN_PREFIX, _OBJECT_PREFIX = "humanShape", "objShape"


def read_pairs(
    path: Path, object_mesh: ObjectMesh | None
) -> tuple[ContactPairs, UnpairedBodyContact | None]:
    """The paired and the unpaired contact of corresponding_contacts.json.

    Args:
        path: the file.
        object_mesh: object.obj, to check faces against and to resolve "v <vertex>" object
            points; None skips the face check.

    Returns:
        (pairs, possibly none; the human patches without an object partner, or None when every
        human patch has one).

    Raises:
        HoifitError: a malformed file, a patch pair with unequal point counts, an object patch
            without its human patch, or an index out of range.
    """
    data = load_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise HoifitError(f'{path}: expected {{"data": [{{"name": ..., "contactPoints": [...]}}]}}')
    topology = str(data.get("body_topology", "smpl"))
    if topology not in BODY_VERTEX_COUNTS:
        raise HoifitError(f"{path}: body_topology must be one of {sorted(BODY_VERTEX_COUNTS)}")
    human, obj = {}, {}
    for entry in data["data"]:
        name = entry.get("name", "") if isinstance(entry, dict) else ""
        points = entry.get("contactPoints") if isinstance(entry, dict) else None
        if not isinstance(points, list):
            raise HoifitError(f"{path}: entry {name!r} has no 'contactPoints' list")
        if name.startswith(_HUMAN_PREFIX):
            human[name[len(_HUMAN_PREFIX) :]] = points
        elif name.startswith(_OBJECT_PREFIX):
            obj[name[len(_OBJECT_PREFIX) :]] = points
        else:
            raise HoifitError(
                f"{path}: entry name {name!r} starts with neither humanShape nor objShape"
            )
    if set(obj) - set(human):
        raise HoifitError(
            f"{path}: parts {sorted(set(obj) - set(human))} have an objShape patch but no "
            "humanShape patch; object points need their body points"
        )
    body_vertex, object_face, object_bary, part = [], [], [], []
    unpaired_vertex, unpaired_part = [], []
    for name, body_points in human.items():
        if name not in obj:
            unpaired_vertex += [_parse_body_point(path, point) for point in body_points]
            unpaired_part += [name] * len(body_points)
            continue
        if len(body_points) != len(obj[name]):
            raise HoifitError(
                f"{path}: part {name!r} pairs {len(body_points)} body points with "
                f"{len(obj[name])} object points; the counts must match"
            )
        for body_point, object_point in zip(body_points, obj[name], strict=True):
            body_vertex.append(_parse_body_point(path, body_point))
            face, bary = _parse_object_point(path, object_point, object_mesh)
            object_face.append(face)
            object_bary.append(bary)
            part.append(name)
    body_vertex = np.asarray(body_vertex, dtype=np.int64)
    unpaired_vertex = np.asarray(unpaired_vertex, dtype=np.int64)
    every_vertex = np.concatenate((body_vertex, unpaired_vertex))
    if len(every_vertex) and every_vertex.max() >= BODY_VERTEX_COUNTS[topology]:
        raise HoifitError(
            f"{path}: body vertex {every_vertex.max()} is out of range for the {topology} mesh "
            f"({BODY_VERTEX_COUNTS[topology]} vertices); set body_topology"
        )
    pairs = ContactPairs(
        body_vertex=body_vertex,
        object_face=np.asarray(object_face, dtype=np.int64),
        object_bary=np.asarray(object_bary, dtype=np.float32).reshape(-1, 3),
        part=part,
        body_topology=topology,
    )
    unpaired = None
    if len(unpaired_vertex):
        unpaired = UnpairedBodyContact(unpaired_vertex, unpaired_part, topology)
    return pairs, unpaired


def _parse_body_point(path: Path, text) -> int:
    fields = str(text).split()
    if len(fields) != 2 or fields[0] != "v" or not fields[1].isdigit():
        raise HoifitError(f"{path}: body contact point {text!r} is not 'v <vertex index>'")
    return int(fields[1])


def _parse_object_point(
    path: Path, text, object_mesh: ObjectMesh | None
) -> tuple[int, list[float]]:
    """(face, barycentric weights) of an object contact point "f face b0 b1 b2" or "v vertex"."""
    fields = str(text).split()
    try:
        if fields[0] == "f" and len(fields) == 5:
            face, bary = int(fields[1]), [float(x) for x in fields[2:]]
        elif fields[0] == "v" and len(fields) == 2:
            if object_mesh is None:
                raise HoifitError(f"{path}: object point {text!r} needs object.obj to resolve")
            vertex = int(fields[1])
            rows, corners = np.nonzero(object_mesh.faces == vertex)
            if len(rows) == 0:
                raise HoifitError(f"{path}: object vertex {vertex} is in no face of object.obj")
            face, bary = int(rows[0]), [float(corners[0] == i) for i in range(3)]
        else:
            raise ValueError
    except (ValueError, IndexError):
        raise HoifitError(
            f"{path}: object contact point {text!r} is not 'f <face> <b0> <b1> <b2>'"
        ) from None
    if not all(math.isfinite(b) and b >= -1e-3 for b in bary) or not sum(bary) > 0:
        raise HoifitError(f"{path}: object contact point {text!r} has invalid barycentrics")
    if object_mesh is not None and not 0 <= face < len(object_mesh.faces):
        raise HoifitError(
            f"{path}: object face {face} is out of range (object.obj has "
            f"{len(object_mesh.faces)} faces)"
        )
    # Weights that already sum to 1 are kept bit for bit; others are renormalized.
    if abs(sum(bary) - 1.0) > 1e-6 or min(bary) < 0:
        bary = [max(b, 0.0) for b in bary]
        total = sum(bary)
        bary = [b / total for b in bary]
    return face, bary


def write_pairs(
    folder: str | Path,
    pairs: ContactPairs | None,
    unpaired: UnpairedBodyContact | None = None,
) -> None:
    """Write corresponding_contacts.json in PICO's format: the pairs, then the unpaired patches.

    Args:
        folder: the sample folder.
        pairs: paired contact, or None for none.
        unpaired: body patches without object points, written as human patches with no object
            partner, or None.

    Raises:
        ValueError: both are None, their body topologies differ (the file has one), or a part
            is both paired and unpaired.
    """
    if pairs is None and unpaired is None:
        raise ValueError("corresponding_contacts.json needs pairs or unpaired body contact")
    topologies = {c.body_topology for c in (pairs, unpaired) if c is not None}
    if len(topologies) > 1:
        raise ValueError(f"pairs and unpaired body contact are on different meshes {topologies}")
    paired_parts = list(dict.fromkeys(pairs.part)) if pairs is not None else []
    unpaired_parts = list(dict.fromkeys(unpaired.part)) if unpaired is not None else []
    if set(paired_parts) & set(unpaired_parts):
        raise ValueError(
            f"parts {sorted(set(paired_parts) & set(unpaired_parts))} are both paired and "
            "unpaired; a part has one human patch"
        )
    entries = []
    for name in paired_parts:
        chosen = [i for i, p in enumerate(pairs.part) if p == name]
        entries.append(
            {
                "name": f"{_HUMAN_PREFIX}{name}",
                "contactPoints": [f"v {int(pairs.body_vertex[i])}" for i in chosen],
            }
        )
        entries.append(
            {
                "name": f"{_OBJECT_PREFIX}{name}",
                "contactPoints": [
                    f"f {int(pairs.object_face[i])} "
                    + " ".join(repr(float(b)) for b in np.asarray(pairs.object_bary[i]))
                    for i in chosen
                ],
            }
        )
    for name in unpaired_parts:
        entries.append(
            {
                "name": f"{_HUMAN_PREFIX}{name}",
                "contactPoints": [
                    f"v {int(v)}"
                    for v, p in zip(unpaired.body_vertex, unpaired.part, strict=True)
                    if p == name
                ],
            }
        )
    data: dict = {"data": entries}
    (topology,) = topologies
    if topology != "smpl":
        data["body_topology"] = topology
    atomic_write_json(Path(folder) / PAIRS_FILE, data)
