import numpy as np
import pytest
import torch

from reconstruction.body_models import build_body_model
from reconstruction.interaction_library import (
    BACKREST_PROBABILITY,
    CATEGORY_POSES,
    CONTACT_PARTS,
    INTERACTION_POSES,
    LYING,
    OTHER_POSE_WEIGHT,
    POSE_NAMES,
    STANDING,
    SUPPORT_PROBABILITY,
    canonical_category,
    category_pose_weights,
    contact_prior,
    object_contact_prior,
    pose_library,
    seat_front,
    support_length,
)
from reconstruction.synthetic.interactions import (
    INTERACTIONS,
    Stage,
    StagingFailed,
    check_staged,
    make_object_mesh,
)
from reconstruction.synthetic.poses import PoseBuilder

BACKENDS = ("anny", "smplx", "smpl")


@pytest.fixture(scope="module", params=BACKENDS)
def model(request, smplx_dir):
    if request.param == "anny":
        return request.getfixturevalue("anny")
    return build_body_model(request.param, model_dir=smplx_dir)


@pytest.fixture(scope="module")
def posed(model):
    """The library of `model`, and its bodies: vertices (N, V, 3) and joints (N, J, 3)."""
    library = pose_library(model)
    with torch.no_grad():
        out = model(library.params(model))
    return library, out.vertices.double().numpy(), out.joints.double().numpy()


def joint(model, joints, name):
    """(N, 3) the positions of a canonical joint ("knee.L") across the batch."""
    native = PoseBuilder(model).native_name(name)
    return joints[:, model.joint_names.index(native)]


def test_library_poses_are_finite_and_distinct(model, posed):
    library, vertices, _ = posed
    assert library.names == POSE_NAMES and len(library) == len(POSE_NAMES) >= 8
    assert library.body_pose.shape == (len(library), model.num_body_joints, 3)
    assert library.global_orient.shape == (len(library), 3)
    assert torch.isfinite(library.body_pose).all() and np.isfinite(vertices).all()
    # Every two poses move some vertex by more than 10 cm (pelvis-relative).
    gap = np.abs(vertices[:, None] - vertices[None]).max(axis=(2, 3))
    np.fill_diagonal(gap, np.inf)
    assert gap.min() > 0.1


def test_the_poses_look_like_their_names(model, posed):
    library, vertices, joints = posed
    at = library.index
    for side in "LR":
        hip, knee = joint(model, joints, f"hip.{side}"), joint(model, joints, f"knee.{side}")
        thigh = np.linalg.norm(knee - hip, axis=1)
        for name in ("sitting", "sitting_low", "crouching"):
            i = at(name)
            # Hips flexed about 90 degrees or more: the knee well in front of the hip.
            assert knee[i, 2] - hip[i, 2] > 0.7 * thigh[i], (name, side)
        sit = at("sitting")
        assert knee[sit, 1] < hip[sit, 1] + 0.02 and knee[sit, 2] - hip[sit, 2] > 0.9 * thigh[sit]
        # A low seat raises the knees above the hips.
        assert knee[at("sitting_low"), 1] > knee[sit, 1]
        stand = at("standing")
        assert hip[stand, 1] - knee[stand, 1] > 0.95 * thigh[stand]
        wrist = joint(model, joints, f"wrist.{side}")
        top = vertices[:, :, 1].max(1)
        assert wrist[at("arms_overhead"), 1] > joint(model, joints, "head")[at("arms_overhead"), 1]
        assert wrist[at("reaching_both_arms"), 2] > 0.3 and top[stand] > 0.6
    # Lying on the back: flat (thin in y), the front facing up.
    lying = vertices[at("lying_on_back")]
    extent = np.ptp(lying, axis=0)
    assert extent[1] < 0.5 * extent[2]
    # Bending: the head comes down towards the hips.
    head = joint(model, joints, "head")
    assert head[at("bending"), 1] < 0.6 * head[at("standing"), 1]


def test_params_of_the_library_belong_to_its_model(model, smplx_dir):
    library = pose_library(model)
    params = library.params(model)
    assert params.batch_size == len(library)
    assert torch.equal(params.transl, torch.zeros_like(params.transl))
    other = "smpl" if model.name != "smpl" else "smplx"
    with pytest.raises(ValueError, match="pose library"):
        library.params(build_body_model(other, model_dir=smplx_dir))


@pytest.mark.parametrize("category", [*CATEGORY_POSES, None, "unicorn", "Dining_Table"])
def test_category_weights_are_a_distribution(anny, category):
    library = pose_library(anny)
    weights = category_pose_weights(category, library)
    assert weights.shape == (len(library),) and (weights > 0).all()
    assert weights.sum() == pytest.approx(1.0)


def test_category_weights_favour_the_category_poses(anny):
    library = pose_library(anny)

    def best(category):
        return library.names[int(np.argmax(category_pose_weights(category, library)))]

    assert best("chair") == "sitting" and best("Office chairs") == "sitting"
    assert best("box") in {"carrying", "reaching_both_arms"}
    assert best("cup") == best("wine glass") == "holding_one_hand"
    uniform = category_pose_weights(None, library)
    np.testing.assert_allclose(uniform, 1 / len(library))
    np.testing.assert_allclose(category_pose_weights("unicorn", library), uniform)
    chair = category_pose_weights("chair", library)
    assert chair[library.index("lying_on_back")] < chair[library.index("hand_on_support")]


def test_category_names_are_read_leniently():
    assert canonical_category("dining table") == "table"
    assert canonical_category("sports_ball") == "ball"
    assert canonical_category("Chairs") == "chair"
    assert canonical_category("baseball bat") == "bat"
    assert canonical_category("") is None and canonical_category("giraffe") is None


def test_every_interaction_is_covered_by_the_tables(anny):
    for name, interaction in INTERACTIONS.items():
        pose = INTERACTION_POSES[name]
        assert pose in POSE_NAMES
        # The staged pose is among those its category weighs above the rest.
        assert CATEGORY_POSES[interaction.category].get(pose, OTHER_POSE_WEIGHT) >= 0.5, name
        # Every contact group of the interaction has prior contact.
        prior = contact_prior(anny, interaction.category)
        for group in interaction.contact_groups:
            touching = np.concatenate([anny.parts[p].numpy() for p in group])
            assert prior[touching].max() > 0, (name, group)


def test_contact_prior_marks_the_parts_that_touch(model):
    parts = {name: idx.numpy() for name, idx in model.parts.items()}
    chair = contact_prior(model, "chair")
    assert chair.shape == (model.num_vertices,) and chair.dtype == np.float32
    assert (chair[parts["buttocks"]] == 0.8).all() and (chair[parts["head"]] == 0).all()
    assert (chair[parts["hands"]] > 0).all() and chair.max() <= 1
    box = contact_prior(model, "box")
    assert (box[parts["hands"]] >= 0.5).all() and (box[parts["head"]] == 0).all()
    assert (box[parts["buttocks"]] == 0).all()
    ball = contact_prior(model, "ball")
    assert (ball[parts["feet"]] > 0).all() and (ball[parts["hands"]] > 0).all()
    assert not contact_prior(model, None).any() and not contact_prior(model, "giraffe").any()
    for category in CONTACT_PARTS:
        assert (contact_prior(model, category)[parts["head"]] == 0).all()


def test_a_standing_body_touches_a_support_with_its_hands_only(model):
    parts = {name: idx.numpy() for name, idx in model.parts.items()}
    for category in ("chair", "table", "bench"):
        standing = contact_prior(model, category, STANDING)
        assert (standing[parts["hands"]] > 0).all(), category
        assert standing[parts["buttocks"]].max() == 0 and standing[parts["back"]].max() == 0
    # A handheld object's prior does not depend on the body's posture.
    for posture in (STANDING, LYING):
        np.testing.assert_array_equal(
            contact_prior(model, "box", posture), contact_prior(model, "box")
        )


def test_a_lying_body_touches_a_support_with_what_it_lies_on(model):
    parts = {name: idx.numpy() for name, idx in model.parts.items()}
    table = contact_prior(model, "table", LYING)
    # The table's likeliest part (the hands, 0.7) gives way to the back and buttocks.
    assert (table[parts["back"]] == 0.7).all() and (table[parts["buttocks"]] == 0.7).all()
    assert table[parts["hands"]].max() == 0 and table[parts["head"]].max() == 0
    bed = contact_prior(model, "bed", LYING)
    assert (bed[parts["legs"]] == 0.7).all()


@pytest.mark.parametrize("category", ["chair", "stool", "bench", "table"])
def test_object_prior_is_the_top_of_a_support(category):
    vertices, _ = make_object_mesh(category)
    prior = object_contact_prior(vertices, category)
    assert prior.shape == (len(vertices),) and prior.dtype == np.float32
    marked = vertices[np.isclose(prior, SUPPORT_PROBABILITY)]
    seat = {"chair": 0.45, "stool": 0.45, "bench": 0.45, "table": 0.74}[category]
    # The whole top and nothing else at the seat's probability: not the legs.
    assert np.abs(marked[:, 1] - seat).max() <= 0.031
    # A chair's backrest, and only the part well above the seat, at the backrest's.
    backrest = vertices[np.isclose(prior, BACKREST_PROBABILITY)]
    assert (len(backrest) > 0) == (category == "chair")
    assert len(backrest) == 0 or backrest[:, 1].min() > seat + 0.1
    levels = np.array([0.0, SUPPORT_PROBABILITY, BACKREST_PROBABILITY], np.float32)
    assert np.isin(prior, levels).all()
    top = np.abs(vertices[:, 1] - seat) < 1e-4
    middle = (np.abs(vertices[:, 0]) < 0.1) & (np.abs(vertices[:, 2]) < 0.1)
    assert (prior[top & middle] > 0).all()


def test_object_prior_of_handheld_and_unknown_objects():
    ball, _ = make_object_mesh("ball")
    assert (object_contact_prior(ball, "sports ball") == 0.5).all()
    assert object_contact_prior(ball, None) is None
    assert object_contact_prior(ball, "giraffe") is None


@pytest.mark.slow
def test_staged_interactions_are_near_their_library_pose(anny):
    """Each interaction, staged, is closer to its library pose than to most others."""
    library = pose_library(anny)
    poser = PoseBuilder(anny)
    with torch.no_grad():
        joints = anny(library.params(anny)).joints.double().numpy()
    for name, interaction in INTERACTIONS.items():
        vertices, faces = make_object_mesh(interaction.category, **interaction.object_kwargs)
        for attempt in range(30):
            rng = np.random.default_rng([0, attempt])
            stage = Stage(poser, vertices, faces, anny.default_betas.numpy())
            try:
                staged = interaction.stage(stage, rng)
                check_staged(stage, staged, interaction)
                break
            except StagingFailed:
                continue
        else:
            pytest.fail(f"{name} did not stage")
        error = np.linalg.norm(joints - staged.body.joints, axis=2).mean(1)
        rank = int((error < error[library.index(INTERACTION_POSES[name])]).sum())
        assert rank <= 2, (name, library.names[int(np.argmin(error))])


def test_a_seat_faces_away_from_its_backrest():
    from reconstruction.procedural_objects import chair, stool

    vertices = np.asarray(chair().vertices)  # backrest at -z: a sitter faces +z
    # A low-poly seat has vertices at its corners only: its top is found all the same.
    prior = object_contact_prior(vertices, "chair")
    on_seat = np.abs(vertices[:, 1] - 0.45) < 1e-6
    assert (prior[on_seat & (vertices[:, 2] > -0.17)] == SUPPORT_PROBABILITY).all()
    assert (prior[vertices[:, 1] > 0.8] == BACKREST_PROBABILITY).all()
    np.testing.assert_allclose(seat_front(vertices, "chair"), [0.0, 0.0, 1.0], atol=1e-6)
    turned = vertices @ np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]]).T
    np.testing.assert_allclose(seat_front(turned, "armchair"), [1.0, 0.0, 0.0], atol=1e-6)
    # No backrest, no front: a stool, a table, or a chair mesh cut below its backrest.
    assert seat_front(np.asarray(stool().vertices), "stool") is None
    assert seat_front(vertices, "table") is None
    assert seat_front(vertices[vertices[:, 1] < 0.46], "chair") is None


def test_a_bench_is_sat_on_across_its_length():
    from reconstruction.procedural_objects import bench

    long_in_x = np.asarray(bench(length=1.5, depth=0.35).vertices)
    np.testing.assert_allclose(np.abs(seat_front(long_in_x, "bench")), [0.0, 0.0, 1.0], atol=1e-6)
    turned = long_in_x @ np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]]).T
    np.testing.assert_allclose(np.abs(seat_front(turned, "bench")), [1.0, 0.0, 0.0], atol=1e-6)
    # A bench as deep as long tells no facing.
    assert seat_front(np.asarray(bench(length=0.5, depth=0.45).vertices), "bench") is None


def test_a_body_lies_along_its_support():
    from reconstruction.procedural_objects import table

    long_in_x = np.asarray(table(width=1.0, depth=0.75).vertices)
    np.testing.assert_allclose(np.abs(support_length(long_in_x, "table")), [1, 0, 0], atol=1e-6)
    turned = long_in_x @ np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]]).T
    np.testing.assert_allclose(np.abs(support_length(turned, "bench")), [0, 0, 1], atol=1e-6)
    # Vertices crowded at the top's corners (where a finer mesh's legs meet it) change nothing.
    corners = long_in_x[np.abs(long_in_x[:, 1] - long_in_x[:, 1].max()) < 1e-6]
    crowded = np.concatenate([long_in_x] + [corners] * 50)
    np.testing.assert_allclose(np.abs(support_length(crowded, "table")), [1, 0, 0], atol=1e-6)
    # A square top, or no support, tells nothing.
    assert support_length(np.asarray(table(width=0.8, depth=0.75).vertices), "table") is None
    assert support_length(long_in_x, "box") is None
