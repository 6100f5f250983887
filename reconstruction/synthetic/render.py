"""Cameras and images of synthetic scenes: where the camera stands, and what it sees.

The world frame is the staging frame (y up, metres); a `View` maps it into the OpenCV camera
frame. Images are hard z-buffer renders (`rasterizer.rasterize`) with Lambert shading under one
directional light, over a floor and a wall: no shadows, no textures beyond a faint floor tiling.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from reconstruction.camera import Camera
from reconstruction.rasterizer import interpolate, join_meshes, rasterize, vertex_normals

FILL = (0.6, 0.8)
"""Fraction of the image's width or height (whichever binds) the scene's box spans."""

FOV_DEG = (45.0, 65.0)
"""Horizontal field of view, degrees (the default range of `choose_view`)."""

_UP = np.array([0.0, 1.0, 0.0])


@dataclass(frozen=True)
class View:
    """A posed camera: x_cam = rotation @ x_world + translation.

    Attributes:
        rotation: (3, 3) world-to-camera rotation (camera x right, y down, z forward).
        translation: (3,) metres.
        camera: intrinsics and image size.
    """

    rotation: np.ndarray
    translation: np.ndarray
    camera: Camera

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) world points in the camera frame."""
        return points @ self.rotation.T + self.translation

    def project(self, points_cam: np.ndarray) -> np.ndarray:
        """(N, 2) pixels (u, v) of camera-frame points (N, 3) in front of the camera."""
        c = self.camera
        z = points_cam[:, 2]
        return np.stack((c.fx * points_cam[:, 0] / z + c.cx, c.fy * points_cam[:, 1] / z + c.cy), 1)


def look_at(eye: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """(3, 3) world-to-camera rotation of a camera at `eye` looking at `centre`, y up level."""
    forward = (centre - eye) / np.linalg.norm(centre - eye)
    right = np.cross(forward, _UP)
    right /= np.linalg.norm(right)
    return np.stack((right, np.cross(forward, right), forward))


def choose_view(
    points: np.ndarray,
    rng: np.random.Generator,
    image_size: tuple[int, int],
    azimuth_deg: tuple[float, float],
    either_side: bool,
    elevation_deg: tuple[float, float],
    fov_deg: tuple[float, float] = FOV_DEG,
) -> View:
    """A random camera that frames the given points.

    Azimuth is measured about the vertical from the +z side of the world (the body's front),
    positive towards +x; elevation lifts the camera above the points' centre. The distance
    makes the points' image box span a random fraction `FILL` of the image, and the camera
    shifts sideways so that box lies near the image centre (off by up to a quarter of the free
    margin).

    Args:
        points: (N, 3) world points to frame (the scene's vertices).
        rng: random generator.
        image_size: (H, W).
        azimuth_deg: (low, high) azimuth range, degrees.
        either_side: mirror the azimuth half of the time.
        elevation_deg: (low, high) elevation range, degrees.
        fov_deg: (low, high) horizontal field of view, degrees.

    Returns:
        The view.
    """
    height, width = image_size
    azimuth = np.radians(rng.uniform(*azimuth_deg)) * (rng.choice((-1, 1)) if either_side else 1)
    elevation = np.radians(rng.uniform(*elevation_deg))
    camera = Camera.from_fov(rng.uniform(*fov_deg), width, height)
    fill = rng.uniform(*FILL)
    slack = (1 - fill) / 4 * rng.uniform(-1, 1, 2) * np.array([width, height])
    centre = (points.min(0) + points.max(0)) / 2
    direction = np.array(
        [
            np.sin(azimuth) * np.cos(elevation),
            np.sin(elevation),
            np.cos(azimuth) * np.cos(elevation),
        ]
    )
    rotation = look_at(centre + direction, centre)
    radius = np.linalg.norm(points - centre, axis=1).max()
    distance = radius * camera.fx / (fill * min(width, height)) + radius
    shift = np.zeros(3)
    # Projected size is about inversely proportional to distance: a few fixed-point steps.
    for _ in range(6):
        view = View(rotation, -rotation @ (centre + distance * direction) + shift, camera)
        uv = view.project(view.to_camera(points))
        low, high = uv.min(0), uv.max(0)
        spans = (high - low) / np.array([width, height])
        distance *= spans.max() / fill
        offset = (low + high) / 2 - np.array([camera.cx, camera.cy]) - slack
        shift[:2] -= offset / np.array([camera.fx, camera.fy]) * distance
    return View(rotation, -rotation @ (centre + distance * direction) + shift, camera)


@dataclass
class Rendered:
    """What the camera sees.

    Attributes:
        image: (H, W, 3) uint8.
        person_mask: (H, W) bool, pixels where the body is the nearest surface.
        object_mask: (H, W) bool, the same for the object.
        depth: (H, W) float32 camera-frame z of the nearest mesh surface, 0 where there is none
            (floor and wall are background, not geometry).
        floor_depth: (H, W) float32 camera-frame z of the floor where a pixel's ray meets it
            within `FLOOR_DEPTH_MAX_M`, else 0 (behind the meshes too: `depth` comes first).
    """

    image: np.ndarray
    person_mask: np.ndarray
    object_mask: np.ndarray
    depth: np.ndarray
    floor_depth: np.ndarray


def render_scene(
    view: View,
    body: tuple[np.ndarray, np.ndarray, np.ndarray],
    obj: tuple[np.ndarray, np.ndarray, np.ndarray],
    floor_y: float,
    rng: np.random.Generator,
) -> Rendered:
    """Render the body and the object over a floor and a wall.

    Args:
        view: the camera.
        body: camera-frame vertices (V, 3), faces (F, 3) and per-vertex colours (V, 3) in
            [0, 1]; shaded smooth.
        obj: the same for the object; shaded flat, so box edges stay crisp.
        floor_y: world height of the floor.
        rng: random generator (light direction, background colours, pixel noise).

    Returns:
        The image, masks and depth.
    """
    camera = view.camera
    size = (camera.height, camera.width)
    K = camera.K(dtype=torch.float64)
    meshes = [
        (torch.as_tensor(v, dtype=torch.float64)[None], torch.as_tensor(f, dtype=torch.long))
        for v, f, _ in (body, obj)
    ]
    verts, faces, mesh_id = join_meshes(meshes)
    colors = torch.as_tensor(np.concatenate((body[2], obj[2])), dtype=torch.float64)[None]
    with torch.no_grad():
        fragments = rasterize(verts, faces, K, size)
        face_ids = fragments.face_ids[0]
        hit = face_ids >= 0
        pixel_mesh = torch.where(hit, mesh_id[face_ids.clamp(min=0)], -1)
        smooth = interpolate(fragments, faces, vertex_normals(verts, faces))[0]
        tri = verts[0][faces]
        flat = torch.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0], dim=-1)
        normals = torch.where((pixel_mesh == 1)[..., None], flat[face_ids.clamp(min=0)], smooth)
        normals = torch.nn.functional.normalize(normals, dim=-1)
        albedo = interpolate(fragments, faces, colors)[0]
        points = interpolate(fragments, faces, verts)[0]
    normals, albedo, points = normals.numpy(), albedo.numpy(), points.numpy()
    # Two-sided: every normal is turned towards the camera.
    normals *= np.where((normals * points).sum(-1, keepdims=True) > 0, -1.0, 1.0)
    light = np.array([rng.uniform(-0.6, 0.6), -1.0, -rng.uniform(0.3, 0.9)])
    light /= np.linalg.norm(light)
    shade = 0.35 + 0.65 * np.clip(normals @ light, 0.0, 1.0)
    image, floor_depth = _background(view, floor_y, rng)
    mask = hit.numpy()
    image[mask] = (albedo * shade[..., None])[mask]
    image += rng.normal(0.0, 1.5 / 255, image.shape)
    pixel_mesh = pixel_mesh.numpy()
    return Rendered(
        image=(np.clip(image, 0, 1) * 255).round().astype(np.uint8),
        person_mask=pixel_mesh == 0,
        object_mask=pixel_mesh == 1,
        depth=fragments.depth[0].numpy().astype(np.float32),
        floor_depth=floor_depth,
    )


FLOOR_DEPTH_MAX_M = 12.0
"""Metres: farther floor is left out of `Rendered.floor_depth` (it fades into the wall)."""


def _background(
    view: View, floor_y: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """A tiled floor fading into a wall with a vertical gradient.

    Returns:
        The (H, W, 3) float image and the (H, W) float32 camera-frame z of the floor
        (`Rendered.floor_depth`).
    """
    camera = view.camera
    u, v = np.meshgrid(np.arange(camera.width), np.arange(camera.height))
    rays = np.stack(
        ((u - camera.cx) / camera.fx, (v - camera.cy) / camera.fy, np.ones(u.shape)), -1
    )
    rays = rays @ view.rotation  # world directions, (H, W, 3)
    eye = -view.rotation.T @ view.translation
    wall_top, wall_low = rng.uniform(0.55, 0.85, 3), rng.uniform(0.45, 0.75, 3)
    floor = rng.uniform(0.3, 0.65, 3)
    elevation = rays[..., 1] / np.linalg.norm(rays, axis=-1)
    blend = np.clip(0.5 + elevation, 0.0, 1.0)[..., None]
    image = wall_low * (1 - blend) + wall_top * blend
    on_floor = (rays[..., 1] < 0) & (eye[1] > floor_y)
    # Rays that miss the floor get a dummy distance; their floor colour is not used.
    reach = np.where(on_floor, (floor_y - eye[1]) / np.where(on_floor, rays[..., 1], -1.0), 0.0)
    hits = eye + reach[..., None] * rays
    tiles = (np.floor(hits[..., 0] / 0.5) + np.floor(hits[..., 2] / 0.5)) % 2
    fog = 1 - np.exp(-reach / 10.0)
    ground = floor * (0.94 + 0.12 * tiles)[..., None]
    ground = ground * (1 - fog[..., None]) + image * fog[..., None]
    # The camera's rays have z = 1, so the distance along them is the floor's camera-frame z.
    floor_depth = np.where(on_floor & (reach < FLOOR_DEPTH_MAX_M), reach, 0.0)
    return np.where(on_floor[..., None], ground, image), floor_depth.astype(np.float32)
