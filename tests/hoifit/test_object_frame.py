"""The object mesh brought to y-up metres: object_frame.json, --object-up, guessed units."""

import logging
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import trimesh

from hoifit.cli import _up_axis
from hoifit.config import load_config
from hoifit.pipeline import complete_sample
from hoifit.store import SampleStore, normalize_object_mesh
from reconstruction.errors import HoifitError
from reconstruction.object_model import UP_TO_Y, ObjectMesh
from reconstruction.sample_io import ObjectFrame, write_object_frame, write_object_mesh

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "chair__synth_0_0"


def chair_like(extents=(0.5, 0.9, 0.5)) -> ObjectMesh:
    """A y-up box in metres, the chair's size."""
    box = trimesh.creation.box(extents=extents)
    return ObjectMesh(box.vertices + [0.0, extents[1] / 2, 0.0], box.faces, name="chair")


def delivered(mesh: ObjectMesh, up: str, metres_per_unit: float) -> ObjectMesh:
    """The mesh as a file in another frame would hold it: the inverse of normalizing."""
    rotation = np.asarray(UP_TO_Y[up], dtype=np.float64)
    vertices = mesh.vertices.astype(np.float64) @ rotation / metres_per_unit
    return ObjectMesh(vertices, mesh.faces, name=mesh.name)


def test_a_mesh_in_convention_is_kept():
    mesh = chair_like()
    normalized, record = normalize_object_mesh(mesh, None, "chair")
    assert normalized is mesh
    assert record["up"] == "+y" and record["metres_per_unit"] == 1.0
    assert not record["units_guessed"]


@pytest.mark.parametrize("up, units, factor", [("+z", "cm", 0.01), ("-x", "mm", 0.001)])
def test_the_frame_file_is_applied(up, units, factor):
    mesh = chair_like()
    normalized, record = normalize_object_mesh(
        delivered(mesh, up, factor), ObjectFrame(up, units), "chair"
    )
    assert np.allclose(normalized.vertices, mesh.vertices, atol=1e-6)
    assert record == {
        "up": up,
        "units": units,
        "metres_per_unit": factor,
        "units_guessed": False,
        "rotation_to_y_up": [list(row) for row in UP_TO_Y[up]],
    }


def test_unknown_units_are_guessed_from_the_category(caplog):
    mesh = chair_like()
    with caplog.at_level(logging.INFO, logger="hoifit.store"):
        normalized, record = normalize_object_mesh(
            delivered(mesh, "+z", 0.001), ObjectFrame("+z", "unknown"), "chairs"
        )
    assert record["units_guessed"] and record["metres_per_unit"] == pytest.approx(0.001)
    assert np.allclose(normalized.vertices, mesh.vertices, atol=1e-6)
    assert "units guessed" in caplog.text and "0.001 m per unit" in caplog.text


def test_an_implausible_size_without_a_frame_is_taken_for_other_units():
    centimetres = delivered(chair_like(), "+y", 0.01)  # 90 "metres" tall
    normalized, record = normalize_object_mesh(centimetres, None, "chair")
    assert record["units_guessed"] and record["metres_per_unit"] == pytest.approx(0.01)
    assert np.ptp(normalized.vertices[:, 1]) == pytest.approx(0.9, rel=1e-5)
    # Only 3x off: metres, as the convention says.
    mesh = delivered(chair_like(), "+y", 1 / 3)
    assert normalize_object_mesh(mesh, None, "chair")[0] is mesh


def test_stated_units_are_trusted_with_a_warning(caplog):
    mesh = delivered(chair_like(), "+y", 0.01)
    with caplog.at_level(logging.WARNING, logger="hoifit.store"):
        normalized, record = normalize_object_mesh(mesh, ObjectFrame("+y", "m"), "chair")
    assert normalized is mesh and not record["units_guessed"]
    assert "far from a typical chair" in caplog.text


def test_the_user_up_axis_overrides_the_file():
    mesh = chair_like()
    normalized, record = normalize_object_mesh(
        delivered(mesh, "-z", 1.0), ObjectFrame("+x", "m"), "chair", up="-z"
    )
    assert record["up"] == "-z" and np.allclose(normalized.vertices, mesh.vertices, atol=1e-6)
    with pytest.raises(HoifitError, match="up axis must be one of"):
        normalize_object_mesh(mesh, None, "chair", up="up")


def test_the_store_normalizes_in_memory_only(tmp_path):
    folder = shutil.copytree(EXAMPLE, tmp_path / EXAMPLE.name)
    original = SampleStore(folder).sample.object_mesh
    write_object_mesh(folder, delivered(original, "+z", 0.01))
    write_object_frame(folder, ObjectFrame("+z", "cm"))
    written = (folder / "object.obj").read_text()
    store = SampleStore(folder)
    record = store.normalize_object_mesh()
    assert record["up"] == "+z" and record["metres_per_unit"] == 0.01
    assert np.allclose(store.sample.object_mesh.vertices, original.vertices, atol=1e-5)
    assert np.array_equal(store.sample.object_mesh.faces, original.faces)
    assert store.sample.object_frame is None  # the mesh in memory is y-up metres now
    assert (folder / "object.obj").read_text() == written


def test_a_given_mesh_ignores_the_folder_frame(tmp_path):
    folder = shutil.copytree(EXAMPLE, tmp_path / EXAMPLE.name)
    mesh = SampleStore(folder).sample.object_mesh
    write_object_frame(folder, ObjectFrame("+x", "cm"))  # describes the folder's object.obj
    given = tmp_path / "given.ply"
    trimesh.Trimesh(delivered(mesh, "+z", 1.0).vertices, mesh.faces, process=False).export(given)
    store = SampleStore(folder)
    done = complete_sample(store, load_config("default"), None, None, given, object_up="+z")
    assert done["object_frame"]["up"] == "+z" and done["object_frame"]["metres_per_unit"] == 1.0
    assert np.allclose(store.sample.object_mesh.vertices, mesh.vertices, atol=1e-5)


def test_up_axis_argument():
    assert _up_axis("Z") == "+z" and _up_axis("-x") == "-x" and _up_axis(" +y") == "+y"
    result = subprocess.run(
        [sys.executable, "-m", "hoifit", "reconstruct", str(EXAMPLE), "--object-up", "w"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "--object-up must be one of" in result.stderr
