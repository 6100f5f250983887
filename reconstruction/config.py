"""Typed configuration: dataclasses, YAML presets in `configs/`, command-line overrides.

A preset is a YAML file holding any subset of the fields of `HoifitConfig`; what it leaves out
keeps the dataclass default. Overrides are `section.field=value` strings whose value is parsed as
YAML (`body.backend=smplx`, `render.sigma=0.5`). The resolved config is written next to every
result (`save_config`), so any result can be reproduced with `--config that/config.yaml`.
"""

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from reconstruction.atomic_io import atomic_write_text
from reconstruction.errors import HoifitError

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"


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


@dataclass
class CameraConfig:
    """Intrinsics when the sample gives none.

    The first field that is set wins, then the image's EXIF, then the default field of view
    (`reconstruction.camera.DEFAULT_FOV_DEG`).

    Attributes:
        focal_px: focal length in pixels.
        fov_deg: horizontal field of view in degrees.
    """

    focal_px: float | None = None
    fov_deg: float | None = None


@dataclass
class RenderConfig:
    """Renderer settings.

    Attributes:
        sigma: soft-silhouette edge width in px^2 (smaller is sharper and cheaper).
        max_image_size: longer image side used inside the pipeline; larger images are downscaled
            with the intrinsics adjusted.
    """

    sigma: float = 0.3
    max_image_size: int = 512


@dataclass
class ExportConfig:
    """What the scene writer produces.

    Attributes:
        contact_threshold: contact probability at which a vertex is coloured as in contact.
        overlay: write `overlay.png` and `side.png`.
    """

    contact_threshold: float = 0.5
    overlay: bool = True


@dataclass
class HoifitConfig:
    """Everything a run depends on.

    Attributes:
        device: "auto" (CUDA when available), "cpu", "cuda" or "cuda:N".
        seed: random seed for everything stochastic.
    """

    body: BodyConfig = field(default_factory=BodyConfig)
    camera: CameraConfig = field(default_factory=CameraConfig)
    render: RenderConfig = field(default_factory=RenderConfig)
    export: ExportConfig = field(default_factory=ExportConfig)
    device: str = "auto"
    seed: int = 0


def preset_names() -> list[str]:
    """Names of the presets in `configs/`."""
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


def load_config(name_or_path: str = "default", overrides: list[str] | None = None) -> HoifitConfig:
    """Build a config from a preset name or a YAML path, then apply `section.field=value` overrides.

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
    if not isinstance(data, dict):
        raise HoifitError(f"config {path} must be a YAML mapping of sections to fields")
    for override in overrides or []:
        key, sep, value = override.partition("=")
        if not sep or not key:
            raise HoifitError(f"override {override!r} must look like section.field=value")
        node = data
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise HoifitError(f"override {override!r}: {part!r} is not a section")
        node[leaf] = yaml.safe_load(value)
    return from_dict(HoifitConfig, data)


def from_dict(cls, data: dict, where: str = ""):
    """Build dataclass `cls` from a nested dict, checking keys and value types."""
    if not isinstance(data, dict):
        raise HoifitError(f"config section {where or 'root'!r} must be a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise HoifitError(
            f"unknown config key '{where}{sorted(unknown)[0]}'; valid keys here: "
            f"{', '.join(sorted(names))}"
        )
    kwargs = {}
    for key, value in data.items():
        hint = hints[key]
        if dataclasses.is_dataclass(hint):
            kwargs[key] = from_dict(hint, value, f"{where}{key}.")
        else:
            kwargs[key] = _check_type(value, hint, f"{where}{key}")
    return cls(**kwargs)


def _check_type(value, hint, key: str):
    allowed = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    for kind in allowed:
        if kind is type(None) and value is None:
            return None
        if kind is float and isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if kind in (int, str, bool) and type(value) is kind:
            return value
    names = " or ".join(getattr(k, "__name__", str(k)) for k in allowed)
    raise HoifitError(f"config key {key!r} must be {names}, got {value!r}")


def to_dict(config) -> dict:
    """The config as plain nested dicts (YAML-ready)."""
    return dataclasses.asdict(config)


def save_config(config: HoifitConfig, path: str | Path) -> None:
    """Write the resolved config as YAML (atomically)."""
    atomic_write_text(Path(path), yaml.safe_dump(to_dict(config), sort_keys=False))
