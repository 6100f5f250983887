"""A PICO-db folder as PICO ships it, through reconstruct.py with the SMPL-X backend.

The folder is made from a synthetic SMPL-X scene (stand-in model files) and rewritten in PICO's
form: OSX's body estimate in osx_human.npz with the SMPL mesh of the same pose, JSON detections,
and contact pairs on SMPL vertex indices, so the reader, the topology transfer and the fitting
all run as they do on real PICO-db samples.
"""

import dataclasses
import json

import numpy as np
import torch

from reconstruct import main
from reconstruction.body_models import build_body_model
from reconstruction.sample_io import read_sample, write_detection, write_pairs
from reconstruction.synthetic import write_synthetic_samples
from reconstruction.topology import nearest_vertex_map
from tests.cli_args import QUICK


def make_pico_folder(tmp_path, smplx_dir):
    folder = write_synthetic_samples(
        tmp_path / "samples",
        1,
        seed=5,
        image_size=(96, 96),
        body_backend="smplx",
        model_dir=smplx_dir,
    )[0]
    sample = read_sample(folder)
    params = sample.body_init.params
    smplx_model = build_body_model("smplx", model_dir=smplx_dir)
    smpl_model = build_body_model("smpl", model_dir=smplx_dir)
    body = smplx_model.params_from_npz(params)
    with torch.no_grad():
        smplx_vertices = smplx_model(body).vertices[0].numpy()
        # SMPL's 23 joints: SMPL-X's 21 body joints and the two hands at rest.
        rest = smpl_model.zero_params(1)
        smpl_params = dataclasses.replace(
            rest,
            global_orient=body.global_orient,
            transl=body.transl,
            body_pose=torch.cat([body.body_pose, rest.body_pose[:, 21:]], dim=1),
        )
        smpl_vertices = smpl_model(smpl_params).vertices[0].numpy()
    np.savez(
        folder / "osx_human.npz",
        hps_global_orient=params["global_orient"][0],
        hps_body_pose=params["body_pose"][0],
        hps_betas=params["betas"][0],
        hps_transl=params["transl"][0],
        smpl_vertices=smpl_vertices,
        bbox_2=np.zeros(4),
    )
    pairs = sample.contact.pairs
    to_smpl = nearest_vertex_map(smplx_vertices, smpl_vertices)
    write_pairs(
        folder,
        dataclasses.replace(pairs, body_vertex=to_smpl[pairs.body_vertex], body_topology="smpl"),
    )
    for kind, mask in (("human", sample.person_mask), ("object", sample.object_mask)):
        (folder / f"{kind}_detection.npz").unlink()
        write_detection(folder, kind, mask, None, file_format="json")
    for name in ("body_init.npz", "contact.npz", "camera.json"):
        (folder / name).unlink()
    return folder


def test_pico_folder_reconstructs_with_smplx(tmp_path, smplx_dir):
    folder = make_pico_folder(tmp_path, smplx_dir)
    sample = read_sample(folder)
    assert (
        sample.body_init.source == "osx_human.npz" and sample.contact.pairs.body_topology == "smpl"
    )
    out = tmp_path / "out"
    args = [
        str(folder),
        "--out",
        str(out),
        *QUICK,
        "--set",
        "body.backend=smplx",
        "--set",
        f"body.model_dir={smplx_dir}",
    ]
    assert main(args) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "ok"
    # The pairs came through the SMPL -> SMPL-X transfer and still sit near each other.
    assert metrics["contact_dist_cm"] < 20


def test_pico_folder_with_anny_backend_says_what_to_set(tmp_path, smplx_dir, capsys):
    folder = make_pico_folder(tmp_path, smplx_dir)
    assert main([str(folder), "--out", str(tmp_path / "out"), *QUICK]) == 2
    assert "--set body.backend=smplx" in capsys.readouterr().err
