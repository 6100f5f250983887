"""The sample-folder store: reads a folder once, says which stages are missing, writes results.

A sample folder (`reconstruction.sample_io`) holds one image and whatever is known about it.
Stages take arrays and return typed results; only this module writes their results into the
folder, and it keeps the in-memory `Sample` in step, so a folder is read once per run. The
skip rule lives here alone: a stage runs when its output is missing (`missing_stages`).
"""

import logging
import shutil
from pathlib import Path

import numpy as np

from optim.size_priors import guess_metres_per_unit, implausible_size
from perception.run import PerceptionResult
from reconstruction.camera import Camera
from reconstruction.camera_config import CameraConfig
from reconstruction.errors import HoifitError
from reconstruction.image_io import IMAGE_SUFFIXES, find_image, load_image
from reconstruction.object_model import UP_TO_Y, ObjectMesh, normalize_object_frame
from reconstruction.sample_io import (
    CAMERA_FILE,
    BodyInit,
    ObjectFrame,
    Sample,
    SampleContact,
    read_sample,
    write_body_init,
    write_camera,
    write_contact,
    write_depth,
    write_detection,
    write_keypoints,
    write_object_mesh,
)
from reconstruction.sample_io.object_frame_file import UNITS

log = logging.getLogger(__name__)

STAGES = ("perception", "body_init", "retrieval", "contact")
"""The stages that fill a sample folder, in the order they run."""


def sample_folder_for(path: str | Path, out_dir: str | Path) -> Path:
    """The sample folder of an input: the folder itself, or `<out>/<stem>/` for an image.

    The image is checked before anything is written, then copied into the new folder under its
    own name (which may carry the object's name, `chair__0001.jpg`).

    Raises:
        HoifitError: the path does not exist or is neither a folder nor a readable image.
    """
    path = Path(path)
    if not path.exists():
        raise HoifitError(f"{path} does not exist: pass an image file or a sample folder")
    if path.is_dir():
        return path
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise HoifitError(f"{path} is neither a folder nor an image ({', '.join(IMAGE_SUFFIXES)})")
    load_image(path)
    folder = Path(out_dir) / path.stem
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / path.name).exists():
        shutil.copyfile(path, folder / path.name)
    return folder


def normalize_object_mesh(
    mesh: ObjectMesh, frame: ObjectFrame | None, category: str | None, up: str | None = None
) -> tuple[ObjectMesh, dict]:
    """A mesh in hoifit's object convention, y-up and metres, and what was done to it.

    The up axis is `up` when given, else the frame's, else +y. The units are the frame's; a
    frame saying "unknown", or no frame and a size implausible for the category in metres
    (`optim.size_priors.implausible_size`), gets the power of ten that brings the mesh nearest
    its category's typical size. Units that a frame states are kept, with a warning when the
    size they give is implausible.

    Args:
        mesh: the mesh as read.
        frame: its object_frame.json, or None (y-up metres unless implausibly sized).
        category: the object's category, for the size prior, or None.
        up: an up axis that overrides the frame's (`--object-up`), or None.

    Returns:
        The normalized mesh and {"up", "units", "metres_per_unit", "units_guessed",
        "rotation_to_y_up"}: a vertex p of `mesh` is metres_per_unit * rotation_to_y_up @ p in
        the normalized mesh (rotation row-major 3x3).

    Raises:
        HoifitError: an unknown up axis.
    """
    frame_up = frame.up if frame is not None else "+y"
    units = frame.units if frame is not None else "m"
    up = ObjectFrame(up or frame_up, units).up  # checks an axis given by the user
    extent = float((mesh.vertices.max(0) - mesh.vertices.min(0)).max())
    metres_per_unit = UNITS[units]
    guessed = units == "unknown" or (
        frame is None and extent > 0 and implausible_size(extent, category)
    )
    if guessed and extent > 0:
        metres_per_unit = guess_metres_per_unit(extent, category)
        log.info(
            "%s: units guessed from the %s size prior: %g m per unit (largest extent %g -> %.3g m)",
            mesh.name,
            category or "default",
            metres_per_unit,
            extent,
            extent * metres_per_unit,
        )
    elif metres_per_unit is None:
        metres_per_unit = 1.0  # a mesh of zero size: nothing to guess from
    elif extent > 0 and implausible_size(extent * metres_per_unit, category):
        log.warning(
            "%s: %.3g m across in the stated units (%s), far from a typical %s",
            mesh.name,
            extent * metres_per_unit,
            units,
            category or "object",
        )
    if up != "+y":
        log.info("%s: up axis %s turned to +y", mesh.name, up)
    normalized = normalize_object_frame(mesh, up, metres_per_unit)
    record = {
        "up": up,
        "units": units,
        "metres_per_unit": metres_per_unit,
        "units_guessed": guessed,
        "rotation_to_y_up": [list(row) for row in UP_TO_Y[up]],
    }
    return normalized, record


def object_name_from(folder: Path) -> str | None:
    """The object name in `<object>__<id>` of the folder's or its image's name, else None."""
    names = [folder.name]
    try:
        image = find_image(folder) if folder.is_dir() else None
    except HoifitError:
        image = None
    if image is not None:
        names.append(image.stem)
    for name in names:
        if "__" in name and name.split("__")[0]:
            return name.split("__")[0].replace("_", " ")
    return None


class SampleStore:
    """One sample folder, read once, with the stage results written into it.

    Args:
        folder: the sample folder.
        camera: intrinsics to use when the folder has no camera.json.
        object_name: the object's name when the user gives it; else from the folder's name.

    Attributes:
        folder: the sample folder.
        sample: what the folder holds, kept in step with every write.
        object_name: the object's name, or None when nothing names it.
        focal_guessed: the camera is the default guess (`Camera.default`): no camera.json, no
            focal length or field of view configured, none in the image's EXIF.
    """

    def __init__(
        self, folder: Path, camera: CameraConfig | None = None, object_name: str | None = None
    ):
        self.folder = Path(folder)
        self.sample: Sample = read_sample(self.folder, camera)
        self.object_name = (
            object_name or self.sample.object_category or object_name_from(self.folder)
        )
        configured = camera is not None and (camera.focal_px or camera.fov_deg)
        height, width = self.sample.image.shape[:2]
        self.focal_guessed = bool(
            not configured
            and not (self.folder / CAMERA_FILE).is_file()
            and self.sample.camera == Camera.default(width, height)
        )

    def missing_stages(self, object_mesh_given: bool, contact_model: bool) -> list[str]:
        """The stages whose outputs the folder lacks, in `STAGES` order.

        - perception: a mask is missing, or both the body initialization and the keypoints;
        - body_init: no body initialization (PICO's osx_human.npz counts);
        - retrieval: no object mesh and none given (`--object-mesh`);
        - contact: a contact model is configured and the folder holds no body contact.

        Args:
            object_mesh_given: the user passed a mesh.
            contact_model: a contact model is configured.
        """
        sample = self.sample
        contact = sample.contact
        has_contact = contact is not None and (
            contact.body_contact is not None or contact.pairs is not None
        )
        needed = {
            "perception": sample.person_mask is None
            or sample.object_mask is None
            or (sample.body_init is None and sample.keypoints_2d is None),
            "body_init": sample.body_init is None,
            "retrieval": sample.object_mesh is None and not object_mesh_given,
            "contact": contact_model and not has_contact,
        }
        return [stage for stage in STAGES if needed[stage]]

    def perception_request(self) -> dict:
        """What perception must find: `run_perception` keyword arguments."""
        sample = self.sample
        return {
            "object_name": self.object_name,
            "object_box": sample.object_bbox,
            "person_box": sample.person_bbox,
            "want_keypoints": sample.keypoints_2d is None,
            "want_depth": sample.depth is None,
        }

    def write_perception(self, result: PerceptionResult) -> list[str]:
        """Write what perception found and the folder lacked; returns the files written.

        A focal length from the depth model becomes camera.json unless the folder has one.
        """
        sample, written = self.sample, []
        for kind, detection, attribute in (
            ("object", result.object, "object"),
            ("human", result.person, "person"),
        ):
            if detection is not None and getattr(sample, f"{attribute}_mask") is None:
                write_detection(self.folder, kind, detection.mask, detection.box)
                setattr(sample, f"{attribute}_mask", detection.mask)
                setattr(sample, f"{attribute}_bbox", detection.box)
                written.append(f"{kind}_detection.npz")
        if result.keypoints_2d is not None and sample.keypoints_2d is None:
            write_keypoints(self.folder, result.keypoints_2d)
            sample.keypoints_2d = np.asarray(result.keypoints_2d, np.float32).reshape(17, 3)
            written.append("keypoints_2d.json")
        if result.depth is not None and sample.depth is None:
            write_depth(self.folder, result.depth)
            sample.depth = np.asarray(result.depth, np.float32)
            written.append("depth.npz")
        if result.focal_px is not None and not (self.folder / CAMERA_FILE).is_file():
            height, width = sample.image.shape[:2]
            self.write_camera(Camera.from_focal(result.focal_px, width, height))
            written.append(CAMERA_FILE)
        return written

    def write_camera(self, camera: Camera) -> None:
        """Write camera.json: the camera is no longer a guess."""
        write_camera(self.folder, camera)
        self.sample.camera = camera
        self.focal_guessed = False

    def write_body_init(self, body_init: BodyInit) -> None:
        """Write body_init.npz."""
        write_body_init(self.folder, body_init)
        self.sample.body_init = body_init

    def write_object_mesh(self, mesh: ObjectMesh) -> None:
        """Write object.obj (the mesh in PICO's rotated frame, as `Sample.object_mesh`)."""
        write_object_mesh(self.folder, mesh)
        self.sample.object_mesh = mesh

    def normalize_object_mesh(self, up: str | None = None) -> dict:
        """Bring the sample's object mesh to y-up metres in memory (`normalize_object_mesh`).

        The folder's object.obj is left as it is; `sample.object_frame` becomes None, since the
        mesh in memory is now in hoifit's convention. Set `sample.object_frame` to None first for
        a mesh that did not come from the folder (the folder's frame describes its object.obj).

        Args:
            up: the mesh's up axis, overriding object_frame.json (`--object-up`), or None.

        Returns:
            What was done (see `normalize_object_mesh`); {} without a mesh.
        """
        sample = self.sample
        if sample.object_mesh is None:
            return {}
        sample.object_mesh, record = normalize_object_mesh(
            sample.object_mesh, sample.object_frame, self.object_name, up
        )
        sample.object_frame = None
        return record

    def write_contact(
        self, body: np.ndarray | None, topology: str, object_contact: np.ndarray | None
    ) -> SampleContact:
        """Write predicted per-vertex contact to contact.npz.

        Object contact the prediction lacks is kept from the folder's contact.

        Args:
            body: (V,) body contact on the mesh of `topology`, or None (an object-only model).
            topology: "anny", "smplx" or "smpl".
            object_contact: (Vo,) object contact, or None.
        """
        old = self.sample.contact
        if object_contact is None and old is not None:
            object_contact = old.object_contact
        contact = SampleContact(
            body_contact=None if body is None else np.asarray(body, dtype=np.float32),
            body_topology=None if body is None else topology,
            object_contact=None if object_contact is None else np.asarray(object_contact),
        )
        write_contact(self.folder, contact)
        self.sample.contact = contact
        return contact
