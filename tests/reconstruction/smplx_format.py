"""Write small SMPL-X-format and SMPL-format model files with procedural geometry.

The licensed models may not be in the repository, so tests write stand-ins that `smplx` loads
like the real files: the same keys, the real joint trees and vertex counts (10,475 and 6,890,
so that smplx's hard-coded vertex ids are valid), but a stick figure in T-pose: a tube of
vertices around each bone, skinned to the joint that rotates that bone, with the standard face
keypoint vertices (nose, eyes, ears) placed on the head. Metres, y up, facing +z, left is +x,
pelvis off the origin as in the real models. Few shape components keep the files small: 20 for
SMPL-X (smplx reads 10 betas and 10 expressions from a file that has fewer than 400) and 10 for
SMPL; the pose correctives are zero.
"""

import pickle
from pathlib import Path

import numpy as np
from smplx.joint_names import JOINT_NAMES
from smplx.vertex_ids import vertex_ids

SMPLX_VERTICES = 10475
SMPL_VERTICES = 6890
_AROUND = 8  # vertices per ring of a tube
_PELVIS = np.array([0.0, -0.35, 0.01])

# Body joints (the 22 that SMPL-X and SMPL share), relative to the pelvis: name, parent, position
# of the left one (the right one mirrors x), tube radius.
_BODY = {
    "pelvis": (None, (0.0, 0.0, 0.0), 0.14),
    "left_hip": ("pelvis", (0.08, -0.08, 0.0), 0.08),
    "spine1": ("pelvis", (0.0, 0.1, -0.01), 0.13),
    "left_knee": ("left_hip", (0.09, -0.48, 0.01), 0.055),
    "spine2": ("spine1", (0.0, 0.22, -0.01), 0.13),
    "left_ankle": ("left_knee", (0.09, -0.88, -0.03), 0.04),
    "spine3": ("spine2", (0.0, 0.3, 0.0), 0.13),
    "left_foot": ("left_ankle", (0.1, -0.94, 0.1), 0.03),
    "neck": ("spine3", (0.0, 0.5, -0.02), 0.05),
    "left_collar": ("spine3", (0.07, 0.42, -0.01), 0.05),
    "head": ("neck", (0.0, 0.62, 0.01), 0.09),
    "left_shoulder": ("left_collar", (0.18, 0.44, -0.02), 0.05),
    "left_elbow": ("left_shoulder", (0.44, 0.44, -0.03), 0.04),
    "left_wrist": ("left_elbow", (0.7, 0.44, -0.03), 0.03),
}
# Where each bone's tube ends: its main child, or a stub for the leaves.
_BONE_END = {
    "pelvis": "spine1",
    "spine3": "neck",
    "head": (0.0, 0.82, 0.01),
    "left_foot": (0.1, -0.94, 0.18),
    "jaw": (0.0, 0.57, 0.08),
    "left_eye_smplhf": (0.03, 0.66, 0.1),
    "left_hand": (0.86, 0.44, -0.03),
}
_FINGER_Z = {"index": 0.03, "middle": 0.01, "ring": -0.01, "pinky": -0.03, "thumb": 0.05}
_FACE_KEYPOINTS = {  # smplx vertex id name -> position relative to the head joint
    "nose": (0.0, -0.02, 0.09),
    "leye": (0.03, 0.02, 0.08),
    "reye": (-0.03, 0.02, 0.08),
    "lear": (0.09, 0.0, 0.0),
    "rear": (-0.09, 0.0, 0.0),
}


def _mirror(name: str) -> str:
    return name.replace("left_", "right_") if name.startswith("left_") else name


def _skeleton(model_type: str) -> tuple[list[str], list[int], np.ndarray, dict, np.ndarray]:
    """Joint names, parents, positions (J, 3), bone ends and tube radii (J,)."""
    table = {}
    for name, (parent, position, radius) in _BODY.items():
        table[name] = (parent, np.array(position), radius)
        if name.startswith("left_"):
            right = (_mirror(parent) if parent else None, np.array(position) * [-1, 1, 1], radius)
            table[_mirror(name)] = right
    if model_type == "smplx":
        table["jaw"] = ("head", np.array([0.0, 0.6, 0.04]), 0.03)
        for side, sign in (("left", 1), ("right", -1)):
            table[f"{side}_eye_smplhf"] = ("head", np.array([0.03 * sign, 0.66, 0.08]), 0.012)
            for finger, z in _FINGER_Z.items():
                parent = f"{side}_wrist"
                for k in (1, 2, 3):
                    x = 0.72 + 0.03 * k + (0.0 if finger == "thumb" else 0.03)
                    table[f"{side}_{finger}{k}"] = (parent, np.array([x * sign, 0.44, z]), 0.01)
                    parent = f"{side}_{finger}{k}"
        names = list(JOINT_NAMES[:55])
    else:
        for side, sign in (("left", 1), ("right", -1)):
            table[f"{side}_hand"] = (f"{side}_wrist", np.array([0.78 * sign, 0.44, -0.03]), 0.03)
        names = [*JOINT_NAMES[:22], "left_hand", "right_hand"]

    parents = [-1 if table[n][0] is None else names.index(table[n][0]) for n in names]
    positions = np.stack([table[n][1] for n in names])
    radii = np.array([table[n][2] for n in names])
    ends = {}
    for j, name in enumerate(names):
        children = [c for c, p in enumerate(parents) if p == j]
        key = name.replace("right_", "left_")
        if key in _BONE_END:
            end = _BONE_END[key]
            if isinstance(end, str):
                end = positions[names.index(end)]
            else:
                end = np.array(end) * ([-1, 1, 1] if name.startswith("right_") else 1)
        elif children:
            end = positions[children[0]]
        else:  # the last segment of a finger continues straight
            end = 2 * positions[j] - positions[parents[j]]
        ends[name] = end
    return names, parents, positions, ends, radii


def _tube(start: np.ndarray, end: np.ndarray, radius: float, rings: int) -> np.ndarray:
    """(rings * _AROUND, 3) vertices of a tube, ring 0 centred on `start`."""
    axis = (end - start) / np.linalg.norm(end - start)
    helper = np.array([0.0, 0.0, 1.0]) if abs(axis[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    u = np.cross(axis, helper)
    u /= np.linalg.norm(u)
    w = np.cross(axis, u)
    t = np.arange(rings)[:, None, None] / rings
    angle = 2 * np.pi * np.arange(_AROUND)[None, :, None] / _AROUND
    points = start + t * (end - start) + radius * (np.cos(angle) * u + np.sin(angle) * w)
    return points.reshape(-1, 3)


def _tube_faces(first: int, rings: int) -> np.ndarray:
    """Triangles joining consecutive rings of a tube whose vertices start at `first`."""
    r, a = np.meshgrid(np.arange(rings - 1), np.arange(_AROUND), indexing="ij")
    v00 = first + r * _AROUND + a
    v01 = first + r * _AROUND + (a + 1) % _AROUND
    v10, v11 = v00 + _AROUND, v01 + _AROUND
    return np.concatenate([np.stack([v00, v01, v11], -1), np.stack([v00, v11, v10], -1)]).reshape(
        -1, 3
    )


def _body(model_type: str, num_vertices: int, num_shape: int, seed: int) -> dict:
    """The arrays smplx reads, for both formats."""
    rng = np.random.default_rng(seed)
    names, parents, positions, ends, radii = _skeleton(model_type)
    positions = positions + _PELVIS
    num_joints = len(names)
    special = vertex_ids["smplx" if model_type == "smplx" else "smplh"]
    head = names.index("head")

    # Rings per bone in proportion to the tube's area, so that the tubes and the face
    # keypoints fill the vertex count but a few vertices, which go on the head.
    lengths = np.array(
        [np.linalg.norm(ends[n] + _PELVIS - positions[j]) for j, n in enumerate(names)]
    )
    budget = (num_vertices - len(_FACE_KEYPOINTS)) // _AROUND
    rings = np.maximum(2, np.floor(budget * lengths * radii / (lengths * radii).sum())).astype(int)
    while rings.sum() > budget:
        rings[rings.argmax()] -= 1

    points, owners, faces, first_ring = [], [], [], []
    count = 0
    for j, name in enumerate(names):
        first_ring.append(count + np.arange(_AROUND))
        points.append(_tube(positions[j], ends[name] + _PELVIS, radii[j], rings[j]))
        owners.append(np.full(rings[j] * _AROUND, j))
        faces.append(_tube_faces(count, rings[j]))
        count += rings[j] * _AROUND
    extra = num_vertices - len(_FACE_KEYPOINTS) - count
    points.append(positions[head] + [0.0, 0.15, 0.0] + 0.01 * rng.standard_normal((extra, 3)))
    owners.append(np.full(extra, head))
    generated = np.concatenate(points)
    generated_owner = np.concatenate(owners)

    # The face keypoint ids get explicit head vertices; the generated ones fill the other ids.
    keypoint_ids = np.array([special[k] for k in _FACE_KEYPOINTS])
    slots = np.setdiff1d(np.arange(num_vertices), keypoint_ids)
    v_template = np.zeros((num_vertices, 3))
    owner = np.zeros(num_vertices, dtype=np.int64)
    v_template[slots], owner[slots] = generated, generated_owner
    v_template[keypoint_ids] = positions[head] + np.array(list(_FACE_KEYPOINTS.values()))
    owner[keypoint_ids] = head
    f = slots[np.concatenate(faces)]

    weights = np.zeros((num_vertices, num_joints))
    weights[np.arange(num_vertices), owner] = 1
    j_regressor = np.zeros((num_joints, num_vertices))
    for j, ring in enumerate(first_ring):
        j_regressor[j, slots[ring]] = 1 / _AROUND

    # Shape: a global scale about the pelvis, a width and a leg-length change, then small
    # per-bone offsets.
    shapedirs = np.zeros((num_vertices, 3, num_shape))
    shapedirs[:, :, 0] = 0.1 * (v_template - _PELVIS)
    shapedirs[:, 0, 1] = 0.05 * (v_template[:, 0])
    shapedirs[:, 1, 2] = 0.1 * np.minimum(v_template[:, 1] - _PELVIS[1], 0)
    shapedirs[:, :, 3:] = 0.01 * rng.standard_normal((num_joints, 3, num_shape - 3))[owner]

    f32 = np.float32
    return {
        "v_template": v_template.astype(f32),
        "f": f.astype(np.int64),
        "shapedirs": shapedirs.astype(f32),
        "posedirs": np.zeros((num_vertices, 3, 9 * (num_joints - 1)), dtype=f32),
        "J_regressor": j_regressor.astype(f32),
        "weights": weights.astype(f32),
        "kintree_table": np.stack([parents, np.arange(num_joints)]).astype(np.int64),
    }


def write_smplx_model(folder: Path, gender: str = "neutral", seed: int = 0) -> Path:
    """Write `<folder>/smplx/SMPLX_<GENDER>.npz`; returns its path."""
    data = _body("smplx", SMPLX_VERTICES, num_shape=20, seed=seed)
    rng = np.random.default_rng(seed + 1)
    num_faces = len(data["f"])
    data.update(
        hands_componentsl=np.eye(45, dtype=np.float32),
        hands_componentsr=np.eye(45, dtype=np.float32),
        # A non-zero mean hand, as in the real files, so that a caller forgetting
        # flat_hand_mean gets a different hand.
        hands_meanl=(0.2 * rng.standard_normal(45)).astype(np.float32),
        hands_meanr=(0.2 * rng.standard_normal(45)).astype(np.float32),
        lmk_faces_idx=rng.integers(0, num_faces, 51).astype(np.int64),
        lmk_bary_coords=np.full((51, 3), 1 / 3, dtype=np.float32),
        dynamic_lmk_faces_idx=rng.integers(0, num_faces, (79, 17)).astype(np.int64),
        dynamic_lmk_bary_coords=np.full((79, 17, 3), 1 / 3, dtype=np.float32),
    )
    path = Path(folder) / "smplx" / f"SMPLX_{gender.upper()}.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    # Compressed: the zero pose correctives are most of the 60 MB.
    np.savez_compressed(path, **data)
    return path


def write_smpl_model(folder: Path, gender: str = "neutral", seed: int = 0) -> Path:
    """Write `<folder>/smpl/SMPL_<GENDER>.pkl`; returns its path."""
    data = _body("smpl", SMPL_VERTICES, num_shape=10, seed=seed)
    path = Path(folder) / "smpl" / f"SMPL_{gender.upper()}.pkl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as file:
        pickle.dump(data, file)
    return path
