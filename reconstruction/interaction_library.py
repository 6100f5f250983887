"""What interactions look like before any contact is estimated: poses, and where bodies touch.

Three priors for fitting a person from a photo when nothing better is known:

- `pose_library`: canonical interaction poses (standing, sitting, bending, lying, ...) as body
  parameters of the model in use, to start the fit from several hypotheses and let the 2D
  evidence pick among them.
- `category_pose_weights`: how likely each of those poses is with an object category (a chair
  suggests sitting on it or a hand on its back). The table is `CATEGORY_POSES`.
- `contact_prior` and `object_contact_prior`: which body parts, and which part of the object,
  usually touch for a category (`CONTACT_PARTS`), for fitting when no contact map exists. A
  learned or annotated contact replaces them whenever one is present.

The poses are written with the joint vocabulary of `synthetic.poses`, so they mean the same for
every backend, at the centres of the ranges the synthetic interactions draw from
(`synthetic.interactions`; `INTERACTION_POSES` says which pose each interaction stages). They are
in the canonical body frame: metres, y up, the body facing +z, the pelvis at the origin; a
pose's `global_orient` is the pelvis' rotation in that frame (identity but for the tilted
pelvis of bending and the supine body of lying), to be composed with the body's facing and the
camera.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from reconstruction.body_models import BodyModel, BodyParams
from reconstruction.category_names import spellings
from reconstruction.rotations import matrix_to_axis_angle
from reconstruction.synthetic.poses import PoseBuilder, reaching_arm, rot, sided


def _both(joint: str, rotation: np.ndarray) -> dict[str, np.ndarray]:
    """A left-side rotation on both sides, mirrored on the right."""
    return sided(joint, "L", rotation) | sided(joint, "R", rotation)


def _legs(hip: np.ndarray, knee: float, ankle: float = 0.0) -> dict[str, np.ndarray]:
    """Both legs: `hip` (left side), knee and ankle flexion in degrees."""
    return _both("hip", hip) | _both("knee", rot("x", knee)) | _both("ankle", rot("x", ankle))


_STANDING_LEGS = _legs(np.eye(3), 3.0)
_HANGING_ARM = sided("shoulder", "L", rot("z", 8)) | {"elbow.L": rot("x", -12)}
_HANGING_ARMS = _both("shoulder", rot("z", 8)) | _both("elbow", rot("x", -12))
_LAP_ARMS = _both("shoulder", rot("z", 11) @ rot("x", -25)) | _both("elbow", rot("x", -52))

# Canonical joint rotations and the pelvis' rotation of each pose. Where a synthetic interaction
# stages the pose, the angles are the centres of its draw and, for what the staging solves for
# (a lean, an arm's swing), a typical solution.
_POSES: dict[str, tuple[dict[str, np.ndarray], np.ndarray]] = {
    "standing": (_STANDING_LEGS | _HANGING_ARMS, np.eye(3)),
    "sitting": (
        {"spine": rot("x", 3)} | _legs(rot("y", 5) @ rot("x", -85), 88) | _LAP_ARMS,
        np.eye(3),
    ),
    # Knees above the hips on a low stool or bench; the shins slope back to flat feet.
    "sitting_low": (
        {"spine": rot("x", 8)} | _legs(rot("y", 8) @ rot("x", -105), 115, -10) | _LAP_ARMS,
        np.eye(3),
    ),
    "leaning_forward": (
        {"spine": rot("x", 35)}
        | _STANDING_LEGS
        | reaching_arm("L", 22, 4, 10, 35, 60)
        | reaching_arm("R", 22, 4, 10, 35, 60),
        np.eye(3),
    ),
    # The pelvis tilts 40 degrees forward; the hips undo it and the ankles keep the feet flat.
    "bending": (
        {"spine": rot("x", 30), "spine_mid": rot("x", 25)}
        | _legs(rot("y", 10) @ rot("x", -38 - 40), 50, 38 - 50)
        | _both("shoulder", rot("x", -(40 + 30 + 25 + 10)))
        | _both("elbow", rot("x", -8)),
        rot("x", 40),
    ),
    "crouching": (
        {"spine": rot("x", 15), "spine_mid": rot("x", 10)}
        | _legs(rot("y", 15) @ rot("x", -(100 + 20)), 130, 100 - 130)
        | _both("shoulder", rot("z", 5) @ rot("x", -(20 + 25 + 45)))
        | _both("elbow", rot("x", -30)),
        rot("x", 20),
    ),
    "reaching_one_arm": (
        _STANDING_LEGS | _HANGING_ARM | reaching_arm("R", 80, 5, 10, 0, 10),
        np.eye(3),
    ),
    "reaching_both_arms": (
        _STANDING_LEGS | _both("shoulder", rot("x", -68)) | _both("elbow", rot("x", -15)),
        np.eye(3),
    ),
    "holding_one_hand": (
        _STANDING_LEGS
        | _HANGING_ARM
        | sided("shoulder", "R", rot("z", 5) @ rot("x", -25))
        | {"elbow.R": rot("x", -80)},
        np.eye(3),
    ),
    "carrying": (
        _STANDING_LEGS
        | _both("shoulder", rot("z", 10) @ rot("x", -8))
        | _both("elbow", rot("x", -85)),
        np.eye(3),
    ),
    "hand_on_support": (
        _STANDING_LEGS | _HANGING_ARM | reaching_arm("R", 18, 12, 12, 0, 70),
        np.eye(3),
    ),
    "arms_overhead": (
        _STANDING_LEGS
        | _both("shoulder", rot("x", -155) @ rot("z", -5))
        | _both("elbow", rot("x", -20)),
        np.eye(3),
    ),
    "pushing": (
        {
            "spine": rot("x", 14),
            "hip.L": rot("x", -22),
            "knee.L": rot("x", 25),
            "hip.R": rot("x", 12),
            "knee.R": rot("x", 8),
        }
        | reaching_arm("L", 48, 4, 20, 14, 70)
        | reaching_arm("R", 48, 4, 20, 14, 70),
        np.eye(3),
    ),
    "kicking": (
        {
            "hip.L": rot("x", 2),
            "knee.L": rot("x", 5),
            "hip.R": rot("x", -25),
            "knee.R": rot("x", 20),
        }
        | _both("shoulder", rot("z", 20)),
        np.eye(3),
    ),
    # Supine: the body's front faces up (+y), its head towards -z.
    "lying_on_back": (
        _legs(rot("x", -5), 8)
        | _both("shoulder", rot("x", 8) @ rot("z", 28))
        | _both("elbow", rot("x", -12)),
        rot("x", -90),
    ),
}

POSE_NAMES = tuple(_POSES)
"""The library's poses, in order."""

INTERACTION_POSES = {
    "sit_chair": "sitting",
    "sit_stool": "sitting",
    "sit_bench": "sitting",
    "lie_bench": "lying_on_back",
    "lie_table": "lying_on_back",
    "hold_bottle": "holding_one_hand",
    "hold_cup": "holding_one_hand",
    "hold_bat": "holding_one_hand",
    "hold_box": "reaching_both_arms",
    "carry_box": "carrying",
    "lean_table": "leaning_forward",
    "push_box": "pushing",
    "kick_ball": "kicking",
    "hand_on_chair": "hand_on_support",
    "hand_on_table": "hand_on_support",
    "lift_box": "bending",
    "ball_overhead": "arms_overhead",
    "box_one_hand": "holding_one_hand",
}
"""Synthetic interaction (`synthetic.interactions.INTERACTIONS`) -> the library pose it stages."""

OTHER_POSE_WEIGHT = 0.05
"""Relative weight of a pose that a known category does not list: unlikely, never ruled out,
so the 2D evidence can still pick it."""

CATEGORY_POSES: dict[str, dict[str, float]] = {
    "chair": {
        "sitting": 1.0,
        "hand_on_support": 0.5,
        "sitting_low": 0.3,
        "standing": 0.3,
        "leaning_forward": 0.2,
    },
    "stool": {"sitting": 1.0, "sitting_low": 0.7, "standing": 0.3, "hand_on_support": 0.3},
    "bench": {"sitting": 1.0, "sitting_low": 0.8, "lying_on_back": 0.5, "standing": 0.3},
    "couch": {"sitting": 1.0, "sitting_low": 0.8, "lying_on_back": 0.6},
    "bed": {"lying_on_back": 1.0, "sitting": 0.6, "sitting_low": 0.4},
    "table": {
        "leaning_forward": 1.0,
        "hand_on_support": 1.0,
        "standing": 0.6,
        "lying_on_back": 0.5,
        "sitting": 0.3,
    },
    "box": {
        "carrying": 1.0,
        "reaching_both_arms": 1.0,
        "bending": 0.8,
        "holding_one_hand": 0.6,
        "crouching": 0.6,
        "pushing": 0.5,
        "standing": 0.3,
    },
    "ball": {
        "arms_overhead": 1.0,
        "kicking": 1.0,
        "standing": 0.6,
        "reaching_both_arms": 0.5,
        "holding_one_hand": 0.4,
        "crouching": 0.3,
    },
    "bottle": {"holding_one_hand": 1.0, "standing": 0.5, "sitting": 0.4, "reaching_one_arm": 0.3},
    "cup": {"holding_one_hand": 1.0, "standing": 0.5, "sitting": 0.5, "reaching_one_arm": 0.3},
    "bat": {
        "holding_one_hand": 1.0,
        "reaching_both_arms": 0.5,
        "standing": 0.5,
        "arms_overhead": 0.3,
    },
}
"""Category -> pose -> relative weight; poses left out weigh `OTHER_POSE_WEIGHT`. Unknown
categories weigh every pose the same."""

CONTACT_PARTS: dict[str, dict[str, float]] = {
    "chair": {"buttocks": 0.8, "back": 0.4, "hands": 0.3},
    "stool": {"buttocks": 0.8, "hands": 0.2},
    "bench": {"buttocks": 0.8, "back": 0.4, "hands": 0.2},
    "couch": {"buttocks": 0.8, "back": 0.6},
    "bed": {"back": 0.7, "buttocks": 0.7, "legs": 0.4},
    "table": {"hands": 0.7, "back": 0.3, "buttocks": 0.3},
    "box": {"hands": 0.8, "arms": 0.4},
    "ball": {"hands": 0.6, "feet": 0.6},
    "bottle": {"hands": 0.5},
    "cup": {"hands": 0.5},
    "bat": {"hands": 0.7},
}
"""Category -> body part (`BodyModel.parts`) -> contact probability of its vertices. Both sides
are listed, so an object one hand holds gets 0.5; the fitting drops the side whose wrist (ankle)
the photo shows away from the object (`hoifit.fit_inputs`).
Every synthetic interaction's contact groups are covered by its category's parts."""

_SYNONYMS = {
    "sofa": "couch",
    "armchair": "chair",
    "seat": "chair",
    "desk": "table",
    "dining table": "table",
    "sports ball": "ball",
    "basketball": "ball",
    "football": "ball",
    "soccer ball": "ball",
    "volleyball": "ball",
    "baseball bat": "bat",
    "mug": "cup",
    "wine glass": "cup",
    "glass": "cup",
    "carton": "box",
    "package": "box",
    "crate": "box",
}
"""Names a detector or a user may give -> the name the tables use."""


def canonical_category(category: str | None) -> str | None:
    """The tables' name of an object category, or None when the tables do not know it.

    Tries each of `reconstruction.category_names.spellings` (the name as given, its singular,
    then its last word: "office chair" -> "chair"), each also through a synonym.

    Args:
        category: e.g. "Dining_Table", "chairs", "sports ball"; None for unknown.
    """
    if not category:
        return None
    known = CATEGORY_POSES.keys() | CONTACT_PARTS.keys()
    for form in spellings(category):
        form = _SYNONYMS.get(form, form)
        if form in known:
            return form
    return None


@dataclass(frozen=True)
class PoseLibrary:
    """Canonical interaction poses of one body model.

    Attributes:
        names: (N,) pose names, `POSE_NAMES`.
        body_pose: (N, J, 3) axis-angle `BodyParams.body_pose` of the backend.
        global_orient: (N, 3) axis-angle rotation of the pelvis in the canonical body frame
            (y up, facing +z).
        backend: the body model's name.
    """

    names: tuple[str, ...]
    body_pose: Tensor
    global_orient: Tensor
    backend: str

    def __len__(self) -> int:
        return len(self.names)

    def index(self, name: str) -> int:
        """Position of a pose by name; ValueError for an unknown one."""
        return self.names.index(name)

    def params(self, model: BodyModel) -> BodyParams:
        """The poses as a batch of N parameter sets: default shape, pelvis at the origin.

        Args:
            model: the body model the library was built for.

        Returns:
            Axis-angle parameters on the model's device and dtype, canonical body frame.
        """
        if model.name != self.backend:
            raise ValueError(f"a pose library of {self.backend!r} used with {model.name!r}")
        params = model.zero_params(len(self))
        params.body_pose = self.body_pose.to(params.body_pose)
        params.global_orient = self.global_orient.to(params.global_orient)
        return params


def pose_library(model: BodyModel) -> PoseLibrary:
    """The canonical interaction poses (`POSE_NAMES`) as parameters of `model`.

    Args:
        model: any backend `synthetic.poses.PoseBuilder` knows (anny, smplx, smpl).

    Returns:
        The library, on the model's device and dtype.
    """
    poser = PoseBuilder(model)
    poses = [poser.params(rotations).body_pose[0] for rotations, _ in _POSES.values()]
    orients = np.stack([orient for _, orient in _POSES.values()])
    return PoseLibrary(
        names=POSE_NAMES,
        body_pose=torch.stack(poses),
        global_orient=matrix_to_axis_angle(torch.as_tensor(orients)).to(
            device=model.device, dtype=model.dtype
        ),
        backend=model.name,
    )


def category_pose_weights(category: str | None, library: PoseLibrary) -> np.ndarray:
    """Prior probability of each library pose given the object's category.

    Args:
        category: the object's category (see `canonical_category`); None for unknown.
        library: the poses to weigh.

    Returns:
        (N,) float64 weights summing to 1, in the library's order: `CATEGORY_POSES`, uniform
        for an unknown category.
    """
    table = CATEGORY_POSES.get(canonical_category(category))
    if table is None:
        return np.full(len(library), 1.0 / len(library))
    weights = np.array([table.get(name, OTHER_POSE_WEIGHT) for name in library.names])
    return weights / weights.sum()


STANDING, SEATED, LYING = "standing", "seated", "lying"
"""How a body rests, as far as a support's contact is concerned (`contact_prior`)."""


def contact_prior(model: BodyModel, category: str | None, posture: str = SEATED) -> np.ndarray:
    """Per-vertex probability that the body touches an object of this category.

    Args:
        model: the body model (its part segmentation).
        category: the object's category; None for unknown.
        posture: STANDING, SEATED or LYING; changes a support's (`SUPPORT_CATEGORIES`) contact
            only. A standing body touches a support with its hands only, not with the
            `RESTING_PARTS`. A lying body touches it with the resting parts its category lists,
            each as likely as the category's likeliest part, and not with its hands: a table's
            hands (0.7 against 0.3 for back and buttocks) would otherwise place the table
            under a lying body's hands.

    Returns:
        (V,) float32 in [0, 1]: `CONTACT_PARTS`, the highest where parts overlap; all zero for
        an unknown category (no prior).
    """
    name = canonical_category(category)
    prior = np.zeros(model.num_vertices, dtype=np.float32)
    parts = CONTACT_PARTS.get(name, {})
    if name in SUPPORT_CATEGORIES and posture == STANDING:
        parts = {part: p for part, p in parts.items() if part not in RESTING_PARTS}
    elif name in SUPPORT_CATEGORIES and posture == LYING:
        likeliest = max(parts.values())
        parts = {part: likeliest for part in parts if part in RESTING_PARTS}
    for part, probability in parts.items():
        indices = model.parts[part].cpu().numpy()
        prior[indices] = np.maximum(prior[indices], probability)
    return prior


SUPPORT_CATEGORIES = frozenset({"chair", "stool", "bench", "couch", "bed", "table"})
"""Categories a body rests on: their contact is on the top of the seat or table top."""


def is_support(category: str | None) -> bool:
    """Whether a body rests on objects of this category (`SUPPORT_CATEGORIES`)."""
    return canonical_category(category) in SUPPORT_CATEGORIES


RESTING_PARTS = frozenset({"buttocks", "back", "legs"})
"""The parts a seated or lying body rests on a support with; a standing body does not."""

HANDHELD_CATEGORIES = frozenset({"box", "ball", "bottle", "cup", "bat"})
"""Categories held or handled all over: any of their surface may be touched."""

SUPPORT_PROBABILITY = 0.7
"""Object contact probability on a support's top surface."""

HANDHELD_PROBABILITY = 0.5
"""Object contact probability everywhere on a handheld object."""

SUPPORT_BAND = 0.03
"""Vertices up to this many metres below a support's top belong to its top surface."""
BACKREST_CATEGORIES = frozenset({"chair", "couch"})
"""Supports with a backrest the sitter's back leans on."""
BACKREST_PROBABILITY = 0.4
"""The body's back touches a backrest about as often as `CONTACT_PARTS` says (0.4 for a chair)."""
BACKREST_CLEARANCE = 0.1
"""Metres above the seat where the backrest starts."""


def object_contact_prior(vertices: np.ndarray, category: str | None) -> np.ndarray | None:
    """Per-vertex probability that the body touches this part of the object.

    A support's top is the highest level whose vertices spread over half its footprint's width
    and depth (`_support_top`), which skips a chair's backrest and legs; its vertices within
    `SUPPORT_BAND` below it, and not above it, get `SUPPORT_PROBABILITY`. A chair's or couch's
    vertices more than `BACKREST_CLEARANCE` above the seat are its backrest and get
    `BACKREST_PROBABILITY`, so the sitter's back is drawn to it: without it, nothing in the
    contact tells the chair's front from its back. Handheld objects get `HANDHELD_PROBABILITY`
    everywhere. A standing body's hands rest on the same regions (a table's top and its edge, a
    chair's seat or backrest; not the legs): where the hand meets the chair tells which way it
    faces (photo-protocol scene of a hand on a chair: 54 -> 5 degrees).

    Args:
        vertices: (Vo, 3) object mesh, y up, metres, upright (a support on its legs).
        category: the object's category; None for unknown.

    Returns:
        (Vo,) float32, or None for a category without an object prior.
    """
    name = canonical_category(category)
    vertices = np.asarray(vertices, dtype=np.float64)
    if name in HANDHELD_CATEGORIES:
        return np.full(len(vertices), HANDHELD_PROBABILITY, dtype=np.float32)
    if name not in SUPPORT_CATEGORIES or len(vertices) == 0:
        return None
    top, on_top = _support_top(vertices)
    prior = np.where(on_top, SUPPORT_PROBABILITY, 0.0)
    if name in BACKREST_CATEGORIES:
        prior[vertices[:, 1] > top + BACKREST_CLEARANCE] = BACKREST_PROBABILITY
    return prior.astype(np.float32)


def _support_top(vertices: np.ndarray) -> tuple[float, np.ndarray]:
    """A support's top height and its top-surface vertices.

    The top is the highest level whose vertices (those within `SUPPORT_BAND` below it) spread
    over at least half the footprint's width and depth: a seat or table top does, a backrest
    (thin in depth) or a leg does not. A low-poly seat has vertices at its corners only, so the
    level is judged by its spread, not by a vertex over the footprint's middle.
    """
    low, high = vertices.min(0), vertices.max(0)
    footprint = high[[0, 2]] - low[[0, 2]]
    # Centimetre levels, highest first: a scan's many heights cost no more than a box's few.
    for level in np.unique(np.round(vertices[:, 1], 2))[::-1]:
        band = vertices[(vertices[:, 1] >= level - SUPPORT_BAND) & (vertices[:, 1] <= level + 5e-3)]
        spread = band[:, [0, 2]].max(0) - band[:, [0, 2]].min(0)
        if (spread >= footprint / 2).all():
            top = float(band[:, 1].max())
            return top, (vertices[:, 1] >= top - SUPPORT_BAND) & (vertices[:, 1] <= top + 1e-6)
    top = float(high[1])
    return top, vertices[:, 1] >= top - SUPPORT_BAND


def seat_front(vertices: np.ndarray, category: str | None) -> np.ndarray | None:
    """The way a sitter faces on a seat: from its backrest over the seat, or across a bench.

    With a backrest: the horizontal direction from the backrest's centroid (vertices
    `BACKREST_CLEARANCE` above the seat's top) to the seat top's centroid, in the object's
    frame. A person sitting on a chair or couch faces that way, which the silhouette of another
    instance of the category hardly tells (a chair seen from the front or turned half round
    casts much the same shape). A bench (`SEATS_ACROSS`) is sat on across its length: its front
    is the level direction in which its top is narrowest, either way (its category is symmetric
    under a half turn).

    Args:
        vertices: (Vo, 3) object mesh, y up, metres, upright.
        category: the object's category.

    Returns:
        (3,) unit vector with y = 0, or None for a category without a backrest or length, or a
        mesh whose backrest is not found or stands over the seat's middle, or whose top is
        about as long as deep.
    """
    name = canonical_category(category)
    if name not in BACKREST_CATEGORIES | SEATS_ACROSS or len(vertices) == 0:
        return None
    vertices = np.asarray(vertices, dtype=np.float64)
    top, on_top = _support_top(vertices)
    if name in SEATS_ACROSS:
        return _narrowest_level_direction(vertices[on_top])
    backrest = vertices[:, 1] > top + BACKREST_CLEARANCE
    if not backrest.any() or not on_top.any():
        return None
    front = vertices[on_top].mean(0) - vertices[backrest].mean(0)
    front[1] = 0.0
    norm = np.linalg.norm(front)
    if norm < 1e-3 * np.ptp(vertices, axis=0).max():
        return None
    return front / norm


def support_length(vertices: np.ndarray, category: str | None) -> np.ndarray | None:
    """The level direction along which a body lies on a support: its top's longest.

    A person lies along a table, bench or bed, which another instance's silhouette hardly
    tells from lying across it (a lying body on a table of seed 1 of the photo protocol came
    out with the table turned a quarter round in all four runs).

    Args:
        vertices: (Vo, 3) object mesh, y up, metres, upright.
        category: the object's category.

    Returns:
        (3,) unit vector with y = 0, either way along the top; None for a category that is no
        support (`is_support`) or a top less than `MIN_LYING_ELONGATION` times longer than wide.
    """
    if not is_support(category) or len(vertices) == 0:
        return None
    vertices = np.asarray(vertices, dtype=np.float64)
    _, on_top = _support_top(vertices)
    narrow = _narrowest_level_direction(vertices[on_top], MIN_LYING_ELONGATION)
    return None if narrow is None else np.array([-narrow[2], 0.0, narrow[0]])


SEATS_ACROSS = frozenset({"bench"})
"""Seats without a backrest sat on across their length, facing either way."""
MIN_SEAT_ELONGATION = 1.5
"""A seat's top must be this many times longer than deep for its length to tell the facing."""
MIN_LYING_ELONGATION = 1.2
"""A support's top must be this many times longer than wide for its length to tell which way a
body lies on it."""


def _narrowest_level_direction(
    points: np.ndarray, min_elongation: float = MIN_SEAT_ELONGATION
) -> np.ndarray | None:
    """The level unit direction (y = 0) in which points extend least.

    The directions are the principal axes of the points' level spread; their lengths are the
    points' extents along them, not the spread's variances, which depend on where a mesh has
    its vertices (a table top's legs meet it at its corners).

    None when the points extend less than `min_elongation` times farther along the other axis.
    """
    level = points[:, [0, 2]] - points[:, [0, 2]].mean(0)
    if len(level) < 2:
        return None
    _, axes = np.linalg.eigh(level.T @ level)
    extents = np.ptp(level @ axes, axis=0)
    narrow_index = int(np.argmin(extents))
    if extents[1 - narrow_index] < min_elongation * max(extents[narrow_index], 1e-12):
        return None
    narrow = axes[:, narrow_index]
    return np.array([narrow[0], 0.0, narrow[1]]) / np.linalg.norm(narrow)
