"""Image preprocessing of InteractVLM's two image inputs, and the upsampling of SAM's masks.

CLIP (the LLaVA side) gets the photo as `CLIPImageProcessor` of transformers 4.31 made it: the
shortest side resized to 224 with PIL bicubic, the other side to int(224 * long / short)
(truncated), a centre crop of 224 with top = (H - 224) // 2, then x * (1/255) in float32 minus
the CLIP mean over the CLIP std. transformers 5's PIL-backend CLIP processor does exactly this
(its default one needs torchvision, which hoifit does not install).

SAM gets the renders on the 0-255 scale: longest side resized to SAM's input size (a no-op for the
1024 px renders), (x - mean) / std, zero padding at the bottom and right.
"""

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

CLIP_SIZE = 224
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
SAM_MEAN = (123.675, 116.28, 103.53)
SAM_STD = (58.395, 57.12, 57.375)


def clip_pixels(image: np.ndarray, size: int = CLIP_SIZE) -> Tensor:
    """An RGB photo -> CLIP's input, with transformers' PIL-backend CLIP processor.

    Its steps equal those of 4.31 listed above (tests/contact/interactvlm pins them against an
    explicit implementation).

    Args:
        image: (H, W, 3) uint8 RGB.
        size: CLIP's input side.

    Returns:
        (1, 3, size, size) float32.
    """
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    processor = CLIPImageProcessorPil(
        size={"shortest_edge": size},
        crop_size={"height": size, "width": size},
        image_mean=list(CLIP_MEAN),
        image_std=list(CLIP_STD),
    )
    return processor(np.asarray(image), return_tensors="pt")["pixel_values"].float()


def sam_pixels(images: np.ndarray, size: int) -> tuple[Tensor, tuple[int, int]]:
    """Renders -> SAM's input.

    Args:
        images: (N, H, W, 3) uint8 RGB renders of one size.
        size: SAM's input side (1024 for the released ViT-H).

    Returns:
        pixels: (N, 3, size, size) float32, normalized and zero-padded.
        input_size: (h, w) of the resized renders inside the padded square.
    """
    height, width = images.shape[1:3]
    scale = size / max(height, width)
    new_h, new_w = int(height * scale + 0.5), int(width * scale + 0.5)
    if (new_h, new_w) != (height, width):
        images = np.stack(
            [
                np.asarray(Image.fromarray(im).resize((new_w, new_h), Image.Resampling.BILINEAR))
                for im in images
            ]
        )
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float()
    mean = torch.tensor(SAM_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(SAM_STD).view(1, 3, 1, 1)
    x = (x - mean) / std
    x = F.pad(x, (0, size - new_w, 0, size - new_h))
    return x, (new_h, new_w)


def upsample_masks(
    low_res: Tensor, size: int, input_size: tuple[int, int], original_size: tuple[int, int]
) -> Tensor:
    """SAM's low-resolution mask logits -> logits at the render size.

    Bilinear (align_corners False) to SAM's input size, crop the padding, bilinear to the render
    size; both steps are no-ops in size for 1024 px renders. Computed in float32.

    Args:
        low_res: (N, 1, h, w) logits.
        size: SAM's input side.
        input_size: (h, w) of the resized renders inside the padded input.
        original_size: (H, W) of the renders.

    Returns:
        (N, H, W) float32 logits.
    """
    masks = F.interpolate(low_res.float(), (size, size), mode="bilinear", align_corners=False)
    masks = masks[..., : input_size[0], : input_size[1]]
    masks = F.interpolate(masks, original_size, mode="bilinear", align_corners=False)
    return masks[:, 0]
