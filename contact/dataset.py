"""Training data of the contact estimator: sample folders -> prompts, images and contact targets.

A sample folder is a hoifit synthetic scene or a DAMON/PICO-style folder (see
`reconstruction.sample_io`). Its object name is the folder-name prefix before `__`
(`chair__synth_0_0` -> "chair"; underscores become spaces). Body contact per vertex comes from
`read_ground_truth(folder).body_contact` when the folder has ground truth, else from
`contact.npz`'s `body_contact`, else from the body vertices of `corresponding_contacts.json`; it
must be on the topology of the body model the dataset renders (no conversion between
topologies happens here).

Object contact per vertex comes from the ground truth, else from `contact.npz`'s
`object_contact`, and is used only when the folder also has its object mesh with as many vertices.

Targets. The canonical body (`BodyModel.canonical_params`) is rendered once per body model from
`BODY_VIEWS` at `render_size`; each sample's contact indicator is projected into those views
(`lift.project_vertices_to_masks`) and thresholded at 0.5, giving (N, R, R) masks at the render
size. A sample with object contact also gets its object mesh rendered from `OBJECT_VIEWS` (cached
per mesh) and its object contact projected the same way. The training loop upsamples the
decoder's masks to the render size to compare them, which is also the resolution
`lift.lift_to_vertices` needs.

Prompt. `ContactPrompt` writes a LLaVA-1.5-style question with the image placeholder expanded to
the number of image features the VLM inserts, followed by the fixed answer
`ANSWER_TEMPLATE` that holds `<HCON>` (`ANSWER_OBJECT_TEMPLATE`, which adds `<OCON>`, for samples
with object contact). Labels
are the answer's tokens; the question is ignored (-100). The image is resized (not cropped) to
the vision tower's square input and normalized with CLIP's statistics, as LLaVA's image
processor does up to its crop.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import Dataset
from transformers import PreTrainedTokenizerBase

from contact.lift import project_vertices_to_masks
from contact.render import MultiViewRender, render_key, render_views_cached
from contact.views import BODY_VIEWS, OBJECT_VIEWS
from reconstruction.body_models import BodyModel
from reconstruction.errors import HoifitError
from reconstruction.object_model import ObjectMesh
from reconstruction.sample_io import (
    GroundTruth,
    SampleContact,
    list_samples,
    read_ground_truth,
    read_sample,
)

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
"""LLaVA's image normalization (CLIP's statistics) of [0, 1] RGB."""

QUESTION_TEMPLATE = "USER: {image}\nwhere does the person touch the {object} ? ASSISTANT:"
"""The question; `{image}` becomes the expanded image tokens, `{object}` the object name."""

ANSWER_TEMPLATE = " contact is at {body}"
ANSWER_OBJECT_TEMPLATE = " contact is at {body} object contact is at {object}"
"""The answers taught to the model, without and with the object-contact token."""

MASK_THRESHOLD = 0.5
"""Projected contact above which a render pixel is a positive in the target masks."""

IGNORE_INDEX = -100


def object_name(folder: str | Path) -> str:
    """The object named by a sample folder: the prefix before `__`, underscores as spaces."""
    name = Path(folder).name
    return name.split("__")[0].replace("_", " ") if "__" in name else "object"


@dataclass
class ContactPrompt:
    """Turns (image, object name) into the VLM's inputs, for one tokenizer and vision tower.

    Attributes:
        tokenizer: the tokenizer that holds the contact tokens.
        image_token: the placeholder token LLaVA replaces with image features.
        image_tokens: how many image features LLaVA inserts (`image_seq_length`).
        image_size: side of the vision tower's square input, pixels.
        body_token: the body-contact token.
        object_token: the object-contact token.
    """

    tokenizer: PreTrainedTokenizerBase
    image_token: str
    image_tokens: int
    image_size: int
    body_token: str = "<HCON>"
    object_token: str = "<OCON>"

    @classmethod
    def from_model(cls, model) -> "ContactPrompt":
        """The prompt of a `contact.model.ContactVLM`."""
        vlm_config = model.vlm.config
        return cls(
            tokenizer=model.tokenizer,
            image_token=model.tokenizer.convert_ids_to_tokens(vlm_config.image_token_id),
            image_tokens=vlm_config.image_seq_length,
            image_size=vlm_config.vision_config.image_size,
            body_token=model.config.body_token,
            object_token=model.config.object_token,
        )

    def _ids(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False).input_ids

    def encode(self, name: str, with_object: bool = False) -> tuple[Tensor, Tensor]:
        """Token ids of question + answer and the labels of the answer.

        Args:
            name: the object's name.
            with_object: also ask for object contact (`<OCON>` in the answer).

        Returns:
            input_ids: (L,) long, BOS, question, answer, EOS.
            labels: (L,) long, -100 on BOS and the question.
        """
        image = " ".join([self.image_token] * self.image_tokens)
        question = self._ids(QUESTION_TEMPLATE.format(image=image, object=name))
        template = ANSWER_OBJECT_TEMPLATE if with_object else ANSWER_TEMPLATE
        answer = self._ids(template.format(body=self.body_token, object=self.object_token))
        bos = [self.tokenizer.bos_token_id] if self.tokenizer.bos_token_id is not None else []
        eos = [self.tokenizer.eos_token_id] if self.tokenizer.eos_token_id is not None else []
        input_ids = torch.tensor(bos + question + answer + eos)
        labels = input_ids.clone()
        labels[: len(bos) + len(question)] = IGNORE_INDEX
        return input_ids, labels

    def pixel_values(self, image: np.ndarray) -> Tensor:
        """(3, S, S) float: an (H, W, 3) uint8 image resized to the tower's input, normalized."""
        x = torch.from_numpy(np.array(image)).permute(2, 0, 1)[None].float() / 255
        x = F.interpolate(x, size=(self.image_size,) * 2, mode="bilinear", align_corners=False)
        mean, std = torch.tensor(CLIP_MEAN), torch.tensor(CLIP_STD)
        return ((x[0] - mean[:, None, None]) / std[:, None, None]).clamp(-10, 10)


def canonical_body_render(
    body_model: BodyModel, render_size: int, cache_dir: str | Path | None = None
) -> tuple[MultiViewRender, Tensor]:
    """Renders of the body model's canonical pose from `BODY_VIEWS` (remembered per mesh).

    Args:
        body_model: any backend.
        render_size: side of the renders, pixels.
        cache_dir: optional on-disk cache of `render_views_cached`.

    Returns:
        The renders (N views of render_size^2) and the faces (F, 3) long that were rendered.
    """
    with torch.no_grad():
        vertices = body_model(body_model.canonical_params()).vertices[0]  # (V, 3)
    faces = body_model.faces.long()
    render = render_views_cached(vertices, faces, BODY_VIEWS, render_size, cache_dir=cache_dir)
    return render, faces


def expand_folders(paths: Sequence[str | Path]) -> list[Path]:
    """Sample folders from paths that are sample folders or folders of sample folders."""
    folders: list[Path] = []
    for path in map(Path, paths):
        samples = list_samples(path)
        folders.extend(samples if samples else [path])
    return folders


def _body_contact(
    folder: Path, known: SampleContact | None, truth: GroundTruth | None, num_vertices: int
) -> np.ndarray:
    """(V,) float32 body contact of a sample folder (see the module docstring)."""
    if truth is not None:
        contact = truth.body_contact
    else:
        if known is not None and known.body_contact is not None:
            contact = known.body_contact
        elif known is not None and known.pairs is not None:
            contact = np.zeros(num_vertices, np.float32)
            if known.pairs.body_vertex.size and known.pairs.body_vertex.max() >= num_vertices:
                raise HoifitError(
                    f"{folder}: contact pairs are on the {known.pairs.body_topology} mesh, "
                    f"not on the body model's {num_vertices} vertices"
                )
            contact[known.pairs.body_vertex] = 1.0
        else:
            raise HoifitError(f"{folder}: no body contact (ground truth, contact.npz or pairs)")
    if len(contact) != num_vertices:
        raise HoifitError(
            f"{folder}: body contact has {len(contact)} vertices but the body model has "
            f"{num_vertices}; train with the body model of the annotations"
        )
    return np.asarray(contact, dtype=np.float32)


def _object_contact(
    folder: Path, known: SampleContact | None, truth: GroundTruth | None, mesh: ObjectMesh | None
) -> np.ndarray | None:
    """(Vo,) float32 object contact of a sample folder, or None without it or without the mesh."""
    contact = truth.object_contact if truth is not None else None
    if contact is None and known is not None:
        contact = known.object_contact
    if contact is None or mesh is None:
        return None
    if len(contact) != len(mesh.vertices):
        raise HoifitError(
            f"{folder}: object contact has {len(contact)} vertices but the object mesh has "
            f"{len(mesh.vertices)}; the contact must be on the folder's object mesh"
        )
    return np.asarray(contact, dtype=np.float32)


@dataclass
class ObjectRender:
    """The object views of one sample's mesh (see `object_render`).

    Attributes:
        render: the renders from `OBJECT_VIEWS`.
        faces: (F, 3) long, the rendered faces.
        num_vertices: Vo.
        key: `render.render_key` of the renders, which identifies the mesh's views.
    """

    render: MultiViewRender
    faces: Tensor
    num_vertices: int
    key: str


def object_render(
    mesh: ObjectMesh, render_size: int, cache_dir: str | Path | None = None
) -> ObjectRender:
    """Renders of an object mesh, as it is in its file's frame (y up), from `OBJECT_VIEWS`."""
    vertices = torch.from_numpy(mesh.vertices)
    faces = torch.from_numpy(mesh.faces).long()
    render = render_views_cached(vertices, faces, OBJECT_VIEWS, render_size, cache_dir=cache_dir)
    key = render_key(vertices, faces, OBJECT_VIEWS, render_size)
    return ObjectRender(render, faces, len(vertices), key)


class ContactDataset(Dataset):
    """Sample folders as training items of `contact.model.ContactVLM`.

    Args:
        folders: sample folders, or folders holding sample folders.
        body_model: the body whose canonical renders the model sees; contact is on its mesh.
        prompt: builds the VLM's inputs (`ContactPrompt.from_model`).
        render_size: side of the canonical renders and of the target masks, pixels.
        cache_dir: optional on-disk cache of the renders.
        with_object: train object contact where a sample has it (and its mesh).

    Attributes:
        folders: the sample folders, sorted within each given root.
        body_render: the canonical renders, shared by every item.
        faces: (F, 3) long, the rendered faces.
        num_vertices: V of the body model.

    Raises:
        HoifitError: a path is not a folder.
    """

    def __init__(
        self,
        folders: Sequence[str | Path],
        body_model: BodyModel,
        prompt: ContactPrompt,
        render_size: int = 256,
        cache_dir: str | Path | None = None,
        with_object: bool = True,
    ):
        self.folders = expand_folders(folders)
        if not self.folders:
            raise HoifitError(f"no sample folders in {[str(f) for f in folders]}")
        self.prompt = prompt
        self.render_size = render_size
        self.cache_dir = cache_dir
        self.with_object = with_object
        self.num_vertices = body_model.num_vertices
        self.body_render, self.faces = canonical_body_render(body_model, render_size, cache_dir)
        self.body_render = self.body_render.to("cpu")
        self.faces = self.faces.cpu()

    def __len__(self) -> int:
        return len(self.folders)

    def __getitem__(self, index: int) -> dict:
        """One sample.

        Returns:
            image: (H, W, 3) uint8 tensor.
            object_name: str.
            folder: str.
            pixel_values: (3, S, S) float, the VLM's image input.
            input_ids: (L,) long; labels: (L,) long, -100 outside the answer.
            body_contact: (V,) float in [0, 1].
            body_masks: (N, R, R) float in {0, 1}, the contact in the canonical renders.
            object_contact: (Vo,) float, or None when unknown (or not trained).
            object_render: `ObjectRender` of the object mesh, or None without object contact.
            object_masks: (N, R, R) float in {0, 1}, the object contact in its renders, or None.
        """
        folder = self.folders[index]
        sample, truth = read_sample(folder), read_ground_truth(folder)
        name = object_name(folder)
        body_contact = torch.from_numpy(
            _body_contact(folder, sample.contact, truth, self.num_vertices)
        )
        projected = project_vertices_to_masks(
            body_contact.to(self.body_render.bary.dtype), self.body_render, self.faces
        )  # (N, R, R)
        object_contact = rendered = object_masks = None
        if self.with_object:
            object_contact = _object_contact(folder, sample.contact, truth, sample.object_mesh)
        if object_contact is not None:
            object_contact = torch.from_numpy(object_contact)
            rendered = object_render(sample.object_mesh, self.render_size, self.cache_dir)
            object_masks = project_vertices_to_masks(
                object_contact.to(rendered.render.bary.dtype), rendered.render, rendered.faces
            )
            object_masks = (object_masks > MASK_THRESHOLD).float()
        input_ids, labels = self.prompt.encode(name, with_object=object_contact is not None)
        return {
            "image": torch.from_numpy(np.array(sample.image)),
            "object_name": name,
            "folder": str(folder),
            "pixel_values": self.prompt.pixel_values(sample.image),
            "input_ids": input_ids,
            "labels": labels,
            "body_contact": body_contact,
            "body_masks": (projected > MASK_THRESHOLD).float(),
            "object_contact": object_contact,
            "object_render": rendered,
            "object_masks": object_masks,
        }


PER_SAMPLE_KEYS = (
    "image",
    "object_name",
    "folder",
    "object_contact",
    "object_render",
    "object_masks",
)
"""Item keys that `collate_contact` keeps as lists: their sizes differ, or they may be None."""


def collate_contact(items: list[dict], pad_token_id: int = 0) -> dict:
    """Batch items of `ContactDataset`, right-padding the token sequences.

    Returns:
        pixel_values (B, 3, S, S), input_ids (B, L) padded with `pad_token_id`, attention_mask
        (B, L), labels (B, L) padded with -100, body_contact (B, V), body_masks (B, N, R, R),
        and lists of the `PER_SAMPLE_KEYS`.
    """
    length = max(len(item["input_ids"]) for item in items)
    input_ids = torch.full((len(items), length), pad_token_id, dtype=torch.long)
    labels = torch.full((len(items), length), IGNORE_INDEX, dtype=torch.long)
    attention_mask = torch.zeros((len(items), length), dtype=torch.long)
    for row, item in enumerate(items):
        n = len(item["input_ids"])
        input_ids[row, :n] = item["input_ids"]
        labels[row, :n] = item["labels"]
        attention_mask[row, :n] = 1
    return {
        "pixel_values": torch.stack([item["pixel_values"] for item in items]),
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "labels": labels,
        "body_contact": torch.stack([item["body_contact"] for item in items]),
        "body_masks": torch.stack([item["body_masks"] for item in items]),
        **{key: [item[key] for item in items] for key in PER_SAMPLE_KEYS},
    }
