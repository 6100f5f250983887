import igl
import numpy as np
import pytest

from reconstruction.synthetic.interactions import (
    INTERACTIONS,
    TOUCH_DISTANCE,
    make_object_mesh,
)
from reconstruction.synthetic.poses import PoseBuilder
from reconstruction.synthetic.scenes import stage_interaction

ORIGINAL = (
    "sit_chair",
    "sit_stool",
    "sit_bench",
    "lie_bench",
    "lie_table",
    "hold_bottle",
    "hold_cup",
    "hold_bat",
    "hold_box",
    "carry_box",
    "lean_table",
    "push_box",
    "kick_ball",
)
NEW = ("hand_on_chair", "hand_on_table", "lift_box", "ball_overhead", "box_one_hand")


def test_new_interactions_come_after_the_original_ones():
    # Samples cycle through INTERACTIONS by index: the first 13 keep their scenes.
    assert tuple(INTERACTIONS)[: len(ORIGINAL)] == ORIGINAL
    assert tuple(INTERACTIONS)[len(ORIGINAL) :] == NEW


@pytest.mark.parametrize("name", NEW)
@pytest.mark.parametrize("seed", [0, 1])
def test_new_interaction_stages_with_contact_and_no_interpenetration(anny, name, seed):
    interaction = INTERACTIONS[name]
    poser = PoseBuilder(anny)
    vertices, faces = make_object_mesh(interaction.category, **interaction.object_kwargs)
    staged, _ = stage_interaction(interaction, poser, vertices, faces, seed, index=0)
    body = staged.body.vertices
    posed = staged.placement.apply(vertices.astype(np.float64))
    # Checked independently of the staging: exact signed distance and winding number.
    distance = igl.signed_distance(
        body, posed, faces, sign_type=igl.SIGNED_DISTANCE_TYPE_WINDING_NUMBER
    )[0]
    assert distance.min() > 0 and distance.min() < TOUCH_DISTANCE
    winding = igl.winding_number(body, anny.faces.numpy(), posed)
    assert np.abs(winding).max() < 0.5
    for group in interaction.contact_groups:
        touching = np.concatenate([anny.parts[p].numpy() for p in group])
        assert distance[touching].min() < TOUCH_DISTANCE, group
    # The body and the object stand on (or above) the floor.
    assert body[:, 1].min() >= staged.floor_y - 1e-6
    assert posed[:, 1].min() >= staged.floor_y - 1e-6
