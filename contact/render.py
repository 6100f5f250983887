"""Normal-shaded renders of one mesh from fixed views, with the pixel-to-face maps for lifting.

The mesh is normalized (`views.normalize_mesh`) and rendered from each view with hoifit's hard
rasterizer in a single batched call. Besides the images shown to the contact model, each view
keeps which face every pixel sees and the barycentric weights of its three vertices, which
`lift.lift_to_vertices` uses to carry 2D masks back onto the vertices.

Renders are constants of the mesh: nothing here carries gradients. `render_views_cached` keeps
them in memory and, optionally, in `.npz` files keyed by a hash of everything that determines
them.
"""

import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from contact.views import BODY_VIEWS, VIEW_DISTANCE, ViewSpec, normalize_mesh, view_extrinsics
from reconstruction.atomic_io import atomic_write_npz
from reconstruction.camera import Camera
from reconstruction.rasterizer import interpolate, rasterize, vertex_normals

DEFAULT_FOV_DEG = 60.0
"""Field of view of the render cameras. At distance 2 the unit sphere spans 60 degrees, so a
normalized mesh fills much of the image; the canonical body in the four body views (the ones from
below shifted) and the procedural objects in the object views stay clear of the border."""

MEMORY_CACHE_SIZE = 16
"""Renders kept in memory by `render_views_cached` (about 8 MB each at 256 px, 4 views)."""


@dataclass
class MultiViewRender:
    """Renders of one mesh from N views.

    Attributes:
        images: (N, H, W, 3) float in [0, 1], camera-frame normals as colours
            ((n_x, -n_y, -n_z) + 1) / 2 with n facing the camera: red to the image right,
            green up, blue towards the viewer; white background.
        face_ids: (N, H, W) long, the face seen at each pixel, -1 on the background.
        bary: (N, H, W, 3) barycentric weights of that face's three vertices, 0 on the background.
        K: (3, 3) intrinsics in pixels, shared by the views.
        extrinsics: (N, 4, 4) world-to-camera transforms (OpenCV) of the normalized mesh.
        center: (3,) centre of the normalization, in the mesh's units.
        scale: () its scale: normalized = (vertices - center) / scale.
    """

    images: Tensor
    face_ids: Tensor
    bary: Tensor
    K: Tensor
    extrinsics: Tensor
    center: Tensor
    scale: Tensor

    @property
    def num_views(self) -> int:
        """N."""
        return self.face_ids.shape[0]

    @property
    def mask(self) -> Tensor:
        """(N, H, W) bool, True where the mesh is seen."""
        return self.face_ids >= 0

    def to(self, device: torch.device | str) -> "MultiViewRender":
        """The same render with every tensor on `device`."""
        return MultiViewRender(**{f.name: getattr(self, f.name).to(device) for f in fields(self)})


def _shade(normals: Tensor, mask: Tensor) -> Tensor:
    """(N, H, W, 3) camera-frame normals -> colours in [0, 1], white where `mask` is False.

    Both windings are rasterized and object meshes are not always consistently wound, so each
    normal is flipped to face the camera (negative z) before colouring.
    """
    normals = torch.where(normals[..., 2:3] > 0, -normals, normals)
    sign = normals.new_tensor([1.0, -1.0, -1.0])
    colours = ((normals * sign + 1) / 2).clamp(0, 1)
    return torch.where(mask[..., None], colours, torch.ones_like(colours))


@torch.no_grad()
def render_views(
    vertices: Tensor,
    faces: Tensor,
    views: Sequence[ViewSpec] = BODY_VIEWS,
    image_size: int = 256,
    fov_deg: float = DEFAULT_FOV_DEG,
    distance: float = VIEW_DISTANCE,
) -> MultiViewRender:
    """Render a mesh from several views in one rasterizer call.

    Args:
        vertices: (V, 3) in any units and frame with y up (any body backend, any object).
        faces: (F, 3) long.
        views: the N cameras around the normalized mesh.
        image_size: side of the square images in pixels.
        fov_deg: field of view of every camera, degrees.
        distance: camera distance from its look-at point, normalized units.

    Returns:
        The renders, on the device of `vertices`, in its dtype (images float of the same dtype).
    """
    device, dtype = vertices.device, vertices.dtype
    faces = faces.to(device).long().reshape(-1, 3)
    normalized, (center, scale) = normalize_mesh(vertices)
    rotations, translations = zip(
        *(view_extrinsics(v, distance, dtype) for v in views), strict=True
    )
    R = torch.stack(rotations).to(device)  # (N, 3, 3)
    t = torch.stack(translations).to(device)  # (N, 3)
    cam_verts = normalized @ R.transpose(1, 2) + t[:, None]  # (N, V, 3)
    K = Camera.from_fov(fov_deg, image_size, image_size).K(device=device, dtype=dtype)
    fragments = rasterize(cam_verts, faces, K, (image_size, image_size))
    normals = interpolate(fragments, faces, vertex_normals(cam_verts, faces))
    normals = torch.nn.functional.normalize(normals, dim=-1)
    extrinsics = torch.eye(4, device=device, dtype=dtype).repeat(len(views), 1, 1)
    extrinsics[:, :3, :3] = R
    extrinsics[:, :3, 3] = t
    return MultiViewRender(
        images=_shade(normals, fragments.mask),
        face_ids=fragments.face_ids,
        bary=fragments.bary,
        K=K,
        extrinsics=extrinsics,
        center=center,
        scale=scale,
    )


_MEMORY_CACHE: OrderedDict[str, MultiViewRender] = OrderedDict()


def render_key(
    vertices: Tensor,
    faces: Tensor,
    views: Sequence[ViewSpec],
    image_size: int,
    fov_deg: float = DEFAULT_FOV_DEG,
    distance: float = VIEW_DISTANCE,
) -> str:
    """Hex digest identifying a render: hashes the mesh, the views and the camera settings."""
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(vertices.detach().cpu().numpy()).tobytes())
    digest.update(str(vertices.dtype).encode())
    digest.update(np.ascontiguousarray(faces.detach().cpu().long().numpy()).tobytes())
    digest.update(repr((tuple(views), image_size, fov_deg, distance)).encode())
    return digest.hexdigest()


def render_views_cached(
    vertices: Tensor,
    faces: Tensor,
    views: Sequence[ViewSpec] = BODY_VIEWS,
    image_size: int = 256,
    fov_deg: float = DEFAULT_FOV_DEG,
    distance: float = VIEW_DISTANCE,
    cache_dir: str | Path | None = None,
) -> MultiViewRender:
    """`render_views`, remembered in memory and, with `cache_dir`, in `<key>.npz` files there.

    The canonical body is the same mesh for every image, so its renders are made once.

    Args:
        vertices: (V, 3), as in `render_views`.
        faces: (F, 3) long.
        views: the N cameras.
        image_size: side of the square images in pixels.
        fov_deg: field of view, degrees.
        distance: camera distance, normalized units.
        cache_dir: folder of the on-disk cache; None keeps the cache in memory only.

    Returns:
        The renders, on the device of `vertices`. Treat them as read-only: they are shared.
    """
    key = render_key(vertices, faces, views, image_size, fov_deg, distance)
    render = _MEMORY_CACHE.get(key)
    path = Path(cache_dir) / f"{key}.npz" if cache_dir is not None else None
    if render is None and path is not None and path.exists():
        with np.load(path) as data:
            render = MultiViewRender(
                **{f.name: torch.from_numpy(data[f.name]) for f in fields(MultiViewRender)}
            )
    if render is None:
        render = render_views(vertices, faces, views, image_size, fov_deg, distance)
    if path is not None and not path.exists():
        atomic_write_npz(
            path, {f.name: getattr(render, f.name).cpu().numpy() for f in fields(render)}
        )
    _MEMORY_CACHE[key] = render
    _MEMORY_CACHE.move_to_end(key)
    while len(_MEMORY_CACHE) > MEMORY_CACHE_SIZE:
        _MEMORY_CACHE.popitem(last=False)
    return render if render.face_ids.device == vertices.device else render.to(vertices.device)


def clear_memory_cache() -> None:
    """Forget the renders kept in memory (the files in any `cache_dir` stay)."""
    _MEMORY_CACHE.clear()
