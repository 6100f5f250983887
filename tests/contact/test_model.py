import dataclasses

import pytest
import torch

from contact.config import ContactModelConfig
from contact.featlift import FeatLift, camera_features
from contact.losses import (
    DEFAULT_WEIGHTS,
    body_vertex_losses,
    dice_loss,
    mask_losses,
    object_vertex_losses,
    probability_focal_loss,
    sigmoid_focal_loss,
    token_cross_entropy,
    weighted_total,
)
from contact.model import ContactVLM, ViewInputs
from contact.random_models import SIZES, save_random_llava, save_random_sam
from contact.views import BODY_VIEWS, OBJECT_VIEWS, view_extrinsics

torch.set_num_threads(2)

B, N, RENDER = 2, 4, 48
TINY = SIZES["tiny"]
MASK = TINY.mask_size  # the decoder upsamples the 8x8 embedding grid 4x


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny")
    save_random_llava(folder / "llava")
    save_random_sam(folder / "sam")
    return ContactModelConfig(
        vlm=str(folder / "llava"), sam=str(folder / "sam"), lora_dropout=0.0, render_size=RENDER
    )


def build(config, seed=0):
    torch.manual_seed(seed)
    return ContactVLM.from_pretrained(config)


def make_batch(model, seed=0, with_object=True):
    """Image, prompt + answer tokens, labels on the answer only, and renders of N views."""
    generator = torch.Generator().manual_seed(seed)
    prompt = "<s> " + "<image> " * TINY.image_tokens + "where does the person touch chair ?"
    answer = " contact is at <HCON> object contact is at <OCON> </s>"
    tokenizer = model.tokenizer
    prompt_ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt").input_ids
    answer_ids = tokenizer(answer, add_special_tokens=False, return_tensors="pt").input_ids
    input_ids = torch.cat([prompt_ids, answer_ids], 1).repeat(B, 1)
    labels = input_ids.clone()
    labels[:, : prompt_ids.shape[1]] = -100

    def views(specs):
        extrinsics = extrinsics_4x4(specs)[None].expand(B, -1, -1, -1)
        intrinsics = torch.tensor([[60.0, 0, 24], [0, 60, 24], [0, 0, 1]]).expand(B, N, 3, 3)
        images = torch.rand(B, N, RENDER, RENDER, 3, generator=generator)
        return ViewInputs(extrinsics, images=images, intrinsics=intrinsics, image_size=RENDER)

    return {
        "pixel_values": torch.rand(B, 3, TINY.llava_image, TINY.llava_image, generator=generator),
        "input_ids": input_ids,
        "attention_mask": torch.ones_like(input_ids),
        "labels": labels,
        "body_views": views(BODY_VIEWS),
        "object_views": views(OBJECT_VIEWS) if with_object else None,
    }


def extrinsics_4x4(specs):
    """(N, 4, 4) world-to-camera transforms of the views."""
    out = torch.eye(4).repeat(len(specs), 1, 1)
    for i, spec in enumerate(specs):
        out[i, :3, :3], out[i, :3, 3] = view_extrinsics(spec)
    return out


def disk_masks(radius):
    """(B, N, MASK, MASK) disks of `radius` pixels at view-dependent centres."""
    yy, xx = torch.meshgrid(torch.arange(MASK), torch.arange(MASK), indexing="ij")
    centres = torch.tensor([[8, 8], [8, 24], [24, 8], [24, 24]])
    disks = [((yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2).float() for cy, cx in centres]
    return torch.stack(disks)[None].expand(B, -1, -1, -1)


def perturb_lora(model, seed=1):
    """Non-zero LoRA B matrices and token deltas, as after some training."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name or "trainable_tokens_delta" in name:
                param.add_(0.05 * torch.randn(param.shape, generator=generator))


def test_contact_tokens_are_added_and_found(config):
    model = build(config)
    tokenizer = model.tokenizer
    ids = [model.body_token_id, model.object_token_id]
    assert len(set(ids)) == 2 and tokenizer.unk_token_id not in ids
    assert tokenizer.convert_ids_to_tokens(ids) == ["<HCON>", "<OCON>"]
    assert model.vlm.get_input_embeddings().weight.shape[0] == len(tokenizer)
    assert model.vlm.get_output_embeddings().weight.shape[0] == len(tokenizer)
    batch = make_batch(model)
    input_ids = batch["input_ids"]
    for token_id in ids:
        positions = model.token_positions(input_ids, token_id)
        assert (input_ids[torch.arange(B), positions] == token_id).all()
    with pytest.raises(ValueError, match="HCON"):
        model.token_positions(input_ids[:, :5], model.body_token_id)


def test_forward_shapes_and_precomputed_embeddings(config):
    model = build(config).eval()
    batch = make_batch(model)
    with torch.no_grad():
        out = model(**batch)
        embeddings = model.embed_views(batch["body_views"].images)
        body_only = model(
            **{
                **batch,
                "object_views": None,
                "body_views": dataclasses.replace(
                    batch["body_views"], images=None, embeddings=embeddings
                ),
            }
        )
    assert out.body_masks.shape == (B, N, MASK, MASK)
    assert out.object_masks.shape == (B, N, MASK, MASK)
    assert out.body_prompts.shape == out.object_prompts.shape == (B, N, TINY.sam_dim)
    assert embeddings.shape == (B, N, TINY.sam_dim, 8, 8)
    assert torch.isfinite(out.lm_loss)
    assert body_only.object_masks is None and body_only.object_prompts is None
    torch.testing.assert_close(body_only.body_masks, out.body_masks)
    # The LM loss is the next-token cross-entropy of losses.token_cross_entropy.
    torch.testing.assert_close(out.lm_loss, token_cross_entropy(out.lm_logits, batch["labels"]))


def test_object_views_of_some_rows_match_those_rows_alone(config):
    model = build(config).eval()
    batch = make_batch(model)
    row_one = dataclasses.replace(
        batch["object_views"],
        extrinsics=batch["object_views"].extrinsics[1:],
        images=batch["object_views"].images[1:],
        intrinsics=batch["object_views"].intrinsics[1:],
    )
    with torch.no_grad():
        full = model(**batch)
        subset = model(**{**batch, "object_views": row_one, "object_rows": torch.tensor([1])})
    assert subset.object_masks.shape == (1, N, MASK, MASK)
    torch.testing.assert_close(subset.object_masks, full.object_masks[1:])
    torch.testing.assert_close(subset.body_masks, full.body_masks)


def test_gradients_reach_trainable_parts_only(config):
    model = build(config).train()
    perturb_lora(model)  # lora_B = 0 at initialization would block the gradient of lora_A
    out = model(**make_batch(model))
    (out.lm_loss + out.body_masks.mean() + out.object_masks.mean()).backward()
    groups = {
        "lora_A": [],
        "lora_B": [],
        "trainable_tokens": [],
        "projection": [],
        "featlift": [],
        "sam.mask_decoder": [],
    }
    for name, param in model.named_parameters():
        if param.requires_grad:
            assert any(key in name for key in groups), name
            for key in groups:
                if key in name:
                    groups[key].append(param.grad is not None and param.grad.abs().sum() > 0)
        else:
            assert param.grad is None, name
    for key, reached in groups.items():
        assert reached and any(reached), key
    assert all(reached for reached in groups["lora_B"])
    frozen = [model.sam.vision_encoder, model.sam.prompt_encoder, model.vlm.get_base_model()]
    for module in frozen:
        for name, param in module.named_parameters():
            if "lora_" not in name and "trainable_tokens" not in name:
                assert not param.requires_grad and param.grad is None, name


def test_a_few_steps_decrease_the_loss(config):
    model = build(config).train()
    batch = make_batch(model)
    batch["body_views"] = dataclasses.replace(
        batch["body_views"], images=None, embeddings=model.embed_views(batch["body_views"].images)
    )
    batch["object_views"] = dataclasses.replace(
        batch["object_views"],
        images=None,
        embeddings=model.embed_views(batch["object_views"].images),
    )
    body_target, object_target = disk_masks(6), disk_masks(3)
    params = [param for param in model.parameters() if param.requires_grad]
    optimizer = torch.optim.Adam(params, lr=1e-2)
    weights = {**DEFAULT_WEIGHTS, "object_mask_focal": 2.0, "object_mask_dice": 0.5}

    def loss_terms():
        out = model(**batch)
        terms = {"token_ce": out.lm_loss, **mask_losses(out.body_masks, body_target)}
        for name, value in mask_losses(out.object_masks, object_target).items():
            terms[f"object_{name}"] = value
        return terms

    history = []
    for _ in range(12):
        optimizer.zero_grad()
        terms = loss_terms()
        weighted_total(terms, weights).backward()
        optimizer.step()
        history.append({name: value.item() for name, value in terms.items()})
    first, last = history[0], history[-1]
    assert sum(weights[k] * v for k, v in last.items()) < 0.8 * sum(
        weights[k] * v for k, v in first.items()
    ), history
    for name in ("token_ce", "mask_focal", "object_mask_focal"):
        assert last[name] < first[name], (name, history)


def test_merged_lora_gives_the_same_outputs(config):
    model = build(config).eval()
    perturb_lora(model)
    batch = make_batch(model)
    with torch.no_grad():
        before = model(**batch)
        model.merge_lora()
        after = model(**batch)
    assert not any("lora_" in name for name, _ in model.named_parameters())
    torch.testing.assert_close(after.lm_logits, before.lm_logits, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(after.body_masks, before.body_masks, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(after.object_masks, before.object_masks, atol=1e-4, rtol=1e-4)


def test_trainable_state_round_trip(config, tmp_path):
    trained = build(config, seed=0).eval()
    perturb_lora(trained)
    with torch.no_grad():
        for param in [*trained.projection.parameters(), *trained.sam.mask_decoder.parameters()]:
            param.add_(0.01)
    trained.save_trainable(tmp_path / "contact.pt")
    fresh = build(config, seed=1).eval()
    batch = make_batch(trained)
    with torch.no_grad():
        expected = trained(**batch)
        assert not torch.allclose(fresh(**batch).body_masks, expected.body_masks)
        fresh.load_trainable(tmp_path / "contact.pt")
        got = fresh(**batch)
    torch.testing.assert_close(got.lm_logits, expected.lm_logits)
    torch.testing.assert_close(got.body_masks, expected.body_masks)
    torch.testing.assert_close(got.object_masks, expected.object_masks)
    with pytest.raises(KeyError):
        fresh.load_trainable_state_dict({"projection.1.weight": torch.zeros(1)})


def test_config_errors(config, tmp_path):
    with pytest.raises(ValueError, match="dtype"):
        ContactModelConfig(dtype="fp8")
    with pytest.raises(ValueError, match="quantization"):
        ContactModelConfig(quantization="2bit")
    with pytest.raises(FileNotFoundError, match="LLaVA"):
        ContactVLM.from_pretrained(dataclasses.replace(config, vlm=str(tmp_path / "missing")))
    with pytest.raises(ImportError, match="needs bitsandbytes .* and a CUDA GPU"):
        ContactVLM.from_pretrained(dataclasses.replace(config, quantization="4bit"), "cpu")


def test_featlift_is_view_aware_and_differentiable():
    torch.manual_seed(0)
    lift = FeatLift(8, N, hidden=16, init_scale=0.5).double()
    extrinsics = extrinsics_4x4(BODY_VIEWS)[None].double()  # (1, N, 4, 4)
    cameras = camera_features(extrinsics, None, RENDER)
    assert cameras.shape == (1, N, 16)
    embedding = torch.randn(1, 8, dtype=torch.double, requires_grad=True)
    views = lift(embedding, cameras)
    assert views.shape == (1, N, 8)
    assert (views[:, 0] - views[:, 1]).abs().max() > 1e-3
    assert torch.autograd.gradcheck(lambda e: lift(e, cameras), (embedding,))
    with pytest.raises(ValueError, match="views"):
        lift(embedding, cameras[:, :2])


def test_losses_known_answers():
    target = (torch.rand(3, 5, 5) > 0.5).float()
    assert dice_loss(target, target).item() == pytest.approx(0.0, abs=1e-7)
    assert dice_loss(torch.zeros(2, 4), torch.zeros(2, 4)).item() == pytest.approx(0.0)
    # Disjoint single pixels: 1 - (0 + 1) / (1 + 1 + 1).
    a, b = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    assert dice_loss(a, b).item() == pytest.approx(2 / 3)

    perfect = (2 * target - 1) * 20
    assert sigmoid_focal_loss(perfect, target).item() < 1e-12
    assert sigmoid_focal_loss(-perfect, target).item() > 1.0
    # gamma = 0, alpha disabled: plain BCE.
    logits = torch.randn(10)
    labels = (torch.rand(10) > 0.5).float()
    torch.testing.assert_close(
        sigmoid_focal_loss(logits, labels, alpha=-1, gamma=0),
        torch.nn.functional.binary_cross_entropy_with_logits(logits, labels),
    )
    torch.testing.assert_close(
        probability_focal_loss(logits.sigmoid().double(), labels, alpha=-1, gamma=0),
        torch.nn.functional.binary_cross_entropy(logits.sigmoid().double(), labels.double()),
    )

    probs = torch.tensor([[0.5, 0.0, 1.0, 0.5]])
    truth = torch.tensor([[1.0, 0.0, 1.0, 0.0]])
    assert body_vertex_losses(probs, truth)["body_sparsity"].item() == pytest.approx(0.5)
    assert object_vertex_losses(probs, truth)["object_mse"].item() == pytest.approx(0.125)
    # Dice: 1 - (2 * 1.5 + 1) / (2 + 2 + 1).
    assert object_vertex_losses(probs, truth)["object_dice"].item() == pytest.approx(0.2)

    with pytest.raises(KeyError):
        weighted_total({"unknown": torch.tensor(1.0)})


def test_losses_are_finite_on_empty_targets():
    logits = torch.randn(B, N, 6, 6, requires_grad=True)
    probs = torch.rand(B, 20, requires_grad=True)
    empty_masks, empty_vertices = torch.zeros(B, N, 6, 6), torch.zeros(B, 20)
    terms = {
        **mask_losses(logits, empty_masks),
        **body_vertex_losses(probs, empty_vertices),
        **object_vertex_losses(probs, empty_vertices),
        "token_ce": token_cross_entropy(logits.flatten(2), torch.full((B, N), -100)),
    }
    total = weighted_total(terms)
    total.backward()
    assert all(torch.isfinite(value) for value in terms.values())
    assert terms["token_ce"].item() == 0.0
    assert torch.isfinite(logits.grad).all() and torch.isfinite(probs.grad).all()
    # Exact zeros and ones in the lifted probabilities keep the focal loss finite.
    hard = torch.tensor([[0.0, 1.0]], requires_grad=True)
    loss = probability_focal_loss(hard, torch.tensor([[1.0, 0.0]]))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(hard.grad).all()


def test_mask_dice_is_per_sample_over_its_views():
    # One sample, two views of 1x2 pixels: contact in view 0 only, predicted there and over
    # all of view 1. Over the views together: 1 - (2*1 + 1) / (3 + 1 + 1) = 0.4 (per view it
    # would be the mean of 0 and 1 - 1/3).
    targets = torch.tensor([[[[1.0, 0.0]], [[0.0, 0.0]]]])
    logits = torch.tensor([[[[30.0, -30.0]], [[30.0, 30.0]]]])
    assert mask_losses(logits, targets)["mask_dice"].item() == pytest.approx(0.4)
