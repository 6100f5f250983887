"""The reconstructed scene: what the pipeline produces and the exporters write."""

from dataclasses import dataclass

import numpy as np

from reconstruction.camera import Camera


@dataclass
class Scene:
    """A posed body and a posed, scaled object in the camera frame of the input image.

    Everything geometric is in the OpenCV camera frame (x right, y down, z forward), metres.

    Attributes:
        camera: intrinsics of the image the scene explains.
        body_vertices: (V, 3) float body vertices.
        body_faces: (F, 3) int body triangles.
        object_vertices: (Vo, 3) float object vertices, posed and scaled.
        object_faces: (Fo, 3) int object triangles.
        body_backend: name of the body model ("anny", "smplx", "smpl").
        body_params: the body parameters in the backend's own convention, as the backend's
            `to_npz_dict` gives them (SMPL-X ones load into `smplx`).
        object_pose: JSON-ready object pose and scale (`object_model.pose_to_json_dict`).
        image: (H, W, 3) uint8 input image at the camera's size, or None.
        body_contact: (V,) per-vertex contact probability in [0, 1], or None.
        object_contact: (Vo,) per-vertex contact probability in [0, 1], or None.
        object_name: category or file name of the object, for reports.
    """

    camera: Camera
    body_vertices: np.ndarray
    body_faces: np.ndarray
    object_vertices: np.ndarray
    object_faces: np.ndarray
    body_backend: str
    body_params: dict
    object_pose: dict
    image: np.ndarray | None = None
    body_contact: np.ndarray | None = None
    object_contact: np.ndarray | None = None
    object_name: str = "object"
