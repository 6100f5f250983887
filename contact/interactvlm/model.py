"""A converted InteractVLM checkpoint: stock transformers models plus three small heads.

`InteractVLM` combines `LlavaForConditionalGeneration` (LLaVA-v1 on LLaMA-2 with CLIP-L/14 at 224,
the single-linear projector held exactly by an identity second layer), `SamModel` (ViT-H) and
`InteractVLMHeads`: the LISA projection of the language model's hidden state to a SAM prompt, the
per-view camera gates, and (joint model) the attention splitter.

Inference, as the original runs it:

1. The language model reads the prompt with the 256 CLIP features in place of the image
   placeholder and answers (greedy generation) or is teacher-forced with a given answer.
2. The final-normed last-layer hidden state at the position **before** the first segmentation
   token (the one whose next-token prediction is that token) is projected to a prompt e.
3. Each view v gets e * g_v, g_v = sigmoid(gate_v(MLP(c_v))) from its camera vector c_v; the joint
   model then passes the four tokens through the attention splitter and keeps the human branch
   for [HSEG], the object branch for [OSEG].
4. SAM decodes every view's render with the iou token, the mask tokens and **all four** view
   prompts (the original broadcasts one token set over the views), single-mask output.
"""

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from contact.interactvlm.config import (
    HEADS_FILE,
    LLAVA_FOLDER,
    SAM_FOLDER,
    TOKENIZER_FOLDER,
    CheckpointMeta,
    InteractVLMError,
    camera_vector,
    read_meta,
)
from contact.interactvlm.preprocess import sam_pixels, upsample_masks
from contact.interactvlm.tokenizer import IMAGE_TOKEN_INDEX, LegacyLlamaTokenizer


class CameraGates(nn.Module):
    """InteractVLM's "vi_v1" camera encoder: one multiplicative gate per view.

    g_v = sigmoid(W_v ReLU(W2 ReLU(W1 c_v + b1) + b2) + b_v).

    Args:
        num_views: V.
        hidden: width of the shared MLP (128 in the releases).
        out_dim: SAM prompt size.
        camera_dim: size of the camera vector (5).
    """

    def __init__(self, num_views: int, hidden: int, out_dim: int, camera_dim: int = 5):
        super().__init__()
        self.spatial = nn.Sequential(
            nn.Linear(camera_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU()
        )
        self.view_gates = nn.ModuleList(nn.Linear(hidden, out_dim) for _ in range(num_views))

    def forward(self, cameras: Tensor) -> Tensor:
        """(V, 5) camera vectors, in view order -> (V, out_dim) gates in (0, 1)."""
        shared = self.spatial(cameras)  # (V, hidden)
        return torch.stack(
            [torch.sigmoid(gate(shared[v])) for v, gate in enumerate(self.view_gates)]
        )


class AttentionSplitter(nn.Module):
    """The joint model's split of the view tokens into a human and an object version.

    Single-head attention across the tokens with a shared key and value and one query per branch,
    scaled by 1 / sqrt(hidden), both branches projected back by the same output layer.

    Args:
        dim: token size (SAM prompt size).
        hidden: attention width (128 in the releases).
    """

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.input_proj = nn.Linear(dim, hidden)
        self.query_human = nn.Linear(hidden, hidden)
        self.query_object = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)
        self.output_proj = nn.Linear(hidden, dim)

    def forward(self, tokens: Tensor) -> tuple[Tensor, Tensor]:
        """(..., T, dim) -> (human, object), each (..., T, dim)."""
        x = self.input_proj(tokens)
        key, value = self.key(x), self.value(x)
        scale = key.shape[-1] ** 0.5

        def branch(query: Tensor) -> Tensor:
            weights = torch.softmax(query @ key.transpose(-2, -1) / scale, dim=-1)
            return self.output_proj(weights @ value)

        return branch(self.query_human(x)), branch(self.query_object(x))


class InteractVLMHeads(nn.Module):
    """The projection, the camera gates and (joint model) the splitter.

    Args:
        hidden_size: the language model's width.
        out_dim: SAM prompt size.
        num_views: views per task.
        gate_hidden: width of the camera MLP.
        splitter_hidden: width of the splitter, None without one.
    """

    def __init__(
        self,
        hidden_size: int,
        out_dim: int,
        num_views: int,
        gate_hidden: int,
        splitter_hidden: int | None = None,
    ):
        super().__init__()
        self.sizes = {
            "hidden_size": hidden_size,
            "out_dim": out_dim,
            "num_views": num_views,
            "gate_hidden": gate_hidden,
            "splitter_hidden": splitter_hidden,
        }
        self.projection = nn.Sequential(
            nn.Linear(hidden_size, hidden_size), nn.ReLU(), nn.Linear(hidden_size, out_dim)
        )
        self.camera_encoder = CameraGates(num_views, gate_hidden, out_dim)
        self.splitter = AttentionSplitter(out_dim, splitter_hidden) if splitter_hidden else None


def load_heads(path: Path, sizes: dict, device, dtype) -> InteractVLMHeads:
    """Build the heads from their sizes and load heads.safetensors strictly."""
    from safetensors.torch import load_file

    heads = InteractVLMHeads(**sizes)
    heads.load_state_dict(load_file(str(path)), strict=True)
    return heads.to(device=device, dtype=dtype).eval()


@dataclass(eq=False)
class InteractVLM:
    """A loaded checkpoint.

    Attributes:
        llava: the vision-language model (vocabulary + 1 image placeholder id).
        sam: SAM.
        heads: projection, gates, splitter.
        tokenizer: the 4.31 slow-tokenizer emulation.
        meta: the checkpoint's meta.json.
        device, dtype: where and in what the models run.
    """

    llava: nn.Module
    sam: nn.Module
    heads: InteractVLMHeads
    tokenizer: LegacyLlamaTokenizer
    meta: CheckpointMeta
    device: torch.device
    dtype: torch.dtype

    @property
    def sam_image_size(self) -> int:
        """SAM's input side."""
        return self.sam.config.vision_config.image_size


def _safetensors_elements(folder: Path) -> int:
    from safetensors import safe_open

    total = 0
    for path in sorted(folder.rglob("*.safetensors")):
        with safe_open(str(path), framework="pt") as f:
            for key in f.keys():
                numel = 1
                for n in f.get_slice(key).get_shape():
                    numel *= n
                total += numel
    return total


def check_memory(folder: str | Path, device: torch.device, dtype: torch.dtype) -> None:
    """Refuse to load where the weights would not fit in free memory.

    Raises:
        InteractVLMError: the weights in `dtype` exceed the available RAM (CPU) or free GPU memory.
    """
    need = _safetensors_elements(Path(folder)) * torch.empty((), dtype=dtype).element_size()
    need = int(need * 1.1) + (1 << 30)  # activations, the 4 SAM views, the allocator's slack
    if device.type == "cpu":
        import psutil

        available, where = psutil.virtual_memory().available, "RAM"
    elif device.type == "cuda":
        available, where = torch.cuda.mem_get_info(device)[0], f"free memory on {device}"
    else:
        return
    if need > available:
        hint = (
            "use a GPU (bf16) or a machine with more memory"
            if device.type == "cpu"
            else "free the GPU or use a larger one"
        )
        raise InteractVLMError(
            f"the InteractVLM checkpoint {folder} needs about {need / 2**30:.1f} GiB in "
            f"{str(dtype).removeprefix('torch.')} but only {available / 2**30:.1f} GiB of "
            f"{where} is available: {hint}"
        )


def _load_strict(model_class, folder: Path, dtype: torch.dtype) -> nn.Module:
    """`from_pretrained` that refuses missing, unexpected or mismatched weights."""
    model, info = model_class.from_pretrained(folder, dtype=dtype, output_loading_info=True)
    problems = {k: info.get(k) for k in ("missing_keys", "unexpected_keys", "mismatched_keys")}
    problems = {k: sorted(map(str, v)) for k, v in problems.items() if v}
    if problems:
        kind, keys = next(iter(problems.items()))
        raise InteractVLMError(
            f"{folder} does not match {model_class.__name__}: {len(keys)} {kind.replace('_', ' ')}"
            f", e.g. {keys[0]}; convert the release again"
        )
    return model


def load_interactvlm(folder: str | Path, device="cpu", dtype: torch.dtype | None = None):
    """Load a converted InteractVLM checkpoint.

    Args:
        folder: written by `convert_release` (meta.json, llava/, sam/, heads, tokenizer/).
        device: where to run.
        dtype: default float32 on CPU (bf16 computation moves the contact by ~0.03), bfloat16 on
            GPU (the release's precision).

    Returns:
        The `InteractVLM`, in eval mode.

    Raises:
        InteractVLMError: not a converted checkpoint, a missing part, or not enough memory.
    """
    from transformers import LlavaForConditionalGeneration, SamModel

    folder = Path(folder)
    meta = read_meta(folder)
    device = torch.device(device)
    if dtype is None:
        dtype = torch.float32 if device.type == "cpu" else torch.bfloat16
    for part in (LLAVA_FOLDER, SAM_FOLDER, HEADS_FILE, TOKENIZER_FOLDER):
        if not (folder / part).exists():
            raise InteractVLMError(f"converted checkpoint {folder} lacks {part}: convert again")
    check_memory(folder, device, dtype)
    tokenizer = LegacyLlamaTokenizer.from_folder(folder / TOKENIZER_FOLDER)
    llava = _load_strict(LlavaForConditionalGeneration, folder / LLAVA_FOLDER, dtype)
    sam = _load_strict(SamModel, folder / SAM_FOLDER, dtype)
    heads = load_heads(folder / HEADS_FILE, meta.heads, device, dtype)
    return InteractVLM(
        llava=llava.to(device).eval(),
        sam=sam.to(device).eval(),
        heads=heads,
        tokenizer=tokenizer,
        meta=meta,
        device=device,
        dtype=dtype,
    )


def expand_image_placeholder(ids: list[int], image_token_id: int, count: int) -> list[int]:
    """Replace the one -200 by `count` copies of the placeholder id transformers 5 expects."""
    out = []
    for i in ids:
        out.extend([image_token_id] * count if i == IMAGE_TOKEN_INDEX else [i])
    return out


@dataclass
class Answer:
    """What the language model said and the hidden state that prompts SAM.

    Attributes:
        ids: the generated ids (eos excluded), or the whole teacher-forced sequence.
        text: the generated text, or the given answer.
        seg_token: the first segmentation token id of the answer, None when there is none.
        seg_hidden: (H,) the final-normed last-layer hidden state at the position before it.
    """

    ids: list[int]
    text: str
    seg_token: int | None
    seg_hidden: Tensor | None


def _first_seg(ids: list[int], seg_ids: tuple[int, ...]) -> int | None:
    return next((i for i, token in enumerate(ids) if token in seg_ids), None)


def _cache(out) -> dict:
    """The KV cache of a model output, as the keyword argument of the next call.

    Older transformers 5 releases (5.17 among them) name it `past_key_values`, newer ones `cache`.
    """
    if hasattr(out, "cache"):
        return {"cache": out.cache}
    return {"past_key_values": out.past_key_values}


@torch.no_grad()
def generate_answer(
    model: InteractVLM, prompt_ids: list[int], pixel_values: Tensor, max_new_tokens: int = 512
) -> Answer:
    """Greedy generation with a KV cache until `</s>`.

    The hidden state of step k is the one that predicted the k-th generated token, so the state
    before the first segmentation token is that of the step which emitted it.

    Args:
        model: the checkpoint.
        prompt_ids: the prompt with the -200 placeholder.
        pixel_values: (1, 3, 224, 224) CLIP input.
        max_new_tokens: generation limit (the demo's 512).
    """
    meta = model.meta
    image_id = meta.token_ids["image"]
    ids = expand_image_placeholder(prompt_ids, image_id, meta.image_seq_length)
    lm = model.llava
    out = lm.model(
        input_ids=torch.tensor([ids], device=model.device),
        pixel_values=pixel_values.to(model.device, model.dtype),
        use_cache=True,
    )
    generated, states = [], []
    while True:
        hidden = out.last_hidden_state[0, -1]  # (H,)
        logits = lm.lm_head(hidden).float()
        logits[image_id] = -torch.inf
        token = int(logits.argmax())
        if token == meta.token_ids["eos"]:
            break
        generated.append(token)
        states.append(hidden)
        if len(generated) >= max_new_tokens:
            break
        out = lm.model(
            input_ids=torch.tensor([[token]], device=model.device), use_cache=True, **_cache(out)
        )
    k = _first_seg(generated, meta.seg_token_ids())
    return Answer(
        ids=generated,
        text=model.tokenizer.decode(generated),
        seg_token=None if k is None else generated[k],
        seg_hidden=None if k is None else states[k],
    )


@torch.no_grad()
def language_hidden_states(model: InteractVLM, ids: list[int], pixel_values: Tensor) -> Tensor:
    """One pass over a whole sequence: (L', H) final-normed last-layer hidden states.

    Args:
        model: the checkpoint.
        ids: token ids with one -200 placeholder; position t after it is t + 255 in the output.
        pixel_values: (1, 3, 224, 224) CLIP input.
    """
    meta = model.meta
    expanded = expand_image_placeholder(ids, meta.token_ids["image"], meta.image_seq_length)
    out = model.llava.model(
        input_ids=torch.tensor([expanded], device=model.device),
        pixel_values=pixel_values.to(model.device, model.dtype),
        use_cache=False,
    )
    return out.last_hidden_state[0]


@torch.no_grad()
def teacher_forced_answer(
    model: InteractVLM, prompt_ids: list[int], pixel_values: Tensor, answer: str
) -> Answer:
    """The hidden state before [SEG] in one pass over prompt + answer (inference "forward").

    Args:
        model: the checkpoint.
        prompt_ids: the full teacher-forcing prompt with -200 (it ends with the answer and `</s>`).
        pixel_values: (1, 3, 224, 224) CLIP input.
        answer: the answer text inside the prompt, reported as the text.
    """
    meta = model.meta
    hidden = language_hidden_states(model, prompt_ids, pixel_values)
    seg_ids = meta.seg_token_ids()
    t = _first_seg(prompt_ids, seg_ids)
    seg_hidden = None
    if t is not None:
        image_at = prompt_ids.index(IMAGE_TOKEN_INDEX)
        shift = meta.image_seq_length - 1 if t > image_at else 0
        seg_hidden = hidden[t + shift - 1]
    return Answer(
        ids=list(prompt_ids),
        text=answer,
        seg_token=None if t is None else prompt_ids[t],
        seg_hidden=seg_hidden,
    )


def camera_vectors(cameras, device, dtype) -> Tensor:
    """(V, 5) normalized camera vectors of a task's cameras, in view order."""
    return torch.tensor([camera_vector(c) for c in cameras], dtype=torch.float32).to(device, dtype)


@torch.no_grad()
def view_prompts(model: InteractVLM, seg_hidden: Tensor, seg_token: int, cameras) -> Tensor:
    """The hidden state before [SEG] -> one SAM prompt per view.

    Args:
        model: the checkpoint.
        seg_hidden: (H,).
        seg_token: the segmentation token that followed it (picks the splitter branch).
        cameras: the task's cameras, in view order.

    Returns:
        (V, D) prompts e * g_v, split for [HSEG] / [OSEG] in the joint model.
    """
    heads = model.heads
    embedding = heads.projection(seg_hidden.to(model.dtype))  # (D,)
    gates = heads.camera_encoder(camera_vectors(cameras, model.device, model.dtype))  # (V, D)
    prompts = embedding[None] * gates
    if heads.splitter is not None:
        human, obj = heads.splitter(prompts[None])
        if seg_token == model.meta.token_ids.get("hseg"):
            prompts = human[0]
        elif seg_token == model.meta.token_ids.get("oseg"):
            prompts = obj[0]
    return prompts


@torch.no_grad()
def sam_image_embeddings(model: InteractVLM, pixels: Tensor) -> Tensor:
    """(V, 3, S, S) SAM inputs -> (V, C, E, E) image embeddings, one view at a time."""
    return torch.cat(
        [model.sam.get_image_embeddings(p[None].to(model.device, model.dtype)) for p in pixels]
    )


@torch.no_grad()
def decode_views(model: InteractVLM, image_embeddings: Tensor, prompts: Tensor) -> Tensor:
    """SAM's mask decoder on every view with all view prompts as that view's sparse prompt.

    Args:
        model: the checkpoint.
        image_embeddings: (V, C, E, E).
        prompts: (V, D) the view prompts (D == C).

    Returns:
        (V, 1, 4E, 4E) low-resolution mask logits.
    """
    sam = model.sam
    views = image_embeddings.shape[0]
    positional = sam.get_image_wide_positional_embeddings().expand(views, -1, -1, -1)
    sparse = prompts[None, None].expand(views, 1, -1, -1)  # (V, 1, V, D): all prompts per view
    dense = sam.prompt_encoder.no_mask_embed.weight.reshape(1, -1, 1, 1)
    dense = dense.expand(views, -1, *image_embeddings.shape[-2:])
    masks, _ = sam.mask_decoder(
        image_embeddings=image_embeddings,
        image_positional_embeddings=positional,
        sparse_prompt_embeddings=sparse.to(image_embeddings.dtype),
        dense_prompt_embeddings=dense,
        multimask_output=False,
    )
    return masks[:, 0]


@torch.no_grad()
def view_mask_logits(model: InteractVLM, renders, prompts: Tensor) -> Tensor:
    """Renders and view prompts -> (V, H, W) float32 mask logits at the render size.

    Args:
        model: the checkpoint.
        renders: (V, H, W, 3) uint8 RGB renders, in view order.
        prompts: (V, D) from `view_prompts`.
    """
    size = model.sam_image_size
    pixels, input_size = sam_pixels(renders, size)
    low_res = decode_views(model, sam_image_embeddings(model, pixels), prompts)
    return upsample_masks(low_res, size, input_size, tuple(renders.shape[1:3]))
