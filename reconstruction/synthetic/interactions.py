"""The interactions the generator stages: a pose, an object, and how the two are brought together.

Each interaction poses the canonical body (see `poses`) with random joint angles, then places
the object against the parts that should touch it and resolves the contact: the object slides
along an approach direction (or a limb swings towards it) until the body vertex nearest to the
object is 1-3 mm outside it (`CLEARANCE`; a scan finds the first touch, bisection refines it).
Staging works in the world frame, which is the body's model frame (y up, the body facing +z,
pelvis at the origin); the floor is horizontal.

A staged scene is accepted only when no body vertex is inside the object (the bisection's
clearance), no object surface point is inside the body (winding number) and every contact group
of the interaction has a vertex within `TOUCH_DISTANCE` of the object; otherwise `stage` raises
`StagingFailed` and the caller draws again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from reconstruction.body_models import BodyParams
from reconstruction.procedural_objects import OBJECTS
from reconstruction.synthetic.geometry import (
    closest_points,
    first_contact,
    inside_mesh,
    refine_mesh,
)
from reconstruction.synthetic.poses import (
    PoseBuilder,
    axis_angle_matrix,
    reaching_arm,
    rot,
    sided,
    small_rotation,
)

OBJECT_MAX_EDGE = 0.06
"""Procedural objects are refined to edges of at most this many metres, so that per-vertex
object contact has vertices to live on (a box has only 8 otherwise)."""

OBJECT_GRID = 1e-5
"""Object vertices are rounded to this many metres, so object.obj stays short and exact."""

CLEARANCE = (1e-3, 3e-3)
"""Accepted gap, in metres, between the object and the body vertex nearest to it."""

TOUCH_DISTANCE = 5e-3
"""Every contact group must have a body vertex this close to the object, metres."""

_NEAR_OBJECT = 0.05
"""Body vertices farther than this from the object's bounding box are not measured: they
cannot decide the clearance."""


class StagingFailed(Exception):
    """The random draw gave no valid scene; draw again."""


@dataclass
class PosedBody:
    """A body posed in the world frame.

    Attributes:
        params: batch-1 parameters, world frame.
        vertices: (V, 3) float64.
        joints: (J, 3) float64.
    """

    params: BodyParams
    vertices: np.ndarray
    joints: np.ndarray


@dataclass
class ObjectPlacement:
    """An object's pose and scale: x = scale * rotation @ x_obj + translation.

    Attributes:
        rotation: (3, 3).
        translation: (3,) metres.
        scale: positive.
    """

    rotation: np.ndarray
    translation: np.ndarray
    scale: float

    def apply(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) object-frame points to the placement's frame."""
        return self.scale * points @ self.rotation.T + self.translation

    def invert(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) points of the placement's frame to the object frame."""
        return (points - self.translation) @ self.rotation / self.scale


@dataclass
class Staged:
    """The result of staging: body, object and floor, world frame.

    Attributes:
        body: the posed body.
        placement: the object's pose and scale.
        floor_y: height of the floor plane (y up), metres.
    """

    body: PosedBody
    placement: ObjectPlacement
    floor_y: float


def make_object_mesh(category: str, **kwargs) -> tuple[np.ndarray, np.ndarray]:
    """A procedural object refined for contact: vertices (V, 3) float32 and faces (F, 3) int64.

    Args:
        category: a `procedural_objects.OBJECTS` name.
        **kwargs: arguments of its builder, e.g. `extents` for "box".

    Returns:
        Object frame: metres, y up, resting on y = 0, vertices rounded to `OBJECT_GRID`.
    """
    mesh = OBJECTS[category](**kwargs)
    vertices, faces = refine_mesh(mesh.vertices, mesh.faces, OBJECT_MAX_EDGE)
    vertices = np.round(vertices / OBJECT_GRID) * OBJECT_GRID
    return vertices.astype(np.float32), faces


class Stage:
    """One body and one object being arranged; the helpers the interactions share.

    Args:
        poser: the body model's pose builder.
        object_vertices: (Vo, 3) object mesh, object frame.
        object_faces: (Fo, 3).
        betas: (S,) body shape.
    """

    def __init__(
        self,
        poser: PoseBuilder,
        object_vertices: np.ndarray,
        object_faces: np.ndarray,
        betas: np.ndarray,
    ) -> None:
        self.poser = poser
        self.object_vertices = np.asarray(object_vertices, dtype=np.float64)
        self.object_faces = np.asarray(object_faces, dtype=np.int64)
        self.betas = betas
        # Vertices and face centres: dense enough that an object poking into the body shows.
        self.object_samples = np.concatenate(
            (self.object_vertices, self.object_vertices[self.object_faces].mean(1))
        )
        self.body_faces = poser.model.faces.cpu().numpy()
        self._parts = {name: idx.cpu().numpy() for name, idx in poser.model.parts.items()}
        self.object_low = self.object_vertices.min(0)
        self.object_high = self.object_vertices.max(0)

    def pose(self, rotations: dict[str, np.ndarray], global_orient=None) -> PosedBody:
        """The body with canonical joint `rotations` (see `PoseBuilder.params`), at the origin."""
        params = self.poser.params(rotations, global_orient=global_orient, betas=self.betas)
        vertices, joints = self.poser.forward(params)
        return PosedBody(params, vertices, joints)

    def part(self, *names: str) -> np.ndarray:
        """(N,) sorted vertex indices of the union of body parts."""
        return np.unique(np.concatenate([self._parts[name] for name in names]))

    def clearance(
        self, vertices: np.ndarray, placement: ObjectPlacement, subset: np.ndarray | None = None
    ) -> float:
        """Smallest signed distance, metres, from body vertices to the object (< 0: inside).

        Args:
            vertices: (V, 3) body vertices, world frame.
            placement: the object's pose.
            subset: indices of the vertices to measure; None for all.

        Returns:
            The clearance; `_NEAR_OBJECT` when no vertex is that close to the object's box.
        """
        points = placement.invert(vertices if subset is None else vertices[subset])
        margin = _NEAR_OBJECT / placement.scale
        near = ((points > self.object_low - margin) & (points < self.object_high + margin)).all(1)
        if not near.any():
            return _NEAR_OBJECT
        distance = closest_points(points[near], self.object_vertices, self.object_faces)[0]
        return min(float(distance.min()) * placement.scale, _NEAR_OBJECT)

    def object_inside_body(self, body: PosedBody, placement: ObjectPlacement) -> bool:
        """Whether any object surface sample lies inside the body."""
        samples = placement.apply(self.object_samples)
        low, high = body.vertices.min(0), body.vertices.max(0)
        candidates = samples[((samples > low) & (samples < high)).all(1)]
        return bool(inside_mesh(candidates, body.vertices, self.body_faces).any())

    def slide(
        self,
        body: PosedBody,
        rotation: np.ndarray,
        scale: float,
        anchor: np.ndarray,
        target: np.ndarray,
        direction: np.ndarray,
        near: float,
        far: float,
    ) -> ObjectPlacement:
        """Slide the object along `direction` until it just touches the body.

        The object point `anchor` travels on the line target + lambda * direction, from
        lambda = `far` (apart) towards `near` (interpenetrating), and stops at the first contact.

        Args:
            body: the posed body.
            rotation: (3, 3) object rotation.
            scale: object scale.
            anchor: (3,) object-frame point.
            target: (3,) world point.
            direction: (3,) unit vector pointing away from the body.
            near: lambda where the object cuts into the body.
            far: lambda where it is clear of it.

        Returns:
            The placement at contact.

        Raises:
            StagingFailed: `near` and `far` do not bracket the contact.
        """

        def placement(amount: float) -> ObjectPlacement:
            translation = target + amount * direction - scale * rotation @ anchor
            return ObjectPlacement(rotation, translation, scale)

        amount = first_contact(
            lambda a: self.clearance(body.vertices, placement(a)), near, far, CLEARANCE
        )
        if amount is None:
            raise StagingFailed("the object never just touches the body along its approach")
        return placement(amount)

    def reach(
        self,
        pose: Callable[[float], PosedBody],
        placement: ObjectPlacement,
        near: float,
        far: float,
        subset: np.ndarray | None = None,
    ) -> tuple[float, PosedBody]:
        """Move the body by one pose parameter, from `far` towards `near`, until it touches.

        Args:
            pose: parameter -> posed body.
            placement: the object, fixed.
            near: parameter value where the body cuts into the object.
            far: value where it is clear of it.
            subset: vertices that decide (e.g. the moving arm); None for all.

        Returns:
            The parameter and the body at contact.

        Raises:
            StagingFailed: `near` and `far` do not bracket the contact.
        """
        bodies: dict[float, PosedBody] = {}

        def clearance(value: float) -> float:
            bodies[value] = pose(value)
            return self.clearance(bodies[value].vertices, placement, subset)

        value = first_contact(clearance, near, far, CLEARANCE)
        if value is None:
            raise StagingFailed("the limb never just touches the object")
        return value, bodies[value]

    def seat_top(self) -> float:
        """Object-frame height of the top surface over the object's centre (seat, table top)."""
        v = self.object_vertices
        centre = (np.abs(v[:, 0]) < 0.1) & (np.abs(v[:, 2]) < 0.1)
        return float(v[centre, 1].max())


@dataclass(frozen=True)
class Interaction:
    """One kind of interaction.

    Attributes:
        name: e.g. "sit_chair".
        category: the object's `procedural_objects` name.
        contact_groups: groups of body parts (`BodyModel.parts` names); each group must touch
            the object with at least one of its parts.
        azimuth_deg: (low, high) camera azimuth about the vertical, 0 in front of the body,
            positive towards the body's left.
        stage: (stage, rng) -> the staged scene; raises StagingFailed on a bad draw.
        either_side: mirror the azimuth to the other side half of the time.
        elevation_deg: (low, high) camera elevation above the horizontal.
        object_kwargs: arguments of the procedural object's builder.
    """

    name: str
    category: str
    contact_groups: tuple[tuple[str, ...], ...]
    azimuth_deg: tuple[float, float]
    stage: Callable[[Stage, np.random.Generator], Staged]
    either_side: bool = False
    elevation_deg: tuple[float, float] = (0.0, 30.0)
    object_kwargs: dict = field(default_factory=dict)


def check_staged(stage: Stage, staged: Staged, interaction: Interaction) -> None:
    """Accept a staged scene or raise StagingFailed (see the module docstring)."""
    body, placement = staged.body, staged.placement
    if stage.clearance(body.vertices, placement) < 0.5 * CLEARANCE[0]:
        raise StagingFailed("a body vertex is inside the object")
    if stage.object_inside_body(body, placement):
        raise StagingFailed("the object pokes into the body")
    for group in interaction.contact_groups:
        if stage.clearance(body.vertices, placement, stage.part(*group)) > TOUCH_DISTANCE:
            raise StagingFailed(f"no contact on {group}")


def _feet_floor(stage: Stage, body: PosedBody) -> float:
    return float(body.vertices[stage.part("feet"), 1].min())


def _standing_legs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {
        **{f"hip.{s}": rot("x", rng.uniform(-4, 4)) for s in "LR"},
        **{f"knee.{s}": rot("x", rng.uniform(0, 6)) for s in "LR"},
    }


def _hanging_arm(rng: np.random.Generator, side: str) -> dict[str, np.ndarray]:
    shoulder = rot("z", rng.uniform(4, 12)) @ rot("x", rng.uniform(-8, 8))
    return sided("shoulder", side, shoulder) | {f"elbow.{side}": rot("x", -rng.uniform(5, 20))}


def _about(axis: np.ndarray, degrees: float) -> np.ndarray:
    """(3, 3) rotation by `degrees` about the unit `axis` (3,)."""
    return axis_angle_matrix(np.radians(degrees) * axis)


# --- sitting and lying ------------------------------------------------------------------------


def _stage_sit(stage: Stage, rng: np.random.Generator, seat: str) -> Staged:
    """Sitting on a chair, stool or bench, feet on the floor."""
    rotations = {"spine": rot("x", rng.uniform(-4, 10)), "head": small_rotation(rng, 5)}
    for side in "LR":
        rotations |= sided(
            "hip", side, rot("y", rng.uniform(0, 10)) @ rot("x", -rng.uniform(80, 100))
        )
        rotations[f"knee.{side}"] = rot("x", rng.uniform(75, 100))
        rotations[f"ankle.{side}"] = rot("x", rng.uniform(-10, 10))
        rotations |= sided(
            "shoulder", side, rot("z", rng.uniform(6, 16)) @ rot("x", -rng.uniform(15, 35))
        )
        rotations[f"elbow.{side}"] = rot("x", -rng.uniform(35, 70))
    body = stage.pose(rotations)
    centre = body.vertices[stage.part("buttocks")].mean(0)
    top = stage.seat_top()
    target = centre + np.array([rng.normal(0, 0.01), 0.0, rng.normal(0, 0.01)])
    offset = np.zeros(3)  # world offset of the seat's centre from the buttocks
    if seat == "chair":
        yaw = rng.uniform(-6, 6)
        # The backrest's front stands a few cm behind the rearmost point of the seated body.
        v = stage.object_vertices
        backrest = float(v[v[:, 1] > top + 0.05, 2].max())
        rear = float(body.vertices[stage.part("buttocks", "back"), 2].min())
        gap = centre[2] - rear + rng.uniform(0.03, 0.06)
    elif seat == "stool":
        yaw = rng.uniform(0, 360)
    else:
        yaw = rng.uniform(-15, 15) + 180 * rng.integers(2)
        offset[0] = rng.uniform(-0.3, 0.3)
    rotation = rot("y", yaw)
    feet = _feet_floor(stage, body)
    # Two passes: the second takes the scale that puts the seat's legs on the body's floor.
    scale = rng.uniform(0.9, 1.1)
    for _ in range(2):
        anchor = np.array([0.0, top, 0.0]) - rotation.T @ offset / scale
        if seat == "chair":
            anchor[2] = backrest + gap / scale
        # The seat rises from just above the feet, so that it never passes under them.
        far = float(target[1] - feet) - 0.02
        placement = stage.slide(body, rotation, scale, anchor, target, _DOWN, 0.0, far)
        scale = (float(placement.apply(anchor[None])[0, 1]) - feet) / top
        if not 0.8 <= scale <= 1.2:
            raise StagingFailed(f"the seat would need a scale of {scale:.2f}")
    bottom = float(placement.apply(stage.object_vertices)[:, 1].min())
    return Staged(body, placement, min(bottom, feet))


def _stage_lie(stage: Stage, rng: np.random.Generator) -> Staged:
    """Lying on the back along a bench or across a table, arms out to the sides."""
    rotations = {"head": small_rotation(rng, 5)}
    for side in "LR":
        rotations[f"hip.{side}"] = rot("x", -rng.uniform(0, 10))
        rotations[f"knee.{side}"] = rot("x", rng.uniform(0, 15))
        rotations |= sided(
            "shoulder", side, rot("x", rng.uniform(0, 15)) @ rot("z", rng.uniform(15, 40))
        )
        rotations[f"elbow.{side}"] = rot("x", -rng.uniform(0, 25))
    # Supine: the body's front turns to face up (+y), its head towards -z.
    body = stage.pose(rotations, global_orient=rot("x", -90))
    support = body.vertices[stage.part("back", "buttocks")].mean(0)
    target = support + np.array([rng.normal(0, 0.01), 0.0, rng.normal(0, 0.05)])
    anchor = np.array([0.0, stage.seat_top(), 0.0])
    rotation = rot("y", 90 + rng.uniform(-8, 8))
    placement = stage.slide(body, rotation, rng.uniform(0.9, 1.1), anchor, target, _DOWN, 0.0, 0.6)
    return Staged(body, placement, float(placement.apply(stage.object_vertices)[:, 1].min()))


# --- hands ------------------------------------------------------------------------------------


def _stage_hold(
    stage: Stage, rng: np.random.Generator, grip: float, tilt: tuple[float, float]
) -> Staged:
    """An object held against the right palm, forearm forward.

    Args:
        stage: the stage.
        rng: the draw's random generator.
        grip: height of the grip on the object, as a fraction of its height.
        tilt: (low, high) tilt of the object's axis in the palm's plane, degrees, positive
            with its top away from the body.
    """
    rotations = {**_standing_legs(rng), **_hanging_arm(rng, "L"), "head": small_rotation(rng, 5)}
    rotations |= sided(
        "shoulder", "R", rot("z", rng.uniform(0, 10)) @ rot("x", -rng.uniform(10, 40))
    )
    rotations["elbow.R"] = rot("x", -rng.uniform(60, 100))
    rotations["wrist.R"] = small_rotation(rng, 6)
    body = stage.pose(rotations)
    hand = stage.poser.hand_frame("R", body.vertices, body.joints)
    # The object's axis lies in the palm's plane across the fingers, pointing up, and tilts.
    axis = np.cross(hand.fingers, hand.normal)
    axis = axis if axis[1] >= 0 else -axis
    forward = np.sign(np.cross(hand.normal, axis)[2]) or 1.0
    axis = _about(hand.normal, forward * rng.uniform(*tilt)) @ axis
    facing = hand.normal - (hand.normal @ axis) * axis
    facing /= np.linalg.norm(facing)
    rotation = np.stack((np.cross(axis, facing), axis, facing), axis=1)
    anchor = np.array([0.0, grip * stage.object_high[1], 0.0])
    placement = stage.slide(
        body, rotation, rng.uniform(0.9, 1.1), anchor, hand.centre, hand.normal, 0.0, 0.3
    )
    return Staged(body, placement, _feet_floor(stage, body))


def _stage_hold_box(stage: Stage, rng: np.random.Generator) -> Staged:
    """A box pressed between the palms of both arms reaching forward."""
    base = {**_standing_legs(rng), "head": small_rotation(rng, 5)}
    flex = rng.uniform(55, 80)
    arms = {s: (flex + rng.normal(0, 3), rng.uniform(5, 25), small_rotation(rng, 4)) for s in "LR"}

    def pose(spread_left: float, spread_right: float) -> PosedBody:
        rotations = dict(base)
        for side, spread in (("L", spread_left), ("R", spread_right)):
            lift, bend, wrist = arms[side]
            rotations |= sided("shoulder", side, rot("y", spread) @ rot("x", -lift))
            rotations |= sided("elbow", side, rot("x", -bend))
            rotations |= sided("wrist", side, wrist)
        return stage.pose(rotations)

    closed = pose(0.0, 0.0)
    palms = [stage.poser.hand_frame(s, closed.vertices, closed.joints).centre for s in "LR"]
    scale = rng.uniform(0.9, 1.1)
    # The box sits ahead of the palms so that the forearms stay clear of its back.
    depth = stage.object_high[2] - stage.object_low[2]
    centre = np.mean(palms, axis=0) + np.array([0.0, 0.0, 0.3 * depth * scale])
    rotation = rot("y", rng.uniform(-10, 10))
    anchor = np.array([0.0, stage.object_high[1] / 2, 0.0])
    placement = ObjectPlacement(rotation, centre - scale * rotation @ anchor, scale)
    left, _ = stage.reach(lambda a: pose(a, 45.0), placement, -15.0, 45.0)
    right_side = stage.part("right_arm", "right_hand")
    _, body = stage.reach(lambda a: pose(left, a), placement, -15.0, 45.0, right_side)
    return Staged(body, placement, _feet_floor(stage, body))


def _stage_carry_box(stage: Stage, rng: np.random.Generator) -> Staged:
    """A box resting on both forearms, elbows bent at about a right angle."""
    out, lift = rng.uniform(5, 15), rng.uniform(0, 15)
    base = {**_standing_legs(rng), "head": small_rotation(rng, 5)}
    for side in "LR":
        shoulder = rot("z", out + rng.normal(0, 1)) @ rot("x", -lift - rng.normal(0, 1))
        base |= sided("shoulder", side, shoulder)
    bend = {side: rng.uniform(75, 95) for side in "LR"}

    def pose(bend: dict[str, float]) -> PosedBody:
        return stage.pose(base | {f"elbow.{s}": rot("x", -bend[s]) for s in "LR"})

    body = pose(bend)
    scale = rng.uniform(0.9, 1.1)
    rotation = rot("y", rng.uniform(-8, 8))
    posed = scale * stage.object_vertices @ rotation.T
    hands = [stage.poser.hand_frame(s, body.vertices, body.joints).centre for s in "LR"]
    forearm_y = float(np.mean(hands, axis=0)[1])
    trunk = body.vertices[stage.part("torso", "neck", "head")]
    level = (trunk[:, 1] > forearm_y - 0.05) & (trunk[:, 1] < forearm_y + posed[:, 1].max())
    # The box's back face clears the belly; it comes down onto the forearms in front of it.
    back = float(trunk[level, 2].max()) + rng.uniform(0.01, 0.03)
    target = np.array([rng.normal(0, 0.02), forearm_y, back - posed[:, 2].min()])
    placement = stage.slide(body, rotation, scale, np.zeros(3), target, _UP, 0.0, 0.4)
    # More bend raises a forearm into the box's bottom.
    body = _touch_each_side(stage, placement, pose, bend, {s: bend[s] + 20 for s in "LR"})
    return Staged(body, placement, _feet_floor(stage, body))


def _touch_each_side(
    stage: Stage,
    placement: ObjectPlacement,
    pose: Callable[[dict[str, float]], PosedBody],
    angles: dict[str, float],
    limits: dict[str, float],
) -> PosedBody:
    """Bring each side that does not yet touch the object onto it, moving one angle per side.

    Args:
        stage: the stage.
        placement: the object, fixed.
        pose: per-side angles {"L": deg, "R": deg} -> posed body.
        angles: the current angles; updated in place.
        limits: per side, the angle at which that side's arm or hand cuts into the object.

    Returns:
        The posed body with both sides touching.
    """
    body = pose(angles)
    for side, name in (("L", "left"), ("R", "right")):
        limb = stage.part(f"{name}_arm", f"{name}_hand")
        if stage.clearance(body.vertices, placement, limb) <= CLEARANCE[1]:
            continue
        angles[side], body = stage.reach(
            lambda a, side=side: pose(angles | {side: a}),
            placement,
            limits[side],
            angles[side],
            limb,
        )
    return body


def _stage_lean_table(stage: Stage, rng: np.random.Generator) -> Staged:
    """Standing at a table, leaning forward on both palms."""
    legs = _standing_legs(rng)
    forward = rng.uniform(15, 30)
    out = {side: rng.uniform(0, 8) for side in "LR"}
    wrist = 90 - forward + rng.uniform(-15, 0)
    bend = {side: rng.uniform(5, 15) for side in "LR"}

    def pose(lean: float, bend: dict[str, float]) -> PosedBody:
        rotations = legs | {"spine": rot("x", lean)}
        for side in "LR":
            rotations |= reaching_arm(side, forward, out[side], bend[side], lean, wrist)
        return stage.pose(rotations)

    upright = pose(0.0, bend)
    floor = _feet_floor(stage, upright)
    scale = rng.uniform(0.9, 1.1)
    rotation = rot("y", rng.uniform(-10, 10))
    posed = scale * stage.object_vertices @ rotation.T
    top = floor - posed[:, 1].min() + posed[:, 1].max()
    lower = upright.vertices[stage.part("legs", "feet", "torso", "buttocks")]
    front = float(lower[lower[:, 1] < top + 0.05, 2].max()) + rng.uniform(0.02, 0.06)
    translation = np.array(
        [rng.normal(0, 0.03), floor - posed[:, 1].min(), front - posed[:, 2].min()]
    )
    placement = ObjectPlacement(rotation, translation, scale)
    lean, _ = stage.reach(lambda a: pose(a, bend), placement, 75.0, 0.0)
    # The hand left above the table reaches down by straightening its elbow.
    body = _touch_each_side(stage, placement, lambda b: pose(lean, b), bend, {"L": 0, "R": 0})
    return Staged(body, placement, floor)


def _stage_push_box(stage: Stage, rng: np.random.Generator) -> Staged:
    """Pushing a tall box across the floor with both palms, one leg behind."""
    lean = rng.uniform(8, 20)
    rotations = {
        "spine": rot("x", lean),
        "hip.L": rot("x", -rng.uniform(15, 30)),
        "knee.L": rot("x", rng.uniform(15, 35)),
        "hip.R": rot("x", rng.uniform(5, 20)),
        "knee.R": rot("x", rng.uniform(0, 15)),
        "head": small_rotation(rng, 5),
    }
    forward = rng.uniform(35, 60)
    forward = {side: forward + rng.normal(0, 2) for side in "LR"}
    out = {side: rng.uniform(0, 8) for side in "LR"}
    bend, wrist = rng.uniform(10, 30), rng.uniform(60, 80)

    def pose(forward: dict[str, float]) -> PosedBody:
        arms = {}
        for side in "LR":
            arms |= reaching_arm(side, forward[side], out[side], bend, lean, wrist)
        return stage.pose(rotations | arms)

    body = pose(forward)
    floor = _feet_floor(stage, body)
    palms = [stage.poser.hand_frame(s, body.vertices, body.joints).centre for s in "LR"]
    palms = np.mean(palms, axis=0)
    rotation = rot("y", rng.uniform(-4, 4))
    scale = rng.uniform(0.9, 1.1)
    posed = scale * stage.object_vertices @ rotation.T
    # The anchor is the middle of the box's near face, at floor level.
    anchor = rotation.T @ np.array([0.0, 0.0, posed[:, 2].min()]) / scale
    target = np.array([palms[0] + rng.normal(0, 0.03), floor, palms[2]])
    placement = stage.slide(body, rotation, scale, anchor, target, _AHEAD, -0.15, 0.3)
    # The hand left short of the box reaches it by raising its arm further forward.
    body = _touch_each_side(stage, placement, pose, forward, {s: forward[s] + 20 for s in "LR"})
    return Staged(body, placement, floor)


def _stage_hand_on(stage: Stage, rng: np.random.Generator, support: str) -> Staged:
    """Standing beside a chair or a small table, the right palm resting on its top.

    The support rises from below until its top meets the palm, then takes the scale that puts
    its legs on the floor under the feet (two passes, as for a seat).

    Args:
        stage: the stage.
        rng: the draw's random generator.
        support: "chair" (the palm on the backrest's top, the seat pointing away from the body)
            or "table" (the palm near the table's corner nearest the body).
    """
    rotations = {**_standing_legs(rng), **_hanging_arm(rng, "L"), "head": small_rotation(rng, 5)}
    forward = rng.uniform(10, 25)
    wrist = 90 - forward + rng.uniform(-10, 5)
    rotations |= reaching_arm("R", forward, rng.uniform(5, 20), rng.uniform(5, 20), 0.0, wrist)
    body = stage.pose(rotations)
    palm = stage.poser.hand_frame("R", body.vertices, body.joints).centre
    feet = _feet_floor(stage, body)
    v, low, high = stage.object_vertices, stage.object_low, stage.object_high
    if support == "chair":
        top = float(high[1])
        backrest = v[v[:, 1] > top - 0.05, 2].mean()
        anchor = np.array([rng.uniform(-0.1, 0.1), top, backrest])
        # The backrest runs front to back beside the body, the seat on the far side.
        rotation = rot("y", -90 + rng.uniform(-20, 20))
    else:
        top = stage.seat_top()
        inset = rng.uniform(0.05, 0.12, 2)
        anchor = np.array([high[0] - inset[0], top, low[2] + inset[1]])
        rotation = rot("y", rng.uniform(-15, 15))
    scale = rng.uniform(0.9, 1.1)
    for _ in range(2):
        placement = stage.slide(body, rotation, scale, anchor, palm, _DOWN, 0.0, 0.3)
        scale = (float(placement.apply(anchor[None])[0, 1]) - feet) / top
        if not 0.8 <= scale <= 1.2:
            raise StagingFailed(f"the {support} would need a scale of {scale:.2f}")
    bottom = float(placement.apply(v)[:, 1].min())
    return Staged(body, placement, min(bottom, feet))


def _stage_ball_overhead(stage: Stage, rng: np.random.Generator) -> Staged:
    """A ball held above the head between the palms of both raised arms."""
    base = {**_standing_legs(rng), "head": small_rotation(rng, 5)}
    raise_ = rng.uniform(145, 165)
    arms = {
        s: (raise_ + rng.normal(0, 3), rng.uniform(10, 30), small_rotation(rng, 4)) for s in "LR"
    }

    def pose(spread_left: float, spread_right: float) -> PosedBody:
        rotations = dict(base)
        for side, spread in (("L", spread_left), ("R", spread_right)):
            lift, bend, wrist = arms[side]
            # Spread first, in the frontal plane, so that it moves the hand sideways however
            # high the arm is raised.
            rotations |= sided("shoulder", side, rot("x", -lift) @ rot("z", spread))
            rotations |= sided("elbow", side, rot("x", -bend))
            rotations |= sided("wrist", side, wrist)
        return stage.pose(rotations)

    closed = pose(0.0, 0.0)
    palms = [stage.poser.hand_frame(s, closed.vertices, closed.joints).centre for s in "LR"]
    scale = rng.uniform(0.9, 1.1)
    anchor = np.array([0.0, stage.object_high[1] / 2, 0.0])
    centre = np.mean(palms, axis=0) + np.array([0.0, rng.normal(0, 0.02), 0.0])
    placement = ObjectPlacement(np.eye(3), centre - scale * anchor, scale)
    left, _ = stage.reach(lambda a: pose(a, 30.0), placement, -25.0, 30.0)
    right_side = stage.part("right_arm", "right_hand")
    _, body = stage.reach(lambda a: pose(left, a), placement, -25.0, 30.0, right_side)
    return Staged(body, placement, _feet_floor(stage, body))


def _stage_lift_box(stage: Stage, rng: np.random.Generator) -> Staged:
    """Bent at the hips and knees over a box on the floor, a palm on each of its sides."""
    # Forward tilt of the pelvis and lean of the lower and middle spine, degrees.
    tilt, lower, middle = rng.uniform(35, 45), rng.uniform(25, 35), rng.uniform(20, 30)
    legs = {
        "spine": rot("x", lower),
        "spine_mid": rot("x", middle),
        "head": rot("x", -rng.uniform(0, 15)) @ small_rotation(rng, 4),
    }
    for side in "LR":
        thigh, knee = rng.uniform(25, 50), rng.uniform(35, 65)  # thigh forward of the vertical
        # The hip undoes the pelvis' tilt, and the ankle keeps the foot flat on the floor.
        legs |= sided("hip", side, rot("y", rng.uniform(5, 15)) @ rot("x", -thigh - tilt))
        legs[f"knee.{side}"] = rot("x", knee)
        legs[f"ankle.{side}"] = rot("x", thigh - knee)
    # Arm flexion that hangs an arm vertically, and each arm's own offset and elbow bend.
    hanging = tilt + lower + middle
    arms = {s: (rng.normal(0, 2), rng.uniform(0, 15)) for s in "LR"}
    orient = rot("x", tilt)

    def pose(forward: float, spread_left: float, spread_right: float) -> PosedBody:
        rotations = dict(legs)
        for side, spread in (("L", spread_left), ("R", spread_right)):
            offset, bend = arms[side]
            lift = hanging + forward + offset
            rotations |= sided("shoulder", side, rot("x", -lift) @ rot("z", spread))
            rotations |= sided("elbow", side, rot("x", -bend))
        return stage.pose(rotations, global_orient=orient)

    def palms(body: PosedBody) -> np.ndarray:
        centres = [stage.poser.hand_frame(s, body.vertices, body.joints).centre for s in "LR"]
        return np.mean(centres, axis=0)

    body = pose(0.0, 0.0, 0.0)
    floor = _feet_floor(stage, body)
    scale = rng.uniform(0.85, 1.15)
    rotation = rot("y", rng.uniform(-8, 8))
    posed = scale * stage.object_vertices @ rotation.T
    top = floor + float(posed[:, 1].max())
    # The box stands a little ahead of the knees and shins that are lower than its top.
    legs_below = body.vertices[stage.part("legs", "feet")]
    legs_below = legs_below[legs_below[:, 1] < top + 0.02]
    back = float(legs_below[:, 2].max()) + rng.uniform(0.01, 0.04)
    centre_z = back - float(posed[:, 2].min())
    # The arms swing forward (a scan, as palm depth is not linear in the angle) until the palms
    # are level with the middle of the box's depth.
    target = centre_z + rng.uniform(-0.05, 0.05)
    forward = min(np.arange(-10.0, 50.0, 2.0), key=lambda a: abs(palms(pose(a, 0, 0))[2] - target))
    closed = palms(pose(forward, 0.0, 0.0))
    grip = (closed[1] - floor) / (top - floor)
    if not 0.3 <= grip <= 0.9 or abs(closed[2] - target) > 0.05:
        raise StagingFailed(f"the palms miss the box's sides (height {grip:.2f} of the box)")
    translation = np.array([closed[0] + rng.normal(0, 0.01), floor, centre_z])
    placement = ObjectPlacement(rotation, translation, scale)
    left, _ = stage.reach(lambda a: pose(forward, a, 30.0), placement, -20.0, 30.0)
    right_side = stage.part("right_arm", "right_hand")
    _, body = stage.reach(lambda a: pose(forward, left, a), placement, -20.0, 30.0, right_side)
    return Staged(body, placement, floor)


# --- feet -------------------------------------------------------------------------------------


def _stage_kick_ball(stage: Stage, rng: np.random.Generator) -> Staged:
    """The right foot, swung forward, touching a ball on the floor."""
    rotations = {
        "hip.L": rot("x", rng.uniform(-2, 6)),
        "knee.L": rot("x", rng.uniform(0, 10)),
        "hip.R": rot("x", -rng.uniform(15, 35)),
        "knee.R": rot("x", rng.uniform(5, 35)),
        "ankle.R": rot("x", rng.uniform(-15, 15)),
        "head": small_rotation(rng, 5),
    }
    for side in "LR":
        rotations |= sided("shoulder", side, rot("z", rng.uniform(10, 30)))
    body = stage.pose(rotations)
    floor = float(body.vertices[stage.part("left_foot"), 1].min())
    foot = body.vertices[stage.part("right_foot")]
    toe = foot[np.argmax(foot[:, 2])]
    target = np.array([toe[0] + rng.normal(0, 0.03), floor, toe[2]])
    # The ball's lowest point slides along the floor towards the toe.
    placement = stage.slide(
        body,
        rot("y", rng.uniform(0, 360)),
        rng.uniform(0.9, 1.1),
        np.zeros(3),
        target,
        _AHEAD,
        0.0,
        0.5,
    )
    return Staged(body, placement, floor)


_DOWN = np.array([0.0, -1.0, 0.0])
_UP = np.array([0.0, 1.0, 0.0])
_AHEAD = np.array([0.0, 0.0, 1.0])

# Camera azimuth ranges, degrees from the body's front, positive towards its left.
_FRONT = (-70.0, 70.0)
_RIGHT = (-100.0, 35.0)  # the right hand or foot in view
_SIDE = (35.0, 100.0)  # the object in front would hide the body from the front
_SIDE_ON = (45.0, 135.0)

INTERACTIONS: dict[str, Interaction] = {
    interaction.name: interaction
    for interaction in (
        Interaction(
            name="sit_chair",
            category="chair",
            contact_groups=(("buttocks",),),
            azimuth_deg=_FRONT,
            stage=partial(_stage_sit, seat="chair"),
        ),
        Interaction(
            name="sit_stool",
            category="stool",
            contact_groups=(("buttocks",),),
            azimuth_deg=_FRONT,
            stage=partial(_stage_sit, seat="stool"),
        ),
        Interaction(
            name="sit_bench",
            category="bench",
            contact_groups=(("buttocks",),),
            azimuth_deg=_FRONT,
            stage=partial(_stage_sit, seat="bench"),
        ),
        Interaction(
            name="lie_bench",
            category="bench",
            contact_groups=(("back", "buttocks"),),
            azimuth_deg=_SIDE_ON,
            either_side=True,
            elevation_deg=(10.0, 30.0),
            stage=_stage_lie,
        ),
        Interaction(
            name="lie_table",
            category="table",
            contact_groups=(("back", "buttocks"),),
            azimuth_deg=_SIDE_ON,
            either_side=True,
            elevation_deg=(10.0, 30.0),
            stage=_stage_lie,
        ),
        Interaction(
            name="hold_bottle",
            category="bottle",
            contact_groups=(("right_hand",),),
            azimuth_deg=_RIGHT,
            stage=partial(_stage_hold, grip=0.35, tilt=(-15.0, 15.0)),
        ),
        Interaction(
            name="hold_cup",
            category="cup",
            contact_groups=(("right_hand",),),
            azimuth_deg=_RIGHT,
            stage=partial(_stage_hold, grip=0.5, tilt=(-10.0, 10.0)),
        ),
        Interaction(
            name="hold_bat",
            category="bat",
            contact_groups=(("right_hand",),),
            azimuth_deg=_RIGHT,
            stage=partial(_stage_hold, grip=0.2, tilt=(0.0, 30.0)),
        ),
        Interaction(
            name="hold_box",
            category="box",
            contact_groups=(("left_hand",), ("right_hand",)),
            azimuth_deg=_FRONT,
            stage=_stage_hold_box,
        ),
        Interaction(
            name="carry_box",
            category="box",
            contact_groups=(("left_arm", "left_hand"), ("right_arm", "right_hand")),
            azimuth_deg=_FRONT,
            stage=_stage_carry_box,
            object_kwargs={"extents": (0.5, 0.3, 0.35)},
        ),
        Interaction(
            name="lean_table",
            category="table",
            contact_groups=(("left_hand",), ("right_hand",)),
            azimuth_deg=_SIDE,
            either_side=True,
            stage=_stage_lean_table,
        ),
        Interaction(
            name="push_box",
            category="box",
            contact_groups=(("left_hand",), ("right_hand",)),
            azimuth_deg=_SIDE,
            either_side=True,
            stage=_stage_push_box,
            object_kwargs={"extents": (0.7, 1.3, 0.6)},
        ),
        Interaction(
            name="kick_ball",
            category="ball",
            contact_groups=(("right_foot",),),
            azimuth_deg=_RIGHT,
            stage=_stage_kick_ball,
        ),
        Interaction(
            name="hand_on_chair",
            category="chair",
            contact_groups=(("right_hand",),),
            azimuth_deg=_RIGHT,
            stage=partial(_stage_hand_on, support="chair"),
        ),
        Interaction(
            name="hand_on_table",
            category="table",
            contact_groups=(("right_hand",),),
            azimuth_deg=_RIGHT,
            stage=partial(_stage_hand_on, support="table"),
            object_kwargs={"height": 0.85, "width": 0.6, "depth": 0.5},
        ),
        Interaction(
            name="lift_box",
            category="box",
            contact_groups=(("left_hand",), ("right_hand",)),
            azimuth_deg=_SIDE,
            either_side=True,
            stage=_stage_lift_box,
            object_kwargs={"extents": (0.36, 0.45, 0.3)},
        ),
        Interaction(
            name="ball_overhead",
            category="ball",
            contact_groups=(("left_hand",), ("right_hand",)),
            azimuth_deg=_FRONT,
            stage=_stage_ball_overhead,
        ),
        Interaction(
            name="box_one_hand",
            category="box",
            contact_groups=(("right_hand",),),
            azimuth_deg=_RIGHT,
            stage=partial(_stage_hold, grip=0.5, tilt=(-10.0, 10.0)),
            object_kwargs={"extents": (0.16, 0.12, 0.1)},
        ),
    )
}
"""Every interaction by name, in the order the generator cycles through them."""
