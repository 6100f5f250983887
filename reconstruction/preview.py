"""Shaded previews of meshes for people to look at: the overlay on the image and a side view."""

import numpy as np
import torch

from reconstruction.rasterizer import join_meshes, rasterize
from reconstruction.rotations import axis_angle_to_matrix


def render_shaded(
    meshes: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    K: np.ndarray,
    image_size: tuple[int, int],
) -> tuple[np.ndarray, np.ndarray]:
    """Render coloured meshes with a head-light Lambert shading.

    Args:
        meshes: per mesh (vertices (V, 3) camera frame, faces (F, 3), colours (V, 3) in [0, 1]).
        K: (3, 3) intrinsics in pixels.
        image_size: (H, W).

    Returns:
        rgb (H, W, 3) float in [0, 1] and mask (H, W) bool of the covered pixels.
    """
    tensors = [
        (torch.as_tensor(v, dtype=torch.float32)[None], torch.as_tensor(f, dtype=torch.long))
        for v, f, _ in meshes
    ]
    verts, faces, _ = join_meshes(tensors)
    colors = torch.cat([torch.as_tensor(c, dtype=torch.float32) for _, _, c in meshes])
    with torch.no_grad():
        frags = rasterize(verts, faces, torch.as_tensor(K, dtype=torch.float32), image_size)
        face_ids = frags.face_ids[0]
        mask = face_ids >= 0
        tri = verts[0][faces]  # (F, 3, 3)
        normals = torch.nn.functional.normalize(
            torch.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0], dim=-1), dim=-1
        )
        ids = face_ids[mask]
        pixel_color = (frags.bary[0][mask][..., None] * colors[faces[ids]]).sum(-2)  # (P, 3)
        # Light from the camera: brightness is |cos| between the normal and the viewing ray,
        # so inverted or inconsistent face orientations still render.
        rays = torch.nn.functional.normalize(
            (tri[ids] * frags.bary[0][mask][..., None]).sum(-2), dim=-1
        )
        lambert = (normals[ids] * rays).sum(-1).abs()
        rgb = torch.zeros(image_size + (3,))
        rgb[mask] = pixel_color * (0.25 + 0.75 * lambert[:, None])
    return rgb.numpy(), mask.numpy()


def overlay(image: np.ndarray | None, rgb: np.ndarray, mask: np.ndarray, alpha: float = 0.8):
    """Blend a render over an image; with no image, over a light grey background.

    Args:
        image: (H, W, 3) uint8 or None.
        rgb: (H, W, 3) float render in [0, 1].
        mask: (H, W) bool covered pixels.
        alpha: opacity of the render.

    Returns:
        (H, W, 3) uint8.
    """
    base = np.full(rgb.shape, 0.9) if image is None else image.astype(np.float64) / 255
    out = base.copy()
    out[mask] = (1 - alpha) * base[mask] + alpha * rgb[mask]
    return (out * 255).round().clip(0, 255).astype(np.uint8)


def side_view_vertices(
    vertex_sets: list[np.ndarray], K: np.ndarray, image_size: tuple[int, int], angle_deg: float = 90
) -> list[np.ndarray]:
    """Move the scene so that the same camera sees it from the side.

    The scene turns by `angle_deg` about the camera's vertical (y) axis through its centre and is
    moved to a distance where it fills about 80% of the image.

    Args:
        vertex_sets: (V_i, 3) camera-frame vertices of each mesh.
        K: (3, 3) intrinsics.
        image_size: (H, W).
        angle_deg: turn about the vertical axis, degrees.

    Returns:
        The moved vertex sets, same shapes.
    """
    points = np.concatenate(vertex_sets)
    center = (points.min(0) + points.max(0)) / 2
    rot = axis_angle_to_matrix(torch.tensor([0.0, np.radians(angle_deg), 0.0])).numpy()
    turned = [(v - center) @ rot.T for v in vertex_sets]
    extent = np.ptp(np.concatenate(turned), axis=0)
    focal = min(K[0, 0], K[1, 1])
    fill = 0.8 * min(image_size)
    distance = max(extent[0], extent[1]) * focal / fill + extent[2] / 2 + 1e-3
    # Centre the scene on the principal point.
    offset = np.array([0.0, 0.0, distance])
    return [v + offset for v in turned]
