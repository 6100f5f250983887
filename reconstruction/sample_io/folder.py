"""A whole sample folder: finding sample folders, and reading or writing every file of one."""

from pathlib import Path

from reconstruction.camera_config import CameraConfig
from reconstruction.errors import HoifitError
from reconstruction.image_io import IMAGE_SUFFIXES, camera_for_image, load_image
from reconstruction.sample_io.body_init_file import read_body_init, write_body_init
from reconstruction.sample_io.camera_file import read_camera, write_camera
from reconstruction.sample_io.contact_file import read_contact, write_contact
from reconstruction.sample_io.depth_file import read_depth, write_depth
from reconstruction.sample_io.detection_file import read_detection, write_detection
from reconstruction.sample_io.image_file import find_sample_image, write_image
from reconstruction.sample_io.keypoints_file import read_keypoints, write_keypoints
from reconstruction.sample_io.object_file import read_object_mesh, write_object_mesh
from reconstruction.sample_io.object_frame_file import (
    OBJECT_FRAME_FILE,
    read_object_frame,
    write_object_frame,
)
from reconstruction.sample_io.osx_human import read_osx_human
from reconstruction.sample_io.sample import (
    BODY_INIT_FILE,
    CAMERA_FILE,
    DEPTH_FILE,
    OBJECT_FILE,
    OSX_FILE,
    BodyInit,
    Sample,
)


def list_samples(root: str | Path) -> list[Path]:
    """Subfolders of `root` that look like samples, sorted by name.

    A sample folder holds an image named like the folder or `image.*`, or an object.obj.

    Raises:
        HoifitError: `root` is not a folder.
    """
    root = Path(root)
    if not root.is_dir():
        raise HoifitError(f"{root} is not a folder: pass the folder that holds sample folders")
    return [
        folder
        for folder in sorted(p for p in root.iterdir() if p.is_dir())
        if (folder / OBJECT_FILE).is_file()
        or any(
            p.suffix.lower() in IMAGE_SUFFIXES and p.stem in (folder.name, "image")
            for p in folder.iterdir()
        )
    ]


def read_sample(folder: str | Path, camera_config: CameraConfig | None = None) -> Sample:
    """Read a sample folder (see the package docstring for its files).

    Args:
        folder: the sample folder.
        camera_config: intrinsics to use when the folder has no camera.json; None for EXIF or
            the default.

    Returns:
        The sample; fields whose files are absent are None.

    Raises:
        HoifitError: no folder or no image, or a malformed file (the message names it).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise HoifitError(f"sample folder {folder} does not exist: check the path")
    image, exif = load_image(find_sample_image(folder))
    height, width = image.shape[:2]
    camera_path = folder / CAMERA_FILE
    if camera_path.is_file():
        camera = read_camera(camera_path, width, height)
    else:
        camera = camera_for_image(width, height, exif, camera_config or CameraConfig())

    object_mesh = None
    if (folder / OBJECT_FILE).is_file():
        object_mesh = read_object_mesh(folder / OBJECT_FILE)
    person_mask, person_bbox = read_detection(folder, "human", (height, width))
    object_mask, object_bbox = read_detection(folder, "object", (height, width))
    depth_path = folder / DEPTH_FILE
    return Sample(
        name=folder.name,
        folder=folder,
        image=image,
        camera=camera,
        object_mesh=object_mesh,
        object_category=folder.name.split("__")[0] if "__" in folder.name else None,
        person_mask=person_mask,
        person_bbox=person_bbox,
        object_mask=object_mask,
        object_bbox=object_bbox,
        depth=read_depth(depth_path, (height, width)) if depth_path.is_file() else None,
        keypoints_2d=read_keypoints(folder),
        body_init=_read_body_init(folder),
        contact=read_contact(folder, object_mesh),
        object_frame=read_object_frame(folder / OBJECT_FRAME_FILE)
        if (folder / OBJECT_FRAME_FILE).is_file()
        else None,
    )


def _read_body_init(folder: Path) -> BodyInit | None:
    """The initial body: body_init.npz, else PICO's osx_human.npz, else None."""
    if (folder / BODY_INIT_FILE).is_file():
        return read_body_init(folder / BODY_INIT_FILE)
    if (folder / OSX_FILE).is_file():
        return read_osx_human(folder / OSX_FILE)
    return None


def write_sample(folder: str | Path, sample: Sample, detection_format: str = "npz") -> Path:
    """Write every field a sample has into `folder` (image, camera and the optional files).

    Args:
        folder: the sample folder, created if needed; PICO names it `<category>__<id>`.
        sample: what to write; None fields write no file.
        detection_format: "npz" or "json" for the detection files.

    Returns:
        The folder.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_image(folder, sample.image)
    write_camera(folder, sample.camera)
    if sample.object_mesh is not None:
        write_object_mesh(folder, sample.object_mesh)
    if sample.object_frame is not None:
        write_object_frame(folder, sample.object_frame)
    for kind, mask, bbox in (
        ("human", sample.person_mask, sample.person_bbox),
        ("object", sample.object_mask, sample.object_bbox),
    ):
        if mask is not None or bbox is not None:
            write_detection(folder, kind, mask, bbox, detection_format)
    if sample.depth is not None:
        write_depth(folder, sample.depth)
    if sample.keypoints_2d is not None:
        write_keypoints(folder, sample.keypoints_2d)
    if sample.body_init is not None:
        write_body_init(folder, sample.body_init)
    if sample.contact is not None:
        write_contact(folder, sample.contact)
    return folder
