import json

import numpy as np
import pytest
import torch

from contact.config import ContactModelConfig
from contact.dataset import ContactDataset, ContactPrompt, collate_contact
from contact.inference import predict_contact, write_prediction
from contact.model import ContactVLM
from contact.random_models import SIZES, save_random_llava, save_random_sam
from contact.train import TrainConfig, latest_checkpoint, loss_terms, train
from contact.views import BODY_VIEWS
from reconstruction.body_models import build_body_model
from reconstruction.sample_io import read_sample
from reconstruction.synthetic import write_synthetic_samples
from scripts.train_contact import main as train_main

torch.set_num_threads(2)

RENDER = 48  # the tiny decoder's masks are 32 px: training upsamples them to the renders
N = len(BODY_VIEWS)
TINY = SIZES["tiny"]


@pytest.fixture(scope="module")
def model_config(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny")
    save_random_llava(folder / "llava")
    save_random_sam(folder / "sam")
    return ContactModelConfig(
        vlm=str(folder / "llava"), sam=str(folder / "sam"), lora_dropout=0.0, render_size=RENDER
    )


@pytest.fixture(scope="module")
def body_model(smplx_dir):
    return build_body_model("smpl", model_dir=smplx_dir)


@pytest.fixture(scope="module")
def samples(tmp_path_factory, smplx_dir):
    root = tmp_path_factory.mktemp("samples")
    write_synthetic_samples(root, 2, image_size=(64, 64), body_backend="smpl", model_dir=smplx_dir)
    return root


def build(config, seed=0):
    torch.manual_seed(seed)
    return ContactVLM.from_pretrained(config)


def test_dataset_items_and_collate(model_config, body_model, samples):
    model = build(model_config)
    dataset = ContactDataset([samples], body_model, ContactPrompt.from_model(model), RENDER)
    assert len(dataset) == 2
    item = dataset[0]
    V = body_model.num_vertices
    assert item["object_name"] == "chair"
    assert item["image"].shape == (64, 64, 3) and item["image"].dtype == torch.uint8
    assert item["pixel_values"].shape == (3, TINY.llava_image, TINY.llava_image)
    assert item["body_contact"].shape == (V,) and item["body_contact"].sum() > 0
    assert item["body_masks"].shape == (N, RENDER, RENDER)
    assert set(item["body_masks"].unique().tolist()) == {0.0, 1.0}
    mesh = read_sample(dataset.folders[0]).object_mesh
    assert item["object_contact"].shape == (len(mesh.vertices),)
    assert item["object_contact"].sum() > 0
    rendered = item["object_render"]
    assert rendered.num_vertices == len(mesh.vertices) and rendered.render.num_views == N
    assert item["object_masks"].shape == (N, RENDER, RENDER) and item["object_masks"].sum() > 0
    ids, labels = item["input_ids"], item["labels"]
    image_id = model.tokenizer.convert_tokens_to_ids("<image>")
    assert (ids == image_id).sum() == TINY.image_tokens
    for token_id in (model.body_token_id, model.object_token_id):
        position = (ids == token_id).nonzero()[:, 0]
        assert len(position) == 1 and labels[position] == token_id
    assert (labels[: (ids == image_id).nonzero().max() + 1] == -100).all()

    body_only = ContactDataset(
        [samples], body_model, ContactPrompt.from_model(model), RENDER, with_object=False
    )[0]
    assert body_only["object_render"] is None and body_only["object_masks"] is None
    assert not (body_only["input_ids"] == model.object_token_id).any()

    batch = collate_contact([dataset[0], dataset[1]], model.tokenizer.pad_token_id)
    L = batch["input_ids"].shape[1]
    assert batch["pixel_values"].shape == (2, 3, TINY.llava_image, TINY.llava_image)
    assert batch["labels"].shape == batch["attention_mask"].shape == (2, L)
    assert batch["body_contact"].shape == (2, V)
    assert batch["body_masks"].shape == (2, N, RENDER, RENDER)
    assert batch["object_name"] == ["chair", "stool"]


def test_a_batch_mixing_rows_with_and_without_object_contact(model_config, body_model, samples):
    model = build(model_config).eval()
    prompt = ContactPrompt.from_model(model)
    dataset = ContactDataset([samples], body_model, prompt, RENDER)
    with_object = dataset[0]
    body_only = {**dataset[1], "object_contact": None, "object_render": None, "object_masks": None}
    body_only["input_ids"], body_only["labels"] = prompt.encode("stool")
    body_embeddings = model.embed_views(dataset.body_render.images[None])
    object_embeddings = [model.embed_views(with_object["object_render"].render.images[None])[0]]
    pad = model.tokenizer.pad_token_id

    with torch.no_grad():
        mixed = loss_terms(
            model,
            collate_contact([body_only, with_object], pad),
            dataset,
            body_embeddings,
            object_embeddings,
        )
        alone = loss_terms(
            model, collate_contact([with_object], pad), dataset, body_embeddings, object_embeddings
        )
        none = loss_terms(model, collate_contact([body_only], pad), dataset, body_embeddings, [])
    assert all(torch.isfinite(value) for value in mixed.values())
    for name in ("object_dice", "object_mse"):
        torch.testing.assert_close(mixed[name], alone[name], rtol=1e-4, atol=1e-5)
        assert name not in none
    assert set(none) == {"token_ce", "mask_focal", "mask_dice", "body_focal", "body_sparsity"}


def test_training_lowers_the_loss_checkpoints_and_resumes(
    model_config, body_model, samples, tmp_path
):
    config = TrainConfig(
        data=[str(samples)],
        output_dir=str(tmp_path / "run"),
        model=model_config,
        steps=6,
        lr=1e-2,
        accumulation=2,
        save_every=3,
        body_backend="smpl",
    )
    history = train(config, model=build(model_config), body_model=body_model, log=None)
    assert [entry["step"] for entry in history] == list(range(1, 7))
    for entry in history:
        assert all(np.isfinite(value) for value in entry.values())
        assert {"token_ce", "mask_focal", "mask_dice", "body_focal", "body_sparsity"} <= set(entry)
        assert {"object_dice", "object_mse"} <= set(entry)
    # Each step sees both samples (accumulation 2), so the steps' totals are comparable.
    for name in ("total", "token_ce", "mask_focal", "body_focal", "object_mse"):
        assert history[-1][name] < history[0][name], (name, history)
    assert latest_checkpoint(tmp_path / "run").name == "step_00000006"
    assert (tmp_path / "run" / "checkpoints" / "step_00000003" / "optimizer.pt").is_file()
    logged = [
        json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()
    ]
    assert [entry["step"] for entry in logged] == list(range(1, 7))

    # Resuming the 3-step checkpoint reproduces steps 4-6 of the uninterrupted run.
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "checkpoints").mkdir()
    (tmp_path / "run" / "checkpoints" / "step_00000003").rename(
        partial / "checkpoints" / "step_00000003"
    )
    resumed_config = TrainConfig(**{**config.__dict__, "output_dir": str(partial), "resume": True})
    resumed = train(
        resumed_config, model=build(model_config, seed=5), body_model=body_model, log=None
    )
    assert [entry["step"] for entry in resumed] == [4, 5, 6]
    for got, expected in zip(resumed, history[3:], strict=True):
        assert got["total"] == pytest.approx(expected["total"], rel=1e-3), (resumed, history)
    assert latest_checkpoint(partial).name == "step_00000006"


def test_predict_and_write_round_trip(model_config, body_model, samples):
    model = build(model_config)
    folder = sorted(samples.iterdir())[0]
    sample = read_sample(folder)
    prediction = predict_contact(model, sample.image, "chair", body_model, sample.object_mesh)
    for probs, count in (
        (prediction.body, body_model.num_vertices),
        (prediction.object, len(sample.object_mesh.vertices)),
    ):
        assert probs.shape == (count,) and probs.dtype == np.float32
        assert (probs >= 0).all() and (probs <= 1).all() and probs.max() > 0
    assert write_prediction(folder, prediction, "smpl").body_topology == "smpl"
    contact = read_sample(folder).contact
    assert contact.body_topology == "smpl"
    np.testing.assert_allclose(contact.body_contact, prediction.body)
    np.testing.assert_allclose(contact.object_contact, prediction.object)

    # Body contact only: the object contact already in the folder stays.
    body_only = predict_contact(model, sample.image, "chair", body_model)
    assert body_only.object is None
    write_prediction(folder, body_only, "smpl")
    np.testing.assert_allclose(read_sample(folder).contact.object_contact, prediction.object)


def test_cli_reports_missing_weights_in_one_line(samples, tmp_path, capsys):
    code = train_main(
        ["--data", str(samples), "--out", str(tmp_path / "out"), "--vlm", str(tmp_path / "none")]
    )
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "LLaVA" in err and "\n" not in err
