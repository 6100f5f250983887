import json
import logging

import numpy as np
import pytest
import torch
import trimesh

from reconstruction.errors import HoifitError
from reconstruction.object_model import (
    MeshError,
    ObjectMesh,
    ObjectPose,
    camera_to_object,
    load_object_mesh,
    normalize_object_frame,
    object_to_camera,
    pose_from_json_dict,
    pose_to_json_dict,
    validate_mesh,
)
from reconstruction.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from reconstruction.sample_io.object_frame_file import UP_AXES


@pytest.fixture
def box():
    return trimesh.creation.box(extents=(0.3, 0.2, 0.1))


def triangles(vertices, faces):
    """Each face as its corner coordinates, rotated to start at the smallest: order-free."""
    result = set()
    for face in np.asarray(vertices, dtype=np.float64)[faces].round(6):
        corners = [tuple(c) for c in face]
        start = corners.index(min(corners))
        result.add(tuple(corners[start:] + corners[:start]))
    return result


@pytest.mark.parametrize("suffix", ["obj", "ply", "glb", "off", "OBJ"])
def test_load_round_trip_keeps_geometry(tmp_path, box, suffix):
    path = tmp_path / f"box.{suffix}"
    box.export(path, file_type=suffix.lower())
    mesh = load_object_mesh(path)
    assert mesh.vertices.dtype == np.float32 and mesh.faces.dtype == np.int64
    assert mesh.name == "box" and mesh.path == str(path)
    assert len(mesh.faces) == len(box.faces)
    assert triangles(mesh.vertices, mesh.faces) == triangles(box.vertices, box.faces)


def test_load_gltf_with_separate_buffer(tmp_path, box):
    for name, data in box.export(file_type="gltf").items():
        (tmp_path / name).write_bytes(data)
    mesh = load_object_mesh(tmp_path / "model.gltf")
    assert triangles(mesh.vertices, mesh.faces) == triangles(box.vertices, box.faces)


def test_scene_geometries_are_concatenated_with_their_transforms(tmp_path, box):
    ico = trimesh.creation.icosahedron()
    scene = trimesh.Scene()
    scene.add_geometry(box, node_name="a")
    shift = trimesh.transformations.translation_matrix([1.0, 0.0, 0.0])
    scene.add_geometry(ico, node_name="b", transform=shift)
    path = tmp_path / "scene.glb"
    scene.export(path)
    mesh = load_object_mesh(path)
    expected = triangles(box.vertices, box.faces) | triangles(ico.vertices + [1, 0, 0], ico.faces)
    assert len(mesh.faces) == len(box.faces) + len(ico.faces)
    assert triangles(mesh.vertices, mesh.faces) == expected


def test_obj_keeps_file_order_and_triangulates_polygons(tmp_path):
    # Materials and texture seams must not reorder faces nor split vertices.
    text = """mtllib m.mtl
v 0 0 0
v 1 0 0
v 1 1 0
v 0 1 0
v 0 0 1
vt 0 0
vt 1 0
vt 1 1
usemtl a
f 1/1 2/2 3/3 4/1
usemtl b
f -1/1 1/2 2/3
usemtl a
f 5//1 3//1 4//1
"""
    path = tmp_path / "order.obj"
    path.write_text(text)
    mesh = load_object_mesh(path)
    assert mesh.vertices.shape == (5, 3)
    assert mesh.faces.tolist() == [[0, 1, 2], [0, 2, 3], [4, 0, 1], [4, 2, 3]]


def write_obj(path, vertices, faces):
    lines = [f"v {x} {y} {z}" for x, y, z in vertices]
    lines += ["f " + " ".join(str(i + 1) for i in face) for face in faces]
    path.write_text("\n".join(lines) + "\n")


def expect_mesh_error(path, *fragments):
    with pytest.raises(MeshError) as info:
        load_object_mesh(path)
    message = str(info.value)
    assert "\n" not in message and str(path.name) in message
    for fragment in fragments:
        assert fragment in message
    assert isinstance(info.value, ValueError) and isinstance(info.value, HoifitError)


def test_missing_file(tmp_path):
    expect_mesh_error(tmp_path / "absent.obj", "not found")


def test_unsupported_extension(tmp_path, box):
    path = tmp_path / "box.stl"
    box.export(path)
    expect_mesh_error(path, "unsupported", ".obj")


def test_unreadable_file(tmp_path):
    path = tmp_path / "broken.glb"
    path.write_bytes(b"this is not a glb file")
    expect_mesh_error(path, "could not read")


def test_bad_obj_line(tmp_path):
    path = tmp_path / "bad.obj"
    path.write_text("v 0 0 0\nv 1 0 zero\n")
    expect_mesh_error(path, "line 2")


def test_empty_mesh(tmp_path):
    path = tmp_path / "empty.obj"
    path.write_text("# nothing here\n")
    expect_mesh_error(path, "no vertices")


def test_point_cloud_has_no_faces(tmp_path):
    path = tmp_path / "cloud.ply"
    trimesh.PointCloud(np.random.default_rng(0).random((10, 3))).export(path)
    expect_mesh_error(path, "no triangle faces")


def test_vertices_without_faces(tmp_path):
    path = tmp_path / "verts.obj"
    write_obj(path, [(0, 0, 0), (1, 0, 0), (0, 1, 0)], [])
    expect_mesh_error(path, "no faces")


def test_nan_vertex(tmp_path, box):
    vertices = box.vertices.copy()
    vertices[3, 1] = np.nan
    path = tmp_path / "nan.obj"
    write_obj(path, vertices, box.faces)
    expect_mesh_error(path, "NaN", "vertex 3")


@pytest.mark.parametrize("bad_index", ["9", "0", "-9"])
def test_face_index_out_of_range(tmp_path, box, bad_index):
    # OBJ counts from 1, and negative indices back from the last vertex read.
    path = tmp_path / "range.obj"
    write_obj(path, box.vertices, box.faces)
    with open(path, "a") as f:
        f.write(f"f 1 2 {bad_index}\n")
    expect_mesh_error(path, "8 vertices")


def test_validate_in_memory_meshes():
    vertices, faces = validate_mesh([[0, 0, 0], [1, 0, 0], [0, 1, 0]], [[0, 1, 2]])
    assert vertices.dtype == np.float32 and faces.dtype == np.int64
    with pytest.raises(MeshError, match="my_mesh: vertices must be"):
        validate_mesh(np.zeros((3, 2)), [[0, 1, 2]], "my_mesh")
    with pytest.raises(MeshError, match="triangulate"):
        validate_mesh(np.zeros((4, 3)), [[0, 1, 2, 3]])
    with pytest.raises(MeshError, match="integers"):
        validate_mesh(np.zeros((3, 3)), [[0, 1, 1.5]])
    with pytest.raises(MeshError, match="range"):
        ObjectMesh(np.zeros((3, 3)), np.array([[0, 1, 3]]))


def test_degenerate_faces_are_kept_with_a_warning(box, caplog):
    faces = np.vstack([box.faces, [[0, 0, 1], [0, 1, 1]]])
    with caplog.at_level(logging.WARNING):
        mesh = ObjectMesh(box.vertices, faces, "degenerate")
    assert len(mesh.faces) == len(box.faces) + 2
    assert "2 of 14 faces are degenerate" in caplog.text


def test_hash_depends_on_geometry_only(box):
    mesh = ObjectMesh(box.vertices, box.faces, "a")
    assert mesh.hash() == ObjectMesh(box.vertices.astype(np.float32), box.faces, "b").hash()
    moved = box.vertices.copy()
    moved[0, 0] += 1e-3
    assert ObjectMesh(moved, box.faces).hash() != mesh.hash()
    assert ObjectMesh(box.vertices, box.faces[:, [0, 2, 1]]).hash() != mesh.hash()


def test_to_torch(box):
    vertices, faces = ObjectMesh(box.vertices, box.faces).to_torch("cpu", torch.float64)
    assert vertices.dtype == torch.float64 and vertices.shape == (8, 3)
    assert faces.dtype == torch.int64 and faces.shape == (12, 3)


def random_pose(batch=3, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    rotation = axis_angle_to_matrix(2 * torch.randn(batch, 3, generator=g, dtype=dtype))
    transl = torch.randn(batch, 3, generator=g, dtype=dtype)
    scale = torch.rand(batch, generator=g, dtype=dtype) * 2 + 0.2
    return rotation, transl, scale


def test_identity_pose():
    pose = ObjectPose.identity(2, dtype=torch.float64)
    assert pose.rot6d.shape == (2, 6) and pose.transl.shape == (2, 3)
    assert pose.log_scale.shape == (2, 1) and pose.batch_size == 2
    points = torch.randn(2, 5, 3, dtype=torch.float64)
    assert torch.equal(object_to_camera(points, pose), points)


def test_from_matrix_round_trip():
    rotation, transl, scale = random_pose()
    pose = ObjectPose.from_matrix(rotation, transl, scale)
    assert torch.allclose(pose.rotation_matrix(), rotation, atol=1e-12)
    assert torch.allclose(pose.scale(), scale, atol=1e-12)
    assert torch.equal(pose.transl, transl)
    assert ObjectPose.from_matrix(rotation, transl, 2.0).scale().tolist() == [2.0] * 3


def test_from_matrix_rejects_reflections_and_bad_scales():
    rotation, transl, _ = random_pose()
    with pytest.raises(ValueError, match="determinant"):
        ObjectPose.from_matrix(-rotation, transl)
    with pytest.raises(ValueError, match="positive"):
        ObjectPose.from_matrix(rotation, transl, 0.0)


def test_object_to_camera_matches_formula_and_inverts():
    rotation, transl, scale = random_pose()
    pose = ObjectPose.from_matrix(rotation, transl, scale)
    points = torch.randn(3, 7, 3, dtype=torch.float64)
    camera = object_to_camera(points, pose)
    for b in range(3):
        expected = scale[b] * points[b] @ rotation[b].T + transl[b]
        assert torch.allclose(camera[b], expected, atol=1e-12)
    assert torch.allclose(camera_to_object(camera, pose), points, atol=1e-12)
    shared = object_to_camera(points[0], pose)  # (N, 3) is broadcast over the poses
    assert shared.shape == (3, 7, 3)
    assert torch.allclose(shared[2], object_to_camera(points[0][None].expand(3, 7, 3), pose)[2])


def test_pose_functions_are_differentiable():
    rotation, transl, scale = random_pose(1)
    pose = ObjectPose.from_matrix(rotation, transl, scale)
    for tensor in (pose.rot6d, pose.transl, pose.log_scale):
        tensor.requires_grad_(True)
    points = torch.randn(1, 4, 3, dtype=torch.float64)
    assert torch.autograd.gradcheck(
        lambda r, t, s: object_to_camera(points, ObjectPose(r, t, s)),
        (pose.rot6d, pose.transl, pose.log_scale),
    )


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_json_round_trip(dtype):
    rotation, transl, scale = random_pose(2)
    pose = ObjectPose.from_matrix(rotation.to(dtype), transl.to(dtype), scale.to(dtype))
    data = json.loads(json.dumps(pose_to_json_dict(pose)))
    assert "camera" in data["convention"] and len(data["rotation_matrix"]) == 2
    back = pose_from_json_dict(data, dtype=dtype)
    atol = 1e-6 if dtype == torch.float32 else 1e-12
    assert back.rot6d.dtype == dtype
    assert torch.allclose(back.rotation_matrix(), pose.rotation_matrix(), atol=atol)
    assert torch.allclose(back.transl, pose.transl, atol=atol)
    assert torch.allclose(back.scale(), pose.scale(), atol=atol)
    axis_angle = torch.tensor(data["axis_angle"], dtype=torch.float64)
    assert torch.allclose(axis_angle, matrix_to_axis_angle(rotation), atol=1e-6)


def test_json_single_pose_by_axis_angle():
    pose = pose_from_json_dict(
        {"axis_angle": [0.0, 0.0, np.pi / 2], "translation": [0.0, 0.0, 2.0]},
        dtype=torch.float64,
    )
    assert pose.batch_size == 1 and pose.scale().item() == 1.0
    camera = object_to_camera(torch.tensor([[1.0, 0.0, 0.0]], dtype=torch.float64), pose)
    assert torch.allclose(camera, torch.tensor([[[0.0, 1.0, 2.0]]], dtype=torch.float64))


def test_json_errors():
    with pytest.raises(ValueError, match="translation"):
        pose_from_json_dict({"rotation_matrix": np.eye(3).tolist()})
    with pytest.raises(ValueError, match="wrong shape"):
        pose_from_json_dict({"rotation_matrix": [1, 2], "translation": [0, 0, 0]})
    with pytest.raises(ValueError, match="non-finite"):
        pose_from_json_dict({"rotation_matrix": np.eye(3).tolist(), "translation": [0, np.nan, 0]})


@pytest.mark.parametrize("up", UP_AXES)
def test_normalize_object_frame_turns_the_up_axis_to_y(up):
    # A tall box (0.5 m along `up`) in centimetres: normalized, it is 0.5 m tall along +y.
    axis = "xyz".index(up[1])
    extents = np.full(3, 20.0)
    extents[axis] = 50.0
    mesh = ObjectMesh(*_box_arrays(extents), name="tall")
    tip = mesh.vertices[np.argmax(mesh.vertices[:, axis] * (1 if up[0] == "+" else -1))]
    normalized = normalize_object_frame(mesh, up, 0.01)
    assert np.allclose(normalized.vertices.max(0) - normalized.vertices.min(0), [0.2, 0.5, 0.2])
    assert np.array_equal(normalized.faces, mesh.faces) and normalized.name == "tall"
    index = int(np.argmax(np.all(mesh.vertices == tip, axis=1)))
    assert normalized.vertices[index, 1] == pytest.approx(0.25)  # the top is up
    # A proper rotation: the winding, hence the outward normals, is kept.
    before = trimesh.Trimesh(mesh.vertices, mesh.faces, process=False).volume
    after = trimesh.Trimesh(normalized.vertices, normalized.faces, process=False).volume
    assert after == pytest.approx(before * 1e-6, rel=1e-5)


def test_normalize_object_frame_in_convention_is_the_same_mesh(box):
    mesh = ObjectMesh(box.vertices, box.faces)
    assert normalize_object_frame(mesh, "+y", 1.0) is mesh
    with pytest.raises(ValueError, match="up axis"):
        normalize_object_frame(mesh, "up", 1.0)
    with pytest.raises(ValueError, match="positive"):
        normalize_object_frame(mesh, "+z", 0.0)


def _box_arrays(extents):
    box = trimesh.creation.box(extents=extents)
    return box.vertices, box.faces
