"""End to end: photo -> per-vertex contact with tiny converted checkpoints, and the command."""

import numpy as np
import pytest
import torch
from PIL import Image

from contact.interactvlm import InteractVLMError, predict_interactvlm_contact
from contact.interactvlm.preprocess import clip_pixels, sam_pixels, upsample_masks
from contact.interactvlm.renders import load_body_views
from scripts import predict_contact
from tests.contact.interactvlm.test_inference import (
    ANSWER,
    ScriptedHead,
    box_mesh,
    naive_decode,
    naive_hidden_before_seg,
    naive_lift,
    naive_prompts,
    photo,
    teacher_forced_ids,
)


@torch.no_grad()
def test_body_contact_matches_naive_pipeline(gen_model, gen_release, data_dir):
    image = photo(5)
    result = predict_interactvlm_contact(
        gen_model,
        image,
        "Chair",
        interactvlm_data=data_dir,
        inference_type="forward",
        answer=ANSWER,
    )
    assert result.topology == "smpl" and result.object_contact is None
    assert result.text == ANSWER
    body = result.body_contact
    assert body.shape == (6890,) and body.dtype == np.float32
    assert body.min() >= 0 and body.max() <= 1 and body.std() > 1e-3

    # The same chain from independent pieces.
    state = gen_release[1]
    pixels = clip_pixels(image)
    hidden, _ = naive_hidden_before_seg(gen_model, state, teacher_forced_ids(gen_model), pixels)
    meta = gen_model.meta.human
    prompts = naive_prompts(state, hidden, meta.cameras)
    views = load_body_views(data_dir, meta)
    sam_input, input_size = sam_pixels(views.images, gen_model.sam_image_size)
    embeddings = gen_model.sam.get_image_embeddings(sam_input)
    low = naive_decode(gen_model, embeddings, prompts)[:, None]
    logits = upsample_masks(low, gen_model.sam_image_size, input_size, views.images.shape[1:3])
    folder = data_dir / meta.maps_folder
    ids = np.load(folder / "pixel_to_vertex_map_1024.npz")
    bary = np.load(folder / "bary_coords_map_1024.npz")
    p = torch.sigmoid(logits.clamp(-20, 20)).numpy()
    naive = naive_lift([ids[v] for v in meta.views], [bary[v] for v in meta.views], p, 6890)
    assert np.abs(body - naive).max() < 1e-5


@torch.no_grad()
def test_generate_mode(gen_model, data_dir):
    sp = gen_model.tokenizer.sp
    ids = gen_model.meta.token_ids
    script = [sp.piece_to_id("▁"), ids["seg"], ids["eos"]]
    original = gen_model.llava.lm_head
    gen_model.llava.lm_head = ScriptedHead(script, gen_model.llava.config.text_config.vocab_size)
    try:
        result = predict_interactvlm_contact(
            gen_model, photo(6), "chair", interactvlm_data=data_dir
        )
    finally:
        gen_model.llava.lm_head = original
    assert result.text == "[SEG]"
    assert result.body_contact.max() > 0


def test_arguments_are_checked(gen_model, joint_model, data_dir):
    with pytest.raises(InteractVLMError, match="needs an answer"):
        predict_interactvlm_contact(
            gen_model, photo(), "chair", interactvlm_data=data_dir, inference_type="forward"
        )
    with pytest.raises(InteractVLMError, match="--interactvlm-data"):
        predict_interactvlm_contact(gen_model, photo(), "chair")
    with pytest.raises(InteractVLMError, match="inference type"):
        predict_interactvlm_contact(
            gen_model, photo(), "chair", interactvlm_data=data_dir, inference_type="beam"
        )
    with pytest.raises(InteractVLMError, match="uint8"):
        predict_interactvlm_contact(
            gen_model, photo().astype(float), "chair", interactvlm_data=data_dir
        )
    with pytest.raises(InteractVLMError, match="canonical render"):
        predict_interactvlm_contact(joint_model, photo(), "chair", interactvlm_data=data_dir.parent)


@torch.no_grad()
def test_joint_model_body_and_object(joint_model, data_dir):
    vertices, faces = box_mesh()
    result = predict_interactvlm_contact(
        joint_model,
        photo(7),
        "chair",
        object_mesh=(vertices, faces),
        interactvlm_data=data_dir,
        inference_type="forward",
        answer=ANSWER,
        object_answer="The affordance type is sit, and the contact region is [SEG].",
    )
    assert result.body_contact.shape == (6890,)
    assert result.object_contact.shape == (len(vertices),)
    assert np.isfinite(result.object_contact).all() and result.object_contact.max() <= 1
    assert "[HSEG]" in result.text and "[OSEG]" in result.object_text


def test_command(gen_checkpoint, data_dir, tmp_path):
    image = tmp_path / "chair__photo.png"
    Image.fromarray(photo(8)).save(image)
    out = tmp_path / "pred.npz"
    code = predict_contact.main(
        [
            str(image),
            "--object",
            "chair",
            "--checkpoint",
            str(gen_checkpoint),
            "--out",
            str(out),
            "--interactvlm-data",
            str(data_dir),
            "--inference-type",
            "forward",
            "--answer",
            ANSWER,
        ]
    )
    assert code == 0
    with np.load(out) as pred:
        assert pred["body_contact"].shape == (6890,)
        assert str(pred["topology"]) == "smpl" and str(pred["text"]) == ANSWER
        assert "object_contact" not in pred
    assert (
        predict_contact.main(
            [str(image), "--object", "chair", "--checkpoint", str(tmp_path), "--out", str(out)]
        )
        == 2
    )


def test_smpl_contact_moves_to_smplx_through_the_data_folders_map(tmp_path):
    from contact.interactvlm.renders import smpl_contact_to_smplx
    from tests.contact.interactvlm.tiny_release import write_smpl_to_smplx

    with pytest.raises(InteractVLMError, match="smpl_to_smplx.pkl is missing"):
        smpl_contact_to_smplx(np.zeros(6890), tmp_path)
    matrix = write_smpl_to_smplx(tmp_path)
    contact = np.random.default_rng(1).random(6890).astype(np.float32)
    smplx = smpl_contact_to_smplx(contact, tmp_path)
    assert smplx.shape == (10475,) and smplx.dtype == np.float32
    # Each SMPL-X vertex is the mean of its two SMPL vertices.
    np.testing.assert_allclose(smplx, matrix @ contact, rtol=1e-6)
    assert 0 < smplx.mean() < 1 and smplx.max() <= 1

    import joblib

    joblib.dump({"matrix": np.zeros((4, 6890), np.float32)}, tmp_path / "smpl_to_smplx.pkl")
    with pytest.raises(InteractVLMError, match="not the"):
        smpl_contact_to_smplx(contact, tmp_path)
