"""What an InteractVLM release is: its settings, the ones hoifit knows, and the converted meta.

A release folder holds a flat LLaVA-v1 `config.json` (read as JSON: transformers 5 has a
different `llava` type) and, usually, the training arguments in `pretrained_config.json`, which
serve as the fallback for the InteractVLM fields. `read_release_config` checks every field that
changes inference against the values hoifit implements and refuses anything else in one line.

`CheckpointMeta` is what a converted checkpoint keeps in `meta.json`: token ids, the task(s) with
their view set, cameras and question type, thresholds and where it came from.

View sets. A task's view set names four fixed cameras (distance, elevation, azimuth, x shift,
y shift), in the order of the renders and of the per-view camera gates. The human sets differ only
in which folder of the user's InteractVLM `data/` holds the pixel-to-vertex maps; the object sets
share one set of cameras (the renders themselves are made at distance 1.5, see `renders.py`).
"""

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from reconstruction.errors import HoifitError

META_FILE = "meta.json"
META_FORMAT = "hoifit-interactvlm"
META_VERSION = 1

LLAVA_FOLDER = "llava"
SAM_FOLDER = "sam"
HEADS_FILE = "heads.safetensors"
TOKENIZER_FOLDER = "tokenizer"
TOKENIZER_FILES = (
    "tokenizer.model",
    "added_tokens.json",
    "special_tokens_map.json",
    "tokenizer_config.json",
)
"""Files of the release's slow LLaMA tokenizer; the first two are required."""

IMAGE_TOKEN_INDEX = -200
"""The image placeholder of LLaVA-v1's `tokenizer_image_token`; never a vocabulary id."""

HUMAN_VIEW_NAMES = ("topfront", "bottomfront", "topback", "bottomback")
HUMAN_CAMERAS = (
    (2.0, 45.0, 315.0, 0.0, 0.0),
    (2.0, 315.0, 315.0, 0.0, 0.3),
    (2.0, 45.0, 135.0, 0.0, 0.0),
    (2.0, 315.0, 135.0, 0.0, 0.3),
)
"""(distance, elevation, azimuth, x shift, y shift) of the body views, in render order."""

HUMAN_VIEW_SETS = {
    "4MV-Z_Vitru": "hcontact_vitruvian",
    "4MV-Z_Vitru_mv2": "hcontact_vitruvian_mv2",
    "4MV-Z_Vitru_FootGround": "hcontact_vitruvian",
}
"""Known human view sets and the data/ subfolder of their pixel-to-vertex maps."""

HUMAN_RENDER_FOLDER = "hcontact_vitruvian"
"""The data/ subfolder whose `body_render_norm_{view}.png` are the SAM inputs for every set."""

OBJECT_VIEW_NAMES = ("frontleft", "frontright", "backleft", "backright")
OBJECT_CAMERAS = (
    (2.0, 45.0, 315.0, 0.0, 0.0),
    (2.0, 45.0, 45.0, 0.0, 0.0),
    (2.0, 330.0, 135.0, 0.0, 0.0),
    (2.0, 330.0, 225.0, 0.0, 0.0),
)
"""Cameras of the object view sets as the gates see them (distance 2)."""

OBJECT_VIEW_SETS = (
    "4MV-Z_Fix",
    "4MV-Z_HM",
    "4MV-Z_HM1",
    "4MV-Z_HM2",
    "4MV-Z_HM_MeshInf",
    "4MV-Z_HM_BM",
    "4MV-Z_HM_BM-L",
)
"""Known object view sets: all four-view sets with the cameras of `OBJECT_CAMERAS`."""

UNSET_VIEW_SETS = {"human": (None, "", "2viewsFix"), "object": (None, "", "4viewsFix")}
"""Values a release stores for a task it was not trained on (InteractVLM's argument defaults)."""

HUMAN_QUESTION_TYPES = ("simple", "parts")
OBJECT_QUESTION_TYPES = ("simple", "afford", "afford_obj")
TOKEN_TYPES = ("Gen", "Gen-Hu-Obj")
CAMERA_ENCODERS = ("vi_v1",)

HUMAN_DISPLAY_THRESHOLD = 0.3
"""The demo colours body vertices above this probability (the lift itself uses none)."""
OBJECT_VOTE_THRESHOLD = 0.3
"""Only object-render pixels with sigmoid(logit) above this vote in the object lift."""
EVALUATION_THRESHOLD = 0.5
"""Contact is predicted where p >= this in the published evaluation."""


class InteractVLMError(HoifitError):
    """A release or converted checkpoint that hoifit cannot use; the message is one line."""


@dataclass(frozen=True)
class TaskMeta:
    """One contact task of a checkpoint.

    Attributes:
        view_set: InteractVLM's name of the view set.
        question_type: the question family the model was trained on.
        views: the view names, in render order.
        cameras: per view (distance, elevation, azimuth, x shift, y shift) as fed to the gates.
        maps_folder: human only, the data/ subfolder of the pixel-to-vertex maps.
    """

    view_set: str
    question_type: str
    views: tuple[str, ...]
    cameras: tuple[tuple[float, ...], ...]
    maps_folder: str | None = None


@dataclass(frozen=True)
class CheckpointMeta:
    """The contents of a converted checkpoint's meta.json.

    Attributes:
        token_type: "Gen" (one [SEG]) or "Gen-Hu-Obj" ([HSEG] for the body, [OSEG] for the object).
        token_ids: seg / hseg / oseg (absent when unused), im_start, im_end, bos, eos, unk,
            image (the placeholder id appended to the vocabulary for transformers 5).
        added_tokens: the release's added_tokens.json, name -> id.
        human, object: the tasks the checkpoint was trained on (None when not).
        image_seq_length: CLIP features per image (256).
        heads: the sizes of `model.InteractVLMHeads`.
        thresholds: human_display, object_vote, evaluation.
        source: where the conversion came from (release folder name, config files, CLIP).
    """

    token_type: str
    token_ids: dict[str, int]
    added_tokens: dict[str, int]
    human: TaskMeta | None
    object: TaskMeta | None
    image_seq_length: int
    heads: dict
    thresholds: dict[str, float] = field(
        default_factory=lambda: {
            "human_display": HUMAN_DISPLAY_THRESHOLD,
            "object_vote": OBJECT_VOTE_THRESHOLD,
            "evaluation": EVALUATION_THRESHOLD,
        }
    )
    source: dict = field(default_factory=dict)

    def seg_token_ids(self) -> tuple[int, ...]:
        """Ids of every segmentation token of the checkpoint."""
        names = ("seg", "hseg", "oseg")
        return tuple(self.token_ids[name] for name in names if name in self.token_ids)

    def task_token_name(self, task: str) -> str:
        """The answer token of a task ("human" or "object"): [SEG], or [HSEG] / [OSEG]."""
        if self.token_type == "Gen":
            return "[SEG]"
        return "[HSEG]" if task == "human" else "[OSEG]"

    def to_json(self) -> dict:
        """A JSON-ready dict, with format and version."""
        return {"format": META_FORMAT, "version": META_VERSION, **asdict(self)}

    @classmethod
    def from_json(cls, data: dict) -> "CheckpointMeta":
        """Inverse of `to_json`.

        Raises:
            InteractVLMError: not a hoifit InteractVLM meta, or a newer version.
        """
        if data.get("format") != META_FORMAT:
            raise InteractVLMError(f"meta.json is not a {META_FORMAT} file")
        if data.get("version") != META_VERSION:
            raise InteractVLMError(
                f"meta.json has version {data.get('version')}, this hoifit reads {META_VERSION}: "
                "convert the release again"
            )

        def task(entry):
            if entry is None:
                return None
            return TaskMeta(
                view_set=entry["view_set"],
                question_type=entry["question_type"],
                views=tuple(entry["views"]),
                cameras=tuple(tuple(float(x) for x in c) for c in entry["cameras"]),
                maps_folder=entry.get("maps_folder"),
            )

        return cls(
            token_type=data["token_type"],
            token_ids={k: int(v) for k, v in data["token_ids"].items()},
            added_tokens={k: int(v) for k, v in data["added_tokens"].items()},
            human=task(data["human"]),
            object=task(data["object"]),
            image_seq_length=int(data["image_seq_length"]),
            heads=dict(data["heads"]),
            thresholds={k: float(v) for k, v in data["thresholds"].items()},
            source=dict(data.get("source", {})),
        )


def read_meta(folder: str | Path) -> CheckpointMeta:
    """Read a converted checkpoint's meta.json.

    Raises:
        InteractVLMError: missing or invalid file.
    """
    path = Path(folder) / META_FILE
    if not path.is_file():
        raise InteractVLMError(
            f"{folder} is not a converted InteractVLM checkpoint (no {META_FILE}); "
            "convert the release with scripts/convert_interactvlm.py"
        )
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise InteractVLMError(f"cannot read {path}: {error}") from error
    return CheckpointMeta.from_json(data)


def is_interactvlm_checkpoint(folder: str | Path) -> bool:
    """Whether `folder` holds a converted InteractVLM checkpoint (its meta.json says so)."""
    path = Path(folder) / META_FILE
    try:
        return json.loads(path.read_text()).get("format") == META_FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def camera_vector(camera: tuple[float, ...]) -> tuple[float, float, float, float, float]:
    """InteractVLM's normalized camera vector of one view, the input of its gate.

    (distance / 10, elevation / 360, azimuth / 360, (x + 1) / 2, (y + 1) / 2).
    """
    distance, elevation, azimuth, x, y = camera
    return (distance / 10.0, elevation / 360.0, azimuth / 360.0, (x + 1.0) / 2.0, (y + 1.0) / 2.0)


@dataclass(frozen=True)
class ReleaseConfig:
    """The settings of a release that conversion and inference need.

    Attributes:
        llama: LLaMA sizes and ids from config.json (hidden_size, intermediate_size,
            num_hidden_layers, num_attention_heads, num_key_value_heads, max_position_embeddings,
            rms_norm_eps, rope_theta, vocab_size, pad/bos/eos_token_id).
        mm_hidden_size: CLIP feature size.
        vision_select_layer: CLIP hidden state fed to the projector (-2).
        vision_tower: the CLIP model named by the release.
        out_dim: SAM prompt size.
        img_emb_len: CLIP features - 1.
        token_type, seg_ids: see `CheckpointMeta`.
        camera_views: views per task (4).
        human, object: the trained tasks.
        config_files: which files the values came from.
    """

    llama: dict
    mm_hidden_size: int
    vision_select_layer: int
    vision_tower: str
    out_dim: int
    img_emb_len: int
    token_type: str
    seg_ids: dict[str, int]
    camera_views: int
    human: TaskMeta | None
    object: TaskMeta | None
    config_files: tuple[str, ...]


def _load_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise InteractVLMError(f"cannot read {path}: {error}") from error
    if not isinstance(data, dict):
        raise InteractVLMError(f"{path} does not hold a JSON object")
    return data


_TRAINING_ARG_NAMES = {
    "use_fusion": "use_feat_fusion",
    "mm_use_im_start_end": "use_mm_start_end",
    "mm_vision_tower": "vision_tower",
}
"""config.json field -> its name among the training arguments of pretrained_config.json."""


def _task(kind: str, view_set, question_type, loss_weight, name: Path) -> TaskMeta | None:
    """The task of one kind, None when the release was not trained on it.

    A task needs a positive loss weight and a view set other than the training default.
    """
    if loss_weight is not None and float(loss_weight) <= 0:
        return None
    if view_set in UNSET_VIEW_SETS[kind]:
        return None
    prefix = "hC" if kind == "human" else "oC"
    if kind == "human":
        if view_set not in HUMAN_VIEW_SETS:
            raise InteractVLMError(
                f"{name}: unknown human view set {prefix}_sam_view_type={view_set!r}; "
                f"hoifit knows {', '.join(HUMAN_VIEW_SETS)}"
            )
        known_questions, views, cameras = HUMAN_QUESTION_TYPES, HUMAN_VIEW_NAMES, HUMAN_CAMERAS
    else:
        if view_set not in OBJECT_VIEW_SETS:
            raise InteractVLMError(
                f"{name}: unknown object view set {prefix}_sam_view_type={view_set!r}; "
                f"hoifit knows {', '.join(OBJECT_VIEW_SETS)}"
            )
        known_questions, views, cameras = OBJECT_QUESTION_TYPES, OBJECT_VIEW_NAMES, OBJECT_CAMERAS
    question_type = question_type if question_type is not None else "simple"
    if question_type not in known_questions:
        raise InteractVLMError(
            f"{name}: unknown {prefix}_question_type={question_type!r}; "
            f"hoifit knows {', '.join(known_questions)}"
        )
    return TaskMeta(
        view_set=view_set,
        question_type=question_type,
        views=views,
        cameras=cameras,
        maps_folder=HUMAN_VIEW_SETS.get(view_set) if kind == "human" else None,
    )


def read_release_config(release_dir: str | Path) -> ReleaseConfig:
    """Read and check the configuration of a release folder.

    Args:
        release_dir: the unzipped release (config.json, weights, tokenizer files).

    Returns:
        The checked settings.

    Raises:
        InteractVLMError: a missing config.json, or a setting hoifit does not implement.
    """
    release_dir = Path(release_dir)
    config_path = release_dir / "config.json"
    if not config_path.is_file():
        raise InteractVLMError(
            f"{release_dir} has no config.json: give the unzipped InteractVLM release folder"
        )
    config = _load_json(config_path)
    files = ["config.json"]
    fallback = {}
    if (release_dir / "pretrained_config.json").is_file():
        fallback = _load_json(release_dir / "pretrained_config.json")
        files.append("pretrained_config.json")

    def get(key, default=None):
        if key in config:
            return config[key]
        alias = _TRAINING_ARG_NAMES.get(key, key)
        return fallback.get(alias, fallback.get(key, default))

    def require(condition: bool, what: str):
        if not condition:
            raise InteractVLMError(f"{config_path}: {what}; hoifit cannot convert this release")

    architectures = config.get("architectures") or []
    require(
        config.get("model_type") == "llava"
        and any("InteractVLM" in a or "Llava" in a for a in architectures),
        f"not an InteractVLM LLaVA config (model_type={config.get('model_type')!r}, "
        f"architectures={architectures})",
    )
    require(
        config.get("mm_projector_type", "linear") == "linear",
        f"projector {config.get('mm_projector_type')!r} is not LLaVA-v1's single linear",
    )
    require(config.get("rope_scaling") is None, "rope_scaling is set")
    require(config.get("hidden_act", "silu") == "silu", f"hidden_act {config.get('hidden_act')}")
    require(bool(get("mm_use_im_start_end", True)), "mm_use_im_start_end is false")
    require(not get("mm_use_im_patch_token", False), "mm_use_im_patch_token is true")
    require(
        get("mm_vision_select_feature", "patch") == "patch",
        f"mm_vision_select_feature {get('mm_vision_select_feature')!r} is not 'patch'",
    )
    require(not get("use_fusion", False), "use_fusion (feature fusion) is on")
    require(not get("use_uncertainty", False), "use_uncertainty is on")

    token_type = get("token_type", "Gen")
    require(
        token_type in TOKEN_TYPES,
        f"unknown token_type {token_type!r} (hoifit knows {', '.join(TOKEN_TYPES)})",
    )
    require(bool(get("multiview_cam_cond", False)), "multiview_cam_cond is false (no camera gates)")
    encoder = get("cam_encoder_type", "simple")
    require(
        encoder in CAMERA_ENCODERS,
        f"unknown camera encoder cam_encoder_type={encoder!r} "
        f"(hoifit knows {', '.join(CAMERA_ENCODERS)})",
    )
    views = int(get("multiview_channels", 4))
    require(views == 4, f"multiview_channels={views}, the known view sets have 4")

    seg_ids = {}
    for name, key in (
        ("seg", "seg_token_idx"),
        ("hseg", "hseg_token_idx"),
        ("oseg", "oseg_token_idx"),
    ):
        value = get(key)
        if value is not None:
            seg_ids[name] = int(value)
    require("seg" in seg_ids, "seg_token_idx is missing")
    if token_type == "Gen-Hu-Obj":
        require("hseg" in seg_ids and "oseg" in seg_ids, "hseg/oseg_token_idx are missing")
    else:
        seg_ids = {"seg": seg_ids["seg"]}

    llama = {}
    for key in (
        "hidden_size",
        "intermediate_size",
        "num_hidden_layers",
        "num_attention_heads",
        "vocab_size",
    ):
        require(isinstance(config.get(key), int), f"{key} is missing")
        llama[key] = config[key]
    llama["num_key_value_heads"] = int(
        config.get("num_key_value_heads") or llama["num_attention_heads"]
    )
    llama["max_position_embeddings"] = int(config.get("max_position_embeddings", 4096))
    llama["rms_norm_eps"] = float(config.get("rms_norm_eps", 1e-5))
    llama["rope_theta"] = float(config.get("rope_theta", 10000.0))
    llama["pad_token_id"] = config.get("pad_token_id", 0)
    llama["bos_token_id"] = int(config.get("bos_token_id", 1))
    llama["eos_token_id"] = int(config.get("eos_token_id", 2))
    for name, value in seg_ids.items():
        require(0 <= value < llama["vocab_size"], f"{name} id {value} is outside the vocabulary")

    mm_hidden = get("mm_hidden_size")
    require(isinstance(mm_hidden, int), "mm_hidden_size is missing")
    human = _task(
        "human",
        get("hC_sam_view_type"),
        get("hC_question_type"),
        get("hC_loss_weight"),
        config_path,
    )
    obj = _task(
        "object",
        get("oC_sam_view_type"),
        get("oC_question_type"),
        get("oC_loss_weight"),
        config_path,
    )
    require(human is not None or obj is not None, "neither a human nor an object task is set")
    return ReleaseConfig(
        llama=llama,
        mm_hidden_size=mm_hidden,
        vision_select_layer=int(get("mm_vision_select_layer", -2)),
        vision_tower=str(get("mm_vision_tower") or get("vision_tower") or ""),
        out_dim=int(get("out_dim", 256)),
        img_emb_len=int(get("img_emb_len", 255)),
        token_type=token_type,
        seg_ids=seg_ids,
        camera_views=views,
        human=human,
        object=obj,
        config_files=tuple(files),
    )
