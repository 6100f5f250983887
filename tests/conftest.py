import os

# No model hub here (nor in CI): fail at once on missing weights instead of retrying the network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest

from tests.reconstruction.smplx_format import write_smpl_model, write_smplx_model


@pytest.fixture(scope="session")
def smplx_dir(tmp_path_factory):
    """A folder laid out like HOIFIT_SMPLX_DIR, holding stand-in SMPL-X and SMPL files."""
    folder = tmp_path_factory.mktemp("smplx_models")
    write_smplx_model(folder)
    write_smpl_model(folder)
    return str(folder)


@pytest.fixture(scope="session")
def anny():
    """The Anny body model, built once per test run (its first build on a machine takes about
    80 s; later ones load its cache)."""
    from reconstruction.body_models import build_body_model

    return build_body_model("anny")
