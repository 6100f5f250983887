"""Scene exports: glb, ply, body parameters, object pose, overlay and side-view images.

Every file is written atomically (`reconstruction.atomic_io`).

Files written by `write_scene` into the output folder:
    scene.glb          both meshes with per-vertex colours (contact vertices red). glTF is y-up,
                       so the glb holds the camera-frame scene turned 180 degrees about x
                       (x, -y, -z): viewers show it upright, seen from the input camera.
    body.ply, object.ply
                       each mesh in the OpenCV camera frame (metres), with the same colours.
    body_params.npz    body parameters in the backend's own convention (`body_backend` key says
                       which; SMPL-X/SMPL parameters load into `smplx`).
    object_pose.json   object rotation (3x3 matrix and axis-angle), translation (m) and scale,
                       mapping object-frame points into the camera frame: x_cam = s R x_obj + t,
                       and whatever else the scene's `object_pose` dict holds (the pipeline adds
                       `object_frame`: how the object frame came from the mesh file's).
    overlay.png        the meshes rendered over the input image.
    side.png           the scene turned 90 degrees about the vertical axis.
"""

from pathlib import Path

import numpy as np
import trimesh

from reconstruction.atomic_io import (
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_npz,
    atomic_write_png,
)
from reconstruction.preview import overlay, render_shaded, side_view_vertices
from reconstruction.scene import Scene

BODY_COLOR = (0.80, 0.72, 0.65)
OBJECT_COLOR = (0.55, 0.68, 0.85)
CONTACT_COLOR = (0.90, 0.15, 0.10)
OPENCV_TO_GLTF = np.diag([1.0, -1.0, -1.0])


def vertex_colors(
    num_vertices: int, base: tuple, contact: np.ndarray | None, threshold: float
) -> np.ndarray:
    """Per-vertex RGB in [0, 1]: `base`, and `CONTACT_COLOR` where contact >= threshold.

    Returns:
        (V, 3) float.
    """
    colors = np.tile(np.asarray(base, dtype=np.float64), (num_vertices, 1))
    if contact is not None:
        if contact.shape != (num_vertices,):
            raise ValueError(
                f"contact has shape {contact.shape}, expected ({num_vertices},) for this mesh"
            )
        colors[contact >= threshold] = CONTACT_COLOR
    return colors


def _trimesh(vertices: np.ndarray, faces: np.ndarray, colors: np.ndarray) -> trimesh.Trimesh:
    rgba = np.concatenate([colors, np.ones((len(colors), 1))], axis=1)
    return trimesh.Trimesh(
        vertices=vertices,
        faces=faces,
        vertex_colors=(rgba * 255).round().astype(np.uint8),
        process=False,
    )


def write_scene(
    scene: Scene, out_dir: str | Path, contact_threshold: float = 0.5, previews: bool = True
) -> list[Path]:
    """Write all scene exports into `out_dir` (created if needed).

    Args:
        scene: the scene to write.
        out_dir: destination folder.
        contact_threshold: contact probability from which a vertex is coloured as contact.
        previews: also render `overlay.png` and `side.png`.

    Returns:
        The paths written.
    """
    out = Path(out_dir)
    body_colors = vertex_colors(
        len(scene.body_vertices), BODY_COLOR, scene.body_contact, contact_threshold
    )
    object_colors = vertex_colors(
        len(scene.object_vertices), OBJECT_COLOR, scene.object_contact, contact_threshold
    )
    body = _trimesh(scene.body_vertices, scene.body_faces, body_colors)
    obj = _trimesh(scene.object_vertices, scene.object_faces, object_colors)

    gltf = trimesh.Scene()
    for name, mesh in (("body", body), ("object", obj)):
        turned = mesh.copy()
        turned.vertices = mesh.vertices @ OPENCV_TO_GLTF.T
        gltf.add_geometry(turned, geom_name=name, node_name=name)
    written = {
        "scene.glb": lambda p: atomic_write_bytes(p, gltf.export(file_type="glb")),
        "body.ply": lambda p: atomic_write_bytes(p, body.export(file_type="ply")),
        "object.ply": lambda p: atomic_write_bytes(p, obj.export(file_type="ply")),
        "body_params.npz": lambda p: atomic_write_npz(
            p, {**scene.body_params, "body_backend": np.array(scene.body_backend)}
        ),
        "object_pose.json": lambda p: atomic_write_json(
            p, {"object": scene.object_name, **scene.object_pose}
        ),
    }
    if previews:
        cam = scene.camera
        K, size = cam.K().numpy(), (cam.height, cam.width)
        meshes = [
            (scene.body_vertices, scene.body_faces, body_colors),
            (scene.object_vertices, scene.object_faces, object_colors),
        ]
        rgb, mask = render_shaded(meshes, K, size)
        side = side_view_vertices([scene.body_vertices, scene.object_vertices], K, size)
        side_rgb, side_mask = render_shaded(
            [(v, f, c) for v, (_, f, c) in zip(side, meshes, strict=True)], K, size
        )
        written["overlay.png"] = lambda p: atomic_write_png(p, overlay(scene.image, rgb, mask))
        written["side.png"] = lambda p: atomic_write_png(
            p, overlay(None, side_rgb, side_mask, alpha=1.0)
        )
    paths = []
    for name, write in written.items():
        write(out / name)
        paths.append(out / name)
    return paths
