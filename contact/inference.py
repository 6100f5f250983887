"""Per-vertex body and object contact from one image with a trained `contact.model.ContactVLM`.

The model reads the image and the question of `contact.dataset.ContactPrompt`; instead of
generating the answer, the fixed answer (which holds `<HCON>`, and `<OCON>` when the object mesh
is known) is fed as text, so the hidden states at the contact tokens are the ones the model was
trained to read. The decoder's per-view mask logits are upsampled to the renders' size, turned
into probabilities (sigmoid) and lifted to the vertices (`lift.lift_to_vertices`): of the
canonical body, and of the object mesh rendered from `OBJECT_VIEWS`.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from contact.config import ContactModelConfig
from contact.dataset import ContactPrompt, canonical_body_render, object_name, object_render
from contact.lift import lift_to_vertices
from contact.model import ContactVLM, ViewInputs
from contact.render import MultiViewRender
from reconstruction.body_models import BodyModel
from reconstruction.errors import HoifitError
from reconstruction.object_model import ObjectMesh
from reconstruction.sample_io import CONTACT_FILE, SampleContact, read_sample, write_contact


def view_inputs(renders: Sequence[MultiViewRender], embeddings: Tensor) -> ViewInputs:
    """Renders as the mask decoder sees them: one render per row of the batch.

    Args:
        renders: B renders of N views each, all of the same size (a row may repeat one).
        embeddings: (B, N, C, h, w) their SAM embeddings (`ContactVLM.embed_views`).

    Returns:
        Views with extrinsics (B, N, 4, 4) and intrinsics (B, N, 3, 3).
    """
    device = embeddings.device
    views = embeddings.shape[1]
    return ViewInputs(
        extrinsics=torch.stack([r.extrinsics for r in renders]).float().to(device),
        embeddings=embeddings,
        intrinsics=torch.stack([r.K.expand(views, 3, 3) for r in renders]).float().to(device),
        image_size=renders[0].face_ids.shape[-1],
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


@dataclass
class ContactPrediction:
    """Per-vertex contact probabilities predicted for one image.

    Attributes:
        body: (V,) float32 in [0, 1] on the body model's vertices.
        object: (Vo,) float32 in [0, 1] on the object mesh's vertices, or None without a mesh.
    """

    body: np.ndarray
    object: np.ndarray | None = None


def _to_numpy(probs: Tensor) -> np.ndarray:
    return probs.clamp(0, 1).cpu().numpy().astype(np.float32)


@torch.no_grad()
def predict_contact(
    model: ContactVLM,
    image: np.ndarray,
    object_name: str,
    body_model: BodyModel,
    object_mesh: ObjectMesh | None = None,
    render_size: int | None = None,
) -> ContactPrediction:
    """Per-vertex body contact (and object contact, given the mesh) for one image.

    Args:
        model: the contact model (put in evaluation mode here).
        image: (H, W, 3) uint8 RGB.
        object_name: the object the person interacts with, e.g. "chair".
        body_model: the body whose mesh the contact is on (its canonical pose is rendered).
        object_mesh: the object's mesh, rendered from `OBJECT_VIEWS`; None for body contact only.
        render_size: side of the renders; default the model config's `render_size`.

    Returns:
        The body's and, with `object_mesh`, the object's contact probabilities.
    """
    model.eval()
    device = next(model.projection.parameters()).device
    size = render_size or model.config.render_size
    render, faces = canonical_body_render(body_model, size)
    render, faces = render.to(device), faces.to(device)
    prompt = ContactPrompt.from_model(model)
    input_ids, _ = prompt.encode(object_name, with_object=object_mesh is not None)
    object_views = rendered = None
    if object_mesh is not None:
        rendered = object_render(object_mesh, size)
        rendered.render = rendered.render.to(device)
        object_views = view_inputs(
            [rendered.render], model.embed_views(rendered.render.images[None].float())
        )
    out = model(
        pixel_values=prompt.pixel_values(image)[None].to(device),
        input_ids=input_ids[None].to(device),
        body_views=view_inputs([render], model.embed_views(render.images[None].float())),
        object_views=object_views,
    )
    probs = upsample_masks(out.body_masks, size).sigmoid()  # (1, N, R, R)
    body = lift_batch(probs, render, faces, body_model.num_vertices)[0]
    if rendered is None:
        return ContactPrediction(_to_numpy(body))
    probs = upsample_masks(out.object_masks, size).sigmoid()
    faces = rendered.faces.to(device)
    return ContactPrediction(
        _to_numpy(body),
        _to_numpy(lift_batch(probs, rendered.render, faces, rendered.num_vertices)[0]),
    )


def predict_folder(
    model: ContactVLM, folder: str | Path, body_model: BodyModel
) -> ContactPrediction:
    """`predict_contact` on a sample folder's image and object mesh (named by the folder)."""
    sample = read_sample(folder)
    return predict_contact(model, sample.image, object_name(folder), body_model, sample.object_mesh)


def write_prediction(
    folder: str | Path, prediction: ContactPrediction, body_topology: str
) -> SampleContact:
    """Write predicted contact to the folder's contact.npz.

    Object contact the prediction lacks is kept from an existing contact.npz.

    Args:
        folder: the sample folder.
        prediction: body contact on the mesh of `body_topology`, object contact or None.
        body_topology: "anny", "smplx" or "smpl".

    Returns:
        The contact written.
    """
    object_contact = prediction.object
    path = Path(folder) / CONTACT_FILE
    if object_contact is None and path.is_file():
        with np.load(path) as data:
            object_contact = data["object_contact"] if "object_contact" in data else None
    contact = SampleContact(
        body_contact=np.asarray(prediction.body, dtype=np.float32),
        body_topology=body_topology,
        object_contact=object_contact,
    )
    write_contact(folder, contact)
    return contact


def load_contact_model(checkpoint: str | Path, device="cpu") -> ContactVLM:
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
