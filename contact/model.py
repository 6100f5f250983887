"""ContactVLM: a LLaVA model with contact tokens whose hidden states prompt SAM on renders.

The vision-language model reads the image and a question and answers with text that contains
`<HCON>` (body contact) and, when asked about the object, `<OCON>` (object contact). The last
hidden state at each of those tokens is projected to SAM's prompt dimension, lifted by FeatLift
to one camera-aware embedding per rendered view, and handed to SAM's mask decoder as the sparse
prompt of that view's render; the decoder predicts one contact mask per view, which
`contact.lift.lift_to_vertices` carries onto the mesh.

Trainable: the LoRA adapters of the language model, the rows of the two added tokens (optional),
the projection, FeatLift and SAM's mask decoder. Frozen: the rest of LLaVA and SAM's image and
prompt encoders (SAM's image encoder also runs without autograd).
"""

import importlib.util
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from peft import LoraConfig, get_peft_model
from torch import Tensor, nn
from transformers import (
    AutoTokenizer,
    BitsAndBytesConfig,
    LlavaForConditionalGeneration,
    PreTrainedTokenizerBase,
    SamModel,
)

from contact.config import ContactModelConfig
from contact.featlift import FeatLift, camera_features

SAM_PIXEL_MEAN = (0.485, 0.456, 0.406)
SAM_PIXEL_STD = (0.229, 0.224, 0.225)
"""SAM's input normalization of [0, 1] RGB (ImageNet statistics)."""


@dataclass
class ViewInputs:
    """The renders of one mesh per sample, as the mask decoder sees them.

    Give either `images` or `embeddings` (precomputed with `ContactVLM.embed_views`).

    Attributes:
        extrinsics: (B, N, 4, 4) world-to-camera transforms (OpenCV) of the views.
        images: (B, N, H, W, 3) float renders in [0, 1] (`render.MultiViewRender.images`).
        embeddings: (B, N, C, h, w) SAM image embeddings of the renders.
        intrinsics: (B, N, 3, 3) in pixels of the renders, or None.
        image_size: side of the renders in pixels, which normalizes `intrinsics`.
    """

    extrinsics: Tensor
    images: Tensor | None = None
    embeddings: Tensor | None = None
    intrinsics: Tensor | None = None
    image_size: int = 256


@dataclass
class ContactOutput:
    """What `ContactVLM.forward` returns.

    Attributes:
        lm_loss: () token cross-entropy of the language model, None without labels.
        lm_logits: (B, L, vocab) next-token scores.
        body_masks: (B, N, h, w) body-contact mask logits, one per view.
        object_masks: (B_o, N, h, w) object-contact mask logits of the rows with object views,
            None without them.
        body_prompts: (B, N, D) the view-aware prompt embeddings of `<HCON>`.
        object_prompts: (B_o, N, D) those of `<OCON>`, or None.
    """

    lm_loss: Tensor | None
    lm_logits: Tensor
    body_masks: Tensor
    object_masks: Tensor | None
    body_prompts: Tensor
    object_prompts: Tensor | None


def _lora_target_pattern(module_names: tuple[str, ...]) -> str:
    """Regex that peft matches against full module names: the language model's layers only."""
    return rf".*language_model.*\.({'|'.join(module_names)})$"


def _load(loader, name: str, what: str, **kwargs):
    """`loader.from_pretrained(name)` with an error that says what is missing and how to get it."""
    try:
        return loader.from_pretrained(name, **kwargs)
    except OSError as error:
        raise FileNotFoundError(
            f"cannot load the {what} {name!r}: give a local folder that holds it, or a hub id "
            f"with network access (e.g. `huggingface-cli download {name}`)"
        ) from error


def _quantization(config: ContactModelConfig, device: torch.device) -> BitsAndBytesConfig | None:
    if config.quantization is None:
        return None
    if device.type != "cuda" or importlib.util.find_spec("bitsandbytes") is None:
        raise ImportError(
            f"quantization={config.quantization!r} needs bitsandbytes (pip install bitsandbytes) "
            "and a CUDA GPU; use quantization=None otherwise"
        )
    skip = ["vision_tower", "multi_modal_projector", "lm_head"]
    if config.quantization == "4bit":
        return BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_compute_dtype=config.torch_dtype,
            bnb_4bit_quant_type="nf4",
            llm_int8_skip_modules=skip,
        )
    return BitsAndBytesConfig(load_in_8bit=True, llm_int8_skip_modules=skip)


@torch.no_grad()
def _init_token_rows(vlm: LlavaForConditionalGeneration, token_ids: list[int]) -> None:
    """Set the added tokens' embedding and output rows to the mean row plus a fixed perturbation.

    The rows are frozen base weights (training moves only a delta on them), so they must be the
    same every time the model is built for saved trainable parameters to load back exactly.
    """
    generator = torch.Generator().manual_seed(0)
    for matrix in (vlm.get_input_embeddings().weight, vlm.get_output_embeddings().weight):
        old = matrix[: min(token_ids)]
        noise = torch.randn(len(token_ids), matrix.shape[1], generator=generator)
        rows = old.float().mean(0) + noise * old.float().std(0)
        matrix[token_ids] = rows.to(matrix.dtype)


class ContactVLM(nn.Module):
    """LLaVA + LoRA + contact tokens -> FeatLift -> SAM mask decoder on multi-view renders.

    Build it with `from_pretrained`; the constructor takes parts that are already prepared.

    Args:
        vlm: LLaVA with LoRA applied (a peft model), embeddings already resized.
        sam: SAM; only its mask decoder is trained.
        tokenizer: the tokenizer that holds the contact tokens.
        config: the configuration these parts were built from.
    """

    def __init__(
        self,
        vlm: nn.Module,
        sam: SamModel,
        tokenizer: PreTrainedTokenizerBase,
        config: ContactModelConfig,
    ):
        super().__init__()
        self.config = config
        self.tokenizer = tokenizer
        self.vlm = vlm
        self.sam = sam
        self.body_token_id = tokenizer.convert_tokens_to_ids(config.body_token)
        self.object_token_id = tokenizer.convert_tokens_to_ids(config.object_token)
        text_dim = vlm.config.text_config.hidden_size
        prompt_dim = sam.config.mask_decoder_config.hidden_size
        self.projection = nn.Sequential(
            nn.LayerNorm(text_dim),
            nn.Linear(text_dim, text_dim),
            nn.GELU(),
            nn.Linear(text_dim, prompt_dim),
        )
        self.featlift = FeatLift(prompt_dim, config.num_views)
        for module in (sam.vision_encoder, sam.prompt_encoder, sam.shared_image_embedding):
            module.requires_grad_(False)
        sam.mask_decoder.requires_grad_(True)
        self.register_buffer("pixel_mean", torch.tensor(SAM_PIXEL_MEAN), persistent=False)
        self.register_buffer("pixel_std", torch.tensor(SAM_PIXEL_STD), persistent=False)

    @classmethod
    def from_pretrained(
        cls, config: ContactModelConfig, device: torch.device | str = "cpu"
    ) -> "ContactVLM":
        """Load LLaVA, its tokenizer and SAM, add the contact tokens and apply LoRA.

        Args:
            config: what to load and how to adapt it.
            device: where the model goes (ignored for quantized weights, which load onto the GPU).

        Raises:
            FileNotFoundError: a checkpoint is neither a local folder nor reachable on the hub.
            ImportError: quantization was asked for without bitsandbytes or off a CUDA GPU.
        """
        tokenizer = _load(AutoTokenizer, config.vlm, "LLaVA tokenizer")
        tokenizer.add_tokens([config.body_token, config.object_token], special_tokens=True)
        quantization = _quantization(config, torch.device(device))
        vlm = _load(
            LlavaForConditionalGeneration,
            config.vlm,
            "LLaVA model",
            dtype=config.torch_dtype,
            quantization_config=quantization,
        )
        token_ids = tokenizer.convert_tokens_to_ids([config.body_token, config.object_token])
        vlm.resize_token_embeddings(len(tokenizer), mean_resizing=False)
        _init_token_rows(vlm, token_ids)
        if quantization is not None:
            from peft import prepare_model_for_kbit_training

            vlm = prepare_model_for_kbit_training(vlm)
        lora = LoraConfig(
            r=config.lora_r,
            lora_alpha=config.lora_alpha,
            lora_dropout=config.lora_dropout,
            target_modules=_lora_target_pattern(config.lora_target_modules),
            trainable_token_indices=(
                {"embed_tokens": token_ids, "lm_head": token_ids}
                if config.train_token_rows
                else None
            ),
            bias="none",
        )
        vlm = get_peft_model(vlm, lora)
        sam = _load(SamModel, config.sam, "SAM model", dtype=config.torch_dtype)
        model = cls(vlm, sam, tokenizer, config)
        if quantization is None:
            model = model.to(device)
        else:
            model.projection.to(device)
            model.featlift.to(device)
            model.sam.to(device)
        return model

    def train(self, mode: bool = True) -> "ContactVLM":
        """Like `nn.Module.train`, but SAM's frozen encoders stay in evaluation mode."""
        super().train(mode)
        self.sam.vision_encoder.eval()
        self.sam.prompt_encoder.eval()
        return self

    @torch.no_grad()
    def embed_views(self, images: Tensor) -> Tensor:
        """SAM image embeddings of renders (frozen encoder, no autograd).

        Args:
            images: (B, N, H, W, 3) float in [0, 1], square.

        Returns:
            (B, N, C, h, w) with C SAM's prompt dimension, h = w = SAM size / patch size.
        """
        batch, views = images.shape[:2]
        size = self.sam.config.vision_config.image_size
        x = images.flatten(0, 1).permute(0, 3, 1, 2).to(self.pixel_mean.dtype)  # (B*N, 3, H, W)
        if x.shape[-2:] != (size, size):
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
        x = (x - self.pixel_mean[:, None, None]) / self.pixel_std[:, None, None]
        encoder = self.sam.vision_encoder
        embeddings = encoder(x.to(next(encoder.parameters()).dtype)).last_hidden_state
        return embeddings.unflatten(0, (batch, views))

    def decode_masks(self, prompts: Tensor, embeddings: Tensor) -> Tensor:
        """One mask per view from its view-aware prompt.

        Args:
            prompts: (B, N, D) sparse prompt embeddings, one per view.
            embeddings: (B, N, C, h, w) SAM image embeddings of the views (C == D).

        Returns:
            (B, N, 4h, 4w) mask logits.
        """
        batch, views = prompts.shape[:2]
        image = embeddings.flatten(0, 1)  # (B*N, C, h, w)
        decoder = self.sam.mask_decoder
        dtype = decoder.iou_token.weight.dtype
        positional = self.sam.get_image_wide_positional_embeddings().to(dtype)
        positional = positional.expand(image.shape[0], -1, -1, -1)
        # The "no mask" embedding is SAM's dense prompt when no mask is given.
        dense = self.sam.prompt_encoder.no_mask_embed.weight.reshape(1, -1, 1, 1)
        dense = dense.to(dtype).expand(image.shape[0], -1, *image.shape[-2:])
        sparse = prompts.flatten(0, 1)[:, None, None, :].to(dtype)  # (B*N, 1, 1, D)
        masks, _ = decoder(
            image_embeddings=image.to(dtype),
            image_positional_embeddings=positional,
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            multimask_output=False,
        )  # (B*N, 1, 1, 4h, 4w)
        return masks[:, 0, 0].unflatten(0, (batch, views))

    def token_positions(self, input_ids: Tensor, token_id: int) -> Tensor:
        """(B,) position of the last occurrence of `token_id` in each row of `input_ids`.

        Raises:
            ValueError: a row does not contain the token.
        """
        hits = input_ids == token_id  # (B, L)
        missing = ~hits.any(1)
        if missing.any():
            name = self.tokenizer.convert_ids_to_tokens(token_id)
            rows = missing.nonzero()[:, 0].tolist()
            raise ValueError(f"rows {rows} of input_ids do not contain the token {name}")
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        return torch.where(hits, positions, -1).amax(1)

    def _view_prompts(self, hidden: Tensor, positions: Tensor, views: ViewInputs) -> Tensor:
        """(B, N, D) view-aware prompts from the hidden states (B, L, H) at `positions` (B,)."""
        token_hidden = hidden[torch.arange(hidden.shape[0], device=hidden.device), positions]
        embedding = self.projection(token_hidden.to(self.projection[1].weight.dtype))  # (B, D)
        cameras = camera_features(views.extrinsics, views.intrinsics, views.image_size)
        return self.featlift(embedding, cameras)

    def _masks(self, prompts: Tensor, views: ViewInputs) -> Tensor:
        if (views.images is None) == (views.embeddings is None):
            raise ValueError("ViewInputs needs exactly one of images and embeddings")
        embeddings = views.embeddings if views.images is None else self.embed_views(views.images)
        return self.decode_masks(prompts, embeddings)

    def forward(
        self,
        pixel_values: Tensor,
        input_ids: Tensor,
        body_views: ViewInputs,
        attention_mask: Tensor | None = None,
        labels: Tensor | None = None,
        object_views: ViewInputs | None = None,
        object_rows: Tensor | None = None,
    ) -> ContactOutput:
        """Run the VLM on image + text, then decode the contact masks of every view.

        Args:
            pixel_values: (B, 3, S, S) the image, as LLaVA's image processor prepares it.
            input_ids: (B, L) with LLaVA's image tokens expanded, `<HCON>` in every row and
                `<OCON>` in every row of `object_rows`.
            body_views: renders of the body (N views per sample).
            attention_mask: (B, L) 1 on real tokens.
            labels: (B, L) target ids for the token cross-entropy, -100 where ignored.
            object_views: renders of the object, or None for body contact only.
            object_rows: (B_o,) long, the rows of the batch that `object_views` (batch B_o)
                belong to; None means every row (B_o = B).

        Returns:
            The LM loss and logits, per-view mask logits and the view-aware prompts.
        """
        out = self.vlm(
            input_ids=input_ids,
            pixel_values=pixel_values,
            attention_mask=attention_mask,
            labels=labels,
            output_hidden_states=True,
        )
        hidden = out.hidden_states[-1]  # (B, L, H)
        body_prompts = self._view_prompts(
            hidden, self.token_positions(input_ids, self.body_token_id), body_views
        )
        body_masks = self._masks(body_prompts, body_views)
        object_prompts = object_masks = None
        if object_views is not None:
            if object_rows is not None:
                hidden, input_ids = hidden[object_rows], input_ids[object_rows]
            object_prompts = self._view_prompts(
                hidden, self.token_positions(input_ids, self.object_token_id), object_views
            )
            object_masks = self._masks(object_prompts, object_views)
        return ContactOutput(
            lm_loss=out.loss,
            lm_logits=out.logits,
            body_masks=body_masks,
            object_masks=object_masks,
            body_prompts=body_prompts,
            object_prompts=object_prompts,
        )

    def merge_lora(self) -> None:
        """Fold the LoRA adapters (and trained token rows) into the base weights, in place."""
        self.vlm = self.vlm.merge_and_unload()

    def trainable_state_dict(self) -> dict[str, Tensor]:
        """The trained parameters by name (LoRA, token rows, projection, FeatLift, decoder)."""
        return {
            name: param.detach().clone()
            for name, param in self.named_parameters()
            if param.requires_grad
        }

    def load_trainable_state_dict(self, state: dict[str, Tensor]) -> None:
        """Load what `trainable_state_dict` returned into a model built the same way.

        Raises:
            KeyError: the names differ from this model's trainable parameters.
        """
        expected = {name for name, param in self.named_parameters() if param.requires_grad}
        if set(state) != expected:
            raise KeyError(
                f"trainable parameters differ: missing {sorted(expected - set(state))[:5]}, "
                f"unexpected {sorted(set(state) - expected)[:5]}"
            )
        params = dict(self.named_parameters())
        with torch.no_grad():
            for name, value in state.items():
                params[name].copy_(value)

    def save_trainable(self, path: str | Path) -> None:
        """Write the trained parameters and the configuration to one file."""
        torch.save(
            {"config": json.dumps(asdict(self.config)), "state": self.trainable_state_dict()},
            path,
        )

    def load_trainable(self, path: str | Path) -> None:
        """Read what `save_trainable` wrote into this model."""
        payload = torch.load(path, map_location="cpu", weights_only=True)
        self.load_trainable_state_dict(payload["state"])
