import dataclasses
import math

import numpy as np
import pytest
import smplx
import torch

from reconstruction.body_models import BACKENDS, BodyParams, build_body_model
from reconstruction.body_models.base import ARM_DROP_DEG, COCO17_NAMES, PART_UNIONS
from reconstruction.rotations import (
    axis_angle_to_matrix,
    matrix_to_rotation_6d,
    rotation_6d_to_matrix,
)
from tests.reconstruction.smplx_format import SMPL_VERTICES, SMPLX_VERTICES

LIMB_PARTS = (
    "left_hand",
    "right_hand",
    "left_foot",
    "right_foot",
    "left_arm",
    "right_arm",
    "left_leg",
    "right_leg",
)
REQUIRED_PARTS = (*LIMB_PARTS, "torso", "back", "buttocks", "head", *PART_UNIONS)
NUM_VERTICES = {"anny": 13718, "smplx": SMPLX_VERTICES, "smpl": SMPL_VERTICES}
LEFT_SHOULDER = {"anny": "upperarm01.L", "smplx": "left_shoulder", "smpl": "left_shoulder"}
KP = {name: i for i, name in enumerate(COCO17_NAMES)}


def build(backend, smplx_dir, **kwargs):
    # Anny's first build on a machine takes about 80 s (then a process-wide cache serves it).
    return build_body_model(backend, model_dir=None if backend == "anny" else smplx_dir, **kwargs)


@pytest.fixture(scope="session", params=BACKENDS)
def model(request, smplx_dir):
    return build(request.param, smplx_dir)


@pytest.fixture(scope="session", params=BACKENDS)
def model64(request, smplx_dir):
    return build(request.param, smplx_dir, dtype=torch.float64)


def random_params(model, batch_size=2, seed=0, scale=0.3):
    g = torch.Generator().manual_seed(seed)

    def noise(t):
        return t + scale * torch.randn(t.shape, generator=g, dtype=t.dtype).to(t.device)

    p = model.zero_params(batch_size)
    betas = noise(p.betas)
    if model.name == "anny":
        betas = betas.clamp(0.05, 0.95)
    return BodyParams(
        global_orient=noise(p.global_orient),
        body_pose=noise(p.body_pose),
        betas=betas,
        transl=noise(p.transl),
        left_hand_pose=None if p.left_hand_pose is None else noise(p.left_hand_pose),
        right_hand_pose=None if p.right_hand_pose is None else noise(p.right_hand_pose),
    )


def apply(params, fn):
    return BodyParams(
        **{
            f.name: None if getattr(params, f.name) is None else fn(getattr(params, f.name))
            for f in dataclasses.fields(params)
        }
    )


def part_mean(model, output, part):
    return output.vertices[0, model.parts[part]].mean(0)


def test_outputs_have_the_documented_shapes(model):
    out = model(model.zero_params(2))
    assert out.vertices.shape == (2, NUM_VERTICES[model.name], 3)
    assert out.joints.shape == (2, len(model.joint_names), 3)
    assert out.vertices.dtype == out.joints.dtype == torch.float32
    assert out.faces.dtype == torch.long and out.faces.shape[1] == 3
    assert 0 <= out.faces.min() and out.faces.max() < model.num_vertices
    assert model.num_vertices == NUM_VERTICES[model.name]
    assert len(model.body_joint_names) == model.num_body_joints
    assert list(model.parameters()) == []


def test_anny_is_the_full_body_with_documented_defaults(smplx_dir):
    model = build("anny", smplx_dir)
    assert (model.num_vertices, model.faces.shape[0]) == (13718, 27420)
    assert model.num_body_joints == 35 and model.num_hand_joints == 19 and model.num_betas == 6
    assert model.default_betas.tolist() == pytest.approx([0.5, 0.8, 0.5, 0.5, 0.5, 0.5])
    assert build("anny", smplx_dir, gender="female").default_betas[0] == 1
    vertices = model(model.zero_params()).vertices[0]
    assert 1.6 < (vertices[:, 1].max() - vertices[:, 1].min()) < 2.0


def test_batch_rows_match_single_bodies(model):
    params = random_params(model)
    batch = model(params)
    for i in range(2):
        single = model(apply(params, lambda t, i=i: t[i : i + 1]))
        assert torch.allclose(single.vertices[0], batch.vertices[i], atol=1e-5)


@pytest.mark.parametrize("start", ["zero", "random"])
def test_gradients_reach_every_parameter(model, start):
    # The zero pose is where axis-angle is singular.
    params = model.zero_params(2) if start == "zero" else random_params(model)
    params = apply(params, lambda t: t.clone().requires_grad_())
    out = model(params)
    (out.vertices.square().sum() + model.coco17_keypoints(out).sum()).backward()
    for name in ("global_orient", "body_pose", "betas", "transl", "left_hand_pose"):
        tensor = getattr(params, name)
        if tensor is None:
            continue
        assert torch.isfinite(tensor.grad).all(), name
        assert tensor.grad.abs().sum() > 0, name


def test_gradients_flow_through_6d_rotations(model):
    params = random_params(model).to_matrices()
    d6 = matrix_to_rotation_6d(params.body_pose).clone().requires_grad_()
    params.body_pose = rotation_6d_to_matrix(d6)
    model(params).vertices.square().sum().backward()
    assert torch.isfinite(d6.grad).all() and d6.grad.abs().sum() > 0


def test_gradcheck_in_float64(model64):
    params = random_params(model64, batch_size=1, scale=0.2)
    picked = torch.arange(0, model64.num_vertices, 997)
    pose_tail = params.body_pose[:, 4:]

    def vertices(global_orient, pose_head, betas, transl):
        body_pose = torch.cat((pose_head, pose_tail), dim=1)
        p = BodyParams(
            global_orient, body_pose, betas, transl, params.left_hand_pose, params.right_hand_pose
        )
        return model64(p).vertices[:, picked]

    inputs = (params.global_orient, params.body_pose[:, :4], params.betas, params.transl)
    inputs = [t.clone().requires_grad_() for t in inputs]
    assert torch.autograd.gradcheck(vertices, inputs, atol=1e-6, rtol=1e-4)


def test_axis_angle_and_matrices_give_the_same_body(model):
    params = random_params(model)
    from_axis_angle = model(params)
    from_matrices = model(params.to_matrices())
    assert torch.allclose(from_axis_angle.vertices, from_matrices.vertices, atol=1e-5)
    assert torch.allclose(from_axis_angle.joints, from_matrices.joints, atol=1e-5)


def test_rotation_forms_are_told_apart_by_rank(model):
    params = model.zero_params()
    params.body_pose = torch.zeros(1, model.num_body_joints * 3)
    with pytest.raises(ValueError, match="axis-angle"):
        model(params)


def test_zero_pose_is_y_up_facing_z_with_the_root_at_the_origin(model):
    out = model(model.zero_params())
    keypoints = model.coco17_keypoints(out)[0]
    assert torch.allclose(out.joints[0, 0], torch.zeros(3), atol=1e-6)
    head, feet = part_mean(model, out, "head"), part_mean(model, out, "feet")
    assert head[1] > 0.4 and feet[1] < -0.6
    assert keypoints[KP["nose"], 2] > head[2] + 0.03
    # Toes point forward, and the body's left is +x.
    assert part_mean(model, out, "left_foot")[2] > keypoints[KP["left_ankle"], 2]
    assert (
        part_mean(model, out, "left_hand")[0] > 0.3 > -0.3 > part_mean(model, out, "right_hand")[0]
    )


def test_global_orient_turns_about_the_root_and_transl_moves_it(model):
    params = random_params(model, batch_size=1)
    params.global_orient.zero_()
    params.transl.zero_()
    at_origin = model(params).vertices[0]
    rotation = torch.tensor([[0.3, -1.2, 0.5]])
    params.global_orient = rotation
    params.transl = torch.tensor([[0.5, -0.2, 3.0]])
    moved = model(params).vertices[0]
    expected = at_origin @ axis_angle_to_matrix(rotation)[0].T + params.transl
    assert torch.allclose(moved, expected, atol=1e-5)


def test_joint_rotations_use_the_axes_of_the_zero_pose(model):
    # A rotation about +z at the left shoulder lowers the left arm within the frontal plane,
    # whatever the backend's native frame.
    params = model.zero_params()
    before = model.coco17_keypoints(model(params))[0, KP["left_wrist"]]
    params.body_pose[0, model.body_joint_names.index(LEFT_SHOULDER[model.name])] = torch.tensor(
        [0.0, 0.0, -0.3]
    )
    after = model.coco17_keypoints(model(params))[0, KP["left_wrist"]]
    assert after[1] < before[1] - 0.05
    assert abs(after[2] - before[2]) < 0.02


def test_coco17_keypoints_are_plausible(model):
    keypoints = model.coco17_keypoints(model(model.zero_params(2)))
    assert keypoints.shape == (2, 17, 3)
    k = keypoints[0]
    for left, right in (("left_shoulder", "right_shoulder"), ("left_hip", "right_hip")):
        assert k[KP[left], 0] > 0.05 > -0.05 > k[KP[right], 0]
    assert k[KP["nose"], 1] > k[KP["left_eye"], 1] - 0.05
    assert k[KP["nose"], 1] > k[KP["left_shoulder"], 1] > k[KP["left_hip"], 1]
    assert k[KP["left_hip"], 1] > k[KP["left_knee"], 1] > k[KP["left_ankle"], 1]
    out = model(model.zero_params())
    head = out.vertices[0, model.parts["head"]]
    assert (head - k[KP["nose"]]).norm(dim=-1).min() < 0.02


def test_parts_partition_the_body_and_sit_where_named(model):
    parts = model.parts
    assert set(REQUIRED_PARTS) <= set(parts)
    for name in REQUIRED_PARTS:
        assert len(parts[name]) > 0, name
        assert parts[name].dtype == torch.long
    own = [name for name in parts if name not in PART_UNIONS]
    counts = torch.zeros(model.num_vertices, dtype=torch.long)
    for name in own:
        counts[parts[name]] += 1
    assert (counts == 1).all()
    for union, members in PART_UNIONS.items():
        assert parts[union].tolist() == sorted(torch.cat([parts[m] for m in members]).tolist())

    out = model(model.zero_params())
    torso, back = part_mean(model, out, "torso"), part_mean(model, out, "back")
    buttocks = part_mean(model, out, "buttocks")
    assert back[2] < torso[2] and buttocks[2] < torso[2]
    assert buttocks[1] < back[1] and buttocks[1] < torso[1]
    assert part_mean(model, out, "left_arm")[0] > 0 > part_mean(model, out, "right_arm")[0]
    assert part_mean(model, out, "left_foot")[1] < part_mean(model, out, "left_leg")[1]


def test_part_joints_move_their_own_limb_only(model):
    others = {"left": "right", "right": "left"}
    for part in ("left_arm", "right_leg", "left_hand", "right_foot"):
        joints = model.part_joints[part]
        assert joints and all(0 <= j < model.num_body_joints for j in joints)
        params = model.zero_params()
        rest = model(params).vertices[0]
        params.body_pose[0, joints] = torch.tensor([0.2, 0.3, -0.4])
        moved = (model(params).vertices[0] - rest).norm(dim=-1)
        side, _, limb = part.partition("_")
        assert moved[model.parts[part]].max() > 0.01, part
        assert moved[model.parts[f"{others[side]}_{limb}"]].max() < 1e-6, part
    for union, members in PART_UNIONS.items():
        assert model.part_joints[union] == sorted(
            set(model.part_joints[members[0]]) | set(model.part_joints[members[1]])
        )


def test_canonical_pose_opens_arms_and_legs(model):
    params = model.canonical_params(3)
    assert params.body_pose.shape == (3, model.num_body_joints, 3)
    rest, open_ = model(model.zero_params()), model(params)
    k_rest, k_open = model.coco17_keypoints(rest)[0], model.coco17_keypoints(open_)[0]

    arm = k_open[KP["left_wrist"]] - k_open[KP["left_shoulder"]]
    drop = math.degrees(math.atan2(-arm[1], arm[0]))
    assert abs(drop - ARM_DROP_DEG) < 5
    assert abs(arm[2]) < 0.1 * arm.norm()

    def gap(output, a, b):
        va = output.vertices[0, model.parts[a]]
        vb = output.vertices[0, model.parts[b]]
        return torch.cdist(va, vb).min()

    body = ("torso", "back", "buttocks", "left_leg", "right_leg")
    assert (
        min(gap(open_, hand, part) for hand in ("left_hand", "right_hand") for part in body) > 0.08
    )

    def ankle_spread(k):
        return (k[KP["left_ankle"]] - k[KP["right_ankle"]]).norm()

    assert ankle_spread(k_open) > ankle_spread(k_rest)


def test_npz_round_trip_gives_the_same_body(model64, tmp_path):
    params = random_params(model64)
    path = tmp_path / "body.npz"
    np.savez(path, **model64.to_npz_dict(params))
    loaded = model64.params_from_npz(dict(np.load(path)))
    assert torch.allclose(model64(loaded).vertices, model64(params).vertices, atol=1e-9)


@pytest.mark.parametrize("model_type", ["smplx", "smpl"])
def test_exported_npz_loads_into_smplx_directly(model_type, smplx_dir, tmp_path):
    model = build(model_type, smplx_dir)
    params = random_params(model, batch_size=1)
    path = tmp_path / "body.npz"
    np.savez(path, **model.to_npz_dict(params))

    d = dict(np.load(path))
    options = {"num_betas": d["betas"].shape[1]}
    if model_type == "smplx":
        options.update(
            use_pca=False, flat_hand_mean=True, num_expression_coeffs=d["expression"].shape[1]
        )
    theirs = smplx.create(
        smplx_dir,
        model_type=str(d.pop("model_type")),
        gender=str(d.pop("gender")),
        **options,
        **d,
    )
    assert torch.allclose(theirs().vertices, model(params).vertices, atol=1e-5)


def test_exported_anny_parameters_drive_anny_directly(smplx_dir):
    import anny

    model = build("anny", smplx_dir, dtype=torch.float64)
    params = random_params(model)
    d = model.to_npz_dict(params)
    theirs = anny.Anny(pose_parameterization=str(d["pose_parameterization"]), skinning_method="lbs")
    native = theirs(
        pose_parameters=torch.from_numpy(d["pose_parameters"]),
        phenotype_kwargs=dict(
            zip(
                [str(k) for k in d["phenotype_labels"]],
                torch.from_numpy(d["phenotypes"].T),
                strict=True,
            )
        ),
    )["vertices"]
    ours = model(params).vertices @ torch.from_numpy(d["native_to_hoifit"])
    assert torch.allclose(native, ours, atol=1e-9)


def test_anny_import_warns_about_dropped_bones(smplx_dir):
    model = build("anny", smplx_dir)
    d = model.to_npz_dict(model.zero_params())
    toe = model.joint_names.index("toe1-1.L")
    d["pose_parameters"][0, toe, :3, :3] = axis_angle_to_matrix(torch.tensor([0.5, 0, 0])).numpy()
    with pytest.warns(UserWarning, match="toe1-1.L"):
        model.params_from_npz(d)


def test_smplx_import_rejects_other_shape_sizes(model):
    if model.name == "anny":
        pytest.skip("Anny's phenotypes are named, missing ones take the defaults")
    d = model.to_npz_dict(model.zero_params())
    d["betas"] = np.zeros((1, model.num_betas + 1), dtype=np.float32)
    with pytest.raises(ValueError, match="num_betas"):
        model.params_from_npz(d)


def test_smplx_import_drops_the_face_and_fills_missing_hands(smplx_dir):
    model = build("smplx", smplx_dir)
    d = model.to_npz_dict(model.zero_params())
    d["jaw_pose"] = np.full((1, 3), 0.2, dtype=np.float32)
    del d["left_hand_pose"]
    with pytest.warns(UserWarning, match="face"):
        params = model.params_from_npz(d)
    assert params.left_hand_pose.shape == (1, 15, 3) and not params.left_hand_pose.any()


@pytest.mark.parametrize(
    ("backend", "expected", "url"),
    [
        ("smplx", "smplx/SMPLX_FEMALE.npz", "https://smpl-x.is.tue.mpg.de"),
        ("smpl", "smpl/SMPL_NEUTRAL.pkl", "https://smpl.is.tue.mpg.de"),
    ],
)
def test_missing_model_file_is_a_clear_error(backend, expected, url, tmp_path, monkeypatch):
    monkeypatch.delenv("HOIFIT_SMPLX_DIR", raising=False)
    gender = "female" if backend == "smplx" else "neutral"
    with pytest.raises(FileNotFoundError) as error:
        build_body_model(backend, model_dir=str(tmp_path), gender=gender)
    message = str(error.value)
    assert expected in message and "HOIFIT_SMPLX_DIR" in message and url in message
    assert "\n" not in message
    with pytest.raises(FileNotFoundError, match="HOIFIT_SMPLX_DIR"):
        build_body_model(backend)


def test_model_folder_comes_from_the_environment(smplx_dir, monkeypatch):
    monkeypatch.setenv("HOIFIT_SMPLX_DIR", smplx_dir)
    assert build_body_model("smpl").num_vertices == SMPL_VERTICES


def test_unknown_backend_and_gender_are_rejected():
    with pytest.raises(ValueError, match="anny, smplx, smpl"):
        build_body_model("mano")
    with pytest.raises(ValueError, match="gender"):
        build_body_model("anny", gender="other")


def test_params_helpers(model):
    params = random_params(model).to(dtype=torch.float64)
    assert params.batch_size == 2 and params.betas.dtype == torch.float64
    grad = apply(params, lambda t: t.clone().requires_grad_()).detach()
    assert not grad.body_pose.requires_grad
    back = params.to_matrices().to_axis_angle()
    assert torch.allclose(
        axis_angle_to_matrix(back.body_pose), axis_angle_to_matrix(params.body_pose), atol=1e-9
    )


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_models_run_on_cuda(model, smplx_dir):
    on_gpu = build(model.name, smplx_dir, device="cuda")
    params = random_params(model)
    out = on_gpu(params.to("cuda"))
    assert out.vertices.device.type == "cuda"
    assert on_gpu.parts["hands"].device.type == "cuda"
    assert torch.allclose(out.vertices.cpu(), model(params).vertices, atol=1e-4)
    assert torch.allclose(
        on_gpu.coco17_keypoints(out).cpu(), model.coco17_keypoints(model(params)), atol=1e-4
    )
    assert torch.allclose(
        on_gpu.canonical_params().body_pose.cpu(), model.canonical_params().body_pose, atol=1e-4
    )
