"""Per-vertex body contact from one image with a trained `contact.model.ContactVLM`.

The model reads the image and the question of `contact.dataset.ContactPrompt`; instead of
generating the answer, the fixed answer (which holds `<HCON>`) is fed as text, so the hidden
state at `<HCON>` is the one the model was trained to read. The decoder's per-view mask logits
are upsampled to the canonical renders' size, turned into probabilities (sigmoid) and lifted to
the body's vertices (`lift.lift_to_vertices`).
"""

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from contact.config import ContactModelConfig
from contact.dataset import ContactPrompt, canonical_body_render, object_name
from contact.lift import lift_to_vertices
from contact.model import ContactVLM, ViewInputs
from contact.render import MultiViewRender
from reconstruction.body_models import BodyModel
from reconstruction.errors import HoifitError
from reconstruction.sample_io import CONTACT_FILE, SampleContact, read_sample, write_contact


def body_view_inputs(render: MultiViewRender, embeddings: Tensor) -> ViewInputs:
    """The canonical body renders as the mask decoder sees them, for a batch.

    Args:
        render: the canonical renders (N views).
        embeddings: (B, N, C, h, w) their SAM embeddings (`ContactVLM.embed_views`).

    Returns:
        Views with extrinsics (B, N, 4, 4) and intrinsics (B, N, 3, 3).
    """
    batch, views = embeddings.shape[:2]
    device = embeddings.device
    return ViewInputs(
        extrinsics=render.extrinsics.float().to(device).expand(batch, -1, -1, -1),
        embeddings=embeddings,
        intrinsics=render.K.float().to(device).expand(batch, views, 3, 3),
        image_size=render.face_ids.shape[-1],
    )


def upsample_masks(logits: Tensor, size: int) -> Tensor:
    """(B, N, h, w) mask logits -> (B, N, size, size) float32, bilinear."""
    if logits.shape[-2:] == (size, size):
        return logits.float()
    return F.interpolate(logits.float(), size=(size, size), mode="bilinear", align_corners=False)


def lift_batch(probs: Tensor, render: MultiViewRender, faces: Tensor, num_vertices: int) -> Tensor:
    """(B, N, R, R) mask probabilities at the render size -> (B, V) vertex probabilities."""
    render = render.to(probs.device)
    return torch.stack([lift_to_vertices(p, render, faces, num_vertices) for p in probs])


@torch.no_grad()
def predict_contact(
    model: ContactVLM,
    image: np.ndarray,
    object_name: str,
    body_model: BodyModel,
    render_size: int | None = None,
) -> np.ndarray:
    """Per-vertex body contact probabilities for one image.

    Args:
        model: the contact model (put in evaluation mode here).
        image: (H, W, 3) uint8 RGB.
        object_name: the object the person interacts with, e.g. "chair".
        body_model: the body whose mesh the contact is on (its canonical pose is rendered).
        render_size: side of the canonical renders; default the model config's `render_size`.

    Returns:
        (V,) float32 in [0, 1] on `body_model`'s vertices.
    """
    model.eval()
    device = next(model.projection.parameters()).device
    size = render_size or model.config.render_size
    render, faces = canonical_body_render(body_model, size)
    render, faces = render.to(device), faces.to(device)
    prompt = ContactPrompt.from_model(model)
    input_ids, _ = prompt.encode(object_name)
    embeddings = model.embed_views(render.images[None].float())  # (1, N, C, h, w)
    out = model(
        pixel_values=prompt.pixel_values(image)[None].to(device),
        input_ids=input_ids[None].to(device),
        body_views=body_view_inputs(render, embeddings),
    )
    probs = upsample_masks(out.body_masks, size).sigmoid()  # (1, N, R, R)
    vertices = lift_batch(probs, render, faces, body_model.num_vertices)[0]
    return vertices.clamp(0, 1).cpu().numpy().astype(np.float32)


def predict_folder(model: ContactVLM, folder: str | Path, body_model: BodyModel) -> np.ndarray:
    """`predict_contact` on a sample folder's image, the object named by the folder."""
    return predict_contact(model, read_sample(folder).image, object_name(folder), body_model)


def write_prediction(folder: str | Path, probs: np.ndarray, body_topology: str) -> None:
    """Write predicted body contact to the folder's contact.npz, keeping its object contact.

    Args:
        folder: the sample folder.
        probs: (V,) in [0, 1] on the mesh of `body_topology`.
        body_topology: "anny", "smplx" or "smpl".
    """
    object_contact = None
    path = Path(folder) / CONTACT_FILE
    if path.is_file():
        with np.load(path) as data:
            object_contact = data["object_contact"] if "object_contact" in data else None
    write_contact(
        folder,
        SampleContact(
            body_contact=np.asarray(probs, dtype=np.float32),
            body_topology=body_topology,
            object_contact=object_contact,
        ),
    )


def load_contact_model(checkpoint: str | Path, device=None) -> ContactVLM:
    """A trained contact model from a `save_trainable` file (its config names the base models).

    Raises:
        HoifitError: the checkpoint does not exist or holds no configuration.
    """
    path = Path(checkpoint)
    if not path.is_file():
        raise HoifitError(
            f"contact checkpoint {path} does not exist: train one with scripts/train_contact.py "
            "(checkpoints/step_*/trainable.pt) or unset contact.checkpoint"
        )
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if "config" not in payload:
        raise HoifitError(f"{path} is not a checkpoint written by ContactVLM.save_trainable")
    fields = json.loads(payload["config"])
    fields["lora_target_modules"] = tuple(fields["lora_target_modules"])
    model = ContactVLM.from_pretrained(ContactModelConfig(**fields), device)
    model.load_trainable(path)
    return model
