"""The canonical views InteractVLM segments: the shipped body renders and hoifit's object renders.

Body. The SAM inputs are `hcontact_vitruvian/body_render_norm_{view}.png` of the user's
InteractVLM `data/` folder (from its data.zip; hoifit does not ship it), for every human view set;
the pixel-to-vertex maps are `<folder>/pixel_to_vertex_map_1024.npz` (int64 (H, W, 3): the
three SMPL-H vertex ids of the face under each pixel, -1 on the background) and
`<folder>/bary_coords_map_1024.npz` (float32 (H, W, 3): that face's barycentric weights), one
array per view name, where `<folder>` depends on the view set. Reading them avoids any rendering
difference. A pixel counts when its three ids are all valid SMPL vertices (0 <= id < 6890).

Object. Rendered the way InteractVLM's demo renders an object mesh, with hoifit's rasterizer:
vertices centred on their mean and divided by the largest bounding-box extent; vertex colour =
the normalized xyz mapped to [0, 1] per axis, times 0.8, plus 0.1; Phong shading (ambient 0.5,
diffuse 0.3, specular 0.2, shininess 64) with a point light at z = +3 for the two front views and
-3 for the two back views, white background; PyTorch3D-style look-at cameras at distance 1.5 with
a 60 degree field of view, 1024 px.

Camera convention. InteractVLM's cameras are PyTorch3D `look_at_view_transform(d, elev, azim)`
(camera at d (cos e sin a, sin e, cos e cos a) looking at the origin, y up) with the x / y shifts
added to the camera-frame translation; PyTorch3D's camera frame has x left and y up, so in hoifit's
OpenCV frame (x right, y down) both shifts change sign.
"""

import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from contact.interactvlm.config import HUMAN_RENDER_FOLDER, InteractVLMError, TaskMeta
from contact.lift import lift_to_vertices
from contact.render import MultiViewRender
from reconstruction.camera import Camera
from reconstruction.rasterizer import interpolate, rasterize, vertex_normals

SMPL_VERTICES = 6890
RENDER_FOV_DEG = 60.0
BODY_MAPS = ("pixel_to_vertex_map_1024.npz", "bary_coords_map_1024.npz")

OBJECT_RENDER_SIZE = 1024
OBJECT_RENDER_DISTANCE = 1.5
OBJECT_RENDER_VIEWS = ((45.0, 315.0), (45.0, 45.0), (330.0, 135.0), (330.0, 225.0))
"""(elevation, azimuth) of frontleft, frontright, backleft, backright."""
OBJECT_LIGHT_Z = (3.0, 3.0, -3.0, -3.0)
AMBIENT, DIFFUSE, SPECULAR, SHININESS = 0.5, 0.3, 0.2, 64.0


@dataclass
class CanonicalViews:
    """Renders of one mesh for SAM, with what lifting their masks needs.

    Attributes:
        images: (N, H, W, 3) uint8 RGB, the SAM inputs in view order.
        render: face ids and barycentric weights per pixel (images as floats in [0, 1]).
        faces: (F, 3) long, the vertex triples `render.face_ids` index.
        num_vertices: V of the lifted values.
    """

    images: np.ndarray
    render: MultiViewRender
    faces: Tensor
    num_vertices: int


def look_at_camera(
    distance: float, elevation: float, azimuth: float, x_shift: float = 0.0, y_shift: float = 0.0
) -> tuple[Tensor, Tensor]:
    """A PyTorch3D look-at camera as an OpenCV world-to-camera transform.

    Args:
        distance: camera distance from the origin.
        elevation: degrees above the xz plane.
        azimuth: degrees about +y from +z towards +x.
        x_shift: added to PyTorch3D's camera-frame x translation.
        y_shift: added to PyTorch3D's camera-frame y translation.

    Returns:
        R: (3, 3) float64, rows the OpenCV camera axes (right, down, forward) in the world.
        t: (3,) float64, x_cam = R @ x + t.
    """
    elev, azim = math.radians(elevation), math.radians(azimuth)
    eye = distance * torch.tensor(
        [math.cos(elev) * math.sin(azim), math.sin(elev), math.cos(elev) * math.cos(azim)],
        dtype=torch.float64,
    )
    forward = torch.nn.functional.normalize(-eye, dim=0)
    up = torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64)
    left = torch.nn.functional.normalize(torch.linalg.cross(up, forward), dim=0)
    if left.norm() < 1e-9:
        raise InteractVLMError(f"camera at elevation {elevation} looks straight along y")
    camera_up = torch.nn.functional.normalize(torch.linalg.cross(forward, left), dim=0)
    R = torch.stack((-left, -camera_up, forward))
    t = -R @ eye + torch.tensor([-x_shift, -y_shift, 0.0], dtype=torch.float64)
    return R, t


def _extrinsics(cameras) -> Tensor:
    out = torch.eye(4, dtype=torch.float64).repeat(len(cameras), 1, 1)
    for i, camera in enumerate(cameras):
        out[i, :3, :3], out[i, :3, 3] = look_at_camera(*camera)
    return out


def _read_png(path: Path) -> np.ndarray:
    if not path.is_file():
        raise InteractVLMError(
            f"canonical render {path} is missing: --interactvlm-data must be InteractVLM's data/ "
            "folder (unzipped data.zip from interactvlm.is.tue.mpg.de)"
        )
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def _read_maps(path: Path, views: tuple[str, ...]) -> list[np.ndarray]:
    if not path.is_file():
        raise InteractVLMError(
            f"pixel-to-vertex map {path} is missing: --interactvlm-data must be InteractVLM's "
            "data/ folder (unzipped data.zip)"
        )
    with np.load(path) as archive:
        missing = [v for v in views if v not in archive]
        if missing:
            raise InteractVLMError(f"{path} has no map for the view {missing[0]}")
        return [np.asarray(archive[v]) for v in views]


def load_body_views(data_dir: str | Path, task: TaskMeta) -> CanonicalViews:
    """The shipped body renders and maps of a human view set.

    Args:
        data_dir: the user's InteractVLM data/ folder.
        task: the checkpoint's human task (view names, cameras, maps folder).

    Returns:
        The views on SMPL-H's 6890 vertices (raw metres: centre 0, scale 1).

    Raises:
        InteractVLMError: a missing file or maps that do not fit the renders.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise InteractVLMError(f"InteractVLM data folder {data_dir} does not exist")
    images = np.stack(
        [
            _read_png(data_dir / HUMAN_RENDER_FOLDER / f"body_render_norm_{v}.png")
            for v in task.views
        ]
    )
    vertex_maps = _read_maps(data_dir / task.maps_folder / BODY_MAPS[0], task.views)
    bary_maps = _read_maps(data_dir / task.maps_folder / BODY_MAPS[1], task.views)
    height, width = images.shape[1:3]
    face_ids, barys, faces = [], [], []
    offset = 0
    for view, vertex_map, bary_map in zip(task.views, vertex_maps, bary_maps, strict=True):
        if vertex_map.shape != (height, width, 3) or bary_map.shape != (height, width, 3):
            raise InteractVLMError(
                f"the maps of view {view} have shapes {vertex_map.shape} / {bary_map.shape}, "
                f"the renders ({height}, {width}, 3)"
            )
        valid = ((vertex_map >= 0) & (vertex_map < SMPL_VERTICES)).all(-1)
        ids = np.full((height, width), -1, dtype=np.int64)
        ids[valid] = offset + np.arange(int(valid.sum()))
        offset += int(valid.sum())
        face_ids.append(ids)
        barys.append(np.where(valid[..., None], bary_map, 0).astype(np.float32))
        faces.append(vertex_map[valid].astype(np.int64))
    K = Camera.from_fov(RENDER_FOV_DEG, width, height).K()
    render = MultiViewRender(
        images=torch.from_numpy(images).float() / 255,
        face_ids=torch.from_numpy(np.stack(face_ids)),
        bary=torch.from_numpy(np.stack(barys)),
        K=K,
        extrinsics=_extrinsics(task.cameras).float(),
        center=torch.zeros(3),
        scale=torch.tensor(1.0),
    )
    return CanonicalViews(
        images=images,
        render=render,
        faces=torch.from_numpy(np.concatenate(faces)),
        num_vertices=SMPL_VERTICES,
    )


def _phong(normals: Tensor, points: Tensor, texels: Tensor, light: Tensor, eye: Tensor) -> Tensor:
    """PyTorch3D's Phong shading of a point light, per pixel.

    Args:
        normals: (N, H, W, 3) interpolated world normals (not yet normalized).
        points: (N, H, W, 3) world positions.
        texels: (N, H, W, 3) colours.
        light: (N, 3) light positions.
        eye: (N, 3) camera centres.

    Returns:
        (N, H, W, 3) (ambient + diffuse) * texel + specular.
    """
    normals = torch.nn.functional.normalize(normals, dim=-1, eps=1e-6)
    direction = torch.nn.functional.normalize(light[:, None, None] - points, dim=-1, eps=1e-6)
    cos = (normals * direction).sum(-1)
    diffuse = DIFFUSE * cos.clamp(min=0)
    view = torch.nn.functional.normalize(eye[:, None, None] - points, dim=-1, eps=1e-6)
    reflect = -direction + 2 * cos[..., None] * normals
    alpha = (view * reflect).sum(-1).clamp(min=0) * (cos > 0)
    specular = SPECULAR * alpha.pow(SHININESS)
    return (AMBIENT + diffuse)[..., None] * texels + specular[..., None]


@torch.no_grad()
def render_object_views(
    vertices, faces, image_size: int = OBJECT_RENDER_SIZE, distance: float = OBJECT_RENDER_DISTANCE
) -> CanonicalViews:
    """The four object renders of InteractVLM's demo, with their face maps.

    Args:
        vertices: (V, 3) the object mesh in its own frame (y up), any units.
        faces: (F, 3) vertex indices.
        image_size: render side in pixels.
        distance: camera distance in units of the largest bounding-box extent.

    Returns:
        The views on the mesh's V vertices.

    Raises:
        InteractVLMError: a mesh without extent.
    """
    vertices = torch.as_tensor(np.asarray(vertices), dtype=torch.float32)
    faces = torch.as_tensor(np.asarray(faces), dtype=torch.int64).reshape(-1, 3)
    center = vertices.mean(0)
    centred = vertices - center
    scale = (centred.amax(0) - centred.amin(0)).max()
    if not scale > 0:
        raise InteractVLMError("the object mesh has no extent: all its vertices coincide")
    mesh = centred / scale  # (V, 3)
    low, extent = mesh.amin(0), mesh.amax(0) - mesh.amin(0)
    colours = (mesh - low) / torch.where(extent > 0, extent, torch.ones_like(extent))
    colours = colours * 0.8 + 0.1

    cameras = [(distance, e, a, 0.0, 0.0) for e, a in OBJECT_RENDER_VIEWS]
    extrinsics = _extrinsics(cameras).float()  # (N, 4, 4)
    R, t = extrinsics[:, :3, :3], extrinsics[:, :3, 3]
    cam_verts = mesh @ R.transpose(1, 2) + t[:, None]  # (N, V, 3)
    K = Camera.from_fov(RENDER_FOV_DEG, image_size, image_size).K()
    fragments = rasterize(cam_verts, faces, K, (image_size, image_size))
    normals = interpolate(fragments, faces, vertex_normals(mesh[None], faces))
    points = interpolate(fragments, faces, mesh[None])
    texels = interpolate(fragments, faces, colours[None])
    light = torch.tensor([[0.0, 0.0, z] for z in OBJECT_LIGHT_Z])
    eye = -(R.transpose(1, 2) @ t[..., None])[..., 0]  # camera centres in the world
    shaded = _phong(normals, points, texels, light, eye)
    shaded = torch.where(fragments.mask[..., None], shaded, torch.ones_like(shaded))
    images = (shaded.clamp(0, 1) * 255).floor().to(torch.uint8).numpy()
    render = MultiViewRender(
        images=shaded.clamp(0, 1),
        face_ids=fragments.face_ids,
        bary=fragments.bary.detach(),
        K=K,
        extrinsics=extrinsics,
        center=center,
        scale=scale,
    )
    return CanonicalViews(images=images, render=render, faces=faces, num_vertices=vertices.shape[0])


def lift_body(views: CanonicalViews, logits: Tensor) -> Tensor:
    """Per-view mask logits -> per-vertex body contact, InteractVLM's soft lift.

    p = sigmoid(clamp(logit, -20, 20)); per view the barycentric-weighted mean of p at each vertex,
    then the mean over the views that see the vertex, clamped to [0, 1]; 0 where unseen.

    Args:
        views: the body views.
        logits: (N, H, W) at the render size.

    Returns:
        (V,) float32.
    """
    probability = torch.sigmoid(logits.float().clamp(-20, 20))
    lifted = lift_to_vertices(probability, views.render, views.faces, views.num_vertices)
    return lifted.clamp(0, 1)


def lift_object(views: CanonicalViews, logits: Tensor, threshold: float) -> Tensor:
    """Per-view mask logits -> per-vertex object contact, only confident pixels voting.

    As `lift_body` but only pixels with sigmoid(logit) > threshold count, in the per-view means
    and in which views count for a vertex; no clamp.

    Args:
        views: the object views.
        logits: (N, H, W) at the render size.
        threshold: the release's 0.3.

    Returns:
        (V,) float32.
    """
    probability = torch.sigmoid(logits.float())
    render = views.render
    voting = replace(
        render,
        face_ids=torch.where(probability > threshold, render.face_ids.to(probability.device), -1),
    )
    return lift_to_vertices(probability, voting, views.faces, views.num_vertices)


SMPLX_VERTICES = 10475
SMPL_TO_SMPLX_FILE = "smpl_to_smplx.pkl"
"""In InteractVLM's data/ folder: {"matrix": (10475, 6890)}, SMPL-X vertex values as weighted sums
of SMPL ones, the map the original uses for its SMPL-X output (written with joblib; a dense array,
or a scipy sparse matrix, which is kept sparse)."""


def smpl_to_smplx_matrix(data_dir: str | Path):
    """InteractVLM's SMPL -> SMPL-X vertex map from its data/ folder, (10475, 6890).

    Raises:
        InteractVLMError: the file is missing or holds no matrix of that shape.
    """
    import joblib

    path = Path(data_dir) / SMPL_TO_SMPLX_FILE
    if not path.is_file():
        raise InteractVLMError(
            f"{path} is missing: it comes with InteractVLM's data.zip and moves SMPL contact onto "
            "SMPL-X; pass its unzipped data/ folder as contact.interactvlm_data"
        )
    # A pickle: load only the file of the data.zip you downloaded.
    matrix = joblib.load(path)["matrix"]
    if not hasattr(matrix, "toarray"):
        matrix = np.asarray(matrix, np.float32)
    if matrix.shape != (SMPLX_VERTICES, SMPL_VERTICES):
        raise InteractVLMError(
            f"{path} holds a {matrix.shape} matrix, not the (10475, 6890) SMPL -> SMPL-X map"
        )
    return matrix


def smpl_contact_to_smplx(contact: np.ndarray, data_dir: str | Path) -> np.ndarray:
    """(6890,) SMPL contact -> (10475,) SMPL-X contact in [0, 1], as the original converts it."""
    mapped = smpl_to_smplx_matrix(data_dir) @ np.asarray(contact, np.float32)
    return np.clip(np.asarray(mapped, np.float32).reshape(-1), 0, 1)
