"""Body and object contact from one photo with a converted InteractVLM checkpoint.

For each task the checkpoint was trained on (and whose inputs are given): ask the task's question
about the object, get the hidden state before the segmentation token (greedy generation, or
teacher forcing with a given answer), turn it into four view prompts, let SAM segment the four
canonical renders and lift the masks onto the mesh. Body contact is on SMPL / SMPL-H's 6890
vertices; object contact on the given mesh's vertices.
"""

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from contact.interactvlm.config import InteractVLMError
from contact.interactvlm.model import (
    Answer,
    InteractVLM,
    generate_answer,
    teacher_forced_answer,
    view_mask_logits,
    view_prompts,
)
from contact.interactvlm.preprocess import clip_pixels
from contact.interactvlm.prompt import QUESTION_STYLES, answer_for_task, build_prompt, question
from contact.interactvlm.renders import (
    CanonicalViews,
    lift_body,
    lift_object,
    load_body_views,
    render_object_views,
)
from contact.interactvlm.tokenizer import tokenizer_image_token

logger = logging.getLogger(__name__)

INFERENCE_TYPES = ("generate", "forward")


@dataclass
class InteractVLMContact:
    """What a checkpoint predicts for one photo.

    Attributes:
        body_contact: (6890,) float32 probabilities on SMPL topology; None when the checkpoint
            has no human task.
        object_contact: (V,) float32 on the given object mesh; None without a mesh or an object
            task.
        text: the answer of the body query (of the object query when there is none).
        object_text: the answer of the object query, None when none ran.
        topology: the body topology, "smpl".
    """

    body_contact: np.ndarray | None
    object_contact: np.ndarray | None
    text: str
    object_text: str | None = None
    topology: str = "smpl"


def _mesh_arrays(object_mesh) -> tuple[np.ndarray, np.ndarray]:
    """An ObjectMesh, a (vertices, faces) pair or a mesh file -> arrays."""
    if isinstance(object_mesh, str | Path):
        from reconstruction.object_model import load_object_mesh

        object_mesh = load_object_mesh(object_mesh)
    if hasattr(object_mesh, "vertices") and hasattr(object_mesh, "faces"):
        return np.asarray(object_mesh.vertices), np.asarray(object_mesh.faces)
    vertices, faces = object_mesh
    return np.asarray(vertices), np.asarray(faces)


def ask(
    model: InteractVLM,
    pixel_values,
    task: str,
    object_name: str,
    inference_type: str,
    answer: str | None,
    max_new_tokens: int,
    questions: str = "training",
) -> Answer:
    """Ask one task's question and return the answer with the hidden state before its token.

    `questions` is a `prompt.QUESTION_STYLES` entry.
    """
    meta = model.meta
    task_meta = meta.human if task == "human" else meta.object
    text = question(task, task_meta.question_type, object_name, questions)
    if inference_type == "generate":
        ids = tokenizer_image_token(build_prompt(text), model.tokenizer)
        return generate_answer(model, ids, pixel_values, max_new_tokens)
    forced = answer_for_task(answer, meta.task_token_name(task))
    ids = tokenizer_image_token(build_prompt(text, forced), model.tokenizer)
    return teacher_forced_answer(model, ids, pixel_values, forced)


def segment_views(model: InteractVLM, answer: Answer, views: CanonicalViews, cameras):
    """(N, H, W) mask logits of the views, or None when the answer has no segmentation token."""
    if answer.seg_hidden is None:
        return None
    prompts = view_prompts(model, answer.seg_hidden, answer.seg_token, cameras)
    return view_mask_logits(model, views.images, prompts)


def predict_interactvlm_contact(
    model: InteractVLM,
    image_rgb_uint8: np.ndarray,
    object_name: str,
    object_mesh=None,
    interactvlm_data: str | Path | None = None,
    inference_type: str = "generate",
    answer: str | None = None,
    object_answer: str | None = None,
    max_new_tokens: int = 512,
    questions: str = "training",
) -> InteractVLMContact:
    """Body (and object) contact of a photo, as InteractVLM predicts it.

    Args:
        model: from `load_interactvlm`.
        image_rgb_uint8: (H, W, 3) uint8 RGB photo.
        object_name: the object class asked about, e.g. "chair".
        object_mesh: the object's mesh (an `ObjectMesh`, a (vertices, faces) pair or a mesh
            file) for object contact; needed by object-only checkpoints.
        interactvlm_data: InteractVLM's data/ folder (canonical body renders and maps); needed
            when the checkpoint predicts body contact.
        inference_type: "generate" (greedy answer, the published evaluation) or "forward"
            (teacher forcing with `answer`).
        answer: the teacher-forced answer, with `[SEG]` where the mask token goes (replaced by
            [HSEG] / [OSEG] for the joint model), e.g. "The contacting body parts are hands, and
            the contact region is [SEG]."
        object_answer: the object query's answer; default `answer`.
        max_new_tokens: generation limit.
        questions: "training" (the checkpoint's own questions) or "demo" (those of the
            published run_demo.py; see `prompt.QUESTION_STYLES`).

    Returns:
        The contact. A task whose answer has no segmentation token gets all-zero contact.

    Raises:
        InteractVLMError: a missing input for the checkpoint's tasks, or a bad argument.
    """
    meta = model.meta
    if inference_type not in INFERENCE_TYPES:
        raise InteractVLMError(
            f"inference type {inference_type!r} is not one of {', '.join(INFERENCE_TYPES)}"
        )
    if questions not in QUESTION_STYLES:
        raise InteractVLMError(
            f"question style {questions!r} is not one of {', '.join(QUESTION_STYLES)}"
        )
    if inference_type == "forward" and answer is None:
        raise InteractVLMError("inference type 'forward' needs an answer to teacher-force")
    image = np.asarray(image_rgb_uint8)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise InteractVLMError(f"the photo must be (H, W, 3) uint8 RGB, got {image.shape}")
    if meta.human is not None and interactvlm_data is None:
        raise InteractVLMError(
            "body contact needs the canonical renders of InteractVLM's data.zip: pass "
            "--interactvlm-data with its unzipped data/ folder"
        )
    if meta.human is None and object_mesh is None:
        raise InteractVLMError(
            "this checkpoint predicts object contact only: pass --object-mesh with the object"
        )
    pixel_values = clip_pixels(image)

    def run(task, task_meta, views, task_answer):
        reply = ask(
            model,
            pixel_values,
            task,
            object_name,
            inference_type,
            task_answer,
            max_new_tokens,
            questions,
        )
        logits = segment_views(model, reply, views, task_meta.cameras)
        if logits is None:
            logger.warning(
                "the %s answer has no segmentation token: no contact (%r)", task, reply.text
            )
            return np.zeros(views.num_vertices, dtype=np.float32), reply.text
        if task == "human":
            lifted = lift_body(views, logits)
        else:
            lifted = lift_object(views, logits, meta.thresholds["object_vote"])
        return lifted.cpu().numpy().astype(np.float32), reply.text

    body = object_contact = body_text = object_text = None
    if meta.human is not None:
        views = load_body_views(interactvlm_data, meta.human)
        body, body_text = run("human", meta.human, views, answer)
    if meta.object is not None and object_mesh is not None:
        views = render_object_views(*_mesh_arrays(object_mesh))
        object_contact, object_text = run(
            "object", meta.object, views, object_answer if object_answer is not None else answer
        )
    return InteractVLMContact(
        body_contact=body,
        object_contact=object_contact,
        text=body_text if body_text is not None else object_text,
        object_text=object_text,
    )
