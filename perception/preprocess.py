"""What the perception wrappers need besides transformers' PIL image processors.

Every wrapper preprocesses with its checkpoint's transformers image processor (the PIL backend,
which needs no torchvision), except Depth Pro: transformers ships its processor only with the
torchvision backend, so `DepthProImageProcessor` here follows that processor step by step.
"""

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

# A degenerate field of view (0 or 180 degrees) would make the focal length 0 or infinite.
MIN_FOV_DEG, MAX_FOV_DEG = 5.0, 170.0


def to_uint8_rgb(image: np.ndarray) -> np.ndarray:
    """Check that an image is (H, W, 3) uint8; raise ValueError otherwise."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(
            f"expected an (H, W, 3) uint8 RGB image, got {image.shape} {image.dtype}: "
            "read images with reconstruction.image_io.load_image"
        )
    return image


def group_by_shape(images: list[np.ndarray]) -> dict[tuple, list[int]]:
    """Indices of the images, grouped by their shape (so each group can run as one batch)."""
    groups: dict[tuple, list[int]] = {}
    for i, image in enumerate(images):
        groups.setdefault(image.shape, []).append(i)
    return groups


class DepthProImageProcessor:
    """Depth Pro's image processor without torchvision.

    It follows `transformers.DepthProImageProcessor`
    (transformers/models/depth_pro/image_processing_depth_pro.py), which imports torchvision:
    rescale and normalize first, then resize with bilinear interpolation and no antialiasing to
    a fixed square. A PIL processor resizes the uint8 image first, with antialiasing, so none of
    them gives the inputs the model was trained on. Post-processing also follows that processor,
    with the field of view kept in [MIN_FOV_DEG, MAX_FOV_DEG]. Every step is on, as in Depth
    Pro's checkpoint, so the `do_*` switches of a processor config are not read.

    Args:
        size: (height, width) of the network input.
        image_mean: per-channel mean, on the rescaled [0, 1] scale.
        image_std: per-channel standard deviation.
        rescale_factor: factor from uint8 values to [0, 1].
    """

    def __init__(
        self,
        size: tuple[int, int] = (1536, 1536),
        image_mean=(0.5, 0.5, 0.5),
        image_std=(0.5, 0.5, 0.5),
        rescale_factor: float = 1 / 255,
    ):
        self.size = tuple(size)
        self.image_mean = torch.tensor(image_mean, dtype=torch.float32)[:, None, None]
        self.image_std = torch.tensor(image_std, dtype=torch.float32)[:, None, None]
        self.rescale_factor = rescale_factor

    @classmethod
    def from_pretrained(cls, folder: Path) -> "DepthProImageProcessor":
        """Read a checkpoint's `preprocessor_config.json` (missing keys: the defaults).

        Raises:
            OSError: the folder has no `preprocessor_config.json`.
        """
        from transformers.image_processing_base import ImageProcessingMixin

        config, _ = ImageProcessingMixin.get_image_processor_dict(str(folder))
        keys = ("image_mean", "image_std", "rescale_factor")
        settings = {key: config[key] for key in keys if key in config}
        if "size" in config:
            settings["size"] = (config["size"]["height"], config["size"]["width"])
        return cls(**settings)

    def __call__(self, images: list[np.ndarray]) -> torch.Tensor:
        """Network inputs for B (H_i, W_i, 3) uint8 RGB images -> (B, 3, height, width) float32."""
        batch = []
        for image in images:
            pixels = torch.from_numpy(image.astype(np.float32, order="C")).permute(2, 0, 1)
            pixels = (pixels * self.rescale_factor - self.image_mean) / self.image_std
            batch.append(
                F.interpolate(
                    pixels[None], self.size, mode="bilinear", align_corners=False, antialias=False
                )[0]
            )
        return torch.stack(batch)

    def post_process_depth_estimation(
        self, outputs, target_sizes: list[tuple[int, int]]
    ) -> list[dict[str, torch.Tensor | float | None]]:
        """Metric depth and focal length in pixels of each original image.

        Depth Pro predicts inverse depth for a canonical camera whose focal length is the image
        width; the field of view rescales it to the image's own focal length.

        Args:
            outputs: the model's output: `predicted_depth` (B, h, w) and `field_of_view` (B,) or
                None.
            target_sizes: B (height, width) of the original images.

        Returns:
            B dicts: "predicted_depth" (H_i, W_i) metres and "focal_length" (pixels, or None
            without a field of view).
        """
        results = []
        fov = outputs.field_of_view
        for b, (height, width) in enumerate(target_sizes):
            inverse = outputs.predicted_depth[b].float()[None, None]  # (1, 1, h, w)
            inverse = F.interpolate(inverse, (height, width), mode="bilinear", align_corners=False)
            focal = None
            if fov is not None:
                fov_deg = min(max(float(fov[b]), MIN_FOV_DEG), MAX_FOV_DEG)
                focal = 0.5 * width / math.tan(0.5 * math.radians(fov_deg))
                inverse = inverse * width / focal
            depth = 1.0 / inverse[0, 0].clamp(min=1e-4, max=1e4)
            results.append({"predicted_depth": depth, "focal_length": focal})
        return results
