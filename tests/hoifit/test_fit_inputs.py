"""What the fitting reads of a sample: annotated contact, else the category's contact prior."""

import shutil
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from hoifit.config import load_config
from hoifit.fit_inputs import prepare_fit_inputs
from reconstruction.sample_io import read_sample

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "chair__synth_0_0"


def test_annotated_contact_is_used_as_is(anny):
    sample = read_sample(EXAMPLE)
    inputs = prepare_fit_inputs(sample, anny, load_config("fast").fit, torch.device("cpu"))
    assert inputs.num_pairs > 0
    np.testing.assert_allclose(inputs.body_contact.numpy(), sample.contact.body_contact)


def test_without_contact_the_category_prior_pulls_the_seat_parts(anny, tmp_path):
    folder = shutil.copytree(EXAMPLE, tmp_path / EXAMPLE.name)
    (folder / "contact.npz").unlink()
    (folder / "corresponding_contacts.json").unlink()
    sample = read_sample(folder)
    config = load_config("fast").fit
    inputs = prepare_fit_inputs(sample, anny, config, torch.device("cpu"), category="chair")
    contact = inputs.body_contact
    assert contact is not None and inputs.num_pairs == 0 and inputs.contact_is_prior
    assert contact[anny.parts["buttocks"]].min() > 0.5
    assert contact[anny.parts["head"]].max() == 0
    # The object side: the seat's top, not its legs.
    top = inputs.object_vertices[:, 1] > inputs.object_vertices[:, 1].quantile(0.5)
    assert inputs.object_contact is not None and inputs.object_contact[~top].max() < 0.7

    config.contact_prior = False
    off = prepare_fit_inputs(sample, anny, config, torch.device("cpu"), category="chair")
    assert off.body_contact is None and off.object_contact is None and not off.contact_is_prior


def test_learned_contact_on_the_buttocks_faces_the_body_the_seats_way(anny, tmp_path):
    folder = shutil.copytree(EXAMPLE, tmp_path / EXAMPLE.name)
    (folder / "corresponding_contacts.json").unlink()  # body contact alone, as a model gives it
    sample = read_sample(folder)
    config = load_config("fast").fit
    inputs = prepare_fit_inputs(sample, anny, config, torch.device("cpu"), category="chair")
    assert inputs.num_pairs == 0 and not inputs.contact_is_prior
    assert inputs.body_contact[anny.parts["buttocks"]].max() > 0.5
    assert inputs.seat_front is not None
    # Contact that leaves the buttocks (a hand on the chair) says nothing of a seated body.
    sample.contact.body_contact[anny.parts["buttocks"].numpy()] = 0.0
    sample.contact.body_contact[anny.parts["torso"].numpy()] = 0.0
    hand = prepare_fit_inputs(sample, anny, config, torch.device("cpu"), category="chair")
    assert hand.seat_front is None


def test_the_photo_decides_which_hand_holds_the_object(anny):
    from dataclasses import replace

    from hoifit.fit_inputs import _drop_limbs_away_from_object

    prior = np.zeros(anny.num_vertices, dtype=np.float32)
    for part in ("left_hand", "right_hand", "arms"):
        prior[anny.parts[part].numpy()] = 0.5
    mask = np.zeros((200, 200), dtype=bool)
    mask[90:110, 20:40] = True  # the object, beside the right wrist
    keypoints = np.zeros((17, 3))
    keypoints[:, 2] = 1.0
    keypoints[0, :2], keypoints[15, :2] = (100, 10), (100, 190)  # 180 px tall
    keypoints[10, :2] = (45, 100)  # right wrist 5 px from the object: near
    keypoints[9, :2] = (160, 100)  # left wrist 120 px away: away
    sample = replace(read_sample(EXAMPLE), keypoints_2d=keypoints, object_mask=mask)
    kept = _drop_limbs_away_from_object(prior, anny, sample)
    assert kept[anny.parts["left_hand"]].max() == 0 and kept[anny.parts["left_arm"]].max() == 0
    assert (
        kept[anny.parts["right_hand"]].min() == 0.5 and kept[anny.parts["right_arm"]].min() == 0.5
    )

    keypoints[9, :2] = (60, 100)  # both wrists near (a box in both hands): both stay
    np.testing.assert_array_equal(_drop_limbs_away_from_object(prior, anny, sample), prior)
    keypoints[9, 2] = keypoints[10, 2] = 0.1  # wrists unseen: the prior stays
    keypoints[9, :2] = (160, 100)
    np.testing.assert_array_equal(_drop_limbs_away_from_object(prior, anny, sample), prior)


def test_a_ball_at_the_feet_is_kicked_not_held(anny):
    from dataclasses import replace

    from hoifit.fit_inputs import _drop_limbs_away_from_object

    prior = np.zeros(anny.num_vertices, dtype=np.float32)
    for part in ("left_hand", "right_hand", "left_foot", "right_foot"):
        prior[anny.parts[part].numpy()] = 0.6
    mask = np.zeros((200, 200), dtype=bool)
    mask[180:200, 60:80] = True  # the ball, at the right foot
    keypoints = np.zeros((17, 3))
    keypoints[:, 2] = 1.0
    keypoints[0, :2] = (100, 10)
    keypoints[9, :2], keypoints[10, :2] = (130, 100), (70, 100)  # wrists, far from the ball
    keypoints[15, :2], keypoints[16, :2] = (110, 190), (85, 190)  # ankles: right one near
    sample = replace(read_sample(EXAMPLE), keypoints_2d=keypoints, object_mask=mask)
    kept = _drop_limbs_away_from_object(prior, anny, sample)
    assert kept[anny.parts["right_foot"]].min() == 0.6
    for part in ("left_hand", "right_hand"):
        assert kept[anny.parts[part]].max() == 0
    # Nothing near the ball: the photo does not say what touches it, the prior stays.
    keypoints[15, :2] = keypoints[16, :2] = (100, 120)
    np.testing.assert_array_equal(_drop_limbs_away_from_object(prior, anny, sample), prior)


def test_standing_is_told_from_the_thighs_and_a_level_floor(anny):
    from hoifit.fit_inputs import _standing
    from optim.body_init import facing_hypotheses
    from reconstruction.interaction_library import pose_library

    sample = read_sample(EXAMPLE)
    library = pose_library(anny)
    poses = library.params(anny)
    bodies = facing_hypotheses(anny, sample.keypoints_2d, sample.camera, 3.0, 1, poses)
    level = torch.tensor([0.0, -1.0, 0.0])  # the camera frame's up: y points down
    wall = torch.tensor([1.0, 0.0, 0.0])
    with torch.no_grad():
        keypoints = dict(zip(library.names, anny.coco17_keypoints(anny(bodies)), strict=True))
    assert _standing(keypoints["standing"], level)
    assert _standing(keypoints["hand_on_support"], level)
    assert not _standing(keypoints["sitting"], level)
    assert not _standing(keypoints["lying_on_back"], level)
    # A floor that is not level (the feet of a lying body make it a wall) tells nothing.
    assert not _standing(keypoints["standing"], wall)


def test_the_depth_map_is_scaled_to_the_body():
    import trimesh

    from hoifit.fit_inputs import _depth_scale_to_body
    from reconstruction.rasterizer import render_depth

    sphere = trimesh.creation.icosphere(subdivisions=3, radius=0.5)
    vertices = torch.tensor(sphere.vertices, dtype=torch.float32) + torch.tensor([0, 0, 3.0])
    faces = torch.tensor(sphere.faces)
    K = torch.tensor([[100.0, 0, 32], [0, 100.0, 32], [0, 0, 1]])
    truth = render_depth(vertices[None], faces, K, (64, 64))[0]
    mask = (truth > 0).float()
    # A monocular estimate 20% too far, with its edges bled into the background and some
    # pixels far off; elsewhere (the object, the floor) the same scale error.
    observed = truth * 1.2
    edge = (mask > 0) & (F.max_pool2d(-mask[None, None], 3, 1, 1)[0, 0] == 0)
    observed[edge] = 8.0
    observed[::7, ::5] = torch.where(truth[::7, ::5] > 0, 9.0, 0)
    observed[0, 0] = 6.0  # background
    mapped = observed * _depth_scale_to_body(observed, vertices, faces, K, mask)
    good = (truth > 0) & (observed < 8)
    torch.testing.assert_close(mapped[good], truth[good], atol=1e-4, rtol=0)
    assert mapped[0, 0] == 5.0 and (mapped[observed == 0] == 0).all()
    # Too few person pixels to tell: the map stays as it is.
    tiny = torch.zeros_like(mask)
    tiny[30:33, 30:33] = 1
    assert _depth_scale_to_body(observed, vertices, faces, K, tiny) == 1.0
    # A map that already agrees with the body within a few percent is metric: kept.
    assert _depth_scale_to_body(truth * 1.03, vertices, faces, K, mask) == 1.0


def test_a_guessed_focal_length_is_scaled_to_put_the_body_at_the_maps_depth(anny):
    import math
    from dataclasses import replace

    from hoifit.fit_inputs import focal_from_depth
    from reconstruction.camera import Camera, project_points
    from reconstruction.rasterizer import render_depth

    sample = read_sample(EXAMPLE)
    height, width = sample.image.shape[:2]
    camera = Camera.default(width, height)
    params = anny.zero_params(1)
    params.global_orient = torch.tensor([[math.pi, 0.0, 0.0]])
    params.transl = torch.tensor([[0.2, 0.1, 3.0]])
    vertices = anny(params).vertices.detach()
    depth = render_depth(vertices, anny.faces, camera.K(), (height, width))[0]
    # The map puts the body 1.3 times as far as its size under the guessed focal length does.
    sample = replace(sample, camera=camera, depth=1.3 * depth.numpy(), person_mask=depth > 0)
    estimated, moved = focal_from_depth(sample, anny, params, 128)
    assert estimated.fx == estimated.fy and abs(estimated.fx / camera.fx - 1.3) < 0.02
    assert (estimated.cx, estimated.cy) == (camera.cx, camera.cy)
    moved_vertices = anny(moved).vertices.detach()
    ratio = moved_vertices[0, :, 2].mean() / vertices[0, :, 2].mean()
    assert abs(float(ratio) - 1.3) < 0.02
    # The body projects where it did, at the same size.
    before = project_points(vertices[0], camera.K())
    after = project_points(moved_vertices[0], estimated.K())
    assert (after - before).norm(dim=-1).max() < 0.01 * width
    # A map that puts the body three times as far is not believed.
    far = replace(sample, depth=3 * depth.numpy())
    assert focal_from_depth(far, anny, params, 128) is None


def test_the_depth_map_decides_which_hand_reaches_the_object(anny):
    from dataclasses import replace

    from hoifit.fit_inputs import _drop_limbs_far_in_depth
    from reconstruction.camera import project_points

    sample = read_sample(EXAMPLE)
    with torch.no_grad():
        body = anny(anny.params_from_npz(sample.body_init.params)).vertices[0]
    prior = np.zeros(anny.num_vertices, dtype=np.float32)
    for part in ("left_hand", "right_hand", "left_arm", "right_arm"):
        prior[anny.parts[part].numpy()] = 0.5
    height, width = sample.image.shape[:2]
    K = sample.camera.K()

    def held_at(points, reach):
        """An object seen at the pixels of `points`, `reach` metres nearer the camera."""
        mask = np.zeros((height, width), dtype=bool)
        depth = np.zeros((height, width), dtype=np.float32)
        depth[0, 0] = 9.0  # the background: a scale applies to all the map
        for point in points:
            u, v = project_points(point[None], K)[0].round().long().tolist()
            mask[v - 4 : v + 5, u - 4 : u + 5] = True
            depth[v - 4 : v + 5, u - 4 : u + 5] = float(point[2]) - reach
        return replace(sample, object_mask=mask, depth=depth)

    right = body[anny.parts["right_hand"]].mean(0)
    left = body[anny.parts["left_hand"]].mean(0)
    assert (right - left).norm() > 0.4
    # Seen in front of the right hand: the left hand, 0.5 m away, leaves the prior.
    kept = _drop_limbs_far_in_depth(prior, anny, body, held_at([right], 0.05), 1.0, "cup")
    assert kept[anny.parts["left_hand"]].max() == 0 and kept[anny.parts["left_arm"]].max() == 0
    assert kept[anny.parts["right_hand"]].min() == 0.5
    # The map's scale moves the object with it: 2x as far, no hand is near, the prior stays.
    far = _drop_limbs_far_in_depth(prior, anny, body, held_at([right], 0.05), 2.0, "cup")
    np.testing.assert_array_equal(far, prior)
    # A box touched by both hands keeps both.
    both = _drop_limbs_far_in_depth(prior, anny, body, held_at([right, left], 0.0), 1.0, "box")
    np.testing.assert_array_equal(both, prior)
    # Most of the cup blurred 1 m back (what lies behind it): its nearest readings still decide.
    blurred = held_at([right], 0.05)
    rows, cols = np.nonzero(blurred.object_mask)
    far = rows > rows.min() + 1  # all but the top two of its nine rows
    blurred.depth[rows[far], cols[far]] += 1.0
    kept = _drop_limbs_far_in_depth(prior, anny, body, blurred, 1.0, "cup")
    assert kept[anny.parts["left_hand"]].max() == 0
    assert kept[anny.parts["right_hand"]].min() == 0.5
    # No depth where the object is: the prior stays.
    blank = replace(held_at([right], 0.05), depth=np.zeros((height, width), dtype=np.float32))
    unseen = _drop_limbs_far_in_depth(prior, anny, body, blank, 1.0, "cup")
    np.testing.assert_array_equal(unseen, prior)


def test_object_depth_out_of_reach_is_left_out(anny):
    """A monocular map blurs a thin object's depth towards what lies behind it."""
    from dataclasses import replace

    sample = read_sample(EXAMPLE)
    config = load_config("fast").fit
    config.resolution = max(sample.depth.shape)  # the map's own pixels
    own = (sample.object_mask > 0) & ~(sample.person_mask > 0) & (sample.depth > 0)
    rows = np.flatnonzero(own.any(1))

    def prepared(depth):
        inputs = prepare_fit_inputs(
            replace(sample, depth=depth), anny, config, torch.device("cpu"), category="chair"
        )
        return inputs.depth.numpy()

    clean = prepared(sample.depth)
    assert (clean[own] > 0).all()
    # The floor blurred into the chair's lowest rows, 3 m behind it: those rows are left out.
    low = own & (np.arange(own.shape[0])[:, None] > np.quantile(rows, 0.8))
    blurred = sample.depth.copy()
    blurred[low] += 3.0
    trimmed = prepared(blurred)
    assert (trimmed[low] == 0).all() and (trimmed[own & ~low] > 0).all()
    person = sample.person_mask > 0
    np.testing.assert_array_equal(trimmed[person], clean[person])
    # Blurred through (nearly all of it 3 m farther): none of the chair's depth is used.
    high = own & (np.arange(own.shape[0])[:, None] > np.quantile(rows, 0.1))
    through = sample.depth.copy()
    through[high] += 3.0
    assert (prepared(through)[own] == 0).all()
    # All of it 1.5 m behind the body that sits on it: out of the body's reach.
    behind = np.where(own, sample.depth + 1.5, sample.depth).astype(np.float32)
    assert (prepared(behind)[own] == 0).all()


def test_a_body_lying_on_a_table_rests_its_back_on_it(anny):
    from dataclasses import replace

    from optim.body_init import facing_hypotheses
    from reconstruction.interaction_library import pose_library
    from reconstruction.object_model import ObjectMesh
    from reconstruction.procedural_objects import table
    from reconstruction.sample_io.sample import BodyInit

    sample = read_sample(EXAMPLE)
    library = pose_library(anny)
    bodies = facing_hypotheses(
        anny, sample.keypoints_2d, sample.camera, 3.0, 1, library.params(anny)
    )
    lying = bodies._map(lambda t: t[library.index("lying_on_back")][None])
    sample = replace(sample, body_init=BodyInit("anny", anny.to_npz_dict(lying)), contact=None)
    inputs = prepare_fit_inputs(
        sample, anny, load_config("fast").fit, torch.device("cpu"), category="table"
    )
    contact = inputs.body_contact
    assert inputs.contact_is_prior and inputs.seat_front is None
    # Not the hands, the table's likeliest parts for a standing or seated body.
    assert contact[anny.parts["back"]].min() == contact.max() > 0.5
    assert contact[anny.parts["buttocks"]].min() == contact.max()
    assert contact[anny.parts["hands"]].max() == 0
    # The example's chair seat is as deep as wide: no length to lie along; a long table has one.
    assert inputs.lying_length is None
    mesh = table(width=1.4)
    sample = replace(sample, object_mesh=ObjectMesh(np.asarray(mesh.vertices), mesh.faces))
    inputs = prepare_fit_inputs(
        sample, anny, load_config("fast").fit, torch.device("cpu"), category="table"
    )
    assert torch.allclose(inputs.lying_length.abs(), torch.tensor([1.0, 0.0, 0.0]), atol=1e-5)
