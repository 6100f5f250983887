"""InteractVLM-compatible inference against independent naive computations on tiny models.

The naive versions use the release's own tensors where they can (projection, gates, splitter,
projector, embeddings) and rebuild the LLaVA input by hand, so they share no code with the
implementation beyond the stock transformers modules.
"""

import numpy as np
import pytest
import torch
from PIL import Image

from contact.interactvlm.config import HUMAN_CAMERAS, IMAGE_TOKEN_INDEX, OBJECT_CAMERAS
from contact.interactvlm.model import (
    decode_views,
    generate_answer,
    sam_image_embeddings,
    teacher_forced_answer,
    view_prompts,
)
from contact.interactvlm.preprocess import clip_pixels, sam_pixels, upsample_masks
from contact.interactvlm.prompt import build_prompt, question
from contact.interactvlm.renders import (
    lift_body,
    lift_object,
    load_body_views,
    look_at_camera,
    render_object_views,
)
from contact.interactvlm.tokenizer import tokenizer_image_token

ANSWER = "The contacting body parts are hands, and the contact region is [SEG]."


def photo(seed=0, shape=(180, 260, 3)):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def f32(t):
    return t.float()


def naive_hidden_before_seg(model, state, ids, pixel_values):
    """Hidden state before the first [SEG]: LLaVA's input rebuilt by hand from release tensors."""
    llava = model.llava.model
    vision = llava.vision_tower(pixel_values, output_hidden_states=True).hidden_states[-2][0, 1:]
    features = vision @ f32(state["model.mm_projector.weight"]).T + f32(
        state["model.mm_projector.bias"]
    )
    table = f32(state["model.embed_tokens.weight"])
    at = ids.index(IMAGE_TOKEN_INDEX)
    embeds = torch.cat([table[ids[:at]], features, table[ids[at + 1 :]]])
    hidden = llava.language_model(inputs_embeds=embeds[None]).last_hidden_state[0]
    seg = next(t for t, i in enumerate(ids) if i in model.meta.seg_token_ids())
    position = seg - 1 + features.shape[0] - 1  # the token before [SEG], after 256 features
    return hidden[position], hidden[position + 1]


def naive_prompts(state, hidden, cameras, branch=None):
    """e * g_v (and the splitter) written out with the release's tensors."""
    w = {k: f32(v) for k, v in state.items()}
    p = "model.text_hidden_fcs.0."
    e = (
        w[f"{p}2.weight"] @ torch.relu(w[f"{p}0.weight"] @ hidden + w[f"{p}0.bias"])
        + w[f"{p}2.bias"]
    )
    gates = []
    for v, (d, el, az, x, y) in enumerate(cameras):
        c = torch.tensor([d / 10, el / 360, az / 360, (x + 1) / 2, (y + 1) / 2])
        s = "cam_pose_encoder.spatial_encoder."
        h = torch.relu(w[f"{s}0.weight"] @ c + w[f"{s}0.bias"])
        h = torch.relu(w[f"{s}2.weight"] @ h + w[f"{s}2.bias"])
        t = f"cam_pose_encoder.view_transforms.{v}."
        gates.append(torch.sigmoid(w[f"{t}weight"] @ h + w[f"{t}bias"]))
    prompts = e[None] * torch.stack(gates)
    if branch is None:
        return prompts
    a = "attention_splitter."
    lin = lambda name, x: x @ w[f"{a}{name}.weight"].T + w[f"{a}{name}.bias"]  # noqa: E731
    x = lin("input_proj", prompts)
    k, v = lin("key", x), lin("value", x)
    q = lin("query_human" if branch == "human" else "query_object", x)
    attention = torch.softmax(q @ k.T / k.shape[-1] ** 0.5, dim=-1)
    return lin("output_proj", attention @ v)


def naive_decode(model, image_embeddings, prompts):
    """Each view decoded alone, its sparse prompt being all V view prompts."""
    sam = model.sam
    positional = sam.get_image_wide_positional_embeddings()
    dense = sam.prompt_encoder.no_mask_embed.weight.reshape(1, -1, 1, 1)
    masks = []
    for v in range(image_embeddings.shape[0]):
        emb = image_embeddings[v : v + 1]
        mask, _ = sam.mask_decoder(
            image_embeddings=emb,
            image_positional_embeddings=positional,
            sparse_prompt_embeddings=prompts[None, None],
            dense_prompt_embeddings=dense.expand(1, -1, *emb.shape[-2:]),
            multimask_output=False,
        )
        masks.append(mask[0, 0, 0])
    return torch.stack(masks)


def teacher_forced_ids(model, task="human", answer=ANSWER):
    prompt = build_prompt(question(task, "parts" if task == "human" else "afford", "chair"), answer)
    return tokenizer_image_token(prompt, model.tokenizer)


@torch.no_grad()
def test_hidden_state_before_seg_forward(gen_model, gen_release):
    """Teacher forcing: the prompt is the state at [SEG] - 1, not at [SEG]."""
    pixels = clip_pixels(photo())
    ids = teacher_forced_ids(gen_model)
    answer = teacher_forced_answer(gen_model, ids, pixels, ANSWER)
    before, at = naive_hidden_before_seg(gen_model, gen_release[1], ids, pixels)
    assert answer.seg_token == gen_model.meta.token_ids["seg"]
    assert torch.allclose(answer.seg_hidden, before, atol=1e-5)
    assert (answer.seg_hidden - at).abs().max() > 0.1  # the rule is visible on this model


class ScriptedHead(torch.nn.Module):
    """An output layer that emits a fixed token sequence, whatever the hidden state."""

    def __init__(self, script, vocab):
        super().__init__()
        self.script, self.vocab, self.step = list(script), vocab, 0

    def forward(self, hidden):
        logits = torch.zeros(*hidden.shape[:-1], self.vocab)
        logits[..., self.script[min(self.step, len(self.script) - 1)]] = 1.0
        self.step += 1
        return logits


@torch.no_grad()
def test_hidden_state_before_seg_generate(gen_model, gen_release):
    """Greedy generation with a KV cache: the state of the step that emitted [SEG], equal to a
    no-cache pass over the whole sequence at [SEG] - 1."""
    model, meta = gen_model, gen_model.meta
    sp = model.tokenizer.sp
    script = [sp.piece_to_id(c) for c in "▁is"] + [meta.token_ids["seg"]]
    script += [sp.piece_to_id(c) for c in "▁."] + [meta.token_ids["eos"]]
    pixels = clip_pixels(photo(1))
    prompt = tokenizer_image_token(
        build_prompt(question("human", "parts", "chair")), model.tokenizer
    )
    original = model.llava.lm_head
    model.llava.lm_head = ScriptedHead(script, model.llava.config.text_config.vocab_size)
    try:
        answer = generate_answer(model, prompt, pixels, max_new_tokens=20)
    finally:
        model.llava.lm_head = original
    assert answer.ids == script[:-1]
    assert answer.text == "is[SEG] ."
    before, at = naive_hidden_before_seg(model, gen_release[1], prompt + answer.ids, pixels)
    assert torch.allclose(answer.seg_hidden, before, atol=1e-5)
    assert (answer.seg_hidden - at).abs().max() > 0.1


@torch.no_grad()
def test_generation_without_seg_and_limit(gen_model):
    prompt = tokenizer_image_token(
        build_prompt(question("human", "parts", "chair")), gen_model.tokenizer
    )
    answer = generate_answer(gen_model, prompt, clip_pixels(photo(2)), max_new_tokens=3)
    assert len(answer.ids) <= 3 and gen_model.meta.token_ids["image"] not in answer.ids
    if gen_model.meta.token_ids["seg"] not in answer.ids:
        assert answer.seg_hidden is None and answer.seg_token is None


@torch.no_grad()
def test_view_prompts_against_release_tensors(gen_model, gen_release, joint_model, joint_release):
    hidden = torch.randn(
        gen_model.heads.sizes["hidden_size"], generator=torch.Generator().manual_seed(0)
    )
    seg = gen_model.meta.token_ids["seg"]
    ours = view_prompts(gen_model, hidden, seg, HUMAN_CAMERAS)
    assert torch.allclose(ours, naive_prompts(gen_release[1], hidden, HUMAN_CAMERAS), atol=1e-6)
    # The camera order matters: the gates of another view order differ.
    assert (ours - view_prompts(gen_model, hidden, seg, HUMAN_CAMERAS[::-1])).abs().max() > 1e-3
    ids = joint_model.meta.token_ids
    for token, branch, cameras in (
        (ids["hseg"], "human", HUMAN_CAMERAS),
        (ids["oseg"], "object", OBJECT_CAMERAS),
    ):
        ours = view_prompts(joint_model, hidden, token, cameras)
        assert torch.allclose(
            ours, naive_prompts(joint_release[1], hidden, cameras, branch), atol=1e-6
        )


@torch.no_grad()
def test_every_view_is_decoded_with_all_view_prompts(gen_model, data_dir):
    views = load_body_views(data_dir, gen_model.meta.human)
    pixels, _ = sam_pixels(views.images, gen_model.sam_image_size)
    embeddings = sam_image_embeddings(gen_model, pixels)
    prompts = torch.randn(4, embeddings.shape[1], generator=torch.Generator().manual_seed(1))
    ours = decode_views(gen_model, embeddings, prompts)[:, 0]
    assert torch.allclose(ours, naive_decode(gen_model, embeddings, prompts), atol=1e-5)
    one_each = torch.stack(
        [naive_decode(gen_model, embeddings[v : v + 1], prompts[v : v + 1])[0] for v in range(4)]
    )
    assert (ours - one_each).abs().max() > 1e-2  # one prompt per view would change the masks


def naive_lift(vertex_maps, bary_maps, probabilities, num_vertices, vote=None):
    """InteractVLM's lift written with numpy scatter-adds, view by view."""
    total = np.zeros(num_vertices)
    count = np.zeros(num_vertices)
    for ids, bary, p in zip(vertex_maps, bary_maps, probabilities, strict=True):
        keep = ((ids >= 0) & (ids < num_vertices)).all(-1)
        if vote is not None:
            keep &= p > vote
        value, weight = np.zeros(num_vertices), np.zeros(num_vertices)
        for k in range(3):
            np.add.at(value, ids[keep][:, k], bary[keep][:, k] * p[keep])
            np.add.at(weight, ids[keep][:, k], bary[keep][:, k])
        seen = weight > 0
        total[seen] += value[seen] / weight[seen]
        count += seen
    out = np.where(count > 0, total / np.maximum(count, 1), 0)
    return np.clip(out, 0, 1) if vote is None else out


def test_body_lift_against_naive(gen_model, data_dir):
    views = load_body_views(data_dir, gen_model.meta.human)
    logits = (
        torch.randn(4, *views.images.shape[1:3], generator=torch.Generator().manual_seed(2)) * 3
    )
    ours = lift_body(views, logits).numpy()
    folder = data_dir / gen_model.meta.human.maps_folder
    ids = np.load(folder / "pixel_to_vertex_map_1024.npz")
    bary = np.load(folder / "bary_coords_map_1024.npz")
    names = gen_model.meta.human.views
    p = torch.sigmoid(logits.clamp(-20, 20)).numpy()
    naive = naive_lift([ids[n] for n in names], [bary[n] for n in names], p, 6890)
    assert ours.shape == (6890,)
    assert np.abs(ours - naive).max() < 1e-5


def explicit_clip(image, size=224):
    """CLIP preprocessing of transformers 4.31 step by step."""
    h, w = image.shape[:2]
    short, long = min(h, w), max(h, w)
    new = (size, int(size * long / short)) if w <= h else (int(size * long / short), size)
    resized = np.asarray(Image.fromarray(image).resize(new, Image.Resampling.BICUBIC))
    top, left = (resized.shape[0] - size) // 2, (resized.shape[1] - size) // 2
    x = (resized[top : top + size, left : left + size] * (1 / 255)).astype(np.float32)
    mean = np.array([0.48145466, 0.4578275, 0.40821073], np.float32)
    std = np.array([0.26862954, 0.26130258, 0.27577711], np.float32)
    return torch.from_numpy(((x - mean) / std).transpose(2, 0, 1).copy())[None]


@pytest.mark.parametrize("shape", [(180, 260, 3), (401, 299, 3), (224, 224, 3), (225, 1000, 3)])
def test_clip_preprocessing(shape):
    image = photo(3, shape)
    assert torch.equal(clip_pixels(image), explicit_clip(image))


def test_sam_preprocessing_and_upsampling():
    images = np.random.default_rng(0).integers(0, 256, (2, 64, 48, 3), dtype=np.uint8)
    pixels, input_size = sam_pixels(images, 128)
    assert pixels.shape == (2, 3, 128, 128) and input_size == (128, 96)
    assert not pixels[..., 96:].any()  # zero padding on the right
    low = torch.randn(2, 1, 32, 32)
    assert upsample_masks(low, 128, input_size, (64, 48)).shape == (2, 64, 48)
    same = sam_pixels(np.full((1, 128, 128, 3), 255, np.uint8), 128)[0]
    assert torch.allclose(same[0, 0], torch.full((128, 128), (255 - 123.675) / 58.395))


def test_look_at_camera_convention():
    """PyTorch3D's look-at in OpenCV terms: world +x to the image right, +y up; the y shift
    moves the mesh up in the image."""
    R, t = look_at_camera(2.0, 0.0, 0.0)
    assert torch.allclose(-R.T @ t, torch.tensor([0.0, 0.0, 2.0], dtype=torch.float64))
    x_cam = R @ torch.tensor([1.0, 1.0, 0.0], dtype=torch.float64) + t
    assert x_cam[0] > 0 and x_cam[1] < 0 and x_cam[2] > 0
    R, t = look_at_camera(2.0, 45.0, 315.0, 0.0, 0.3)
    assert t[1] < 0 and torch.allclose(t[2], torch.tensor(2.0, dtype=torch.float64))
    eye = -look_at_camera(2.0, 45.0, 315.0)[0].T @ look_at_camera(2.0, 45.0, 315.0)[1]
    s = 2 * np.sqrt(0.5)
    assert torch.allclose(
        eye, torch.tensor([-s * np.sqrt(0.5), s, s * np.sqrt(0.5)], dtype=torch.float64)
    )


def box_mesh():
    import trimesh

    mesh = trimesh.creation.box(extents=(0.4, 0.9, 0.2))
    return np.asarray(mesh.vertices), np.asarray(mesh.faces)


def test_object_renders_and_lift():
    vertices, faces = box_mesh()
    views = render_object_views(vertices, faces, image_size=96)
    assert views.images.shape == (4, 96, 96, 3) and views.images.dtype == np.uint8
    mask = views.render.mask.numpy()
    assert 0.05 < mask.mean() < 0.9
    assert (views.images[~mask] == 255).all() and (views.images[mask] < 255).any()
    logits = torch.randn(4, 96, 96, generator=torch.Generator().manual_seed(3)) * 2
    ours = lift_object(views, logits, 0.3).numpy()
    face_ids = views.render.face_ids.numpy()
    ids = np.where(face_ids[..., None] >= 0, faces[np.maximum(face_ids, 0)], -1)
    naive = naive_lift(
        ids, views.render.bary.numpy(), torch.sigmoid(logits).numpy(), len(vertices), vote=0.3
    )
    assert np.abs(ours - naive).max() < 1e-5
    assert ours.max() > 0.3  # only confident pixels voted
