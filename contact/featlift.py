"""FeatLift: one contact embedding -> one view-aware embedding per rendered view.

The contact token's hidden state says *what* is in contact; each render shows the mesh from a
different camera, so the prompt a view's mask decoder receives must also say *from where*. The
camera of each view (its world-to-camera extrinsic and, optionally, its normalized intrinsics)
is encoded by a small MLP into a per-channel scale and shift (FiLM) of the embedding, plus a
learned per-view offset. The last layer starts near zero, so at initialization every view sees
almost the same prompt and training moves them apart only as far as it helps.
"""

import torch
from torch import Tensor, nn

CAMERA_FEATURES = 12 + 4
"""Flattened 3x4 extrinsic [R | t] and the normalized intrinsics (fx/W, fy/H, cx/W, cy/H)."""


def camera_features(extrinsics: Tensor, intrinsics: Tensor | None, image_size: int) -> Tensor:
    """Per-view camera descriptor fed to FeatLift.

    Args:
        extrinsics: (..., 4, 4) world-to-camera transforms (OpenCV).
        intrinsics: (..., 3, 3) in pixels, or None (the descriptor then holds zeros there).
        image_size: side of the renders in pixels, which normalizes the intrinsics.

    Returns:
        (..., 16): the 12 entries of [R | t] row by row, then fx, fy, cx, cy divided by the size.
    """
    pose = extrinsics[..., :3, :4].flatten(-2)  # (..., 12)
    if intrinsics is None:
        lens = pose.new_zeros(*pose.shape[:-1], 4)
    else:
        lens = torch.stack(
            [
                intrinsics[..., 0, 0],
                intrinsics[..., 1, 1],
                intrinsics[..., 0, 2],
                intrinsics[..., 1, 2],
            ],
            dim=-1,
        ) / float(image_size)
    return torch.cat([pose, lens.to(pose.dtype)], dim=-1)


class FeatLift(nn.Module):
    """Lifts (B, D) embeddings to (B, N, D) view-aware embeddings with each view's camera.

    Args:
        dim: D, the embedding size (SAM's prompt dimension).
        num_views: N, the number of views, each of which gets a learned offset.
        hidden: width of the camera MLP.
        init_scale: standard deviation of the camera MLP's last layer at initialization.
    """

    def __init__(self, dim: int, num_views: int, hidden: int = 128, init_scale: float = 1e-3):
        super().__init__()
        self.dim = dim
        self.num_views = num_views
        self.camera_mlp = nn.Sequential(
            nn.Linear(CAMERA_FEATURES, hidden),
            nn.GELU(),
            nn.Linear(hidden, hidden),
            nn.GELU(),
            nn.Linear(hidden, 2 * dim),
        )
        nn.init.normal_(self.camera_mlp[-1].weight, std=init_scale)
        nn.init.zeros_(self.camera_mlp[-1].bias)
        self.view_embedding = nn.Parameter(torch.zeros(num_views, dim))
        self.norm = nn.LayerNorm(dim)

    def forward(self, embedding: Tensor, cameras: Tensor) -> Tensor:
        """Modulate one embedding per sample by the camera of each view.

        Args:
            embedding: (B, D).
            cameras: (B, N, 16) from `camera_features`.

        Returns:
            (B, N, D): norm(e) * (1 + gamma_v) + beta_v + view_v for each view v.
        """
        if cameras.shape[1] != self.num_views:
            raise ValueError(f"FeatLift built for {self.num_views} views got {cameras.shape[1]}")
        gamma, beta = self.camera_mlp(cameras.to(embedding.dtype)).chunk(2, dim=-1)  # (B, N, D)
        base = self.norm(embedding)[:, None, :]  # (B, 1, D)
        return base * (1 + gamma) + beta + self.view_embedding
