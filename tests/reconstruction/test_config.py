import pytest
import yaml

from reconstruction.config import HoifitConfig, load_config, preset_names, save_config
from reconstruction.errors import HoifitError


def test_presets_load():
    assert {"default", "fast"} <= set(preset_names())
    for name in preset_names():
        assert isinstance(load_config(name), HoifitConfig)


def test_overrides_are_typed():
    config = load_config("default", ["body.backend=smplx", "render.sigma=1", "device=cpu"])
    assert config.body.backend == "smplx"
    assert config.render.sigma == 1.0 and isinstance(config.render.sigma, float)
    assert config.device == "cpu"


@pytest.mark.parametrize(
    "override, message",
    [
        ("body.nope=1", "unknown config key 'body.nope'"),
        ("render.sigma=abc", "must be float"),
        ("render.max_image_size=1.5", "must be int"),
        ("no_equals_sign", "section.field=value"),
    ],
)
def test_bad_overrides(override, message):
    with pytest.raises(HoifitError, match=message):
        load_config("default", [override])


def test_unknown_preset():
    with pytest.raises(HoifitError, match="not found"):
        load_config("no_such_preset")


def test_saved_config_reloads_identically(tmp_path):
    config = load_config("fast", ["body.gender=female"])
    save_config(config, tmp_path / "config.yaml")
    assert yaml.safe_load((tmp_path / "config.yaml").read_text())["body"]["gender"] == "female"
    assert load_config(str(tmp_path / "config.yaml")) == config
