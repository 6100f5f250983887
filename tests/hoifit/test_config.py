import subprocess
import sys

import pytest
import yaml

from hoifit.config import BODY_BACKENDS, HoifitConfig, load_config, preset_names, save_config
from optim.config import LOSS_NAMES
from reconstruction.errors import ConfigError, HoifitError


def test_presets_load_from_the_package():
    assert {"default", "fast", "pico_fit", "phosa", "interactvlm_fit"} <= set(preset_names())
    for name in preset_names():
        assert isinstance(load_config(name), HoifitConfig)


def test_overrides_are_typed():
    config = load_config("default", ["body.backend=smplx", "fit.sigma=1", "device=cpu"])
    assert config.body.backend == "smplx"
    assert config.fit.sigma == 1.0 and isinstance(config.fit.sigma, float)
    assert config.device == "cpu"


@pytest.mark.parametrize(
    "override, message",
    [
        ("body.nope=1", "unknown config key 'body.nope'"),
        ("fit.sigma=abc", "must be float"),
        ("export.max_image_size=1.5", "must be int"),
        ("no_equals_sign", "section.field=value"),
        ("render.sigma=0.3", "unknown config key 'render'"),
        (
            "fit.stages.0.weights.keypoint_2d=1",
            r"fit.stages.0: weights: unknown loss 'keypoint_2d'",
        ),
        ("fit.stages.1.optimize=[object_rot]", "unknown variable 'object_rot'"),
        ("body.backend=mano", "backend must be one of anny, smplx, smpl"),
        ("body.gender=other", "gender"),
        ("fit.sigma=0", "sigma must be positive"),
        ("fit.resolution=4", "resolution must be at least 16"),
        ("fit.contact_threshold=1.5", "contact_threshold must be in"),
        ("fit.init.keep=100", "must not exceed num_hypotheses"),
        ("fit.stages.0.lr=-0.1", "lr must be positive"),
        ("fit.stages.0.iterations=-1", "iterations must be at least 0"),
        ("fit.body_init.turns=0", "turns must be at least 1"),
        ("fit.body_init.stages.0.optimize=[object_scale]", "cannot optimize 'object_scale'"),
        ("perception.depth_model=midas", "depth_model must be one of"),
        ("perception.object_threshold=2", "object_threshold must be in"),
        ("retrieval.text_weight=-1", "text_weight must be in"),
        ("camera.fov_deg=200", "fov_deg must be in"),
        ("export.contact_threshold=-0.1", "contact_threshold must be in"),
        ("device=gpu", "device must be"),
    ],
)
def test_bad_values_fail_while_parsing(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config("default", [override])


def test_unknown_preset():
    with pytest.raises(HoifitError, match="not found"):
        load_config("no_such_preset")


def test_saved_config_reloads_identically(tmp_path):
    config = load_config("fast", ["body.gender=female"])
    save_config(config, tmp_path / "config.yaml")
    assert yaml.safe_load((tmp_path / "config.yaml").read_text())["body"]["gender"] == "female"
    assert load_config(str(tmp_path / "config.yaml")) == config


def test_restated_names_match_their_sources():
    from optim import losses
    from reconstruction.body_models import BACKENDS

    assert BODY_BACKENDS == BACKENDS
    assert losses.LOSS_NAMES == LOSS_NAMES


def test_config_parsing_loads_no_torch():
    # The check must be quick: parsing may not import torch, which takes seconds.
    code = (
        "import sys; from hoifit.config import load_config; load_config('default'); "
        "print('torch' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr


def test_cli_reports_a_misspelt_loss_in_one_line(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "hoifit",
            "reconstruct",
            str(tmp_path),
            "--set",
            "fit.stages.0.weights.keypoint_2d=1",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "unknown loss 'keypoint_2d'" in result.stderr
