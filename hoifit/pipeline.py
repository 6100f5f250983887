"""The pipeline: read a sample, run the stages whose outputs are missing, fit, write the scene.

Stages: perception (masks, keypoints, depth, focal length), body initialization, object-mesh
retrieval, contact (with a trained model), fitting, export. Each stage returns its result and
`hoifit.store.SampleStore` writes it into the sample folder; a stage whose result is already
there is skipped (`SampleStore.missing_stages`), so a second run of the same input costs only
the fitting. A bare image `NAME.jpg` gets a sample folder of its own in PICO's layout,
`<out>/NAME/NAME.jpg`. A complete PICO-db folder (masks and `osx_human.npz`) needs no model.
"""

import csv
import dataclasses
import io
import logging
import os
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import torch

from hoifit.config import HoifitConfig, save_config
from hoifit.fit_inputs import focal_from_depth, prepare_fit_inputs
from hoifit.registry import Models
from hoifit.store import SampleStore, sample_folder_for
from optim.body_init import initialize_body
from optim.fit_metrics import fit_metrics
from optim.fitter import FitResult, fit
from perception.run import run_perception
from reconstruction.atomic_io import atomic_write_json, atomic_write_text
from reconstruction.body_models import BodyModel, build_body_model
from reconstruction.errors import HoifitError
from reconstruction.exports import write_scene
from reconstruction.image_io import IMAGE_SUFFIXES, fit_to_max_size
from reconstruction.object_model import MeshError, load_object_mesh, pose_to_json_dict
from reconstruction.sample_io import BodyInit, list_samples
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


def complete_sample(
    store: SampleStore,
    config: HoifitConfig,
    body_model: BodyModel,
    models: Models,
    object_mesh: str | Path | None = None,
    object_up: str | None = None,
) -> dict:
    """Run perception, body initialization, retrieval and contact for what the folder lacks.

    Contact is predicted only when `contact.checkpoint` names a trained model and the folder
    holds no body contact (annotations are kept as they are); object contact is predicted on
    the object mesh with it. `store.sample` ends complete, its mesh replaced by `object_mesh`
    (read as is) when given. Before contact is predicted, the mesh is brought to y-up metres in
    memory (`SampleStore.normalize_object_mesh`): `object_up` or the folder's object_frame.json
    (which describes the folder's object.obj, not `object_mesh`) gives its up axis.

    Returns:
        What ran: {"perception": summary or None, "body_init": bool, "retrieval": match or
        None, "contact": bool, "object_frame": what normalizing the mesh did}.
    """
    done = {"perception": None, "body_init": False, "retrieval": None, "contact": False}
    missing = store.missing_stages(object_mesh is not None, bool(config.contact.checkpoint))
    sample = store.sample
    if "perception" in missing:
        result = run_perception(
            sample.image, models, config.perception, **store.perception_request()
        )
        done["perception"] = {**result.summary(), "written": store.write_perception(result)}
    if "body_init" in missing:
        if sample.keypoints_2d is None:
            raise HoifitError(
                f"sample {sample.name}: no body initialization and no 2D keypoints to fit one "
                "to; add keypoints_2d.json or body_init.npz"
            )
        params = initialize_body(
            body_model,
            sample.keypoints_2d,
            sample.camera,
            sample.person_mask,
            sample.depth,
            config.fit,
            category=store.object_name,
        )
        if (
            config.fit.focal_from_depth
            and store.focal_guessed
            and sample.depth is not None
            and sample.person_mask is not None
        ):
            estimated = focal_from_depth(sample, body_model, params, config.fit.resolution)
            if estimated is not None:
                camera, params = estimated
                log.info(
                    "focal length from the depth map and the body: %.1f px (the guess was %.1f)",
                    camera.fx,
                    sample.camera.fx,
                )
                store.write_camera(camera)
        store.write_body_init(BodyInit(body_model.name, body_model.to_npz_dict(params)))
        done["body_init"] = True
    if "retrieval" in missing:
        from retrieval.retrieve import retrieve_object_mesh

        mesh, match = retrieve_object_mesh(
            sample.image, sample.object_bbox, store.object_name, models("clip"), config.retrieval
        )
        store.write_object_mesh(mesh)
        done["retrieval"] = {"path": match.path, "category": match.category, "score": match.score}
        log.info(
            "object mesh retrieved: %s (%s, score %.3f)", match.path, match.category, match.score
        )
    if object_mesh is not None:
        sample.object_mesh = load_object_mesh(object_mesh)
        sample.object_frame = None
    done["object_frame"] = store.normalize_object_mesh(object_up)
    if "contact" in missing:
        _predict_contact(store, config, body_model, models("contact"))
        done["contact"] = True
    return done


def _predict_contact(store: SampleStore, config: HoifitConfig, body_model, model) -> None:
    """Predict contact and write it into the sample folder.

    A ContactVLM predicts on the body in use; an InteractVLM checkpoint on SMPL's vertices, which
    are moved onto SMPL-X by the map of InteractVLM's data folder, or onto another body by the
    fitting when it has the body's SMPL mesh.
    """
    # The contact models' modules (transformers, peft) take seconds to import: only when used.
    from contact.inference import predict_contact
    from contact.interactvlm import InteractVLM, predict_interactvlm_contact
    from contact.interactvlm.renders import SMPL_TO_SMPLX_FILE, smpl_contact_to_smplx

    sample, name = store.sample, store.object_name or "object"
    if not isinstance(model, InteractVLM):
        prediction = predict_contact(model, sample.image, name, body_model, sample.object_mesh)
        store.write_contact(prediction.body, body_model.name, prediction.object)
        return
    smpl_mesh = sample.body_init is not None and sample.body_init.smpl_vertices is not None
    if not (smpl_mesh or body_model.name in ("smpl", "smplx")):
        raise HoifitError(
            f"sample {sample.name}: InteractVLM predicts contact on SMPL's vertices, and "
            f"body.backend={body_model.name} has no SMPL mesh of this body to move it to: "
            "run with --set body.backend=smpl or smplx (model files in HOIFIT_SMPLX_DIR)"
        )
    contact = config.contact
    prediction = predict_interactvlm_contact(
        model,
        sample.image,
        name,
        object_mesh=sample.object_mesh,
        interactvlm_data=contact.interactvlm_data,
        inference_type=contact.inference_type,
        answer=contact.answer,
        questions=contact.questions,
    )
    body, topology = prediction.body_contact, prediction.topology
    # SMPL-X gets InteractVLM's own map; without its file, the fitting's proximity transfer
    # through the body's SMPL mesh, when the sample has one.
    if body is not None and body_model.name == "smplx":
        mapped = (Path(contact.interactvlm_data) / SMPL_TO_SMPLX_FILE).is_file()
        if mapped or not smpl_mesh:
            body, topology = smpl_contact_to_smplx(body, contact.interactvlm_data), "smplx"
    store.write_contact(body, topology, prediction.object_contact)


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


@dataclasses.dataclass
class Session:
    """What every sample of a run shares: the device, the body model and the loaded models."""

    device: torch.device
    body_model: BodyModel
    models: Models

    @classmethod
    def create(cls, config: HoifitConfig) -> "Session":
        """Resolve the device and build the body model; other models load on first use."""
        device = resolve_device(config.device)
        body_model = build_body_model(
            config.body.backend,
            model_dir=config.body.model_dir,
            gender=config.body.gender,
            device=device,
        )
        models = Models(config.perception, config.contact.checkpoint, device)
        return cls(device, body_model, models)


def reconstruct_sample(
    path: str | Path,
    out_dir: str | Path,
    config: HoifitConfig,
    object_mesh=None,
    object_name: str | None = None,
    session: Session | None = None,
    object_up: str | None = None,
) -> dict:
    """Reconstruct one sample and write its exports, config, loss log and metrics.

    Args:
        path: a sample folder or an image.
        out_dir: where the results go (and the new sample folder of an image).
        config: the run's configuration.
        object_mesh: a mesh file that replaces the sample's object mesh.
        object_name: the object's name, when the folder's name does not give it.
        session: shared by the samples of a run; built from `config` when None.
        object_up: the object mesh's up axis (+x, -x, +y, -y, +z, -z), overriding
            object_frame.json, or None.

    Returns:
        The metrics written to `metrics.json`.
    """
    start = time.perf_counter()
    session = session or Session.create(config)
    body_model = session.body_model
    store = SampleStore(sample_folder_for(path, out_dir), config.camera, object_name)
    stages = complete_sample(store, config, body_model, session.models, object_mesh, object_up)
    sample = store.sample
    inputs = prepare_fit_inputs(
        sample,
        body_model,
        config.fit,
        session.device,
        seed=config.seed,
        category=store.object_name,
    )
    prepared = time.perf_counter()
    result = fit(inputs, config.fit, seed=config.seed)
    _check_finite(result, sample.name)
    fitted = time.perf_counter()

    image, camera = fit_to_max_size(sample.image, sample.camera, config.export.max_image_size)
    contact = sample.contact
    scene = Scene(
        camera=camera,
        body_vertices=result.body_vertices.cpu().numpy(),
        body_faces=body_model.faces.cpu().numpy(),
        object_vertices=result.object_vertices.cpu().numpy(),
        object_faces=sample.object_mesh.faces,
        body_backend=body_model.name,
        body_params=body_model.to_npz_dict(result.body),
        object_pose={
            **pose_to_json_dict(result.object_pose),
            "object_frame": stages["object_frame"],
        },
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
    workers: int = 1,
    object_up: str | None = None,
) -> list[tuple[str, str]]:
    """Reconstruct a sample, an image, or every sample in a folder of samples.

    With a folder of samples, each gets its own output folder under `out_dir`, named after it;
    a sample that fails is reported and the others go on. With `workers` > 1 the samples are
    shared among that many processes, each with its share of the CPU cores as torch threads
    (processes whose threads outnumber the cores slow each other many times over).

    Returns:
        (name, "ok" | "diverged" | error message) per sample.

    Raises:
        HoifitError: for a single sample, whatever stops it.
    """
    path = Path(path)
    if not is_sample_collection(path):
        metrics = reconstruct_sample(
            path, out_dir, config, object_mesh, object_name, object_up=object_up
        )
        return [(metrics["sample"], metrics["status"])]
    folders = list_samples(path)
    jobs = [
        (folder, Path(out_dir) / folder.name, object_mesh, object_name, object_up)
        for folder in folders
    ]
    workers = max(1, min(workers, len(folders)))
    if workers == 1:
        session = Session.create(config)
        return [_reconstruct_one(job, config, session) for job in jobs]
    threads = max(1, cpu_count() // workers)
    log.info("%d samples on %d workers, %d threads each", len(jobs), workers, threads)
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=get_context("spawn"),
        initializer=_start_worker,
        initargs=(config, threads),
    ) as pool:
        return list(pool.map(_reconstruct_in_worker, jobs))


def cpu_count() -> int:
    """The cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def _reconstruct_one(job, config: HoifitConfig, session: Session | None) -> tuple[str, str]:
    folder, out, object_mesh, object_name, object_up = job
    try:
        metrics = reconstruct_sample(
            folder, out, config, object_mesh, object_name, session, object_up
        )
        return folder.name, metrics["status"]
    except (HoifitError, MeshError, FileNotFoundError) as error:
        log.error("sample %s failed: %s", folder.name, error)
        return folder.name, f"error: {error}"


_worker: dict = {}
"""A worker process's config and session, set once by `_start_worker`."""


def _start_worker(config: HoifitConfig, threads: int) -> None:
    torch.set_num_threads(threads)
    logging.basicConfig(level=logging.INFO, format="%(processName)s: %(message)s")
    _worker["config"] = config
    _worker["session"] = Session.create(config)


def _reconstruct_in_worker(job) -> tuple[str, str]:
    return _reconstruct_one(job, _worker["config"], _worker["session"])
