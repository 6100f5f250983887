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
