import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from reconstruction.body_models import build_body_model
from reconstruction.camera import Camera
from reconstruction.camera_config import CameraConfig
from reconstruction.errors import HoifitError
from reconstruction.object_model import ObjectMesh
from reconstruction.rotations import axis_angle_to_matrix
from reconstruction.sample_io import (
    BodyInit,
    ContactPairs,
    GroundTruth,
    Sample,
    SampleContact,
    UnpairedBodyContact,
    encode_rle,
    list_samples,
    merge_body_contact_vertices,
    npz_bytes,
    read_ground_truth,
    read_sample,
    write_contact,
    write_ground_truth,
    write_pairs,
    write_sample,
)

PICO_NAME = "chair__vcoco_000000012938"
HEIGHT, WIDTH = 48, 64

# A unit cube as stored in object.obj, i.e. before PICO's -90 degree turn about x.
CUBE_VERTICES = np.array(
    [[x, y, z] for x in (0.0, 1.0) for y in (0.0, 2.0) for z in (0.0, 3.0)], dtype=np.float32
)
CUBE_FACES = np.array(
    [
        [0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5], [0, 4, 5], [0, 5, 1],
        [2, 3, 7], [2, 7, 6], [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3],
    ]
)  # fmt: skip


def rle_string(counts: list[int]) -> str:
    """COCO's compressed RLE string of run lengths, written independently of the reader."""
    out = []
    for i, value in enumerate(counts):
        x = value - counts[i - 2] if i > 2 else value
        more = True
        while more:
            chunk = x & 0x1F
            x >>= 5
            more = x != -1 if chunk & 0x10 else x != 0
            out.append(chr((chunk | (0x20 if more else 0)) + 48))
    return "".join(out)


def masks():
    person = np.zeros((HEIGHT, WIDTH), dtype=bool)
    person[5:40, 10:30] = True
    obj = np.zeros((HEIGHT, WIDTH), dtype=bool)
    obj[20:45, 35:60] = True
    obj[0, 0] = True  # a run at the very start of the column-major order
    return person, obj


def write_pico_folder(root: Path, detection: str) -> Path:
    """A PICO-db sample folder as PICO ships it; `detection` picks the detection file format."""
    folder = root / PICO_NAME
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    Image.fromarray(image).save(folder / f"{PICO_NAME}.jpg", quality=95)
    np.savez(
        folder / "osx_human.npz",
        hps_global_orient=np.array([np.pi, 0.0, 0.0], dtype=np.float32),
        hps_body_pose=rng.normal(0, 0.2, 63).astype(np.float32),
        hps_betas=rng.normal(0, 1, 10).astype(np.float32),
        hps_transl=np.array([0.1, 0.2, 3.0], dtype=np.float32),
        hps_left_hand_pose=rng.normal(0, 0.1, 45).astype(np.float32),
        hps_right_hand_pose=rng.normal(0, 0.1, 45).astype(np.float32),
        smpl_vertices=rng.normal(0, 1, (6890, 3)).astype(np.float32),
        bbox_2=np.array([1.0, 2.0, 30.0, 40.0]),
    )
    person, obj = masks()
    if detection == "npz":
        np.savez(folder / "human_detection.npz", mask=person, bbox=np.array([10, 5, 29, 39.0]))
        np.savez(folder / "object_detection.npz", mask=obj[None], bbox=np.array([[0, 0, 59, 44.0]]))
    else:
        human = {"mask": person.astype(int).tolist(), "bbox": [10, 5, 29, 39]}
        rle = encode_rle(obj)
        rle["counts"] = rle_string(rle["counts"])
        objects = [{"mask": rle, "bbox": [0, 0, 59, 44], "score": 0.9}, {"bbox": [1, 1, 2, 2]}]
        (folder / "human_detection.json").write_text(json.dumps(human))
        (folder / "object_detection.json").write_text(json.dumps(objects))
    lines = [f"v {x} {y} {z}" for x, y, z in CUBE_VERTICES]
    lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in CUBE_FACES]
    (folder / "object.obj").write_text("\n".join(lines) + "\n")
    contacts = {
        "data": [
            {"name": "humanShapeleftHand", "contactPoints": ["v 10", "v 11", "v 12"]},
            {
                "name": "objShapeleftHand",
                "contactPoints": ["f 0 0.2 0.3 0.5", "f 1 1 0 0", "v 5"],
            },
            {"name": "humanShapebuttocks", "contactPoints": ["v 6000"]},
            {"name": "objShapebuttocks", "contactPoints": ["f 11 0.25 0.25 0.5"]},
        ]
    }
    (folder / "corresponding_contacts.json").write_text(json.dumps(contacts))
    return folder


@pytest.mark.parametrize("detection", ["npz", "json"])
def test_reads_a_pico_folder(tmp_path, detection):
    folder = write_pico_folder(tmp_path, detection)
    sample = read_sample(folder)

    assert sample.name == PICO_NAME and sample.object_category == "chair"
    assert sample.image.shape == (HEIGHT, WIDTH, 3)
    assert sample.camera == Camera.default(WIDTH, HEIGHT)
    # PICO's load-time rotation, -90 degrees about x: (x, y, z) -> (x, z, -y).
    rotation = axis_angle_to_matrix(torch.tensor([-np.pi / 2, 0.0, 0.0], dtype=torch.float64))
    expected = CUBE_VERTICES @ rotation.numpy().T
    np.testing.assert_allclose(sample.object_mesh.vertices, expected, atol=1e-6)
    np.testing.assert_array_equal(sample.object_mesh.faces, CUBE_FACES)

    person, obj = masks()
    np.testing.assert_array_equal(sample.person_mask, person)
    np.testing.assert_array_equal(sample.object_mask, obj)
    np.testing.assert_array_equal(sample.person_bbox, [10, 5, 29, 39])
    np.testing.assert_array_equal(sample.object_bbox, [0, 0, 59, 44])
    assert sample.person_mask.dtype == bool

    pairs = sample.contact.pairs
    assert pairs.body_topology == "smpl" and pairs.part == ["leftHand"] * 3 + ["buttocks"]
    np.testing.assert_array_equal(pairs.body_vertex, [10, 11, 12, 6000])
    vertex_5_face = int(np.nonzero((CUBE_FACES == 5).any(1))[0][0])
    np.testing.assert_array_equal(pairs.object_face, [0, 1, vertex_5_face, 11])
    np.testing.assert_allclose(pairs.object_bary[:2], [[0.2, 0.3, 0.5], [1, 0, 0]])
    corner = list(CUBE_FACES[vertex_5_face]).index(5)
    assert pairs.object_bary[2, corner] == 1
    assert sample.contact.body_contact is None and sample.contact.object_contact is None
    assert sample.depth is None and sample.keypoints_2d is None


def test_osx_human_becomes_a_smplx_body_init(tmp_path, smplx_dir):
    folder = write_pico_folder(tmp_path, "npz")
    init = read_sample(folder).body_init
    assert init.backend == "smplx" and init.source == "osx_human.npz"
    assert init.params["global_orient"].shape == (1, 3)
    assert init.params["body_pose"].shape == (1, 63)
    assert init.params["betas"].shape == (1, 10)
    assert init.smpl_vertices.shape == (6890, 3)
    params = build_body_model("smplx", model_dir=smplx_dir).params_from_npz(init.params)
    np.testing.assert_allclose(params.global_orient[0], [np.pi, 0, 0], atol=1e-6)
    assert params.left_hand_pose.shape == (1, 15, 3)


def test_osx_rotation_matrices_are_converted(tmp_path):
    folder = write_pico_folder(tmp_path, "npz")
    pose = np.random.default_rng(1).normal(0, 0.3, (21, 3))
    matrices = axis_angle_to_matrix(torch.as_tensor(pose)).numpy()
    data = dict(np.load(folder / "osx_human.npz"))
    data["hps_body_pose"] = matrices
    np.savez(folder / "osx_human.npz", **data)
    body_pose = read_sample(folder).body_init.params["body_pose"]
    np.testing.assert_allclose(body_pose.reshape(21, 3), pose, atol=1e-5)


def test_camera_comes_from_the_config_without_camera_json(tmp_path):
    folder = write_pico_folder(tmp_path, "npz")
    sample = read_sample(folder, CameraConfig(focal_px=100.0))
    assert sample.camera == Camera.from_focal(100.0, WIDTH, HEIGHT)


# The structure of PICO-db's public demo sample (alparius/pico, demo_input/
# skateboard__vcoco_000000012938/corresponding_contacts.json): object patches listed before their
# human patches, the first points of its "leftfoot" pair, and "leftfoottop", a human patch of
# two vertices with no object partner. "rightfoot" is a second pair in the same form.
DEMO_CONTACTS = {
    "data": [
        {
            "name": "objShapeleftfoot",
            "contactPoints": [
                "f 2092 0.5942725727222761 0.2624334655001373 0.14329396177758671",
                "f 2093 0.2559683532573971 0.21558998164039636 0.5284416651022066",
                "f 2093 0.11425594061454258 0.08145868416687706 0.8042853752185803",
            ],
        },
        {"name": "humanShapeleftfoot", "contactPoints": ["v 3220", "v 3237", "v 3238"]},
        {"name": "humanShaperightfoot", "contactPoints": ["v 6620", "v 6635"]},
        {
            "name": "objShaperightfoot",
            "contactPoints": [
                "f 1979 0.47833062818724437 0.279094542030378 0.24257482978237768",
                "f 2336 0.25 0.25 0.5",
            ],
        },
        {"name": "humanShapeleftfoottop", "contactPoints": ["v 3259", "v 3285"]},
    ]
}


def write_grid_mesh(path: Path, cells: int = 36) -> None:
    """A flat grid object.obj of 2 * cells**2 faces, enough for the demo's face indices."""
    lines = [f"v {x} 0 {z}" for x in range(cells + 1) for z in range(cells + 1)]
    for x in range(cells):
        for z in range(cells):
            a = x * (cells + 1) + z + 1
            b, c, d = a + 1, a + cells + 1, a + cells + 2
            lines += [f"f {a} {b} {d}", f"f {a} {d} {c}"]
    path.write_text("\n".join(lines) + "\n")


def test_a_human_patch_without_object_partner_is_unpaired_body_contact(tmp_path):
    folder = write_pico_folder(tmp_path, "npz")
    write_grid_mesh(folder / "object.obj")
    (folder / "corresponding_contacts.json").write_text(json.dumps(DEMO_CONTACTS, indent=4))
    contact = read_sample(folder).contact

    pairs = contact.pairs
    assert pairs.body_topology == "smpl"
    assert pairs.part == ["leftfoot"] * 3 + ["rightfoot"] * 2
    np.testing.assert_array_equal(pairs.body_vertex, [3220, 3237, 3238, 6620, 6635])
    np.testing.assert_array_equal(pairs.object_face, [2092, 2093, 2093, 1979, 2336])
    np.testing.assert_allclose(
        pairs.object_bary[[0, 4]],
        [[0.5942725727222761, 0.2624334655001373, 0.14329396177758671], [0.25, 0.25, 0.5]],
        rtol=1e-6,
    )
    unpaired = contact.unpaired
    assert unpaired.part == ["leftfoottop"] * 2 and unpaired.body_topology == "smpl"
    np.testing.assert_array_equal(unpaired.body_vertex, [3259, 3285])
    assert unpaired.body_vertex.dtype == np.int64
    assert contact.body_contact is None and contact.object_contact is None

    merged = merge_body_contact_vertices(None, unpaired.body_vertex, 6890)
    assert merged.dtype == np.float32 and merged.shape == (6890,)
    np.testing.assert_array_equal(np.flatnonzero(merged), [3259, 3285])
    assert (merged[[3259, 3285]] == 1).all()


def test_unpaired_body_contact_merges_with_contact_npz_by_maximum(tmp_path):
    folder = write_pico_folder(tmp_path, "npz")
    (folder / "corresponding_contacts.json").write_text(json.dumps(DEMO_CONTACTS))
    (folder / "object.obj").unlink()  # face indices stay unchecked without the mesh
    estimate = np.zeros(6890, np.float32)
    estimate[[100, 3259]] = [0.8, 0.3]
    np.savez(folder / "contact.npz", body_contact=estimate, body_topology=np.array("smpl"))
    contact = read_sample(folder).contact
    np.testing.assert_array_equal(contact.body_contact, estimate)  # read as written

    merged = merge_body_contact_vertices(
        contact.body_contact, contact.unpaired.body_vertex, len(contact.body_contact)
    )
    expected = estimate.copy()
    expected[[3259, 3285]] = 1.0
    np.testing.assert_array_equal(merged, expected)
    assert contact.body_contact[3259] == np.float32(0.3)  # the input is not changed
    with pytest.raises(ValueError, match="shape"):
        merge_body_contact_vertices(estimate[:10], contact.unpaired.body_vertex, 6890)


def test_unpaired_body_contact_round_trips(tmp_path):
    folder = write_pico_folder(tmp_path, "npz")
    write_grid_mesh(folder / "object.obj")
    (folder / "corresponding_contacts.json").write_text(json.dumps(DEMO_CONTACTS))
    read = read_sample(folder).contact
    write_contact(folder, SampleContact(pairs=read.pairs, unpaired=read.unpaired))
    written = json.loads((folder / "corresponding_contacts.json").read_text())
    assert [e["name"] for e in written["data"]] == [
        "humanShapeleftfoot", "objShapeleftfoot", "humanShaperightfoot", "objShaperightfoot",
        "humanShapeleftfoottop",
    ]  # fmt: skip
    assert written["data"][-1]["contactPoints"] == ["v 3259", "v 3285"]
    again = read_sample(folder).contact
    assert again.pairs.part == read.pairs.part and again.unpaired.part == read.unpaired.part
    for name in ("body_vertex", "object_face", "object_bary"):
        np.testing.assert_array_equal(getattr(again.pairs, name), getattr(read.pairs, name))
    np.testing.assert_array_equal(again.unpaired.body_vertex, read.unpaired.body_vertex)


def test_unequal_patch_counts_are_refused_in_one_line(tmp_path):
    folder = write_pico_folder(tmp_path, "npz")
    contacts = {
        "data": [
            {"name": "humanShapeleftfoot", "contactPoints": ["v 3220", "v 3237", "v 3238"]},
            {"name": "objShapeleftfoot", "contactPoints": ["f 0 1 0 0", "f 1 0 1 0"]},
            {"name": "humanShapeleftfoottop", "contactPoints": ["v 3259", "v 3285"]},
        ]
    }
    (folder / "corresponding_contacts.json").write_text(json.dumps(contacts))
    with pytest.raises(HoifitError) as error:
        read_sample(folder)
    message = str(error.value)
    assert "\n" not in message and "corresponding_contacts.json" in message
    assert "part 'leftfoot' pairs 3 body points with 2 object points" in message


def test_write_pairs_refuses_a_part_both_paired_and_unpaired(tmp_path):
    pairs = ContactPairs(np.array([1]), np.array([0]), np.full((1, 3), 1 / 3), ["foot"])
    with pytest.raises(ValueError, match="both paired and unpaired"):
        write_pairs(tmp_path, pairs, UnpairedBodyContact(np.array([2]), ["foot"]))
    with pytest.raises(ValueError, match="different meshes"):
        write_pairs(tmp_path, pairs, UnpairedBodyContact(np.array([2]), ["top"], "anny"))


def full_sample(topology: str = "anny") -> Sample:
    rng = np.random.default_rng(2)
    person, obj = masks()
    vertices = rng.normal(0, 0.2, (30, 3)).astype(np.float32)
    faces = rng.integers(0, 30, (40, 3))
    pairs = ContactPairs(
        body_vertex=np.array([3, 4, 5], dtype=np.int64),
        object_face=np.array([0, 7, 39], dtype=np.int64),
        object_bary=rng.dirichlet(np.ones(3), 3).astype(np.float32),
        part=["left_hand", "left_hand", "buttocks"],
        body_topology=topology,
    )
    return Sample(
        name="box__synth_0_0",
        folder=None,
        image=rng.integers(0, 255, (HEIGHT, WIDTH, 3), dtype=np.uint8),
        camera=Camera(70.5, 71.25, 30.1, 25.7, WIDTH, HEIGHT),
        object_mesh=ObjectMesh(vertices, faces, name="object"),
        object_category="box",
        person_mask=person,
        person_bbox=np.array([10.0, 5.0, 29.0, 39.0]),
        object_mask=obj,
        object_bbox=np.array([0.0, 0.0, 59.0, 44.0]),
        depth=np.where(person, rng.uniform(1, 3, person.shape), 0).astype(np.float32),
        keypoints_2d=np.concatenate(
            (rng.uniform(0, 40, (17, 2)), rng.uniform(0, 1, (17, 1))), 1
        ).astype(np.float32),
        body_init=BodyInit(
            "smplx",
            {
                "global_orient": rng.normal(size=(1, 3)).astype(np.float32),
                "body_pose": rng.normal(size=(1, 63)).astype(np.float32),
                "model_type": np.array("smplx"),
            },
        ),
        contact=SampleContact(
            body_contact=rng.uniform(0, 1, 13718).astype(np.float32),
            body_topology="anny",
            object_contact=rng.uniform(0, 1, 30).astype(np.float32),
            pairs=pairs,
            unpaired=UnpairedBodyContact(np.array([7, 9, 8]), ["foot_top"] * 3, topology),
        ),
    )


def assert_samples_equal(read: Sample, written: Sample):
    for name in ("name", "camera", "object_category"):
        assert getattr(read, name) == getattr(written, name)
    for name in (
        "image", "person_mask", "person_bbox", "object_mask", "object_bbox", "depth",
        "keypoints_2d",
    ):  # fmt: skip
        a, b = getattr(read, name), getattr(written, name)
        assert a.dtype == b.dtype and a.shape == b.shape, name
        np.testing.assert_array_equal(a, b, err_msg=name)
    np.testing.assert_array_equal(read.object_mesh.vertices, written.object_mesh.vertices)
    np.testing.assert_array_equal(read.object_mesh.faces, written.object_mesh.faces)
    assert read.body_init.backend == written.body_init.backend
    assert read.body_init.params.keys() == written.body_init.params.keys()
    for key, value in written.body_init.params.items():
        np.testing.assert_array_equal(read.body_init.params[key], value)
    a, b = read.contact, written.contact
    assert a.body_topology == b.body_topology
    np.testing.assert_array_equal(a.body_contact, b.body_contact)
    np.testing.assert_array_equal(a.object_contact, b.object_contact)
    assert a.pairs.part == b.pairs.part and a.pairs.body_topology == b.pairs.body_topology
    for name in ("body_vertex", "object_face", "object_bary"):
        np.testing.assert_array_equal(getattr(a.pairs, name), getattr(b.pairs, name))
    assert a.unpaired.part == b.unpaired.part
    assert a.unpaired.body_topology == b.unpaired.body_topology
    np.testing.assert_array_equal(a.unpaired.body_vertex, b.unpaired.body_vertex)


@pytest.mark.parametrize("detection_format", ["npz", "json"])
@pytest.mark.parametrize("topology", ["anny", "smpl"])
def test_every_hoifit_file_round_trips_exactly(tmp_path, detection_format, topology):
    sample = full_sample(topology)
    folder = write_sample(tmp_path / sample.name, sample, detection_format)
    assert (folder / f"{sample.name}.png").is_file()
    assert (folder / f"human_detection.{detection_format}").is_file()
    pairs_file = json.loads((folder / "corresponding_contacts.json").read_text())
    assert ("body_topology" in pairs_file) == (topology != "smpl")
    read = read_sample(folder)
    assert read.folder == folder
    assert_samples_equal(read, sample)


def test_object_mesh_is_stored_in_pico_orientation(tmp_path):
    sample = full_sample()
    folder = write_sample(tmp_path / sample.name, sample)
    stored = np.array(
        [line.split()[1:] for line in (folder / "object.obj").read_text().splitlines()
         if line.startswith("v ")],
        dtype=np.float32,
    )  # fmt: skip
    # Reading applies (x, y, z) -> (x, z, -y), so the file holds (x, -z, y).
    v = sample.object_mesh.vertices
    np.testing.assert_array_equal(stored, np.stack((v[:, 0], -v[:, 2], v[:, 1]), 1))


def test_npz_bytes_are_reproducible():
    arrays = {"a": np.arange(10.0), "b": np.array("anny")}
    assert npz_bytes(arrays) == npz_bytes(dict(arrays))
    with np.load(io.BytesIO(npz_bytes(arrays))) as data:
        np.testing.assert_array_equal(data["a"], arrays["a"])
        assert str(data["b"]) == "anny"


def ground_truth() -> GroundTruth:
    rng = np.random.default_rng(3)
    person, obj = masks()
    return GroundTruth(
        interaction="hold_box",
        object_category="box",
        body_backend="anny",
        body_params={"phenotypes": rng.uniform(size=(1, 6)), "model_type": np.array("anny")},
        body_vertices=rng.normal(size=(13718, 3)).astype(np.float32),
        object_rotation=np.eye(3),
        object_translation=np.array([0.1, 0.2, 3.0]),
        object_scale=1.05,
        object_vertices=rng.normal(size=(30, 3)).astype(np.float32),
        body_contact=(rng.uniform(size=13718) > 0.9).astype(np.float32),
        object_contact=(rng.uniform(size=30) > 0.5).astype(np.float32),
        pairs=ContactPairs(
            np.array([1, 2]),
            np.array([0, 3]),
            np.full((2, 3), 1 / 3, np.float32),
            ["left_hand", "right_hand"],
            "anny",
        ),  # fmt: skip
        K=np.array([[70.0, 0, 32], [0, 70, 24], [0, 0, 1]]),
        person_mask=person,
        object_mask=obj,
        keypoints_2d=np.zeros((17, 3), np.float32),
        summary={"interaction": "hold_box"},
    )


def test_ground_truth_round_trips(tmp_path):
    truth = ground_truth()
    write_ground_truth(tmp_path, truth)
    read = read_ground_truth(tmp_path)
    assert read.summary == truth.summary
    assert (read.interaction, read.object_category, read.body_backend) == (
        "hold_box", "box", "anny",
    )  # fmt: skip
    assert read.object_scale == truth.object_scale
    for name in ("body_vertices", "object_vertices", "body_contact", "K", "person_mask"):
        np.testing.assert_array_equal(getattr(read, name), getattr(truth, name))
    np.testing.assert_array_equal(read.body_params["phenotypes"], truth.body_params["phenotypes"])
    assert read.pairs.part == truth.pairs.part
    assert read_ground_truth(tmp_path / "missing") is None


def test_list_samples(tmp_path):
    write_pico_folder(tmp_path, "npz")
    sample = full_sample()
    write_sample(tmp_path / sample.name, sample)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "readme.txt").write_text("not a sample")
    (tmp_path / "file.txt").write_text("")
    assert list_samples(tmp_path) == [tmp_path / sample.name, tmp_path / PICO_NAME]
    with pytest.raises(HoifitError):
        list_samples(tmp_path / "file.txt")


def _set(folder: Path, name: str, content) -> None:
    path = folder / name
    if isinstance(content, dict):
        np.savez(path, **content)
    else:
        path.write_text(content)


MALFORMED = {
    "camera.json": [
        "{not json",
        json.dumps({"K": [[1, 0], [0, 1]]}),
        json.dumps({"K": np.eye(3).tolist(), "width": 10, "height": 10}),
    ],
    "depth.npz": [{"depth": np.zeros((3, 3))}, {"other": np.zeros((HEIGHT, WIDTH))}],
    "keypoints_2d.json": [json.dumps({"keypoints": np.zeros((16, 3)).tolist()}), "[]"],
    "human_detection.npz": [{"mask": np.zeros((10, 10), bool)}, {"score": np.ones(1)}],
    "object_detection.json": [
        json.dumps({"mask": {"size": [HEIGHT, WIDTH], "counts": [1, 2, 3]}}),
        json.dumps({"bbox": [5, 5, 1, 1]}),
        json.dumps({"mask": [[1, 0], [0, 1]]}),
    ],
    "contact.npz": [
        {"body_contact": np.zeros(10), "body_topology": np.array("smpl")},
        {"body_contact": np.full(6890, 2.0), "body_topology": np.array("smpl")},
        {"object_contact": np.zeros(3)},
    ],
    "corresponding_contacts.json": [
        json.dumps({"data": [{"name": "objShapea", "contactPoints": ["f 0 1 0 0"]}]}),
        json.dumps(
            {
                "data": [
                    {"name": "humanShapea", "contactPoints": ["v 1", "v 2"]},
                    {"name": "objShapea", "contactPoints": ["f 0 1 0 0"]},
                ]
            }
        ),
        json.dumps(
            {
                "data": [
                    {"name": "humanShapea", "contactPoints": ["x 1"]},
                    {"name": "objShapea", "contactPoints": ["f 0 1 0 0"]},
                ]
            }
        ),
        json.dumps(
            {
                "data": [
                    {"name": "humanShapea", "contactPoints": ["v 1"]},
                    {"name": "objShapea", "contactPoints": ["f 99 1 0 0"]},
                ]
            }
        ),
        json.dumps({"data": [], "body_topology": "mano"}),
        json.dumps({"data": [{"name": "humanShapea", "contactPoints": ["v 6890"]}]}),
    ],
    "body_init.npz": [{"global_orient": np.zeros((1, 3))}],
    "osx_human.npz": [{"hps_betas": np.zeros(10)}, {"hps_global_orient": np.zeros(3),
                                                     "hps_body_pose": np.zeros(60)}],
    "object.obj": ["v 1 2\nf 1 2 3\n", "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 9\n"],
}  # fmt: skip


@pytest.mark.parametrize(
    ("name", "content"), [(n, c) for n, contents in MALFORMED.items() for c in contents]
)
def test_malformed_files_give_a_one_line_error_naming_the_file(tmp_path, name, content):
    folder = write_pico_folder(tmp_path, "npz")
    if name == "object_detection.json":
        (folder / "object_detection.npz").unlink()
    _set(folder, name, content)
    with pytest.raises(HoifitError) as error:
        read_sample(folder)
    message = str(error.value)
    assert name in message and "\n" not in message


def test_malformed_ground_truth_names_the_file(tmp_path):
    np.savez(tmp_path / "ground_truth.npz", interaction=np.array("x"))
    with pytest.raises(HoifitError, match="ground_truth.npz"):
        read_ground_truth(tmp_path)


def test_a_folder_without_image_is_an_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(HoifitError, match="no image"):
        read_sample(tmp_path / "empty")


def test_object_frame_round_trip_and_errors(tmp_path):
    from reconstruction.sample_io import ObjectFrame, write_object_frame
    from reconstruction.sample_io.object_frame_file import read_object_frame

    write_object_frame(tmp_path, ObjectFrame(up="+z", units="cm"))
    assert read_object_frame(tmp_path / "object_frame.json") == ObjectFrame("+z", "cm")
    (tmp_path / "object_frame.json").write_text('{"up": "z"}')
    with pytest.raises(HoifitError, match="object_frame.json: object up axis must be one of"):
        read_object_frame(tmp_path / "object_frame.json")
    (tmp_path / "object_frame.json").write_text('{"up": "+y", "scale": 2}')
    with pytest.raises(HoifitError, match="expected"):
        read_object_frame(tmp_path / "object_frame.json")
