"""Training of the contact estimator with accelerate: InteractVLM's total loss.

Per micro-batch: the token cross-entropy of the answer, the 2D focal and Dice losses of the
per-view masks (body views, and object views of the samples with object contact) against the
projected contact (decoder masks upsampled to the render size), the 3D focal and sparsity (L1)
losses of the masks lifted to the body's vertices and, for the samples with object contact, the
3D Dice and MSE losses of the masks lifted to the object's vertices; summed with
`TrainConfig.weights` (`contact.losses.DEFAULT_WEIGHTS` by default).

Output folder:
- `train_config.json`: the resolved configuration.
- `log.jsonl`: one line per optimizer step: `step`, `lr`, `total` and every loss term
  (averaged over the accumulated micro-batches that have it: the object terms only over those
  with object contact).
- `checkpoints/step_<NNNNNNNN>/`: `trainable.pt` (`ContactVLM.save_trainable`),
  `optimizer.pt` and `state.json` (`{"step": ...}`), every `save_every` steps and at the end.

The data order is a function of the seed and the step alone, so a run resumed from a checkpoint
sees the batches the uninterrupted run would have seen.
"""

import dataclasses
import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed

from contact.config import ContactModelConfig
from contact.dataset import ContactDataset, ContactPrompt, ObjectRender, collate_contact
from contact.inference import lift_batch, upsample_masks, view_inputs
from contact.losses import (
    DEFAULT_WEIGHTS,
    body_vertex_losses,
    mask_losses,
    object_vertex_losses,
    weighted_total,
)
from contact.model import ContactVLM
from reconstruction.body_models import BodyModel, build_body_model

MIXED_PRECISION = ("no", "bf16", "fp16")
CHECKPOINTS = "checkpoints"
LOG_FILE = "log.jsonl"
CONFIG_FILE = "train_config.json"


@dataclass
class TrainConfig:
    """What `train` does.

    Attributes:
        data: sample folders, or folders holding sample folders.
        output_dir: where the log, the configuration and the checkpoints go.
        model: the contact model to build (ignored when `train` is given a model).
        steps: optimizer steps in total (a resumed run stops at the same step).
        lr: AdamW learning rate.
        weight_decay: AdamW weight decay.
        batch_size: samples per micro-batch.
        accumulation: micro-batches per optimizer step.
        mixed_precision: "no", "bf16" or "fp16" (accelerate's autocast).
        save_every: steps between checkpoints.
        seed: seed of the data order and of torch.
        max_grad_norm: gradient clipping norm, or None.
        weights: weight of each loss term, by the names of `contact.losses`.
        body_backend: body model whose canonical renders the model sees.
        body_model_dir: its model folder (see `build_body_model`).
        object_contact: also train object contact on the samples that have it (and a mesh).
        resume: continue from the latest checkpoint in `output_dir`, if any.
        cpu: run on the CPU even when a GPU is present.
    """

    data: list[str]
    output_dir: str
    model: ContactModelConfig = field(default_factory=ContactModelConfig)
    steps: int = 1000
    lr: float = 3e-4
    weight_decay: float = 0.0
    batch_size: int = 1
    accumulation: int = 1
    mixed_precision: str = "no"
    save_every: int = 500
    seed: int = 0
    max_grad_norm: float | None = 1.0
    weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    body_backend: str = "anny"
    body_model_dir: str | None = None
    object_contact: bool = True
    resume: bool = False
    cpu: bool = False

    def __post_init__(self):
        if self.mixed_precision not in MIXED_PRECISION:
            raise ValueError(
                f"mixed_precision {self.mixed_precision!r} is not one of {MIXED_PRECISION}"
            )
        if min(self.steps, self.batch_size, self.accumulation, self.save_every) < 1:
            raise ValueError("steps, batch_size, accumulation and save_every must be >= 1")


def latest_checkpoint(output_dir: str | Path) -> Path | None:
    """The checkpoint folder with the highest step in `output_dir`, or None."""
    folder = Path(output_dir) / CHECKPOINTS
    done = [p for p in folder.glob("step_*") if (p / "state.json").is_file()]
    return max(done, key=lambda p: int(p.name.split("_")[1]), default=None)


def _save_checkpoint(
    output_dir: Path, step: int, model: ContactVLM, optimizer: torch.optim.Optimizer
) -> Path:
    folder = output_dir / CHECKPOINTS / f"step_{step:08d}"
    folder.mkdir(parents=True, exist_ok=True)
    model.save_trainable(folder / "trainable.pt")
    torch.save(optimizer.state_dict(), folder / "optimizer.pt")
    # state.json last: its presence marks the checkpoint complete.
    (folder / "state.json").write_text(json.dumps({"step": step}))
    return folder


def batch_indices(num_items: int, batch_size: int, micro_step: int, seed: int) -> list[int]:
    """Dataset indices of a micro-batch: epochs are seeded permutations, read in order.

    Args:
        num_items: dataset length.
        batch_size: samples per micro-batch.
        micro_step: the micro-batch's index since the start of training.
        seed: the run's seed.

    Returns:
        `batch_size` indices; a batch may straddle two epochs.
    """
    out = []
    for position in range(micro_step * batch_size, (micro_step + 1) * batch_size):
        epoch, offset = divmod(position, num_items)
        generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
        out.append(int(torch.randperm(num_items, generator=generator)[offset]))
    return out


def loss_terms(
    model: ContactVLM,
    batch: dict,
    dataset: ContactDataset,
    body_embeddings: torch.Tensor,
    object_embeddings: list[torch.Tensor],
) -> dict[str, torch.Tensor]:
    """The loss terms of one micro-batch.

    Args:
        model: the contact model (possibly wrapped by accelerate).
        batch: `collate_contact`'s output on the model's device.
        dataset: gives the canonical renders, faces and V.
        body_embeddings: (1, N, C, h, w) SAM embeddings of the canonical body renders.
        object_embeddings: (N, C, h, w) SAM embeddings of the object renders of each row that
            has object contact, in row order.

    Returns:
        token_ce, mask_focal and mask_dice (over the body views and the object views),
        body_focal, body_sparsity, and object_dice and object_mse when a row has object contact;
        each ().
    """
    size = dataset.body_render.face_ids.shape[-1]
    batch_size = batch["input_ids"].shape[0]
    rows = [row for row, render in enumerate(batch["object_render"]) if render is not None]
    renders = [batch["object_render"][row] for row in rows]
    object_views = None
    if rows:
        object_views = view_inputs([r.render for r in renders], torch.stack(object_embeddings))
    out = model(
        pixel_values=batch["pixel_values"],
        input_ids=batch["input_ids"],
        attention_mask=batch["attention_mask"],
        labels=batch["labels"],
        body_views=view_inputs(
            [dataset.body_render] * batch_size, body_embeddings.expand(batch_size, -1, -1, -1, -1)
        ),
        object_views=object_views,
        object_rows=torch.tensor(rows, device=batch["input_ids"].device) if rows else None,
    )
    logits = upsample_masks(out.body_masks, size)  # (B, N, R, R)
    faces = dataset.faces.to(logits.device)
    probs = lift_batch(logits.sigmoid(), dataset.body_render, faces, dataset.num_vertices)
    terms = {"token_ce": out.lm_loss.float(), **body_vertex_losses(probs, batch["body_contact"])}
    if not rows:
        return {**terms, **mask_losses(logits, batch["body_masks"])}
    object_logits = upsample_masks(out.object_masks, size)  # (B_o, N, R, R)
    object_targets = torch.stack([batch["object_masks"][row] for row in rows])
    terms.update(
        mask_losses(
            torch.cat([logits, object_logits]), torch.cat([batch["body_masks"], object_targets])
        )
    )
    per_row = [
        object_vertex_losses(
            lift_batch(
                object_logits[i : i + 1].sigmoid(),
                rendered.render,
                rendered.faces.to(logits.device),
                rendered.num_vertices,
            ),
            batch["object_contact"][row][None],
        )
        for i, (row, rendered) in enumerate(zip(rows, renders, strict=True))
    ]
    for name in per_row[0]:
        terms[name] = torch.stack([losses[name] for losses in per_row]).mean()
    return terms


def _to_device(batch: dict, device: torch.device) -> dict:
    """Tensors, and tensors in lists, moved to `device` (object renders included)."""

    def move(value):
        if torch.is_tensor(value):
            return value.to(device)
        if isinstance(value, ObjectRender):
            return dataclasses.replace(
                value, render=value.render.to(device), faces=value.faces.to(device)
            )
        return value

    return {
        key: [move(v) for v in value] if isinstance(value, list) else move(value)
        for key, value in batch.items()
    }


def train(
    config: TrainConfig,
    model: ContactVLM | None = None,
    body_model: BodyModel | None = None,
    log: Callable[[str], None] | None = print,
) -> list[dict[str, float]]:
    """Train (or continue training) the contact model on sample folders.

    Args:
        config: the run.
        model: a built model to train; default `ContactVLM.from_pretrained(config.model)`.
        body_model: the body of the canonical renders; default from `config.body_backend`.
        log: called with one line per step; None for silence.

    Returns:
        The log entries of the steps run by this call (see the module docstring).

    Raises:
        FileNotFoundError: a checkpoint of the model is missing.
        HoifitError: a sample folder is missing or malformed.
    """
    output_dir = Path(config.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / CONFIG_FILE).write_text(json.dumps(asdict(config), indent=2))
    set_seed(config.seed)
    accelerator = Accelerator(
        mixed_precision=config.mixed_precision,
        gradient_accumulation_steps=config.accumulation,
        cpu=config.cpu,
    )
    if model is None:
        model = ContactVLM.from_pretrained(config.model)
    if body_model is None:
        body_model = build_body_model(config.body_backend, model_dir=config.body_model_dir)
    model.to(accelerator.device)
    dataset = ContactDataset(
        config.data,
        body_model,
        ContactPrompt.from_model(model),
        model.config.render_size,
        with_object=config.object_contact,
    )
    params = [param for param in model.parameters() if param.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)

    step = 0
    checkpoint = latest_checkpoint(output_dir) if config.resume else None
    if checkpoint is not None:
        model.load_trainable(checkpoint / "trainable.pt")
        optimizer.load_state_dict(
            torch.load(checkpoint / "optimizer.pt", map_location="cpu", weights_only=True)
        )
        step = json.loads((checkpoint / "state.json").read_text())["step"]
        if log is not None:
            log(f"resumed from {checkpoint} at step {step}")
    wrapped, optimizer = accelerator.prepare(model, optimizer)
    model.train()
    body_embeddings = model.embed_views(
        dataset.body_render.images[None].float().to(accelerator.device)
    )
    object_embeddings: dict[str, torch.Tensor] = {}  # by ObjectRender.key: SAM is frozen

    def embed_objects(renders: list[ObjectRender | None]) -> list[torch.Tensor]:
        for rendered in renders:
            if rendered is not None and rendered.key not in object_embeddings:
                images = rendered.render.images[None].float()
                object_embeddings[rendered.key] = model.embed_views(images)[0]
        return [object_embeddings[r.key] for r in renders if r is not None]

    pad_token_id = model.tokenizer.pad_token_id or 0

    history = []
    with (output_dir / LOG_FILE).open("a") as log_file:
        while step < config.steps:
            sums: dict[str, list[float]] = {}
            for micro in range(config.accumulation):
                micro_step = step * config.accumulation + micro
                indices = batch_indices(len(dataset), config.batch_size, micro_step, config.seed)
                batch = collate_contact([dataset[i] for i in indices], pad_token_id)
                batch = _to_device(batch, accelerator.device)
                objects = embed_objects(batch["object_render"])
                with accelerator.accumulate(wrapped):
                    with accelerator.autocast():
                        terms = loss_terms(wrapped, batch, dataset, body_embeddings, objects)
                        total = weighted_total(terms, config.weights)
                    accelerator.backward(total)
                    if accelerator.sync_gradients and config.max_grad_norm is not None:
                        accelerator.clip_grad_norm_(params, config.max_grad_norm)
                    optimizer.step()
                    optimizer.zero_grad()
                for name, value in {**terms, "total": total}.items():
                    sums.setdefault(name, []).append(value.item())
            step += 1
            entry = {"step": step, "lr": config.lr}
            entry.update({name: sum(values) / len(values) for name, values in sums.items()})
            if not all(math.isfinite(v) for v in entry.values()):
                raise FloatingPointError(f"non-finite loss at step {step}: {entry}")
            history.append(entry)
            log_file.write(json.dumps(entry) + "\n")
            log_file.flush()
            if log is not None:
                log(
                    " ".join(
                        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                        for k, v in entry.items()
                    )
                )
            if step % config.save_every == 0 or step == config.steps:
                _save_checkpoint(output_dir, step, accelerator.unwrap_model(wrapped), optimizer)
    return history
