"""The pipeline: resolve the input, run the stages whose outputs are missing, write the scene.

Stages so far: image and camera, body model, object mesh, placement, export. The placement is a
fixed layout (the body in its rest pose facing the camera, the object standing beside it on the
same floor) until the fitting stage replaces it.
"""

import dataclasses
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from reconstruction.atomic_io import atomic_write_json
from reconstruction.body_models import build_body_model
from reconstruction.camera import Camera
from reconstruction.config import HoifitConfig, save_config
from reconstruction.errors import HoifitError
from reconstruction.exports import write_scene
from reconstruction.image_io import camera_for_image, find_image, fit_to_max_size, load_image
from reconstruction.object_model import (
    MESH_SUFFIXES,
    ObjectMesh,
    ObjectPose,
    load_object_mesh,
    object_to_camera,
    pose_to_json_dict,
)
from reconstruction.scene import Scene

# Rotation from a y-up, +z-facing model frame into the OpenCV camera frame (y down), facing the
# camera: 180 degrees about x.
MODEL_TO_CAMERA = np.diag([1.0, -1.0, -1.0])


@dataclass
class SampleInputs:
    """What a run starts from.

    Attributes:
        name: sample name (folder or image stem), used for output folders and reports.
        image: (H, W, 3) uint8 image, or None when the sample has none.
        camera: intrinsics of `image` (or of a default canvas when there is no image).
        object_mesh: the object mesh in its own frame.
    """

    name: str
    image: np.ndarray | None
    camera: Camera
    object_mesh: ObjectMesh


def resolve_device(name: str) -> torch.device:
    """'auto' is CUDA when available, else CPU; anything else is passed to torch."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise HoifitError(f"unknown device {name!r}: use auto, cpu, cuda or cuda:N") from error
    if device.type == "cuda" and not torch.cuda.is_available():
        raise HoifitError(f"device {name!r} asked for but CUDA is not available: use cpu or auto")
    return device


def read_inputs(
    path: str | Path, config: HoifitConfig, object_mesh: str | Path | None = None
) -> SampleInputs:
    """Resolve a sample folder or an image file into the run's inputs.

    Args:
        path: a sample folder (image, `object.obj`, ...) or an image file.
        config: run configuration (camera and image-size settings).
        object_mesh: object mesh to use; overrides the sample folder's mesh.

    Raises:
        HoifitError: the path does not exist, no object mesh is known, unreadable files.
    """
    path = Path(path)
    if not path.exists():
        raise HoifitError(f"{path} does not exist: pass an image file or a sample folder")
    folder = path if path.is_dir() else path.parent
    image_path = find_image(path) if path.is_dir() else path
    if object_mesh is None and path.is_dir():
        candidates = sorted(
            p for p in folder.iterdir() if p.suffix.lower() in MESH_SUFFIXES and p.stem == "object"
        )
        object_mesh = candidates[0] if candidates else None
    if object_mesh is None:
        raise HoifitError(
            f"no object mesh for {path}: put object.obj in the sample folder or pass "
            "--object-mesh PATH"
        )
    mesh = load_object_mesh(object_mesh)
    if image_path is None:
        image, camera = None, camera_for_image(640, 480, {}, config.camera)
    else:
        image, exif = load_image(image_path)
        camera = camera_for_image(image.shape[1], image.shape[0], exif, config.camera)
        image, camera = fit_to_max_size(image, camera, config.render.max_image_size)
    name = path.name if path.is_dir() else path.stem
    return SampleInputs(name, image, camera, mesh)


def place_side_by_side(
    body_vertices: np.ndarray, object_vertices: np.ndarray, camera: Camera, gap: float = 0.15
) -> tuple[np.ndarray, np.ndarray]:
    """Place a y-up body and object, both in their model frames, in front of the camera.

    The body faces the camera and fills about 70% of the image height; the object stands on the
    body's floor level, `gap` metres to its right.

    Args:
        body_vertices: (V, 3) body vertices, y up, facing +z, metres.
        object_vertices: (Vo, 3) object vertices, y up, metres.
        camera: the camera that will look at the scene.
        gap: free space between body and object, metres.

    Returns:
        The body translation (3,) and object translation (3,) in the camera frame, to be added
        after rotating by `MODEL_TO_CAMERA` about the model-frame origin.
    """
    body = body_vertices @ MODEL_TO_CAMERA.T
    obj = object_vertices @ MODEL_TO_CAMERA.T
    body_height = np.ptp(body[:, 1])
    depth = camera.fy * body_height / (0.7 * camera.height)
    body_width = np.ptp(body[:, 0])
    object_width = np.ptp(obj[:, 0])
    shift = (body_width + object_width) / 2 + gap
    body_center = (body.min(0) + body.max(0)) / 2
    object_center = (obj.min(0) + obj.max(0)) / 2
    body_t = np.array([-shift / 2, 0.0, depth]) - body_center
    # In the camera frame the floor is the largest y (y points down).
    floor = body[:, 1].max() + body_t[1]
    object_t = np.array(
        [shift / 2 - object_center[0], floor - obj[:, 1].max(), depth - object_center[2]]
    )
    return body_t, object_t


def reconstruct(
    path: str | Path,
    out_dir: str | Path,
    config: HoifitConfig,
    object_mesh: str | Path | None = None,
) -> Path:
    """Run the pipeline on one sample and write its exports into `out_dir`.

    Returns:
        The output folder.
    """
    timings = {}
    start = time.perf_counter()
    device = resolve_device(config.device)
    inputs = read_inputs(path, config, object_mesh)
    timings["inputs_s"] = time.perf_counter() - start

    start = time.perf_counter()
    body_model = build_body_model(
        config.body.backend,
        model_dir=config.body.model_dir,
        gender=config.body.gender,
        device=device,
    )
    rest = body_model.zero_params(1)
    with torch.no_grad():
        rest_vertices = body_model(rest).vertices[0].cpu().double().numpy()
    body_t, object_t = place_side_by_side(
        rest_vertices, inputs.object_mesh.vertices.astype(np.float64), inputs.camera
    )
    # The root joint sits at the origin of the model frame and `global_orient` turns about it, so
    # the placement's translation is the body's `transl`.
    params = dataclasses.replace(
        rest,
        global_orient=torch.tensor([[math.pi, 0.0, 0.0]], device=device),
        transl=torch.tensor(body_t[None], dtype=torch.float32, device=device),
    )
    with torch.no_grad():
        body_vertices = body_model(params).vertices[0].cpu().numpy()
    pose = ObjectPose.from_matrix(
        torch.tensor(MODEL_TO_CAMERA[None], dtype=torch.float32),
        torch.tensor(object_t[None], dtype=torch.float32),
        1.0,
    )
    object_vertices = object_to_camera(
        torch.as_tensor(inputs.object_mesh.vertices, dtype=torch.float32), pose
    )[0].numpy()
    timings["body_and_placement_s"] = time.perf_counter() - start

    scene = Scene(
        camera=inputs.camera,
        body_vertices=body_vertices,
        body_faces=body_model.faces.cpu().numpy(),
        object_vertices=object_vertices,
        object_faces=inputs.object_mesh.faces,
        body_backend=body_model.name,
        body_params=body_model.to_npz_dict(params),
        object_pose=pose_to_json_dict(pose),
        image=inputs.image,
        object_name=inputs.object_mesh.name,
    )
    start = time.perf_counter()
    out = Path(out_dir)
    write_scene(scene, out, config.export.contact_threshold, previews=config.export.overlay)
    save_config(config, out / "config.yaml")
    timings["export_s"] = time.perf_counter() - start
    atomic_write_json(out / "timings.json", timings)
    return out
