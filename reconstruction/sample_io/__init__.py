"""Sample folders: one image and what is known about it, in PICO-db's layout plus hoifit's files.

A sample folder is named after the sample; PICO-db names it `<category>__<source id>`, e.g.
`skateboard__vcoco_000000012938`, and the object category is the part before `__`. Every file
but the image is optional; a missing one leaves its field of `Sample` None.

Each file format has its own module, with its reader and its writer and the description of the
format in its docstring:

- PICO-db's files, read as PICO writes them: the image `<folder>.jpg` (`image_file`),
  `osx_human.npz` (`osx_human`), `human_detection.npz|json` and `object_detection.npz|json`
  (`detection_file`), `object.obj` in PICO's rotated frame (`object_file`), its up axis and
  units when not y-up metres (`object_frame_file`) and
  `corresponding_contacts.json`, paired contact and body contact without object points
  (`pico_contacts`).
- hoifit's own files: `camera.json` (`camera_file`), `depth.npz` (`depth_file`),
  `keypoints_2d.json|npz` (`keypoints_file`), `body_init.npz` (`body_init_file`),
  `contact.npz` (`contact_file`), and the ground truth of synthetic samples in
  `ground_truth.npz|json` (`ground_truth`), which the fitting never reads.

`sample` holds the data model and the file names, `folder` reads and writes whole folders, and
`npz` writes npz files byte-for-byte reproducibly (fixed zip timestamps).

Conventions: camera frame OpenCV (x right, y down, z forward), metres; pixel (u, v) = (column,
row) with the centre of the top-left pixel at (0, 0); boxes XYXY in those pixel coordinates;
masks (H, W) bool at the image's size. Every file is written atomically.
"""

from reconstruction.sample_io.body_init_file import write_body_init
from reconstruction.sample_io.camera_file import write_camera
from reconstruction.sample_io.contact_file import write_contact
from reconstruction.sample_io.depth_file import write_depth
from reconstruction.sample_io.detection_file import (
    encode_rle,
    mask_bbox,
    read_detection,
    write_detection,
)
from reconstruction.sample_io.folder import list_samples, read_sample, write_sample
from reconstruction.sample_io.ground_truth import read_ground_truth, write_ground_truth
from reconstruction.sample_io.image_file import write_image
from reconstruction.sample_io.keypoints_file import write_keypoints
from reconstruction.sample_io.npz import npz_bytes
from reconstruction.sample_io.object_file import write_object_mesh
from reconstruction.sample_io.object_frame_file import (
    OBJECT_FRAME_FILE,
    ObjectFrame,
    write_object_frame,
)
from reconstruction.sample_io.pico_contacts import write_pairs
from reconstruction.sample_io.sample import (
    CAMERA_FILE,
    CONTACT_FILE,
    DEPTH_FILE,
    DETECTION_STEMS,
    KEYPOINTS_FILES,
    BodyInit,
    ContactPairs,
    GroundTruth,
    Sample,
    SampleContact,
    UnpairedBodyContact,
    merge_body_contact_vertices,
)

__all__ = [
    "CAMERA_FILE",
    "CONTACT_FILE",
    "DEPTH_FILE",
    "DETECTION_STEMS",
    "KEYPOINTS_FILES",
    "OBJECT_FRAME_FILE",
    "ObjectFrame",
    "BodyInit",
    "ContactPairs",
    "GroundTruth",
    "Sample",
    "SampleContact",
    "UnpairedBodyContact",
    "encode_rle",
    "list_samples",
    "mask_bbox",
    "merge_body_contact_vertices",
    "npz_bytes",
    "read_detection",
    "read_ground_truth",
    "read_sample",
    "write_body_init",
    "write_camera",
    "write_contact",
    "write_depth",
    "write_detection",
    "write_ground_truth",
    "write_image",
    "write_keypoints",
    "write_object_frame",
    "write_object_mesh",
    "write_pairs",
    "write_sample",
]
