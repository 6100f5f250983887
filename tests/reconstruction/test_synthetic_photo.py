"""The synthetic photo protocol: only what a photo and perception give, and its evaluation."""

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import trimesh

from reconstruction.camera import Camera
from reconstruction.evaluation import evaluate_result
from reconstruction.sample_io import list_samples, read_ground_truth, read_sample
from reconstruction.synthetic import make_scene, write_scene
from reconstruction.synthetic.interactions import make_object_mesh
from reconstruction.synthetic.noise import MONO_HOLES, MONO_SCALE, MONO_SHIFT_M, monocular_depth
from reconstruction.synthetic.scenes import PHOTO_FOV_DEG

ROOT = Path(__file__).resolve().parents[2]
SIZE = (96, 96)
NEAR_TRUE_ONLY = ("camera.json", "body_init.npz", "contact.npz", "corresponding_contacts.json")


@pytest.fixture(scope="module")
def photo(anny, tmp_path_factory):
    """A photo-protocol chair scene (index 0: sit_chair), written."""
    scene = make_scene(0, 4, "low", SIZE, body_model=anny, protocol="photo")
    folder = write_scene(tmp_path_factory.mktemp("photo") / scene.sample.name, scene)
    return scene, folder


def test_photo_folder_holds_only_what_a_photo_and_perception_give(photo):
    scene, folder = photo
    files = {p.name for p in folder.iterdir()}
    assert not files & set(NEAR_TRUE_ONLY)
    assert {"object.obj", "object_frame.json", "depth.npz", "keypoints_2d.json"} <= files
    sample = read_sample(folder)
    assert sample.body_init is None and sample.contact is None
    # No camera.json: the reader guesses 55 degrees, the truth was rendered with another.
    assert sample.camera == Camera.default(*SIZE)
    true_fov = scene.truth.summary["inputs"]["true_fov_deg"]
    assert PHOTO_FOV_DEG[0] <= true_fov <= PHOTO_FOV_DEG[1]
    assert scene.truth.K[0, 0] != pytest.approx(sample.camera.fx)
    summary = json.loads((folder / "ground_truth.json").read_text())
    np.testing.assert_allclose(summary["camera"]["K"], scene.truth.K)
    # Masks and keypoints are the noise level's degradation of the truth.
    assert not np.array_equal(sample.keypoints_2d, scene.truth.keypoints_2d)
    assert sample.person_mask.sum() > 50 and sample.object_mask.any()


def test_photo_mesh_is_another_instance_in_its_declared_frame(photo):
    scene, folder = photo
    sample, truth = read_sample(folder), read_ground_truth(folder)
    described = truth.summary["inputs"]["delivered_object"]
    assert (sample.object_frame.up, sample.object_frame.units) == (
        described["up"],
        described["units"],
    )
    # The delivered rotation takes canonical y to the declared up axis of the mesh as read.
    axis = {"x": 0, "y": 1, "z": 2}[described["up"][1]]
    up = np.zeros(3)
    up[axis] = 1.0 if described["up"][0] == "+" else -1.0
    np.testing.assert_array_equal(truth.delivered_rotation[:, 1], up)
    # Back in the canonical frame it is the builder's instance, scaled and shifted.
    instance, _ = make_object_mesh("chair", **described["builder_kwargs"])
    back = sample.object_mesh.vertices @ truth.delivered_rotation
    scale = np.ptp(back, axis=0).max() / np.ptp(instance, axis=0).max()
    expected = {"cm": 100.0, "unknown": 1 / np.ptp(instance, axis=0).max()}[described["units"]]
    assert scale == pytest.approx(expected, rel=1e-5)
    np.testing.assert_allclose(
        back / scale - back.min(0) / scale, instance - instance.min(0), atol=1e-5
    )
    # ... and another instance than the one rendered.
    rendered = truth.object_vertices
    assert len(instance) != len(rendered) or not np.allclose(
        np.ptp(instance, axis=0), np.ptp(rendered, axis=0) / truth.object_scale
    )
    assert truth.object_faces.max() < len(rendered)


def test_photo_ground_truth_keeps_the_floor_under_the_feet(photo, anny):
    truth = photo[0].truth
    normal, offset = truth.floor_plane[:3], truth.floor_plane[3]
    assert np.linalg.norm(normal) == pytest.approx(1.0)
    feet = np.concatenate([anny.parts[p].numpy() for p in ("left_foot", "right_foot")])
    assert (truth.body_vertices[feet] @ normal + offset).min() == pytest.approx(0.0, abs=2e-3)
    # The chair stands on it, upright: its canonical up is the floor normal.
    assert (truth.object_vertices @ normal + offset).min() == pytest.approx(0.0, abs=1e-4)
    np.testing.assert_allclose(truth.object_rotation[:, 1], normal, atol=1e-6)


def test_photo_without_depth_writes_no_depth(anny, tmp_path):
    scene = make_scene(0, 4, "low", SIZE, body_model=anny, protocol="photo", depth="none")
    folder = write_scene(tmp_path / scene.sample.name, scene)
    assert scene.sample.depth is None and not (folder / "depth.npz").exists()
    assert scene.truth.summary["inputs"]["depth"] == "none"


def test_photo_depth_over_the_floor_shows_the_floor(anny):
    import torch

    from optim.floor import back_project, fit_plane

    plain = make_scene(0, 4, "low", SIZE, body_model=anny, protocol="photo")
    scene = make_scene(0, 4, "low", SIZE, body_model=anny, protocol="photo", depth="mono_floor")
    np.testing.assert_array_equal(scene.sample.person_mask, plain.sample.person_mask)
    outside = ~(scene.sample.person_mask | scene.sample.object_mask)
    floor = (scene.sample.depth > 0) & outside
    assert floor.sum() > 3 * ((plain.sample.depth > 0) & outside).sum()
    assert scene.truth.summary["inputs"]["depth"] == "mono_floor"
    # Back-projected with the true camera, those pixels lie on a plane along the true floor's
    # normal (a global scale keeps a plane's normal; the shift bends it a little).
    truth = torch.as_tensor(scene.truth.floor_plane)
    points = back_project(
        torch.as_tensor(scene.sample.depth).double(), torch.as_tensor(scene.truth.K)
    )
    seed = torch.cat((truth[:3], -(points[torch.as_tensor(floor)] @ truth[:3]).median()[None]))
    plane = fit_plane(points[torch.as_tensor(floor)], seed, 0.5, 0.05)
    assert math.degrees(math.acos(min(1.0, float(plane[:3] @ truth[:3])))) < 5.0


def test_unknown_protocol_or_depth_is_refused(anny):
    with pytest.raises(ValueError, match="protocol"):
        make_scene(0, 0, "low", SIZE, body_model=anny, protocol="video")
    with pytest.raises(ValueError, match="depth"):
        make_scene(0, 0, "low", SIZE, body_model=anny, protocol="photo", depth="lidar")


# monocular_depth


def test_monocular_depth_known_effects():
    depth = np.zeros((200, 200), np.float32)
    depth[40:160, 40:160] = 2.0  # a square 2 m away
    mono = monocular_depth(depth, np.random.default_rng(0))
    support = depth > 0
    assert not mono[~support].any()  # no mesh, no depth
    holes = support & (mono == 0)
    assert holes.mean() / support.mean() == pytest.approx(MONO_HOLES, abs=0.01)
    # Far from the edges (blur std 2 px) one scale and shift hold: a single value, in range.
    interior = np.zeros_like(support)
    interior[60:140, 60:140] = True
    values = mono[interior & ~holes]
    assert np.ptp(values) < 1e-5
    low, high = 2.0 / MONO_SCALE - MONO_SHIFT_M, 2.0 * MONO_SCALE + MONO_SHIFT_M
    assert low <= values[0] <= high and values[0] != pytest.approx(2.0, abs=1e-3)
    # At the outline the far background bleeds in: edge pixels read farther.
    edge = mono[40, 60:140]
    assert (edge[edge > 0] > values[0] + 0.1).all()


def test_monocular_depth_of_an_empty_map_is_empty():
    empty = np.zeros((8, 8), np.float32)
    assert not monocular_depth(empty, np.random.default_rng(0)).any()


# evaluation of a photo-protocol sample


def write_result(folder: Path, body, body_faces, obj, object_faces, body_params, rotation):
    """A result folder as `reconstruct.py` writes it, holding the given prediction."""
    folder.mkdir(parents=True)
    trimesh.Trimesh(body, body_faces, process=False).export(folder / "body.ply")
    trimesh.Trimesh(obj, object_faces, process=False).export(folder / "object.ply")
    np.savez(folder / "body_params.npz", **body_params)
    # The pose file's rotation refers to the pipeline's own normalisation of the mesh: any.
    (folder / "object_pose.json").write_text(json.dumps({"rotation_matrix": [rotation.tolist()]}))
    metrics = {
        "time_s": {"fit": 3.0, "total": 4.5},
        "penetration_cm": 0.0,
        "mask_iou": 0.8,
        "contact_dist_cm": None,
    }
    (folder / "metrics.json").write_text(json.dumps(metrics))


def test_evaluating_the_delivered_instance_placed_like_the_truth(photo, anny, tmp_path):
    scene, folder = photo
    truth = read_ground_truth(folder)
    delivered = read_sample(folder).object_mesh
    # The delivered instance in metres (the builder's mesh, vertex for vertex) placed with the
    # true pose, so its base is on the floor like the true chair's; and the true body.
    kwargs = truth.summary["inputs"]["delivered_object"]["builder_kwargs"]
    instance = make_object_mesh("chair", **kwargs)[0].astype(np.float64)
    placed = truth.object_scale * instance @ truth.object_rotation.T + truth.object_translation
    write_result(
        tmp_path / "result",
        truth.body_vertices,
        anny.faces.numpy(),
        placed,
        delivered.faces,
        truth.body_params,
        np.eye(3),
    )

    row = evaluate_result(folder, tmp_path / "result")

    assert row["inputs"] == "photo, depth mono, noise low"
    assert row["rot_err_deg"] == pytest.approx(0.0, abs=1e-3)
    assert row["rot_err_sym_deg"] == pytest.approx(0.0, abs=1e-3)
    assert row["tilt_deg"] == pytest.approx(0.0, abs=1e-3)
    assert row["floor_gap_cm"] == pytest.approx(0.0, abs=1e-3)
    assert row["body_vertex_err_cm"] == pytest.approx(0.0, abs=1e-4)
    assert row["chamfer_body_cm"] < 3.0  # the sampling floor, and the centroid's pull
    # Instances differ by centimetres: centroids and surfaces differ that much, not more.
    assert row["trans_err_cm"] == pytest.approx(row["obj_rel_body_cm"], abs=1e-3)
    assert 0 < row["trans_err_cm"] < 20 and 0 < row["chamfer_object_cm"] < 20
    assert row["contact_surface_cm"] < 10
    assert row["contact_dist_cm"] is None  # pairs name faces of the true mesh only
    assert row["contact_recall"] is not None
    assert (row["time_s"], row["time_total_s"]) == (3.0, 4.5)


def test_evaluating_an_upside_down_object(photo, anny, tmp_path):
    scene, folder = photo
    truth = read_ground_truth(folder)
    flip = np.diag([1.0, -1.0, -1.0])  # half a turn about the object's own x axis
    canonical = scene.sample.object_mesh.vertices @ truth.delivered_rotation  # scaled, shifted
    placed = (canonical - canonical.mean(0)) @ (truth.object_rotation @ flip).T
    placed += truth.object_vertices.mean(0)
    write_result(
        tmp_path / "result",
        truth.body_vertices,
        anny.faces.numpy(),
        placed,
        scene.sample.object_mesh.faces,
        truth.body_params,
        np.eye(3),
    )

    row = evaluate_result(folder, tmp_path / "result")

    assert row["rot_err_deg"] == pytest.approx(180.0, abs=1e-3)
    assert row["rot_err_sym_deg"] == pytest.approx(180.0, abs=1e-3)  # a chair has no symmetry
    assert row["tilt_deg"] == pytest.approx(180.0, abs=1e-3)


@pytest.mark.slow
def test_the_cli_writes_photo_protocol_folders(tmp_path):
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "make_synthetic.py"), "--out", str(tmp_path)]
        + ["--count", "1", "--seed", "2", "--size", "64", "--protocol", "photo"]
        + ["--depth", "none"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    (folder,) = list_samples(tmp_path)
    assert not {p.name for p in folder.iterdir()} & {*NEAR_TRUE_ONLY, "depth.npz"}
    assert read_ground_truth(folder).summary["inputs"]["protocol"] == "photo"
