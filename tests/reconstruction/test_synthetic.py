import dataclasses
import subprocess
import sys
from pathlib import Path

import igl
import numpy as np
import pytest
import torch
import trimesh

from reconstruction.body_models import build_body_model
from reconstruction.object_model import ObjectPose
from reconstruction.sample_io import (
    list_samples,
    read_ground_truth,
    read_sample,
    write_ground_truth,
    write_sample,
)
from reconstruction.sdf import compute_sdf_grid, query_sdf
from reconstruction.synthetic import INTERACTIONS, NOISE_LEVELS, make_scene
from reconstruction.synthetic.geometry import barycentric, first_contact, refine_mesh
from reconstruction.synthetic.poses import PoseBuilder, mirror, rot

ROOT = Path(__file__).resolve().parents[2]
SIZE = (96, 96)


@pytest.fixture(scope="module")
def anny(anny):
    return anny


@pytest.fixture(scope="module")
def scenes(anny):
    """One clean scene per interaction, at low resolution."""
    return {
        name: make_scene(i, 0, "none", SIZE, body_model=anny, interaction=name)
        for i, name in enumerate(INTERACTIONS)
    }


def object_pose(truth) -> ObjectPose:
    return ObjectPose.from_matrix(
        torch.as_tensor(truth.object_rotation, dtype=torch.float32)[None],
        torch.as_tensor(truth.object_translation, dtype=torch.float32)[None],
        truth.object_scale,
    )


@pytest.mark.parametrize("name", list(INTERACTIONS))
def test_scene_has_contact_without_interpenetration(scenes, anny, tmp_path_factory, name):
    scene = scenes[name]
    truth, sample = scene.truth, scene.sample
    mesh = sample.object_mesh
    posed = object_pose(truth)
    # The stored object vertices are the mesh under the stored pose.
    expected = mesh.vertices @ truth.object_rotation.T * truth.object_scale
    np.testing.assert_allclose(
        truth.object_vertices, expected + truth.object_translation, atol=1e-5
    )

    # The fitting's SDF grid and libigl's exact signed distance agree: no body vertex is inside.
    grid = compute_sdf_grid(mesh, cache_dir=tmp_path_factory.getbasetemp() / "sdf")
    sdf = query_sdf(grid, torch.as_tensor(truth.body_vertices), posed)[0].numpy()
    exact = igl.signed_distance(
        truth.body_vertices.astype(np.float64),
        truth.object_vertices.astype(np.float64),
        mesh.faces,
        sign_type=igl.SIGNED_DISTANCE_TYPE_WINDING_NUMBER,
    )[0]
    assert sdf.min() > -2e-3 and exact.min() > -2e-3
    # ...and the closest one is within 5 mm: true contact.
    assert exact.min() < 5e-3

    # No object vertex is inside the body (exact winding number).
    winding = igl.winding_number(
        truth.body_vertices.astype(np.float64),
        anny.faces.numpy(),
        truth.object_vertices.astype(np.float64),
    )
    assert np.abs(winding).max() < 0.5

    # The expected parts are in contact; contact is where the distance says.
    parts = {part: idx.numpy() for part, idx in anny.parts.items()}
    for group in INTERACTIONS[name].contact_groups:
        touching = np.concatenate([parts[p] for p in group])
        assert truth.body_contact[touching].any(), group
    assert truth.body_contact[exact < 0.0149].all() and not truth.body_contact[exact > 0.0151].any()
    assert truth.object_contact.any()

    # Pairs join contact vertices to object points close to them.
    pairs = truth.pairs
    assert len(pairs) > 0 and truth.body_contact[pairs.body_vertex].all()
    corners = truth.object_vertices[mesh.faces[pairs.object_face]]
    points = (corners * pairs.object_bary[:, :, None]).sum(1)
    gaps = np.linalg.norm(points - truth.body_vertices[pairs.body_vertex], axis=1)
    assert gaps.max() < 0.0151


@pytest.mark.parametrize("name", list(INTERACTIONS))
def test_scene_images_agree_with_the_geometry(scenes, name):
    sample, truth = scenes[name].sample, scenes[name].truth
    assert sample.image.shape == (*SIZE, 3) and sample.image.dtype == np.uint8
    assert sample.person_mask.sum() > 50 and sample.object_mask.sum() > 5
    assert not (sample.person_mask & sample.object_mask).any()
    np.testing.assert_array_equal(sample.depth > 0, sample.person_mask | sample.object_mask)
    # The depth of the visible body is that of its vertices.
    body_depth = sample.depth[sample.person_mask]
    z = truth.body_vertices[:, 2]
    assert z.min() - 1e-3 <= body_depth.min() and body_depth.max() <= z.max() + 1e-3
    keypoints = sample.keypoints_2d
    assert (keypoints[:, 2] == 1).sum() >= 14
    inside = keypoints[keypoints[:, 2] == 1]
    assert (inside[:, :2] >= 0).all() and (inside[:, :2] <= SIZE[0] - 1).all()
    # Every keypoint lies within the image box of the body's vertices.
    projected = truth.body_vertices @ truth.K.T
    uv = projected[:, :2] / projected[:, 2:]
    assert ((inside[:, :2] > uv.min(0)) & (inside[:, :2] < uv.max(0))).all()


def test_same_seed_gives_byte_identical_samples(anny, tmp_path):
    folders = []
    for run in ("a", "b"):
        scene = make_scene(12, 7, "high", (64, 64), body_model=anny)
        folder = write_sample(tmp_path / run / scene.sample.name, scene.sample)
        write_ground_truth(folder, scene.truth)
        folders.append(folder)
    files = sorted(p.name for p in folders[0].iterdir())
    assert files == sorted(p.name for p in folders[1].iterdir())
    for name in files:
        assert (folders[0] / name).read_bytes() == (folders[1] / name).read_bytes(), name
    other = make_scene(12, 8, "high", (64, 64), body_model=anny)
    assert not np.array_equal(other.truth.body_vertices, scene.truth.body_vertices)


def test_noise_changes_the_inputs_but_not_the_ground_truth(anny):
    clean, low, high = (
        make_scene(5, 1, noise, SIZE, body_model=anny) for noise in ("none", "low", "high")
    )
    for field in dataclasses.fields(clean.truth):
        value = getattr(clean.truth, field.name)
        if isinstance(value, np.ndarray):
            for other in (low, high):
                np.testing.assert_array_equal(getattr(other.truth, field.name), value)
    np.testing.assert_array_equal(low.sample.image, clean.sample.image)
    np.testing.assert_array_equal(clean.sample.person_mask, clean.truth.person_mask)
    np.testing.assert_array_equal(clean.sample.keypoints_2d, clean.truth.keypoints_2d)
    np.testing.assert_array_equal(clean.sample.contact.body_contact, clean.truth.body_contact)
    for noisy in (low, high):
        assert not np.array_equal(noisy.sample.keypoints_2d, clean.sample.keypoints_2d)
        assert not np.array_equal(noisy.sample.depth, clean.sample.depth)
        init, truth = noisy.sample.body_init.params, noisy.truth.body_params
        assert not np.array_equal(init["pose_parameters"], truth["pose_parameters"])
    error = {
        name: np.abs(s.sample.keypoints_2d[:, :2] - clean.truth.keypoints_2d[:, :2]).mean()
        for name, s in (("low", low), ("high", high))
    }
    assert 0 < error["low"] < error["high"]
    levels = [NOISE_LEVELS[n] for n in ("none", "low", "high")]
    assert [lv.depth_scale for lv in levels] == [0.0, 0.03, 0.15]


def test_the_cli_writes_readable_sample_folders(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "make_synthetic.py"), "--out", str(tmp_path)]
        + ["--count", "2", "--seed", "3", "--noise", "low", "--size", "80x64", "--start", "11"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    assert len(result.stdout.strip().splitlines()) == 2
    folders = list_samples(tmp_path)
    assert [f.name for f in folders] == ["ball__synth_3_12", "box__synth_3_11"]
    for folder in folders:
        sample = read_sample(folder)
        assert sample.image.shape == (64, 80, 3)
        assert (folder / f"{folder.name}.png").is_file()
        assert sample.object_category == folder.name.split("__")[0]
        assert sample.body_init.backend == "anny" and sample.contact.pairs.body_topology == "anny"
        assert read_ground_truth(folder).interaction in INTERACTIONS


def test_other_backends_pose_by_the_same_table(smplx_dir):
    model = build_body_model("smplx", model_dir=smplx_dir)
    scene = make_scene(0, 0, "low", (64, 64), body_model=model, interaction="sit_stool")
    assert scene.truth.body_backend == "smplx" and scene.sample.contact.body_topology == "smplx"
    params = model.params_from_npz(scene.truth.body_params)
    vertices = model(params).vertices[0].detach().numpy()
    np.testing.assert_allclose(vertices, scene.truth.body_vertices, atol=1e-4)


@pytest.mark.parametrize("backend", ["anny", "smplx"])
def test_poses_mean_the_same_on_every_backend(request, backend, smplx_dir):
    if backend == "anny":
        model = request.getfixturevalue("anny")
    else:
        model = build_body_model(backend, model_dir=smplx_dir)
    poser = PoseBuilder(model)

    def joint(joints, name):
        return joints[model.joint_names.index(poser.native_name(name))]

    # The canonical arms hang straight down, palms towards the thighs.
    vertices, joints = poser.forward(poser.params({}))
    for side, medial in (("L", -1), ("R", 1)):
        arm = joint(joints, f"wrist.{side}") - joint(joints, f"shoulder.{side}")
        assert arm @ [0, -1, 0] > 0.99 * np.linalg.norm(arm)
        assert poser.hand_frame(side, vertices, joints).normal[0] * medial > 0.8
    # A rotation about -x at the hip swings the thigh forwards, mirrored on the right.
    flex = rot("x", -90)
    vertices, joints = poser.forward(poser.params({"hip.L": flex, "hip.R": mirror(flex)}))
    for side in "LR":
        thigh = joint(joints, f"knee.{side}") - joint(joints, f"hip.{side}")
        assert thigh @ [0, 0, 1] > 0.95 * np.linalg.norm(thigh)


def test_refined_mesh_keeps_the_surface_and_bounds_edges():
    box = trimesh.creation.box(extents=(0.5, 0.2, 0.1))
    vertices, faces = refine_mesh(box.vertices, box.faces, 0.07)
    refined = trimesh.Trimesh(vertices, faces, process=False)
    edges = np.linalg.norm(vertices[faces] - vertices[faces[:, [1, 2, 0]]], axis=2)
    assert edges.max() <= 0.07 and refined.is_watertight and refined.is_winding_consistent
    assert refined.volume == pytest.approx(box.volume) and refined.area == pytest.approx(box.area)


def test_first_contact_finds_the_first_touch_from_far():
    # Clearance dips below zero twice; the search must stop at the crossing nearer `far`.
    def clearance(t):
        return min(abs(t - 1.0), abs(t - 3.0)) - 0.2

    value = first_contact(clearance, near=0.0, far=4.0, target=(1e-3, 3e-3))
    assert 3.2 + 1e-3 <= value <= 3.2 + 3e-3
    assert first_contact(clearance, near=0.0, far=3.0) is None


def test_barycentric_recovers_weights():
    rng = np.random.default_rng(0)
    triangles = rng.normal(size=(50, 3, 3))
    weights = rng.dirichlet(np.ones(3), 50)
    points = (triangles * weights[:, :, None]).sum(1)
    np.testing.assert_allclose(barycentric(points, triangles), weights, atol=1e-9)
