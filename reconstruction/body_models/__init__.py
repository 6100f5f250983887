"""Body models behind one interface: Anny (the default), SMPL-X and SMPL.

`build_body_model` returns a `BodyModel`; see `base` for the interface and the frame convention
every backend shares.
"""

from __future__ import annotations

import torch

from reconstruction.body_models.base import BodyModel, BodyOutput, BodyParams

BACKENDS = ("anny", "smplx", "smpl")


def build_body_model(
    backend: str = "anny",
    model_dir: str | None = None,
    gender: str = "neutral",
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
    **kwargs,
) -> BodyModel:
    """Build a body model by backend name.

    Args:
        backend: "anny", "smplx" or "smpl".
        model_dir: for SMPL-X and SMPL, the folder holding `smplx/SMPLX_<GENDER>.npz` or
            `smpl/SMPL_<GENDER>.pkl` (default: the `HOIFIT_SMPLX_DIR` environment variable);
            for Anny, its cache folder (default: `ANNY_CACHE_DIR` or `~/.cache/anny`).
        gender: "neutral", "male" or "female".
        device: where the model's buffers live.
        dtype: floating dtype of the buffers and outputs.
        **kwargs: backend options, e.g. `num_betas` for SMPL-X and SMPL.

    Returns:
        The model, on `device` in `dtype`.

    Raises:
        ValueError: unknown backend.
        FileNotFoundError: a licensed model file is missing.
    """
    # Backends are imported on demand: `import anny` alone takes over a second.
    if backend == "anny":
        from reconstruction.body_models.anny_backend import AnnyModel

        return AnnyModel(gender=gender, cache_dir=model_dir, device=device, dtype=dtype, **kwargs)
    if backend in ("smplx", "smpl"):
        from reconstruction.body_models.smplx_backend import SMPLXModel

        return SMPLXModel(
            model_type=backend,
            model_dir=model_dir,
            gender=gender,
            device=device,
            dtype=dtype,
            **kwargs,
        )
    raise ValueError(f"unknown body model backend {backend!r}; valid: {', '.join(BACKENDS)}")


__all__ = ["BACKENDS", "BodyModel", "BodyOutput", "BodyParams", "build_body_model"]
