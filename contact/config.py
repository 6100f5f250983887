"""Configuration of the learned contact estimator (`contact.model.ContactVLM`)."""

from dataclasses import dataclass

from reconstruction.errors import ConfigError

DTYPES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}
"""Names accepted by `ContactModelConfig.dtype` -> torch dtype names (torch is imported only
when the dtype is asked for, so that configs parse without it)."""

QUANTIZATIONS = (None, "4bit", "8bit")
"""Values accepted by `ContactModelConfig.quantization`."""


@dataclass
class ContactModelConfig:
    """What `ContactVLM.from_pretrained` builds.

    Attributes:
        vlm: LLaVA checkpoint, a local folder or a hub id; its folder also holds the tokenizer.
        sam: SAM checkpoint, a local folder or a hub id.
        lora_r: LoRA rank.
        lora_alpha: LoRA scaling numerator (the update is scaled by alpha / r).
        lora_dropout: dropout on the LoRA branch.
        lora_target_modules: names of the language model's linear layers that get LoRA; the
            vision tower and the projector are never adapted.
        train_token_rows: train the input-embedding and output-head rows of the added contact
            tokens (only those rows; the rest of both matrices stays frozen).
        dtype: weights' dtype, one of `DTYPES` ("fp32", "bf16", "fp16").
        quantization: None, "4bit" or "8bit" (bitsandbytes, language model only).
        num_views: N, the renders per mesh the mask decoder sees.
        render_size: side in pixels of the renders given to `ContactVLM.forward`.
        body_token: the token whose hidden state prompts the body masks.
        object_token: the token whose hidden state prompts the object masks.
    """

    vlm: str = "llava-hf/llava-1.5-7b-hf"
    sam: str = "facebook/sam-vit-base"
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    lora_target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")
    train_token_rows: bool = True
    dtype: str = "fp32"
    quantization: str | None = None
    num_views: int = 4
    render_size: int = 256
    body_token: str = "<HCON>"
    object_token: str = "<OCON>"

    def __post_init__(self):
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype {self.dtype!r} is not one of {sorted(DTYPES)}")
        if self.quantization not in QUANTIZATIONS:
            raise ValueError(f"quantization {self.quantization!r} is not one of {QUANTIZATIONS}")

    @property
    def torch_dtype(self):
        """The torch dtype named by `dtype`."""
        import torch

        return getattr(torch, DTYPES[self.dtype])


@dataclass
class ContactStageConfig:
    """The contact stage of the pipeline.

    Attributes:
        checkpoint: a trained model: a `trainable.pt` written by `scripts/train_contact.py`
            (which also records the base VLM and SAM), or a folder converted from a published
            InteractVLM release by `scripts/convert_interactvlm.py`; None leaves contact to what
            the sample folder holds (annotations or an earlier prediction).
        interactvlm_data: InteractVLM's `data/` folder (canonical body renders and maps), which
            its human-contact checkpoints need.
        inference_type: how an InteractVLM checkpoint answers: "generate" (greedy, the
            published evaluation) or "forward" (teacher forcing with `answer`).
        answer: the answer "forward" feeds, with `[SEG]` where the mask token goes, e.g. "The
            contacting body parts are hands, and the contact region is [SEG]."
        questions: what an InteractVLM checkpoint is asked: "training" (the questions it was
            trained and evaluated with) or "demo" (those of the published run_demo.py, to
            reproduce its output; see `contact.interactvlm.prompt.QUESTION_STYLES`).
    """

    checkpoint: str | None = None
    interactvlm_data: str | None = None
    inference_type: str = "generate"
    answer: str | None = None
    questions: str = "training"

    def __post_init__(self):
        if self.inference_type not in ("generate", "forward"):
            raise ConfigError(
                f"inference_type must be generate or forward, got {self.inference_type!r}"
            )
        if self.questions not in ("training", "demo"):
            raise ConfigError(f"questions must be training or demo, got {self.questions!r}")
        if self.inference_type == "forward" and not self.answer:
            raise ConfigError("inference_type forward needs an answer (contact.answer=...)")
