import json

import numpy as np
import pytest
import trimesh

from reconstruction import atomic_io
from reconstruction.atomic_io import atomic_write_bytes
from reconstruction.camera import Camera
from reconstruction.exports import CONTACT_COLOR, write_scene
from reconstruction.scene import Scene


def small_scene(with_image=True):
    camera = Camera.from_focal(80.0, 64, 48)
    body = trimesh.creation.box(extents=(0.4, 0.8, 0.3))
    body.apply_translation([-0.3, 0.0, 3.0])
    obj = trimesh.creation.icosphere(subdivisions=2, radius=0.2)
    obj.apply_translation([0.3, 0.2, 3.0])
    contact = np.zeros(len(body.vertices))
    contact[:2] = 0.9
    image = np.full((48, 64, 3), 40, np.uint8) if with_image else None
    return Scene(
        camera=camera,
        body_vertices=np.asarray(body.vertices, np.float32),
        body_faces=np.asarray(body.faces),
        object_vertices=np.asarray(obj.vertices, np.float32),
        object_faces=np.asarray(obj.faces),
        body_backend="test",
        body_params={"transl": np.zeros((1, 3), np.float32)},
        object_pose={"translation": [0.3, 0.2, 3.0], "scale": 1.0},
        image=image,
        body_contact=contact,
    )


def test_write_scene_files(tmp_path):
    scene = small_scene()
    paths = write_scene(scene, tmp_path / "out")
    names = {p.name for p in paths}
    assert names == {
        "scene.glb",
        "body.ply",
        "object.ply",
        "body_params.npz",
        "object_pose.json",
        "overlay.png",
        "side.png",
    }
    assert not list((tmp_path / "out").glob(".*tmp"))

    body = trimesh.load(tmp_path / "out" / "body.ply", process=False)
    assert np.allclose(body.vertices, scene.body_vertices, atol=1e-6)  # camera frame kept
    red = np.asarray(CONTACT_COLOR) * 255
    colors = body.visual.vertex_colors[:, :3].astype(float)
    assert np.allclose(colors[:2], red, atol=1) and not np.allclose(colors[2], red, atol=1)

    glb = trimesh.load(tmp_path / "out" / "scene.glb")
    assert set(glb.geometry) == {"body", "object"}
    # glTF is y-up: the exporter turns the OpenCV frame by 180 degrees about x.
    glb_body = glb.geometry["body"].vertices
    assert np.allclose(glb_body * [1, -1, -1], scene.body_vertices, atol=1e-5)

    params = np.load(tmp_path / "out" / "body_params.npz")
    assert str(params["body_backend"]) == "test" and params["transl"].shape == (1, 3)
    pose = json.loads((tmp_path / "out" / "object_pose.json").read_text())
    assert pose["scale"] == 1.0

    from PIL import Image

    overlay = np.asarray(Image.open(tmp_path / "out" / "overlay.png"))
    assert overlay.shape == (48, 64, 3)
    assert (overlay != 40).any(axis=-1).sum() > 50  # the meshes cover part of the image
    side = np.asarray(Image.open(tmp_path / "out" / "side.png"))
    assert side.shape == (48, 64, 3)


def test_write_scene_without_image_or_previews(tmp_path):
    paths = write_scene(small_scene(with_image=False), tmp_path, previews=False)
    assert {p.name for p in paths}.isdisjoint({"overlay.png", "side.png"})


def test_contact_of_wrong_length_is_an_error(tmp_path):
    scene = small_scene()
    scene.body_contact = np.zeros(3)
    with pytest.raises(ValueError, match="contact has shape"):
        write_scene(scene, tmp_path)


def test_interrupted_write_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "file.bin"
    atomic_write_bytes(target, b"good")

    def failing(path, data):
        def write(f):
            f.write(data[:2])
            raise KeyboardInterrupt

        atomic_io.atomic_write(path, write)

    with pytest.raises(KeyboardInterrupt):
        failing(target, b"broken")
    assert target.read_bytes() == b"good"
    assert list(tmp_path.iterdir()) == [target]
