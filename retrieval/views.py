"""Multi-view renders of an object mesh for the retrieval gallery.

The mesh is centred on its bounding-box centre and scaled so that its bounding sphere (about that
centre) has radius 1, so every object fills the image alike whatever its units. The object frame
is taken as y up with its front towards +z (the convention of `reconstruction.procedural_objects`);
a camera orbits it on a circle of azimuths at a slight elevation, looking at the centre.
"""

from dataclasses import dataclass

import numpy as np
import torch

from reconstruction.preview import render_shaded
from reconstruction.rasterizer import render_normals
from reconstruction.rotations import axis_angle_to_matrix

SHADINGS = ("grey", "normals")
"""How `render_views` colours the surface: head-light Lambert grey, or camera-frame normals."""


@dataclass(frozen=True)
class ViewConfig:
    """Where the gallery cameras are and what the renders look like.

    Attributes:
        num_views: V, cameras spread evenly in azimuth, the first facing the object's front (+z).
        elevation_deg: camera height above the object's centre, degrees (positive looks down).
        image_size: side of the square renders, pixels.
        distance: camera distance from the centre, in units of the bounding-sphere radius.
        fill: fraction of the image side the bounding sphere spans.
        shading: one of `SHADINGS`.
    """

    num_views: int = 6
    elevation_deg: float = 20.0
    image_size: int = 224
    distance: float = 3.0
    fill: float = 0.85
    shading: str = "grey"

    def __post_init__(self):
        if self.num_views < 1:
            raise ValueError(f"num_views must be at least 1, got {self.num_views}")
        if self.image_size < 8:
            raise ValueError(f"image_size must be at least 8 pixels, got {self.image_size}")
        if self.distance <= 1:
            raise ValueError(f"distance must exceed the bounding radius 1, got {self.distance}")
        if self.shading not in SHADINGS:
            raise ValueError(f"unknown shading {self.shading!r}; choose one of {SHADINGS}")

    def azimuths_deg(self) -> np.ndarray:
        """(V,) camera azimuths in degrees, counter-clockwise seen from above, 0 = front."""
        return np.arange(self.num_views) * 360.0 / self.num_views


def normalize_mesh(vertices: np.ndarray) -> np.ndarray:
    """Centre vertices on their bounding-box centre and scale the bounding sphere to radius 1.

    Args:
        vertices: (N, 3) object-frame vertices, any unit.

    Returns:
        (N, 3) float64 vertices; all zeros scale is left at 1 (a point-sized mesh stays a point).
    """
    vertices = np.asarray(vertices, dtype=np.float64)
    centred = vertices - (vertices.min(0) + vertices.max(0)) / 2
    radius = np.linalg.norm(centred, axis=1).max()
    return centred / radius if radius > 0 else centred


def view_rotations(config: ViewConfig) -> np.ndarray:
    """Rotations from the normalized object frame (y up) to each camera frame (OpenCV, y down).

    Returns:
        (V, 3, 3) float64 matrices R with x_cam = R @ x_obj + (0, 0, distance).
    """
    # Seen from the front, camera x is object x, camera y is object -y, camera z is object -z.
    front = np.diag([1.0, -1.0, -1.0])
    rotations = []
    for azimuth in config.azimuths_deg():
        # Turning the object by -azimuth about its up axis = the camera orbiting by +azimuth.
        turn = axis_angle_to_matrix(torch.tensor([0.0, -np.radians(azimuth), 0.0])).double()
        # A camera above the object looks down: tilt about the camera's x axis.
        tilt = axis_angle_to_matrix(
            torch.tensor([np.radians(config.elevation_deg), 0.0, 0.0])
        ).double()
        rotations.append(tilt.numpy() @ front @ turn.numpy())
    return np.stack(rotations)


def view_intrinsics(config: ViewConfig) -> np.ndarray:
    """(3, 3) intrinsics in pixels that fit the unit bounding sphere into `fill` of the image."""
    size = config.image_size
    # Half-angle under which a unit sphere at `distance` is seen: tan = 1 / sqrt(d^2 - 1).
    focal = config.fill * size / 2 * np.sqrt(config.distance**2 - 1)
    center = (size - 1) / 2
    return np.array([[focal, 0.0, center], [0.0, focal, center], [0.0, 0.0, 1.0]])


def render_views(
    vertices: np.ndarray, faces: np.ndarray, config: ViewConfig | None = None
) -> list[np.ndarray]:
    """Render a mesh from the gallery cameras on a white background.

    Args:
        vertices: (N, 3) object-frame vertices (y up, front +z), any unit.
        faces: (F, 3) vertex indices.
        config: cameras and look; `ViewConfig()` when None.

    Returns:
        V images, each (S, S, 3) uint8 with S = `config.image_size`, in azimuth order.
    """
    config = config or ViewConfig()
    unit = normalize_mesh(vertices)
    faces = np.asarray(faces, dtype=np.int64)
    K = view_intrinsics(config)
    size = (config.image_size, config.image_size)
    offset = np.array([0.0, 0.0, config.distance])
    grey = np.full((len(unit), 3), 0.8)
    images = []
    for rotation in view_rotations(config):
        camera_vertices = unit @ rotation.T + offset  # (N, 3)
        if config.shading == "grey":
            rgb, mask = render_shaded([(camera_vertices, faces, grey)], K, size)
        else:
            with torch.no_grad():
                normals = render_normals(
                    torch.as_tensor(camera_vertices, dtype=torch.float32)[None],
                    torch.as_tensor(faces),
                    torch.as_tensor(K, dtype=torch.float32),
                    size,
                )[0].numpy()  # (S, S, 3)
            mask = np.linalg.norm(normals, axis=-1) > 0
            # Normals facing the camera have negative z; flip them so they read the same both
            # ways round (meshes with inconsistent winding render alike).
            normals = normals * np.where(normals[..., 2:3] > 0, -1.0, 1.0)
            rgb = (normals * np.array([1.0, -1.0, -1.0]) + 1) / 2
        image = np.ones(size + (3,))
        image[mask] = rgb[mask]
        images.append((image * 255).round().clip(0, 255).astype(np.uint8))
    return images
