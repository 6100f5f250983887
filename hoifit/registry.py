"""The one model registry: perception, CLIP and contact models, by stage name.

A builder takes a local checkpoint folder and a device and returns a wrapper (numpy in, numpy
out). `load_model` resolves a registered name, a local folder or a Hugging Face hub id to a
folder (the Hugging Face cache, never a silent download when `HF_HUB_OFFLINE` is set) and calls
the builder that matches the checkpoint's `model_type`. A missing checkpoint raises
`MissingWeightsError` with one line saying which model is missing and how to fetch it. The
contact stage loads a trained checkpoint (`load_contact`). `Models` holds what a run has
loaded, so a folder of samples loads each model once.
"""

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from reconstruction.errors import HoifitError

STAGES = ("detector", "segmenter", "depth", "person_detector", "pose", "clip")
"""Stages whose models come from the hub; the contact model is a local checkpoint."""


class MissingWeightsError(HoifitError):
    """A model's weights are neither in the given folder nor in the Hugging Face cache."""


@dataclass(frozen=True)
class ModelInfo:
    """A model hoifit knows how to load.

    Attributes:
        stage: the stage it serves.
        name: registry name.
        title: human-readable model name.
        hub_id: default Hugging Face hub id.
        model_type: the `model_type` of its `config.json`.
        licence: licence of the weights.
        download_gb: approximate download size in GB.
    """

    stage: str
    name: str
    title: str
    hub_id: str
    model_type: str
    licence: str
    download_gb: float


# Licences and sizes as published on the model cards (sizes approximate, safetensors only).
MODELS = {
    info.name: info
    for info in (
        ModelInfo(
            "detector",
            "grounding_dino",
            "Grounding DINO (tiny)",
            "IDEA-Research/grounding-dino-tiny",
            "grounding-dino",
            "Apache-2.0",
            0.7,
        ),
        ModelInfo(
            "segmenter", "sam", "SAM ViT-B", "facebook/sam-vit-base", "sam", "Apache-2.0", 0.4
        ),
        ModelInfo(
            "depth",
            "depth_pro",
            "Depth Pro",
            "apple/DepthPro-hf",
            "depth_pro",
            "Apple ML Research Model licence (apple-amlr, research only)",
            1.9,
        ),
        ModelInfo(
            "depth",
            "depth_anything",
            "Depth Anything V2 metric indoor (small)",
            "depth-anything/Depth-Anything-V2-Metric-Indoor-Small-hf",
            "depth_anything",
            "Apache-2.0",
            0.1,
        ),
        ModelInfo(
            "person_detector",
            "rt_detr",
            "RT-DETR R50 (COCO + Objects365)",
            "PekingU/rtdetr_r50vd_coco_o365",
            "rt_detr",
            "Apache-2.0",
            0.2,
        ),
        ModelInfo(
            "pose",
            "vitpose",
            "ViTPose base (simple)",
            "usyd-community/vitpose-base-simple",
            "vitpose",
            "Apache-2.0",
            0.4,
        ),
        ModelInfo(
            "clip", "clip", "CLIP ViT-B/32", "openai/clip-vit-base-patch32", "clip", "MIT", 0.6
        ),
    )
}

DEFAULT_MODELS = {
    "detector": "grounding_dino",
    "segmenter": "sam",
    "depth": "depth_pro",
    "person_detector": "rt_detr",
    "pose": "vitpose",
    "clip": "clip",
}

Builder = Callable[[Path, torch.device], object]
_BUILDERS: dict[tuple[str, str], Builder] = {}


def register_model(stage: str, name: str, builder: Callable) -> None:
    """Register a builder under a name for a stage (replacing any of that name).

    Args:
        stage: one of `STAGES`.
        name: the name `load_model` accepts.
        builder: `builder(folder, device)` for the models in `MODELS`; a name that is not in
            `MODELS` is built by `builder(None, device)` (tests register tiny models so).
    """
    if stage not in STAGES:
        raise ValueError(f"unknown perception stage {stage!r}; expected one of {STAGES}")
    _BUILDERS[(stage, name)] = builder


def load_model(stage: str, name_or_path: str | None = None, device=None):
    """Load the model of a stage.

    Args:
        stage: one of `STAGES`.
        name_or_path: a registered name (`MODELS` or `register_model`), a local checkpoint
            folder, or a Hugging Face hub id; None for the stage's default model.
        device: torch device or its name; CPU by default.

    Returns:
        The stage's wrapper (`Detector`, `Segmenter`, `DepthEstimator`, `PersonDetector`,
        `PoseEstimator` or `ClipEmbedder`).

    Raises:
        MissingWeightsError: the weights are not on this machine.
    """
    if stage not in STAGES:
        raise ValueError(f"unknown perception stage {stage!r}; expected one of {STAGES}")
    device = torch.device(device or "cpu")
    name_or_path = name_or_path or DEFAULT_MODELS[stage]
    info = MODELS.get(name_or_path)
    if (stage, name_or_path) in _BUILDERS and info is None:
        return _BUILDERS[(stage, name_or_path)](None, device)
    source = info.hub_id if info is not None else name_or_path
    folder = _resolve(stage, source, info)
    model_type = _model_type(folder)
    builder_name = next(
        (m.name for m in MODELS.values() if m.stage == stage and m.model_type == model_type),
        None,
    )
    if builder_name is None:
        raise HoifitError(
            f"{folder} holds a {model_type!r} model, which hoifit cannot use as the {stage}: "
            f"use one of {[m.hub_id for m in MODELS.values() if m.stage == stage]}"
        )
    builder = _BUILDERS.get((stage, builder_name)) or _default_builder(builder_name)
    return builder(folder, device)


def _resolve(stage: str, source: str, info: ModelInfo | None) -> Path:
    """The local folder of a checkpoint: the path itself, or the hub id's cached snapshot."""
    title = info.title if info else f"the {stage} model"
    fetch = f"`python scripts/download_weights.py {stage}`"
    path = Path(source).expanduser()
    if path.exists() or source.startswith((".", "/", "~")) or source.count("/") != 1:
        if not (path / "config.json").is_file():
            raise MissingWeightsError(
                f"{title} weights not found in folder {path} (no config.json): "
                f"fetch them with {fetch} or point the config at a checkpoint folder"
            )
        return path
    from huggingface_hub import snapshot_download

    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")
    try:
        folder = Path(snapshot_download(source, local_files_only=True))
    except Exception:  # noqa: BLE001 - any failure means "not in the cache"
        folder = None
        if not offline:
            try:
                folder = Path(snapshot_download(source))
            except Exception:  # noqa: BLE001 - no network, no such repo, no access
                folder = None
    if folder is None or not (folder / "config.json").is_file():
        raise MissingWeightsError(
            f"{title} weights ({source}) are not in the Hugging Face cache: fetch them with {fetch}"
        )
    return folder


def _model_type(folder: Path) -> str:
    return json.loads((folder / "config.json").read_text()).get("model_type", "")


def _default_builder(name: str) -> Builder:
    if name == "grounding_dino":
        from perception.detection import Detector

        return Detector.from_pretrained
    if name == "sam":
        from perception.segmentation import Segmenter

        return Segmenter.from_pretrained
    if name in ("depth_pro", "depth_anything"):
        from perception.depth import DepthEstimator

        return DepthEstimator.from_pretrained
    if name == "rt_detr":
        from perception.person_detection import PersonDetector

        return PersonDetector.from_pretrained
    if name == "vitpose":
        from perception.keypoints import PoseEstimator

        return PoseEstimator.from_pretrained
    from retrieval.embedding import ClipEmbedder

    return lambda folder, device: ClipEmbedder(str(folder), device=device or "cpu")


def load_contact(checkpoint: str, device=None):
    """A trained contact model.

    Either a `trainable.pt` written by `scripts/train_contact.py`, or a folder converted from an
    InteractVLM release (`scripts/convert_interactvlm.py`).

    Raises:
        HoifitError: the checkpoint does not exist or is not a contact checkpoint.
    """
    from contact.interactvlm import is_interactvlm_checkpoint, load_interactvlm

    if is_interactvlm_checkpoint(checkpoint):
        return load_interactvlm(checkpoint, device or "cpu")
    from contact.inference import load_contact_model

    return load_contact_model(checkpoint, device)


class Models:
    """The models one run has loaded, each built on first use.

    Args:
        perception: which perception and CLIP models (`PerceptionConfig`).
        contact_checkpoint: the contact model, or None.
        device: where models run.
    """

    def __init__(self, perception, contact_checkpoint: str | None, device):
        self.perception = perception
        self.contact_checkpoint = contact_checkpoint
        self.device = device
        self._loaded: dict[str, object] = {}

    def __call__(self, stage: str):
        """The model of a stage (one of `STAGES`, or "contact"), loaded once."""
        if stage not in self._loaded:
            if stage == "contact":
                if not self.contact_checkpoint:
                    raise HoifitError("no contact model configured: set contact.checkpoint")
                self._loaded[stage] = load_contact(self.contact_checkpoint, self.device)
            else:
                name = self.perception.model_for(stage)
                self._loaded[stage] = load_model(stage, name, self.device)
        return self._loaded[stage]
