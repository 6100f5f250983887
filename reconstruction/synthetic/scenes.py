"""Synthetic human-object interaction samples with exact ground truth.

`make_scene` stages one interaction (`interactions.INTERACTIONS`, cycled by sample index),
photographs it from a random viewpoint, measures the true contact, and degrades what a
perception stage would give the fitting by a noise level (`noise.NOISE_LEVELS`).
`write_synthetic_samples` writes samples as sample folders (`reconstruction.sample_io`), named
PICO-style `<category>__synth_<seed>_<index>`, with the ground truth in ground_truth.npz/json.

Everything random comes from numpy generators seeded with (seed, index, stream), so a sample is
byte-for-byte reproducible and independent of the others; the clean scene and the noise use
separate streams, so the noise level changes the inputs and never the ground truth (the photo
protocol's mesh instance and depth errors use a third). The protocol changes only the camera's
field of view range among the scene's draws.

Two protocols say what the fitting is given (`PROTOCOLS`):
- "near_true": the clean scene's own inputs degraded by the noise level: masks, keypoints, depth,
  a body initialization (the true body plus noise), contact (the truth with errors), the exact
  rendered mesh and the true camera. It measures the fitting in the easiest case.
- "photo": only what a photo and perception give: the noise level's masks and keypoints; no
  body_init.npz (the pipeline fits the body from keypoints and masks); depth as a monocular
  estimator gives it (`noise.monocular_depth`), over the floor too, or none (`DEPTH_VARIANTS`);
  no contact.npz and no corresponding_contacts.json; as object.obj another instance of the category
  (`procedural_objects.random_instance_kwargs`) in centimetres or as a unit-size model, with
  its own up axis and a quarter turn about it, declared in object_frame.json; and no camera.json
  (the pipeline assumes `camera.DEFAULT_FOV_DEG`), while the image was rendered with a field of
  view drawn from `PHOTO_FOV_DEG`.
The ground truth is that of the rendered scene in both; it also holds the floor plane and, for
the photo protocol, how the delivered mesh's file frame relates to its canonical frame, so that
evaluation compares canonical (y-up, metres) frames.

Ground-truth contact: a body vertex is in contact when it lies within `CONTACT_DISTANCE` of the
object's surface (exact signed distance), an object vertex when a body vertex is within
`CONTACT_DISTANCE` of it. Pairs: for each body part (`PAIR_PARTS`) in contact, up to
`PAIRS_PER_PART` of its contact vertices with the nearest point of the object's surface (face
and barycentric weights on object.obj).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy.spatial import cKDTree

from reconstruction.body_models import BodyModel, BodyParams, build_body_model
from reconstruction.camera import DEFAULT_FOV_DEG, Camera
from reconstruction.object_model import ObjectMesh, ObjectPose, pose_to_json_dict
from reconstruction.procedural_objects import random_instance_kwargs
from reconstruction.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from reconstruction.sample_io import (
    BodyInit,
    ContactPairs,
    GroundTruth,
    Sample,
    SampleContact,
    mask_bbox,
    write_ground_truth,
    write_sample,
)
from reconstruction.sample_io.object_frame_file import ObjectFrame
from reconstruction.sample_io.sample import CAMERA_FILE
from reconstruction.synthetic.geometry import barycentric, closest_points
from reconstruction.synthetic.interactions import (
    INTERACTIONS,
    Interaction,
    ObjectPlacement,
    Stage,
    Staged,
    StagingFailed,
    check_staged,
    make_object_mesh,
)
from reconstruction.synthetic.noise import (
    NOISE_LEVELS,
    NoiseLevel,
    monocular_depth,
    noisy_body_params,
    noisy_contact,
    noisy_depth,
    noisy_keypoints,
    noisy_mask,
    noisy_pairs,
)
from reconstruction.synthetic.poses import PoseBuilder
from reconstruction.synthetic.render import FOV_DEG, View, choose_view, render_scene

CONTACT_DISTANCE = 0.015
"""Metres: body and object vertices this close to the other mesh are in contact."""

PAIRS_PER_PART = 20
"""Most paired correspondences per body part."""

PAIR_PARTS = (
    "left_hand",
    "right_hand",
    "left_foot",
    "right_foot",
    "left_arm",
    "right_arm",
    "left_leg",
    "right_leg",
    "torso",
    "back",
    "buttocks",
    "neck",
    "head",
)
"""Body parts that pairs are grouped by: they partition the body's vertices."""

MAX_ATTEMPTS = 30
"""Random draws tried before giving up on staging an interaction."""

PROTOCOLS = ("near_true", "photo")
"""What the fitting is given; see the module docstring."""

DEPTH_VARIANTS = ("mono", "mono_floor", "none")
"""Depth of the photo protocol: monocular-estimator-like over the body and the object, the same
over the floor too (as a real estimator's map covers it), or none."""

PHOTO_FOV_DEG = (40.0, 75.0)
"""Horizontal field of view of the photo protocol's renders, degrees (the fitting guesses 55)."""

DELIVERED_UNITS = ("cm", "unknown")
"""Units of the photo protocol's object.obj: centimetres, or a unit-size model (longest side 1,
centred on its bounding box) whose units are unknown."""

_UP_ROTATIONS = {
    "+y": np.eye(3),
    "-y": np.diag([1.0, -1.0, -1.0]),
    "+z": np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]]),
    "-z": np.array([[1.0, 0, 0], [0, 0, 1], [0, -1, 0]]),
    "+x": np.array([[0.0, 1, 0], [-1, 0, 0], [0, 0, 1]]),
    "-x": np.array([[0.0, -1, 0], [1, 0, 0], [0, 0, 1]]),
}
"""Per up axis, a rotation taking a y-up mesh to one whose up is that axis (+y to the axis)."""

_SKIN = np.array([[0.96, 0.80, 0.69], [0.88, 0.68, 0.55], [0.74, 0.53, 0.40], [0.56, 0.39, 0.28]])
_SCENE, _NOISE, _PHOTO = 0, 1, 2  # random streams


@dataclass
class SyntheticScene:
    """One synthetic sample: the inputs the fitting gets, and the ground truth.

    Attributes:
        sample: what is written as the sample folder: the inputs of `protocol` and the clean
            image; its camera is the one the fitting gets (a guess under "photo").
        truth: the clean scene.
        protocol: a `PROTOCOLS` name.
    """

    sample: Sample
    truth: GroundTruth
    protocol: str = "near_true"


def sample_name(category: str, seed: int, index: int) -> str:
    """PICO-style folder name of a synthetic sample: `<category>__synth_<seed>_<index>`."""
    return f"{category}__synth_{seed}_{index}"


def interaction_for(index: int) -> str:
    """The interaction of sample `index`: the generator cycles through `INTERACTIONS`."""
    names = list(INTERACTIONS)
    return names[index % len(names)]


def random_betas(model: BodyModel, rng: np.random.Generator) -> np.ndarray:
    """(S,) a random adult body shape: Anny phenotypes, or SMPL(-X) betas."""
    if model.name == "anny":
        low = np.array([0.0, 0.75, 0.3, 0.3, 0.3, 0.4])  # gender, age, muscle, weight, ...
        high = np.array([1.0, 0.9, 0.7, 0.7, 0.7, 0.6])  # ... height, proportions
        return rng.uniform(low, high)
    return np.clip(rng.normal(0.0, 0.8, model.num_betas), -2.0, 2.0)


def make_scene(
    index: int,
    seed: int,
    noise: str = "low",
    image_size: tuple[int, int] = (256, 256),
    body_model: BodyModel | None = None,
    body_backend: str = "anny",
    model_dir: str | None = None,
    interaction: str | None = None,
    protocol: str = "near_true",
    depth: str = "mono",
) -> SyntheticScene:
    """Generate one synthetic sample.

    Args:
        index: the sample's index; picks the interaction unless `interaction` is given.
        seed: the run's seed.
        noise: "none", "low" or "high" (see `noise`).
        image_size: (H, W) of the image.
        body_model: the body model to use; None builds `body_backend`'s.
        body_backend: "anny", "smplx" or "smpl", when `body_model` is None.
        model_dir: SMPL-X / SMPL model folder, when `body_model` is None.
        interaction: an `INTERACTIONS` name; None for `interaction_for(index)`.
        protocol: "near_true" or "photo" (see the module docstring).
        depth: the photo protocol's depth, "mono" or "none"; ignored by "near_true".

    Returns:
        The sample (folder None until written) and its ground truth.

    Raises:
        ValueError: unknown noise level, interaction, protocol or depth variant.
        RuntimeError: no valid scene in `MAX_ATTEMPTS` draws.
    """
    if noise not in NOISE_LEVELS:
        raise ValueError(f"noise must be one of {list(NOISE_LEVELS)}, got {noise!r}")
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {list(PROTOCOLS)}, got {protocol!r}")
    if depth not in DEPTH_VARIANTS:
        raise ValueError(f"depth must be one of {list(DEPTH_VARIANTS)}, got {depth!r}")
    photo = protocol == "photo"
    name = interaction or interaction_for(index)
    if name not in INTERACTIONS:
        raise ValueError(f"unknown interaction {name!r}; known: {', '.join(INTERACTIONS)}")
    spec = INTERACTIONS[name]
    model = body_model or build_body_model(body_backend, model_dir=model_dir)
    poser = PoseBuilder(model)
    object_vertices, object_faces = make_object_mesh(spec.category, **spec.object_kwargs)

    staged, rng = stage_interaction(spec, poser, object_vertices, object_faces, seed, index)
    world = np.concatenate((staged.body.vertices, staged.placement.apply(object_vertices)))
    view = choose_view(
        world,
        rng,
        image_size,
        spec.azimuth_deg,
        spec.either_side,
        spec.elevation_deg,
        PHOTO_FOV_DEG if photo else FOV_DEG,
    )
    params, placement = _to_camera(staged, view)
    with torch.no_grad():
        output = model(params)
        keypoints_3d = model.coco17_keypoints(output)[0].double().cpu().numpy()
    body_vertices = output.vertices[0].double().cpu().numpy()
    posed_object = placement.apply(object_vertices)
    rendered = render_scene(
        view,
        (body_vertices, model.faces.cpu().numpy(), _body_colors(model, rng)),
        (posed_object, object_faces, np.tile(rng.uniform(0.15, 0.9, 3), (len(posed_object), 1))),
        staged.floor_y,
        rng,
    )
    body_contact, object_contact, pairs, distance = contact_truth(
        body_vertices, model, object_vertices, object_faces, placement, rng
    )
    truth = GroundTruth(
        interaction=name,
        object_category=spec.category,
        body_backend=model.name,
        body_params=model.to_npz_dict(params),
        body_vertices=body_vertices.astype(np.float32),
        object_rotation=placement.rotation,
        object_translation=placement.translation,
        object_scale=placement.scale,
        object_vertices=posed_object.astype(np.float32),
        object_faces=object_faces,
        floor_plane=_floor_plane(view, staged.floor_y),
        body_contact=body_contact,
        object_contact=object_contact,
        pairs=pairs,
        K=view.camera.K(dtype=torch.float64).numpy(),
        person_mask=rendered.person_mask,
        object_mask=rendered.object_mask,
        keypoints_2d=_keypoints_2d(view, keypoints_3d),
    )
    sample = Sample(
        name=sample_name(spec.category, seed, index),
        folder=None,
        image=rendered.image,
        camera=view.camera,
        object_mesh=ObjectMesh(object_vertices, object_faces, name=spec.category),
        object_category=spec.category,
        depth=rendered.depth,
    )
    noise_rng = np.random.default_rng([seed, index, _NOISE])
    if photo:
        if depth == "mono_floor":
            sample.depth = np.where(sample.depth > 0, sample.depth, rendered.floor_depth)
        inputs = _photo_inputs(
            sample, truth, noise_rng, np.random.default_rng([seed, index, _PHOTO]), noise, depth
        )
    else:
        _degrade(sample, truth, model, params, noise_rng, noise)
        inputs = {"protocol": protocol}
    truth.summary = _summary(truth, sample, seed, index, noise, distance, inputs)
    return SyntheticScene(sample, truth, protocol)


def stage_interaction(
    spec: Interaction,
    poser: PoseBuilder,
    object_vertices: np.ndarray,
    object_faces: np.ndarray,
    seed: int,
    index: int,
) -> tuple[Staged, np.random.Generator]:
    """Stage an interaction, drawing again until a draw is valid.

    Returns:
        The staged scene and the random generator of the successful draw, to go on with.

    Raises:
        RuntimeError: no valid draw in `MAX_ATTEMPTS`.
    """
    for attempt in range(MAX_ATTEMPTS):
        rng = np.random.default_rng([seed, index, _SCENE, attempt])
        stage = Stage(poser, object_vertices, object_faces, random_betas(poser.model, rng))
        try:
            staged = spec.stage(stage, rng)
            check_staged(stage, staged, spec)
        except StagingFailed:
            continue
        return staged, rng
    raise RuntimeError(f"could not stage {spec.name} in {MAX_ATTEMPTS} draws (seed {seed})")


def _degrade(
    sample: Sample,
    truth: GroundTruth,
    model: BodyModel,
    params: BodyParams,
    rng: np.random.Generator,
    noise: str,
) -> None:
    """Fill the sample's perception inputs: the clean scene's, degraded by the noise level.

    `sample.depth` holds the clean depth on entry.
    """
    level = NOISE_LEVELS[noise]
    _noisy_masks(sample, truth, level, rng)
    sample.depth = noisy_depth(sample.depth, level, rng)
    sample.keypoints_2d = noisy_keypoints(truth.keypoints_2d, level, rng)
    sample.body_init = BodyInit(
        model.name, model.to_npz_dict(noisy_body_params(params, level, rng))
    )
    sample.contact = SampleContact(
        body_contact=noisy_contact(truth.body_contact, truth.body_vertices, level, rng),
        body_topology=model.name,
        object_contact=noisy_contact(truth.object_contact, truth.object_vertices, level, rng),
        pairs=noisy_pairs(truth.pairs, level, rng),
    )


def _noisy_masks(
    sample: Sample, truth: GroundTruth, level: NoiseLevel, rng: np.random.Generator
) -> None:
    """Set the sample's masks to the truth's, degraded by `level`, and their boxes."""
    person, obj = (noisy_mask(m, level, rng) for m in (truth.person_mask, truth.object_mask))
    sample.person_mask, sample.person_bbox = person, mask_bbox(person) if person.any() else None
    sample.object_mask, sample.object_bbox = obj, mask_bbox(obj) if obj.any() else None


def _photo_inputs(
    sample: Sample,
    truth: GroundTruth,
    noise_rng: np.random.Generator,
    photo_rng: np.random.Generator,
    noise: str,
    depth: str,
) -> dict:
    """Replace the sample's inputs by the photo protocol's (see the module docstring).

    `sample` holds the clean depth (with the floor's for "mono_floor"), the true camera and the
    rendered mesh on entry. The delivered mesh and the depth errors come from `photo_rng`, so
    they do not change with the noise level.

    Returns:
        The summary's description of the inputs; `truth.delivered_rotation` is set.
    """
    level = NOISE_LEVELS[noise]
    _noisy_masks(sample, truth, level, noise_rng)
    sample.keypoints_2d = noisy_keypoints(truth.keypoints_2d, level, noise_rng)
    mesh, frame, rotation, description = delivered_instance(truth.object_category, photo_rng)
    sample.object_mesh, sample.object_frame = mesh, frame
    truth.delivered_rotation = rotation
    sample.depth = None if depth == "none" else monocular_depth(sample.depth, photo_rng)
    width, height = sample.camera.width, sample.camera.height
    sample.camera = Camera.default(width, height)
    return {
        "protocol": "photo",
        "depth": depth,
        "true_fov_deg": float(np.degrees(2 * np.arctan(width / 2 / truth.K[0, 0]))),
        "assumed_fov_deg": DEFAULT_FOV_DEG,
        "delivered_object": description,
    }


def delivered_instance(
    category: str, rng: np.random.Generator
) -> tuple[ObjectMesh, ObjectFrame, np.ndarray, dict]:
    """Another instance of a category, in a file frame of its own (the photo protocol's mesh).

    The instance's builder arguments are drawn by `random_instance_kwargs`. Its canonical frame
    is the builders' (y up, metres, front +z); the file frame turns it a random quarter turn
    about the vertical, then so that up is a random axis, and scales it to `DELIVERED_UNITS`.

    Args:
        category: a procedural object category.
        rng: random generator.

    Returns:
        The mesh as `read_object_mesh` returns it (x_file = k * rotation @ x_canonical + c);
        its ObjectFrame; `rotation` (3, 3), canonical to file frame; and a JSON description.
    """
    kwargs = random_instance_kwargs(category, rng)
    vertices, faces = make_object_mesh(category, **kwargs)
    up = list(_UP_ROTATIONS)[rng.integers(len(_UP_ROTATIONS))]
    yaw = 90 * int(rng.integers(4))
    units = DELIVERED_UNITS[rng.integers(len(DELIVERED_UNITS))]
    cos, sin = round(np.cos(np.radians(yaw))), round(np.sin(np.radians(yaw)))
    rotation = _UP_ROTATIONS[up] @ np.array([[cos, 0, sin], [0, 1, 0], [-sin, 0, cos]])
    turned = vertices.astype(np.float64) @ rotation.T
    if units == "cm":
        turned *= 100.0
    else:
        low, high = turned.min(0), turned.max(0)
        turned = (turned - (low + high) / 2) / (high - low).max()
    description = {"builder_kwargs": kwargs, "up": up, "yaw_deg": yaw, "units": units}
    mesh = ObjectMesh(turned.astype(np.float32), faces, name=category)
    return mesh, ObjectFrame(up, units), rotation, description


def _floor_plane(view: View, floor_y: float) -> np.ndarray:
    """(4,) the floor in the camera frame: (n, d), n the unit up normal, n . x + d metres above."""
    normal = view.rotation @ np.array([0.0, 1.0, 0.0])
    point = view.to_camera(np.array([[0.0, floor_y, 0.0]]))[0]
    return np.append(normal, -normal @ point)


def _to_camera(staged: Staged, view: View):
    """The staged body's parameters and the object's placement in the camera frame.

    The body turns about its root joint and `transl` is the root's position, so moving the
    whole body into the camera frame changes only those two.
    """
    params = staged.body.params
    rotation = torch.as_tensor(view.rotation, dtype=params.transl.dtype)
    translation = torch.as_tensor(view.translation, dtype=params.transl.dtype)
    orient = rotation @ axis_angle_to_matrix(params.global_orient)
    camera_params = dataclasses.replace(
        params,
        global_orient=matrix_to_axis_angle(orient),
        transl=params.transl @ rotation.T + translation,
    )
    world = staged.placement
    placement = ObjectPlacement(
        view.rotation @ world.rotation, view.to_camera(world.translation[None])[0], world.scale
    )
    return camera_params, placement


def _body_colors(model: BodyModel, rng: np.random.Generator) -> np.ndarray:
    """(V, 3) per-vertex colours: skin, a shirt over trunk and arms, trousers over the legs."""
    skin = np.clip(_SKIN[rng.integers(len(_SKIN))] + rng.normal(0, 0.02, 3), 0, 1)
    colors = np.tile(skin, (model.num_vertices, 1))
    parts = {name: idx.cpu().numpy() for name, idx in model.parts.items()}
    for names, color in (
        (("torso", "back", "left_arm", "right_arm"), rng.uniform(0.1, 0.9, 3)),
        (("buttocks", "left_leg", "right_leg"), rng.uniform(0.1, 0.6, 3)),
        (("left_foot", "right_foot"), rng.uniform(0.05, 0.4, 3)),
    ):
        for part in names:
            colors[parts[part]] = color
    return colors


def _keypoints_2d(view: View, keypoints_3d: np.ndarray) -> np.ndarray:
    """(17, 3) float32 (u, v, confidence): 1 inside the image and in front, else 0."""
    in_front = keypoints_3d[:, 2] > 1e-3
    uv = view.project(np.where(in_front[:, None], keypoints_3d, 1.0))
    camera = view.camera
    inside = (
        in_front
        & (uv[:, 0] >= 0)
        & (uv[:, 0] <= camera.width - 1)
        & (uv[:, 1] >= 0)
        & (uv[:, 1] <= camera.height - 1)
    )
    return np.concatenate((uv, inside[:, None]), axis=1).astype(np.float32)


def contact_truth(
    body_vertices: np.ndarray,
    model: BodyModel,
    object_vertices: np.ndarray,
    object_faces: np.ndarray,
    placement: ObjectPlacement,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, ContactPairs, np.ndarray]:
    """True contact between a posed body and a posed object (see the module docstring).

    Args:
        body_vertices: (V, 3) posed body, camera frame.
        model: the body model (parts, topology name).
        object_vertices: (Vo, 3) object mesh, object frame.
        object_faces: (Fo, 3).
        placement: the object's pose, camera frame.
        rng: picks the paired vertices of parts with more than `PAIRS_PER_PART`.

    Returns:
        body_contact (V,) float32 in {0, 1}; object_contact (Vo,) float32 in {0, 1}; the pairs;
        and the signed distance (V,) of every body vertex to the object, metres.
    """
    object_vertices = np.asarray(object_vertices, dtype=np.float64)
    distance, face, nearest = closest_points(
        placement.invert(body_vertices), object_vertices, object_faces
    )
    distance = distance * placement.scale
    body_contact = distance <= CONTACT_DISTANCE
    gap = cKDTree(body_vertices).query(placement.apply(object_vertices))[0]
    object_contact = gap <= CONTACT_DISTANCE

    parts = {name: idx.cpu().numpy() for name, idx in model.parts.items()}
    chosen, names = [], []
    for part in PAIR_PARTS:
        touching = parts[part][body_contact[parts[part]]]
        if len(touching) > PAIRS_PER_PART:
            touching = np.sort(rng.choice(touching, PAIRS_PER_PART, replace=False))
        chosen.append(touching)
        names += [part] * len(touching)
    chosen = np.concatenate(chosen).astype(np.int64)
    triangles = object_vertices[object_faces[face[chosen]]]
    pairs = ContactPairs(
        body_vertex=chosen,
        object_face=face[chosen],
        object_bary=barycentric(nearest[chosen], triangles).astype(np.float32),
        part=names,
        body_topology=model.name,
    )
    return body_contact.astype(np.float32), object_contact.astype(np.float32), pairs, distance


def _summary(
    truth: GroundTruth,
    sample: Sample,
    seed: int,
    index: int,
    noise: str,
    distance: np.ndarray,
    inputs: dict,
) -> dict:
    """The human-readable ground_truth.json; `inputs` says what the fitting was given."""
    pose = ObjectPose.from_matrix(
        torch.as_tensor(truth.object_rotation)[None],
        torch.as_tensor(truth.object_translation)[None],
        truth.object_scale,
    )
    camera = sample.camera
    return {
        "about": "ground truth of a synthetic sample; the fitting never reads this file",
        "name": sample.name,
        "interaction": truth.interaction,
        "object_category": truth.object_category,
        "seed": seed,
        "index": index,
        "noise": dataclasses.asdict(NOISE_LEVELS[noise]),
        "inputs": inputs,
        "body_backend": truth.body_backend,
        "camera": {
            "K": truth.K.tolist(),
            "width": camera.width,
            "height": camera.height,
        },
        "object_pose": pose_to_json_dict(pose),
        "contact": {
            "distance_m": CONTACT_DISTANCE,
            "body_vertices": int(truth.body_contact.sum()),
            "object_vertices": int(truth.object_contact.sum()),
            "pairs_per_part": {
                part: truth.pairs.part.count(part) for part in dict.fromkeys(truth.pairs.part)
            },
            "closest_body_vertex_m": float(distance.min()),
        },
    }


def write_scene(folder: str | Path, scene: SyntheticScene) -> Path:
    """Write a scene as a sample folder with its ground truth.

    Under the photo protocol the folder gets no camera.json, so the pipeline guesses the
    intrinsics as it does for a photo.

    Returns:
        The folder.
    """
    folder = write_sample(folder, scene.sample)
    if scene.protocol == "photo":
        (folder / CAMERA_FILE).unlink()
    write_ground_truth(folder, scene.truth)
    return folder


def write_synthetic_samples(
    out: str | Path,
    count: int,
    seed: int = 0,
    noise: str = "low",
    image_size: tuple[int, int] = (256, 256),
    body_backend: str = "anny",
    model_dir: str | None = None,
    start: int = 0,
    log: Callable[[str], None] | None = None,
    protocol: str = "near_true",
    depth: str = "mono",
) -> list[Path]:
    """Generate and write `count` samples with indices start, start + 1, ...

    Args:
        out: the folder to write the sample folders into.
        count: how many.
        seed: the run's seed.
        noise: "none", "low" or "high".
        image_size: (H, W).
        body_backend: "anny", "smplx" or "smpl".
        model_dir: SMPL-X / SMPL model folder.
        start: index of the first sample.
        log: called with one line per written sample.
        protocol: "near_true" or "photo".
        depth: the photo protocol's depth, "mono" or "none".

    Returns:
        The sample folders.
    """
    model = build_body_model(body_backend, model_dir=model_dir)
    folders = []
    for index in range(start, start + count):
        scene = make_scene(
            index, seed, noise, image_size, body_model=model, protocol=protocol, depth=depth
        )
        folder = write_scene(Path(out) / scene.sample.name, scene)
        folders.append(folder)
        if log is not None:
            log(
                f"{folder}: {scene.truth.interaction}, "
                f"{int(scene.truth.body_contact.sum())} body contact vertices"
            )
    return folders
