"""The pipeline: read a sample, run the stages whose outputs are missing, write the scene.

Stages: perception (masks, keypoints, depth, focal length), body initialization, object-mesh
retrieval, contact (with a trained model), fitting, export. Each stage writes its result into the
sample folder and is skipped when that result is already there, so a second run of the same
input costs only the fitting. A bare image `NAME.jpg` gets a sample folder of its own in PICO's
layout, `<out>/NAME/NAME.jpg`.

Perception runs when the sample lacks a mask, or lacks both a body initialization and keypoints;
it then fills every missing output. A complete PICO-db folder (masks and `osx_human.npz`) needs
no perception model.
"""

import csv
import dataclasses
import io
import logging
import shutil
import time
from pathlib import Path

import torch

from contact.inference import load_contact_model, predict_contact, write_prediction
from optim.fit_metrics import fit_metrics
from optim.fitter import FitResult, fit
from perception.body_init import initialize_body
from perception.registry import load_model
from perception.run import object_name_from, run_perception
from reconstruction.atomic_io import atomic_write_json, atomic_write_text
from reconstruction.body_models import BodyModel, build_body_model
from reconstruction.config import HoifitConfig, save_config
from reconstruction.errors import HoifitError
from reconstruction.exports import write_scene
from reconstruction.fit_inputs import prepare_fit_inputs
from reconstruction.image_io import IMAGE_SUFFIXES, fit_to_max_size, load_image
from reconstruction.object_model import MeshError, load_object_mesh, pose_to_json_dict
from reconstruction.sample_io import (
    BodyInit,
    Sample,
    list_samples,
    read_sample,
    write_body_init,
    write_object_mesh,
)
from reconstruction.scene import Scene
from retrieval.retrieve import retrieve_object_mesh

log = logging.getLogger(__name__)

_MODELS: dict = {}
"""Perception models loaded in this process, by configuration and device, then by stage: a
folder of samples loads each model once."""


def resolve_device(name: str) -> torch.device:
    """'auto' is CUDA when available, else CPU; anything else is passed to torch."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise HoifitError(f"unknown device {name!r}: use auto, cpu, cuda or cuda:N") from error
    if device.type == "cuda" and not torch.cuda.is_available():
        raise HoifitError(f"device {name!r} asked for but CUDA is not available: use cpu or auto")
    return device


def sample_folder_for(path: str | Path, out_dir: str | Path) -> Path:
    """The sample folder of an input: the folder itself, or `<out>/<stem>/` for an image.

    The image is checked before anything is written, then copied into the new folder under its
    own name (which may carry the object's name, `chair__0001.jpg`).

    Raises:
        HoifitError: the path does not exist or is neither a folder nor a readable image.
    """
    path = Path(path)
    if not path.exists():
        raise HoifitError(f"{path} does not exist: pass an image file or a sample folder")
    if path.is_dir():
        return path
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise HoifitError(f"{path} is neither a folder nor an image ({', '.join(IMAGE_SUFFIXES)})")
    load_image(path)
    folder = Path(out_dir) / path.stem
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / path.name).exists():
        shutil.copyfile(path, folder / path.name)
    return folder


def complete_sample(
    folder: Path,
    config: HoifitConfig,
    body_model: BodyModel,
    device: torch.device,
    object_name: str | None = None,
    object_mesh: str | Path | None = None,
) -> tuple[Sample, dict]:
    """Run perception, body initialization, retrieval and contact for what the folder lacks.

    Contact is predicted only when `contact.checkpoint` names a trained model and the folder
    holds no body contact (annotations are kept as they are); object contact is predicted on
    the object mesh with it.

    Returns:
        The completed sample, its mesh replaced by `object_mesh` (read as is) when given, and
        what ran: {"perception": summary or None, "body_init": bool, "retrieval": match or
        None, "contact": bool}.
    """
    done = {"perception": None, "body_init": False, "retrieval": None, "contact": False}
    models = _MODELS.setdefault((repr(config.perception), repr(config.contact), str(device)), {})
    sample = read_sample(folder, config.camera)
    if (
        sample.person_mask is None
        or sample.object_mask is None
        or (sample.body_init is None and sample.keypoints_2d is None)
    ):
        done["perception"] = run_perception(
            folder, sample.image, object_name, config.perception, device, models
        )
        sample = read_sample(folder, config.camera)
    if sample.body_init is None:
        if sample.keypoints_2d is None:
            raise HoifitError(
                f"sample {sample.name}: no body initialization and no 2D keypoints to fit one "
                "to; add keypoints_2d.json or body_init.npz"
            )
        params = initialize_body(
            body_model, sample.keypoints_2d, sample.camera, sample.person_mask, sample.depth
        )
        write_body_init(folder, BodyInit(body_model.name, body_model.to_npz_dict(params)))
        done["body_init"] = True
    if object_mesh is None and sample.object_mesh is None:
        name = object_name or sample.object_category or object_name_from(folder)
        if "clip" not in models:
            models["clip"] = load_model("clip", config.perception.clip, device)
        embedder = models["clip"]
        mesh, match = retrieve_object_mesh(
            sample.image, sample.object_bbox, name, embedder, config.retrieval
        )
        write_object_mesh(folder, mesh)
        done["retrieval"] = {"path": match.path, "category": match.category, "score": match.score}
        log.info(
            "object mesh retrieved: %s (%s, score %.3f)", match.path, match.category, match.score
        )
    has_contact = sample.contact is not None and (
        sample.contact.body_contact is not None or sample.contact.pairs is not None
    )
    if done["body_init"] or done["retrieval"]:
        sample = read_sample(folder, config.camera)
    if object_mesh is not None:
        sample.object_mesh = load_object_mesh(object_mesh)
    if config.contact.checkpoint and not has_contact:
        if "contact" not in models:
            models["contact"] = load_contact_model(config.contact.checkpoint, device)
        name = object_name or sample.object_category or object_name_from(folder) or "object"
        prediction = predict_contact(
            models["contact"], sample.image, name, body_model, sample.object_mesh
        )
        sample.contact = write_prediction(folder, prediction, body_model.name)
        done["contact"] = True
    return sample, done


def _loss_log_csv(rows: list[dict]) -> str:
    names = list(dict.fromkeys(key for row in rows for key in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=names, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _check_finite(result: FitResult, name: str) -> None:
    finite = (
        torch.isfinite(result.body_vertices).all() and torch.isfinite(result.object_vertices).all()
    )
    if not finite:
        raise HoifitError(
            f"sample {name}: the fitting diverged (non-finite result) and nothing was exported; "
            "try --config default or lower the stage learning rates"
        )


def reconstruct_sample(
    path: str | Path,
    out_dir: str | Path,
    config: HoifitConfig,
    object_mesh=None,
    object_name: str | None = None,
) -> dict:
    """Reconstruct one sample and write its exports, config, loss log and metrics.

    Returns:
        The metrics written to `metrics.json`.
    """
    start = time.perf_counter()
    device = resolve_device(config.device)
    folder = sample_folder_for(path, out_dir)
    body_model = build_body_model(
        config.body.backend,
        model_dir=config.body.model_dir,
        gender=config.body.gender,
        device=device,
    )
    sample, stages = complete_sample(folder, config, body_model, device, object_name, object_mesh)
    inputs = prepare_fit_inputs(sample, body_model, config.fit, device, seed=config.seed)
    prepared = time.perf_counter()
    result = fit(inputs, config.fit, seed=config.seed)
    _check_finite(result, sample.name)
    fitted = time.perf_counter()

    image, camera = fit_to_max_size(sample.image, sample.camera, config.render.max_image_size)
    contact = sample.contact
    scene = Scene(
        camera=camera,
        body_vertices=result.body_vertices.cpu().numpy(),
        body_faces=body_model.faces.cpu().numpy(),
        object_vertices=result.object_vertices.cpu().numpy(),
        object_faces=sample.object_mesh.faces,
        body_backend=body_model.name,
        body_params=body_model.to_npz_dict(result.body),
        object_pose=pose_to_json_dict(result.object_pose),
        image=image,
        body_contact=None if inputs.body_contact is None else inputs.body_contact.cpu().numpy(),
        object_contact=None if contact is None else contact.object_contact,
        object_name=sample.object_category or sample.object_mesh.name,
    )
    metrics = {
        "sample": sample.name,
        "status": "diverged" if result.diverged else "ok",
        "stages_run": stages,
        **fit_metrics(inputs, result),
        "final_losses": result.stages[-1].final if result.stages else {},
        "stages": [dataclasses.asdict(report) for report in result.stages],
        "time_s": {"prepare": prepared - start, "fit": fitted - prepared},
    }
    out = Path(out_dir)
    write_scene(scene, out, config.export.contact_threshold, previews=config.export.overlay)
    save_config(config, out / "config.yaml")
    atomic_write_text(out / "loss_log.csv", _loss_log_csv(result.log))
    metrics["time_s"]["export"] = time.perf_counter() - fitted
    metrics["time_s"]["total"] = time.perf_counter() - start
    atomic_write_json(out / "metrics.json", metrics)
    if result.diverged:
        log.warning(
            "sample %s: a stage rolled back after a non-finite loss (see metrics.json)", sample.name
        )
    return metrics


def is_sample_collection(path: Path) -> bool:
    """True for a folder of sample folders (rather than one sample)."""
    if not path.is_dir() or (path / "object.obj").exists():
        return False
    has_image = any(p.suffix.lower() in IMAGE_SUFFIXES for p in path.iterdir() if p.is_file())
    return not has_image and bool(list_samples(path))


def reconstruct(
    path: str | Path,
    out_dir: str | Path,
    config: HoifitConfig,
    object_mesh=None,
    object_name: str | None = None,
) -> list[tuple[str, str]]:
    """Reconstruct a sample, an image, or every sample in a folder of samples.

    With a folder of samples, each gets its own output folder under `out_dir`, named after it;
    a sample that fails is reported and the others go on.

    Returns:
        (name, "ok" | "diverged" | error message) per sample.

    Raises:
        HoifitError: for a single sample, whatever stops it.
    """
    path = Path(path)
    if not is_sample_collection(path):
        metrics = reconstruct_sample(path, out_dir, config, object_mesh, object_name)
        return [(metrics["sample"], metrics["status"])]
    outcomes = []
    for folder in list_samples(path):
        try:
            metrics = reconstruct_sample(
                folder, Path(out_dir) / folder.name, config, object_mesh, object_name
            )
            outcomes.append((folder.name, metrics["status"]))
        except (HoifitError, MeshError, FileNotFoundError) as error:
            log.error("sample %s failed: %s", folder.name, error)
            outcomes.append((folder.name, f"error: {error}"))
    return outcomes
