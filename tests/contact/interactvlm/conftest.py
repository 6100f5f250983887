import pytest
import torch

from contact.interactvlm.config import HUMAN_VIEW_NAMES
from contact.interactvlm.convert import convert_release
from contact.interactvlm.model import load_interactvlm
from tests.contact.interactvlm.tiny_release import (
    write_clip,
    write_data_folder,
    write_release,
    write_smpl_to_smplx,
)


@pytest.fixture(scope="session")
def clip_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clip") / "clip-vit-tiny"
    write_clip(folder)
    return folder


@pytest.fixture(scope="session")
def gen_release(tmp_path_factory):
    """A human-contact release (token type Gen, view set 4MV-Z_Vitru_mv2), 3 .bin shards."""
    folder = tmp_path_factory.mktemp("releases") / "interactvlm-3d-hcontact-tiny"
    state = write_release(folder)
    return folder, state


@pytest.fixture(scope="session")
def joint_release(tmp_path_factory):
    """A joint release (Gen-Hu-Obj, human 4MV-Z_Vitru + object 4MV-Z_HM_BM), safetensors."""
    folder = tmp_path_factory.mktemp("releases") / "interactvlm-3d-hcontact-ocontact-tiny"
    state = write_release(
        folder,
        token_type="Gen-Hu-Obj",
        human_view_set="4MV-Z_Vitru",
        object_view_set="4MV-Z_HM_BM",
        weights="safetensors",
        shards=2,
        seed=1,
    )
    return folder, state


@pytest.fixture(scope="session")
def gen_checkpoint(gen_release, clip_dir, tmp_path_factory):
    return convert_release(gen_release[0], tmp_path_factory.mktemp("converted") / "gen", clip_dir)


@pytest.fixture(scope="session")
def joint_checkpoint(joint_release, clip_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("converted") / "joint"
    return convert_release(joint_release[0], out, str(clip_dir))


@pytest.fixture(scope="session")
def gen_model(gen_checkpoint):
    torch.manual_seed(0)
    return load_interactvlm(gen_checkpoint, "cpu")


@pytest.fixture(scope="session")
def joint_model(joint_checkpoint):
    return load_interactvlm(joint_checkpoint, "cpu")


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory):
    """An InteractVLM data/ folder with tiny body renders and maps for both human view sets."""
    folder = tmp_path_factory.mktemp("interactvlm") / "data"
    write_data_folder(folder, "hcontact_vitruvian", HUMAN_VIEW_NAMES)
    write_data_folder(folder, "hcontact_vitruvian_mv2", HUMAN_VIEW_NAMES)
    write_smpl_to_smplx(folder)
    return folder
