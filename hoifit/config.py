"""The root config: typed dataclasses, YAML presets shipped in `hoifit/configs/`, overrides.

A preset is a YAML file holding any subset of the fields of `HoifitConfig`; what it leaves out
keeps the dataclass default. Overrides are `section.field=value` strings whose value is parsed as
YAML (`body.backend=smplx`, `fit.sigma=0.5`). The config is checked while it is parsed: unknown
keys, values of the wrong type, unknown names (loss terms, variables, backends, devices) and
values out of range are a one-line `ConfigError` naming the field, before any model loads. This
module and the stage configs it imports load no torch, so that check takes a fraction of a
second. The resolved config is written next to every result (`save_config`), so any result can
be reproduced with `--config that/config.yaml`.
"""

import dataclasses
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from contact.config import ContactStageConfig
from optim.config import FitConfig
from perception.config import PerceptionConfig
from reconstruction.atomic_io import atomic_write_text
from reconstruction.camera_config import CameraConfig
from reconstruction.errors import ConfigError, HoifitError
from retrieval.config import RetrievalConfig

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
"""The presets, shipped with the package."""

BODY_BACKENDS = ("anny", "smplx", "smpl")
"""`reconstruction.body_models.BACKENDS`, restated here so that parsing needs no torch (a test
keeps the two equal)."""
GENDERS = ("neutral", "male", "female")
DEVICE_PATTERN = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


@dataclass
class BodyConfig:
    """Which body model to use.

    Attributes:
        backend: "anny" (open, the default), "smplx" or "smpl".
        model_dir: folder with the SMPL-X / SMPL model files; None reads `HOIFIT_SMPLX_DIR`.
        gender: "neutral", "male" or "female" (SMPL-X / SMPL only).
    """

    backend: str = "anny"
    model_dir: str | None = None
    gender: str = "neutral"

    def __post_init__(self):
        if self.backend not in BODY_BACKENDS:
            raise ConfigError(
                f"backend must be one of {', '.join(BODY_BACKENDS)}, got {self.backend!r}"
            )
        if self.gender not in GENDERS:
            raise ConfigError(f"gender must be one of {', '.join(GENDERS)}, got {self.gender!r}")


@dataclass
class ExportConfig:
    """What the scene writer produces.

    Attributes:
        contact_threshold: contact probability at which a vertex is coloured as in contact.
        overlay: write `overlay.png` and `side.png`.
        max_image_size: longer side of the overlay images; a larger photo is downscaled.
    """

    contact_threshold: float = 0.5
    overlay: bool = True
    max_image_size: int = 512

    def __post_init__(self):
        if not 0 <= self.contact_threshold <= 1:
            raise ConfigError(f"contact_threshold must be in [0, 1], got {self.contact_threshold}")
        if not self.max_image_size >= 16:
            raise ConfigError(f"max_image_size must be at least 16, got {self.max_image_size}")


@dataclass
class HoifitConfig:
    """Everything a run depends on.

    Attributes:
        device: "auto" (CUDA when available), "cpu", "cuda" or "cuda:N".
        seed: random seed for everything stochastic.
    """

    body: BodyConfig = field(default_factory=BodyConfig)
    camera: CameraConfig = field(default_factory=CameraConfig)
    export: ExportConfig = field(default_factory=ExportConfig)
    perception: PerceptionConfig = field(default_factory=PerceptionConfig)
    retrieval: RetrievalConfig = field(default_factory=RetrievalConfig)
    contact: ContactStageConfig = field(default_factory=ContactStageConfig)
    fit: FitConfig = field(default_factory=FitConfig)
    device: str = "auto"
    seed: int = 0

    def __post_init__(self):
        if not DEVICE_PATTERN.fullmatch(self.device):
            raise ConfigError(f"device must be auto, cpu, cuda or cuda:N, got {self.device!r}")


def preset_names() -> list[str]:
    """Names of the presets in `configs/`."""
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


def load_config(name_or_path: str = "default", overrides: list[str] | None = None) -> HoifitConfig:
    """Build a config from a preset name or a YAML path, then apply `section.field=value` overrides.

    Overrides address nested fields with dots; list items by their index
    (`fit.stages.0.iterations=50`).

    Raises:
        HoifitError: unknown preset, unknown key, or a value of the wrong type.
    """
    path = Path(name_or_path)
    if not path.suffix:
        path = CONFIG_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        raise HoifitError(
            f"config {name_or_path!r} not found: use a preset ({', '.join(preset_names())}) "
            "or the path of a YAML file"
        )
    data = yaml.safe_load(path.read_text()) or {}
    # Resolve the preset first so overrides can reach fields the preset leaves at their default.
    data = to_dict(from_dict(HoifitConfig, data))
    for override in overrides or []:
        key, sep, value = override.partition("=")
        if not sep or not key:
            raise ConfigError(f"override {override!r} must look like section.field=value")
        node = data
        *parents, leaf = key.split(".")
        for part in parents:
            node = _child(node, part, override)
        if isinstance(node, list):
            node[_index(node, leaf, override)] = yaml.safe_load(value)
        else:
            node[leaf] = yaml.safe_load(value)
    return from_dict(HoifitConfig, data)


def _index(node: list, part: str, override: str) -> int:
    if not part.isdigit() or int(part) >= len(node):
        raise ConfigError(f"override {override!r}: {part!r} is not an index below {len(node)}")
    return int(part)


def _child(node, part: str, override: str):
    if isinstance(node, list):
        return node[_index(node, part, override)]
    if not isinstance(node, dict) or not isinstance(node.get(part, {}), dict | list):
        raise ConfigError(f"override {override!r}: {part!r} is not a section")
    return node.setdefault(part, {})


def from_dict(cls, data: dict, where: str = ""):
    """Build dataclass `cls` from a nested dict, checking keys and value types."""
    if not isinstance(data, dict):
        raise ConfigError(f"config section {where or 'root'!r} must be a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ConfigError(
            f"unknown config key '{where}{sorted(unknown)[0]}'; valid keys here: "
            f"{', '.join(sorted(names))}"
        )
    values = {key: _convert(value, hints[key], f"{where}{key}") for key, value in data.items()}
    try:
        return cls(**values)
    except ConfigError as error:
        raise ConfigError(f"config {where.rstrip('.') or 'root'}: {error}") from None


def _convert(value, hint, key: str):
    """Check `value` against the type `hint`, converting ints to floats and nested sections."""
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value, f"{key}.")
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is list and isinstance(value, list):
        return [_convert(item, args[0], f"{key}.{i}") for i, item in enumerate(value)]
    if origin is dict and isinstance(value, dict):
        return {str(k): _convert(v, args[1], f"{key}.{k}") for k, v in value.items()}
    for kind in args if isinstance(hint, types.UnionType) else (hint,):
        if kind is type(None) and value is None:
            return None
        if kind is float and isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if kind in (int, str, bool) and type(value) is kind:
            return value
    raise ConfigError(f"config key {key!r} must be {_type_name(hint)}, got {value!r}")


def _type_name(hint) -> str:
    if isinstance(hint, types.UnionType):
        return " or ".join(_type_name(k) for k in typing.get_args(hint))
    return getattr(hint, "__name__", str(hint))


def to_dict(config) -> dict:
    """The config as plain nested dicts (YAML-ready)."""
    return dataclasses.asdict(config)


def save_config(config: HoifitConfig, path: str | Path) -> None:
    """Write the resolved config as YAML (atomically)."""
    atomic_write_text(Path(path), yaml.safe_dump(to_dict(config), sort_keys=False))
