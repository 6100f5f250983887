"""The pipeline: read a sample, run the stages whose outputs are missing, write the scene.

Stages today: sample reading (everything already in the folder), fitting, export. Perception
(masks, depth, keypoints, body initialization from a bare photo) and contact estimation are
added ahead of the fitting by later stages; until then a sample folder must hold their outputs.
"""

import csv
import dataclasses
import io
import logging
import time
from pathlib import Path

import torch

from optim.fit_metrics import fit_metrics
from optim.fitter import FitResult, fit
from reconstruction.atomic_io import atomic_write_json, atomic_write_text
from reconstruction.body_models import build_body_model
from reconstruction.config import HoifitConfig, save_config
from reconstruction.errors import HoifitError
from reconstruction.exports import write_scene
from reconstruction.fit_inputs import prepare_fit_inputs
from reconstruction.image_io import (
    IMAGE_SUFFIXES,
    camera_for_image,
    fit_to_max_size,
    load_image,
)
from reconstruction.object_model import MeshError, load_object_mesh, pose_to_json_dict
from reconstruction.sample_io import Sample, list_samples, read_sample
from reconstruction.scene import Scene

log = logging.getLogger(__name__)


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


def load_input(
    path: str | Path, config: HoifitConfig, object_mesh: str | Path | None = None
) -> Sample:
    """Read a sample folder or a bare image into a `Sample`.

    Args:
        path: a sample folder or an image file.
        config: camera settings for images without camera.json.
        object_mesh: a mesh replacing the sample's object.obj (read as is, no PICO rotation).

    Raises:
        HoifitError: missing path or unreadable files.
    """
    path = Path(path)
    if not path.exists():
        raise HoifitError(f"{path} does not exist: pass an image file or a sample folder")
    if path.is_dir():
        sample = read_sample(path, config.camera)
    elif path.suffix.lower() in IMAGE_SUFFIXES:
        image, exif = load_image(path)
        camera = camera_for_image(image.shape[1], image.shape[0], exif, config.camera)
        sample = Sample(name=path.stem, folder=None, image=image, camera=camera)
    else:
        raise HoifitError(f"{path} is neither a folder nor an image ({', '.join(IMAGE_SUFFIXES)})")
    if object_mesh is not None:
        sample.object_mesh = load_object_mesh(object_mesh)
    if sample.folder is None and sample.body_init is None:
        raise HoifitError(
            f"{path}: a bare photo needs the perception stage, which this version does not have "
            "yet; pass a sample folder with masks, a body initialization and object.obj "
            "(see README, 'Sample folders')"
        )
    return sample


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
    path: str | Path, out_dir: str | Path, config: HoifitConfig, object_mesh=None
) -> dict:
    """Reconstruct one sample and write its exports, config, loss log and metrics.

    Returns:
        The metrics written to `metrics.json`.
    """
    start = time.perf_counter()
    device = resolve_device(config.device)
    sample = load_input(path, config, object_mesh)
    body_model = build_body_model(
        config.body.backend,
        model_dir=config.body.model_dir,
        gender=config.body.gender,
        device=device,
    )
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
    path: str | Path, out_dir: str | Path, config: HoifitConfig, object_mesh=None
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
        metrics = reconstruct_sample(path, out_dir, config, object_mesh)
        return [(metrics["sample"], metrics["status"])]
    outcomes = []
    for folder in list_samples(path):
        try:
            metrics = reconstruct_sample(folder, Path(out_dir) / folder.name, config, object_mesh)
            outcomes.append((folder.name, metrics["status"]))
        except (HoifitError, MeshError, FileNotFoundError) as error:
            log.error("sample %s failed: %s", folder.name, error)
            outcomes.append((folder.name, f"error: {error}"))
    return outcomes
