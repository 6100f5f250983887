"""osx_human.npz: OSX's SMPL-X estimate of the person, PICO-db's file.

It is the body initialization when `body_init.npz` is absent. Read: `hps_global_orient` (3,)
axis-angle, `hps_body_pose` (63,) or (21, 3) (axis-angle, or (21, 3, 3) matrices), and when
present `hps_betas` (S,), `hps_transl` (3,) (smplx's own `transl`), `hps_left_hand_pose` /
`hps_right_hand_pose` (45,), `hps_jaw_pose` (3,), `hps_expression` (E,); the same names without
the `hps_` prefix are accepted too. They are converted to the smplx backend's npz convention
(`SMPLXModel.params_from_npz`): batch-1 arrays `global_orient` (1, 3), `body_pose` (1, 63),
`betas` (1, S), `transl` (1, 3), `left_hand_pose` / `right_hand_pose` (1, 45) and the face
keys, plus `model_type` "smplx" and `gender` "neutral". `smpl_vertices` (6890, 3), the SMPL
mesh in the same pose, is kept in `BodyInit.smpl_vertices`; `bbox_2`, whose layout PICO does
not document, is not read. hoifit never writes this file: its own estimate goes to
`body_init.npz`.
"""

from pathlib import Path

import numpy as np
import torch

from reconstruction.errors import HoifitError
from reconstruction.rotations import matrix_to_axis_angle
from reconstruction.sample_io.npz import load_npz
from reconstruction.sample_io.parsing import numeric_array
from reconstruction.sample_io.sample import OSX_FILE, BodyInit


def read_osx_human(path: Path) -> BodyInit:
    """OSX's SMPL-X estimate in the smplx backend's npz convention.

    Raises:
        HoifitError: no global orientation or body pose, or a pose of the wrong size.
    """
    data = load_npz(path)

    def get(name: str):
        for key in (f"hps_{name}", name):
            if key in data:
                return numeric_array(path, data[key], key)
        return None

    def axis_angle(name: str, joints: int) -> np.ndarray | None:
        value = get(name)
        if value is None:
            return None
        if value.size == joints * 9:
            matrices = torch.as_tensor(value.reshape(joints, 3, 3))
            value = matrix_to_axis_angle(matrices).numpy()
        if value.size != joints * 3:
            raise HoifitError(
                f"{path}: hps_{name} has {value.size} values; expected {joints} joints as "
                "axis-angle (3 each) or rotation matrices (9 each)"
            )
        return value.reshape(1, joints * 3).astype(np.float32)

    global_orient, body_pose = axis_angle("global_orient", 1), axis_angle("body_pose", 21)
    if global_orient is None or body_pose is None:
        raise HoifitError(f"{path}: needs hps_global_orient and hps_body_pose (SMPL-X, 21 joints)")
    betas = get("betas")
    params = {
        "global_orient": global_orient,
        "body_pose": body_pose,
        "betas": (np.zeros(10) if betas is None else betas).reshape(1, -1).astype(np.float32),
        "transl": (np.zeros(3) if get("transl") is None else get("transl"))
        .reshape(1, 3)
        .astype(np.float32),
    }
    for name, joints in (("left_hand_pose", 15), ("right_hand_pose", 15), ("jaw_pose", 1)):
        value = axis_angle(name, joints)
        if value is not None:
            params[name] = value
    expression = get("expression")
    if expression is not None:
        params["expression"] = expression.reshape(1, -1).astype(np.float32)
    params["model_type"] = np.array("smplx")
    params["gender"] = np.array("neutral")
    smpl_vertices = data.get("smpl_vertices")
    if smpl_vertices is not None:
        smpl_vertices = numeric_array(path, smpl_vertices, "smpl_vertices", np.float32).reshape(
            -1, 3
        )
    return BodyInit("smplx", params, source=OSX_FILE, smpl_vertices=smpl_vertices)
