"""From a sample folder's contents to the fitting's inputs: resampling, topology, the floor."""

import dataclasses
import logging

import numpy as np
import torch
import trimesh

from optim.config import FitConfig
from optim.floor import CAMERA_UP, back_project, body_up, estimate_floor, lies, pose_up
from optim.inputs import FitInputs
from optim.losses import inner_pixels
from optim.size_priors import is_ground_standing, typical_size
from reconstruction.body_models import BodyModel, BodyParams
from reconstruction.camera import Camera
from reconstruction.errors import HoifitError
from reconstruction.interaction_library import (
    LYING,
    SEATED,
    STANDING,
    contact_prior,
    is_support,
    object_contact_prior,
    pose_library,
    seat_front,
    support_length,
)
from reconstruction.rasterizer import render_depth
from reconstruction.resample import resample_depth, resample_map, scale_keypoints, working_camera
from reconstruction.sample_io import Sample, merge_body_contact_vertices
from reconstruction.sdf import compute_sdf_grid
from reconstruction.topology import nearest_vertex_map, transfer_indices, transfer_values

log = logging.getLogger(__name__)


def prepare_fit_inputs(
    sample: Sample,
    body_model: BodyModel,
    config: FitConfig,
    device: torch.device,
    seed: int = 0,
    category: str | None = None,
) -> FitInputs:
    """Everything the fitting needs from a sample, at the fitting resolution, on `device`.

    The object mesh is taken as it is in the sample (y-up metres once the pipeline has
    normalized it). The depth map is first scaled to agree with the initial body
    (`FitConfig.depth_to_body`). The floor is that of the initial body's feet, normal to the
    world's up of the interaction pose library's pose nearest to the body
    (`optim.floor.pose_up`), refined from the depth map outside the person and object masks
    where there is one (`optim.floor.estimate_floor`).

    Args:
        sample: the sample, complete.
        body_model: the body model in use.
        config: the fitting's configuration.
        device: where the tensors go.
        seed: seed of the object's surface samples.
        category: the object's category when known otherwise than from the folder's name (the
            user's `--object`); else `sample.object_category`.

    Raises:
        HoifitError: no object mesh, no body initialization, a body initialization or contact
            data of another body model that cannot be converted.
    """
    if sample.object_mesh is None:
        raise HoifitError(
            f"sample {sample.name} has no object mesh: add object.obj or pass --object-mesh PATH"
        )
    init = sample.body_init
    if init is None:
        raise HoifitError(
            f"sample {sample.name} has no body initialization: add body_init.npz or PICO's "
            "osx_human.npz to the folder"
        )
    if init.backend != body_model.name:
        raise HoifitError(
            f"sample {sample.name}'s body initialization ({init.source}) is for the "
            f"{init.backend} body model but body.backend is {body_model.name}: run with "
            f"--set body.backend={init.backend}"
        )
    dtype = torch.float32
    body_init = body_model.params_from_npz(init.params).to(device, dtype)
    with torch.no_grad():
        init_output = body_model(body_init)
    init_body = init_output.vertices[0]
    init_vertices = init_body.cpu().numpy()

    camera, scale = working_camera(sample.camera, config.resolution)
    size = (camera.height, camera.width)

    def mask(m):
        return None if m is None else resample_map(m, size, device)

    depth = None if sample.depth is None else resample_depth(sample.depth, size, device)
    keypoints = None
    if sample.keypoints_2d is not None:
        keypoints = scale_keypoints(sample.keypoints_2d, scale, device)

    person_mask, object_mask = mask(sample.person_mask), mask(sample.object_mask)
    depth_scale = 1.0
    if depth is not None and config.depth_to_body and person_mask is not None:
        depth_scale = _depth_scale_to_body(
            depth, init_body, body_model.faces, camera.K(device=device), person_mask
        )
        depth = depth * depth_scale

    category = category or sample.object_category
    own = None  # the object's own pixels, not the person's
    if depth is not None and object_mask is not None:
        own = object_mask > 0.5
        if person_mask is not None:
            own = own & ~(person_mask > 0.5)
        depth = _depth_within_reach(depth, own, category)

    exclude = None
    for m in (person_mask, object_mask):
        if m is not None:
            exclude = (m > 0) if exclude is None else exclude | (m > 0)
    root_up = body_up(body_init.to_matrices().global_orient[0])
    with torch.no_grad():
        library = pose_library(body_model)
        up = pose_up(init_body, body_model(library.params(body_model)).vertices)
    up = root_up if up is None else up
    lying = lies(root_up, up)
    floor = estimate_floor(
        init_body,
        up,
        body_model.parts.get("feet"),
        depth,
        camera.K(device=device, dtype=dtype),
        exclude,
        lying=lying,
    )
    log.info(
        "floor from the %s: normal %s, the camera %.2f m above it%s",
        floor.source,
        [round(float(x), 3) for x in floor.plane[:3]],
        float(floor.plane[3]),
        f" ({floor.inliers} depth points)" if floor.inliers else "",
    )

    mesh = sample.object_mesh
    surface = trimesh.Trimesh(mesh.vertices, mesh.faces, process=False)
    points, _ = trimesh.sample.sample_surface(surface, config.object_points, seed=seed)

    body_contact = object_contact = None
    pair_body = pair_face = pair_bary = None
    contact = sample.contact
    if contact is not None:
        if contact.body_contact is not None:
            body_contact = _to_topology(
                contact.body_contact,
                contact.body_topology,
                body_model,
                init,
                init_vertices,
                sample.name,
                values=True,
            )
        object_contact = contact.object_contact
        if contact.pairs is not None and len(contact.pairs):
            pair_body = _to_topology(
                contact.pairs.body_vertex,
                contact.pairs.body_topology,
                body_model,
                init,
                init_vertices,
                sample.name,
                values=False,
            )
            pair_face, pair_bary = contact.pairs.object_face, contact.pairs.object_bary
        if contact.unpaired is not None:
            # Body contact without an object point (a PICO human patch with no partner).
            unpaired = _to_topology(
                contact.unpaired.body_vertex,
                contact.unpaired.body_topology,
                body_model,
                init,
                init_vertices,
                sample.name,
                values=False,
            )
            body_contact = merge_body_contact_vertices(
                body_contact, unpaired, body_model.num_vertices
            )
    contact_is_prior = body_contact is None and pair_body is None and config.contact_prior
    front = None  # the way a seated body faces on its seat, object frame
    length = None  # the way a lying body lies on its support, object frame
    if contact_is_prior:
        # A support's prior depends on how the body rests on it.
        posture = LYING if lying else SEATED
        if is_support(category) and not lying:
            with torch.no_grad():
                keypoints_3d = body_model.coco17_keypoints(init_output)[0]
            if _standing(keypoints_3d, floor.plane[:3]):
                posture = STANDING
        body_contact, object_contact = _contact_prior(body_model, mesh.vertices, category, posture)
        if body_contact is not None:
            body_contact = _drop_limbs_away_from_object(body_contact, body_model, sample)
            if sample.depth is not None and sample.object_mask is not None:
                body_contact = _drop_limbs_far_in_depth(
                    body_contact, body_model, init_body, sample, depth_scale, category
                )
        contact_is_prior = body_contact is not None
        if contact_is_prior and posture == SEATED:
            front = seat_front(mesh.vertices, category)
        elif contact_is_prior and posture == LYING:
            length = support_length(mesh.vertices, category)
    elif pair_body is None and _seated(body_contact, body_model, config.contact_threshold):
        # Learned contact on the buttocks, without object points: as with the prior, the
        # seat's turn is left to the image, and a seated body faces the way the seat does.
        front = seat_front(mesh.vertices, category)

    touched = pair_body  # the body where it may touch the object: all of a prior's parts
    if body_contact is not None:
        threshold = 0.0 if contact_is_prior else config.contact_threshold
        touched = np.flatnonzero(np.asarray(body_contact) > threshold)
    if own is not None and touched is not None and len(touched):
        vertices = init_body[torch.as_tensor(touched, device=device)]
        depth = _depth_off_contact(depth, own, vertices, camera.K(device=device))

    def tensor(array, kind=dtype):
        return None if array is None else torch.as_tensor(np.asarray(array), device=device).to(kind)

    return FitInputs(
        body_model=body_model,
        body_init=body_init,
        K=camera.K(device=device, dtype=dtype),
        image_size=size,
        object_vertices=tensor(mesh.vertices),
        object_faces=tensor(mesh.faces, torch.long),
        object_points=tensor(points),
        sdf=compute_sdf_grid(mesh).to(device),
        person_mask=person_mask,
        object_mask=object_mask,
        depth=depth,
        keypoints_2d=keypoints,
        body_contact=tensor(body_contact),
        contact_is_prior=contact_is_prior,
        object_contact=tensor(object_contact),
        pair_body_vertex=tensor(pair_body, torch.long),
        pair_object_face=tensor(pair_face, torch.long),
        pair_object_bary=tensor(pair_bary),
        category=category,
        floor=floor.plane,
        ground_standing=is_ground_standing(category),
        seat_front=tensor(front),
        lying_length=tensor(length),
    )


def _contact_prior(
    body_model: BodyModel, object_vertices: np.ndarray, category: str | None, posture: str
):
    """The interaction library's contact for an object category, when nothing better is known.

    Returns:
        (V,) body and (Vo,) object contact probabilities; the body's is None when the library
        has nothing for the category, the object's when it has no region for it.
    """
    body = contact_prior(body_model, category, posture)
    if not body.any():
        return None, None
    log.info(
        "no contact map: using the %s contact prior of the interaction library%s",
        category,
        "" if posture == SEATED or not is_support(category) else f" for a {posture} person",
    )
    return body, object_contact_prior(np.asarray(object_vertices), category)


MIN_DEPTH_PIXELS = 50
"""Person pixels with depth needed to scale the depth map to the body."""
METRIC_DEPTH_TOLERANCE = 0.05
"""A depth map whose scale is within this fraction of the body's is kept as it is: it is then
as good as the body's own placement (a given body 3 cm off at 3 m is 1% off), and the fit's
depth terms should correct the body by it, not the reverse (scaling the near-true protocol's
maps, 3% scale error, to its noisy bodies took the body error from 3.1 to 3.9 cm)."""


def body_depth_ratio(
    depth: torch.Tensor,
    body_vertices: torch.Tensor,
    faces: torch.Tensor,
    K: torch.Tensor,
    person_mask: torch.Tensor,
) -> float | None:
    """How much farther the body's rendered depth is than the depth map's, over the person.

    The median ratio over the person mask shrunk by a pixel (a monocular map blurs its edges
    into the background). Only a ratio: over a person's few tens of centimetres of depth a
    fitted shift is ill-determined (least squares gave scales of 0.2 to 1.2 on the photo
    protocol's scenes, flattening the map), while the ratio is stable.

    Args:
        depth: (H, W) metres, 0 where unknown.
        body_vertices: (V, 3) the body, camera frame.
        faces: (F, 3) the body's faces.
        K: (3, 3) intrinsics of the depth map's pixels.
        person_mask: (H, W) float in [0, 1].

    Returns:
        The ratio, or None when fewer than `MIN_DEPTH_PIXELS` pixels compare.
    """
    with torch.no_grad():
        rendered = render_depth(body_vertices[None], faces, K.to(body_vertices), depth.shape)[0]
        inner = inner_pixels(person_mask > 0.5)
        compared = inner & (depth > 0) & (rendered > 0)
        if int(compared.sum()) < MIN_DEPTH_PIXELS:
            return None
        return float((rendered[compared] / depth[compared]).median())


def _depth_scale_to_body(
    depth: torch.Tensor,
    body_vertices: torch.Tensor,
    faces: torch.Tensor,
    K: torch.Tensor,
    person_mask: torch.Tensor,
) -> float:
    """The factor that scales the depth map to agree with the body's own depth.

    `body_depth_ratio`, or 1 when too few pixels compare or the ratio is within
    `METRIC_DEPTH_TOLERANCE` of 1. The scaled map leaves the object's depth relative to the body
    right up to the map's shift over its distance. Arguments as for `body_depth_ratio`.
    """
    scale = body_depth_ratio(depth, body_vertices, faces, K, person_mask)
    if scale is None or abs(scale - 1) <= METRIC_DEPTH_TOLERANCE:
        return 1.0
    log.info("depth: scaled by %.3f to agree with the body", scale)
    return scale


FOCAL_SCALE_RANGE = (0.5, 2.0)
"""A focal length estimated from the depth map is used only within this factor of the guess
(fields of view of about 29 to 92 degrees for the default 55): beyond, the map is more likely
wrong than the guess."""


def focal_from_depth(
    sample: Sample, body_model: BodyModel, params: BodyParams, resolution: int
) -> tuple[Camera, BodyParams] | None:
    """The focal length at which a body fitted with a guessed one stands at the map's depth.

    With the focal length guessed, the body's distance comes from its size in the image: a
    focal length k times too long puts the body, and everything placed relative to it, k
    times too far. The depth map's own scale tells the distance instead. The body is moved
    along the camera's z to the map's distance (`body_depth_ratio`: its x and y stay, so the
    body projects where it did) and the focal length scaled by the same factor (so it keeps
    its size in the image).

    Args:
        sample: the sample, with its depth map, person mask and guessed camera.
        body_model: the body model.
        params: the body initialization, fitted with `sample.camera`.
        resolution: the longer side, in pixels, at which the body and the map are compared.

    Returns:
        The camera and the moved body, or None when too few pixels compare or the factor is
        outside `FOCAL_SCALE_RANGE`.
    """
    camera, _ = working_camera(sample.camera, resolution)
    size = (camera.height, camera.width)
    device = params.transl.device
    with torch.no_grad():
        output = body_model(params)
    ratio = body_depth_ratio(
        resample_depth(sample.depth, size, device),
        output.vertices[0],
        body_model.faces,
        camera.K(device=device),
        resample_map(sample.person_mask, size, device),
    )
    if ratio is None:
        return None
    factor = 1 / ratio
    if not FOCAL_SCALE_RANGE[0] <= factor <= FOCAL_SCALE_RANGE[1]:
        log.warning(
            "focal length: the depth map puts the body %.2f times as far as its size does; "
            "kept the guess",
            factor,
        )
        return None
    centre_z = output.vertices[0, :, 2].mean()
    moved = dataclasses.replace(params, transl=params.transl.clone())
    moved.transl[:, 2] += (factor - 1) * centre_z
    old = sample.camera
    estimated = Camera(old.fx * factor, old.fy * factor, old.cx, old.cy, old.width, old.height)
    return estimated, moved


def _seated(body_contact: np.ndarray | None, body_model: BodyModel, threshold: float) -> bool:
    """Whether a body's contact puts its buttocks on something (a seat, when the object is one)."""
    buttocks = body_model.parts.get("buttocks")
    if body_contact is None or buttocks is None or len(buttocks) == 0:
        return False
    return bool((np.asarray(body_contact)[buttocks.cpu().numpy()] > threshold).any())


UPRIGHT_THIGH_DEG = 35.0
"""A body whose thighs both lie within this angle of the floor's normal stands (a seated body's
are about level, 90 degrees off)."""
UPRIGHT_FLOOR_DEG = 50.0
"""A floor whose normal is farther than this from the camera's up is not trusted to tell
standing from lying: the floor from a lying body's feet is a wall, and its thighs are along
that wall's normal."""


def _standing(keypoints: torch.Tensor, floor_normal: torch.Tensor) -> bool:
    """Whether a body stands: both thighs near the normal of a level floor.

    Args:
        keypoints: (17, 3) the body's COCO-17 keypoints, camera frame.
        floor_normal: (3,) the floor's unit normal, pointing up.
    """
    normal = floor_normal.to(keypoints)
    camera_up = keypoints.new_tensor(CAMERA_UP)
    if float(normal @ camera_up) < np.cos(np.radians(UPRIGHT_FLOOR_DEG)):
        return False
    thighs = keypoints[[13, 14]] - keypoints[[11, 12]]  # hip -> knee, left and right
    cosine = (thighs @ normal).abs() / thighs.norm(dim=-1).clamp_min(1e-9)
    return bool((cosine > np.cos(np.radians(UPRIGHT_THIGH_DEG))).all())


LIMB_KEYPOINTS = {
    "hand": ({"left": 9, "right": 10}, ("hand", "arm")),
    "foot": ({"left": 15, "right": 16}, ("foot", "leg")),
}
"""Limb -> COCO-17 keypoint of each side (wrist, ankle), and the body parts of that side it
stands for."""
NEAR_OBJECT, FAR_FROM_OBJECT = 0.16, 0.25
"""A wrist or ankle at most NEAR_OBJECT from the object mask, as a fraction of the person's
height in pixels, is near the object (a hand is about 0.11 of the height: the wrist of a hand
around a cup is that far from it); one at least FAR_FROM_OBJECT away is away from it."""
MIN_KEYPOINT_CONFIDENCE = 0.3
"""Keypoints below this confidence are not seen."""


def _drop_limbs_away_from_object(prior: np.ndarray, body_model: BodyModel, sample: Sample):
    """The prior lists both hands (and feet): the photo decides which touch the object.

    A wrist (ankle) is near the object mask, away from it, or neither (see `NEAR_OBJECT`). A side
    that is away leaves the prior, its hand and arm (foot and leg), when something else is near:
    the other side of the same limb (one hand holds the cup), or the other limb (a ball at the
    feet is kicked, not held). With no keypoints or mask, or when the photo does not tell them
    apart, the prior stays.
    """
    keypoints, mask = sample.keypoints_2d, sample.object_mask
    if keypoints is None or mask is None or not np.asarray(mask).any():
        return prior
    keypoints = np.asarray(keypoints, dtype=np.float64)
    seen = keypoints[:, 2] > MIN_KEYPOINT_CONFIDENCE
    height = np.ptp(keypoints[seen, 1]) if seen.sum() >= 2 else 0.0
    if height <= 0:
        return prior
    mask = np.asarray(mask, dtype=bool)
    # Distances from the few keypoints to the mask's pixels, not a distance map of the whole
    # photo (0.4 s at 2048x1536 for four values).
    object_pixels = np.argwhere(mask)  # (N, 2) row, col
    rows, cols = mask.shape
    near, far = set(), set()  # (limb, side)
    for limb, (sides, _) in LIMB_KEYPOINTS.items():
        for side, index in sides.items():
            if not seen[index]:
                continue
            u, v = keypoints[index, :2]
            row, col = int(np.clip(round(v), 0, rows - 1)), int(np.clip(round(u), 0, cols - 1))
            gap = np.sqrt(((object_pixels - (row, col)) ** 2).sum(1).min()) / height
            if gap <= NEAR_OBJECT:
                near.add((limb, side))
            elif gap >= FAR_FROM_OBJECT:
                far.add((limb, side))
    prior = prior.copy()
    for limb, side in sorted(far):
        if not near:
            break
        vertices = _limb_vertices(body_model, limb, side)
        # Only where something of the prior stays on: a cup's prior has no feet to keep.
        rest = prior.copy()
        rest[vertices] = 0.0
        if prior[vertices].any() and rest.any():
            prior = rest
            log.info("contact prior: the %s %s is away from the object", side, limb)
    return prior


def _limb_vertices(body_model: BodyModel, limb: str, side: str) -> np.ndarray:
    """Vertex indices of one side's hand and arm, or foot and leg (`LIMB_KEYPOINTS`)."""
    parts = [body_model.parts.get(f"{side}_{part}") for part in LIMB_KEYPOINTS[limb][1]]
    return np.concatenate([p.cpu().numpy() for p in parts if p is not None])


NEAR_QUANTILE = 0.1
"""The quantile of an object's depth readings taken as its nearest surface (`near_surface`): not
the minimum, which a map's noise and a person's blurred-in edge pull nearer."""


def near_surface(z: torch.Tensor, size: float) -> torch.Tensor:
    """Which of an object's depth readings can be its surface: at most `size` beyond its nearest.

    A monocular map blurs a small or thin object's depth towards what lies behind it, which can
    be metres farther (the floor behind a held bottle): on the photo protocol's maps that cover
    the floor, a bottle 1.6 m away read 4.8 m in its mask's median. The object's visible surface
    spans at most its size in depth, from its nearest reading (`NEAR_QUANTILE`) on.

    Args:
        z: (N,) the depth readings inside the object's mask, all known.
        size: the object's largest extent, metres (the category's typical size).

    Returns:
        (N,) bool.
    """
    return z <= torch.quantile(z, NEAR_QUANTILE) + size


MIN_NEAR_FRACTION = 0.25
"""An object with fewer of its depth readings than this within its reach (`near_surface`) is not
resolved by the map: its depth is left out (`_depth_within_reach`). At the fitting's
resolution, on the photo protocol, a bottle blurred into the floor 3 m behind it kept 0.16 of
its readings, while a ball at the feet kept 0.51 and its nearest readings were its depth
within 1 cm."""


NEAR_IN_DEPTH, FAR_IN_DEPTH = 0.25, 0.3
"""Metres from a hand (foot) of the initial body to the object's surface as the depth map shows
it: at most NEAR_IN_DEPTH it may touch the object, at least FAR_IN_DEPTH it does not. A
monocular map blurs a small object's depth towards what lies behind it: on the photo protocol
the hand holding a cup was 0.18 m from the cup's surface so read, the other hand, hanging behind
the back but beside the cup in the image, 0.32 m; the hand on a small box 0 m, the other 0.39 m;
hands on a box, a ball or a table held or leant on with both were within 0.07 m."""
MIN_OBJECT_DEPTH_PIXELS = 10
"""Object pixels with depth, one in from the mask's edge, needed to place the object."""
MAX_OBJECT_DEPTH_POINTS = 4096
"""The object's surface is that many of those pixels at most, evenly spaced."""


def _drop_limbs_far_in_depth(
    prior: np.ndarray,
    body_model: BodyModel,
    body_vertices: torch.Tensor,
    sample: Sample,
    depth_scale: float,
    category: str | None,
) -> np.ndarray:
    """`_drop_limbs_away_from_object` in depth: which hand (foot) reaches the object in 3D.

    In the image both wrists can lie by a cup held in front of the belly while one arm hangs
    behind the back. The depth map places the object's visible surface: its pixels one in from
    the mask's edge, read at the photo's resolution (at the fitting's, a small object has
    none), and only those that can be its surface (`near_surface`: a cup held in front of the
    belly read the holding hand's depth at its nearest, and 0.24 m more at its median). A side
    of the prior whose hand (foot) on the initial body is at least `FAR_IN_DEPTH` from that
    surface leaves the prior, hand and arm (foot and leg), when another is within
    `NEAR_IN_DEPTH`; where the map blurred the object through, no hand is that near and the
    prior is kept.

    Args:
        prior: (V,) body contact prior.
        body_model: the body model (its `parts`).
        body_vertices: (V, 3) the initial body, camera frame.
        sample: the sample, with its depth map, object mask and camera.
        depth_scale: the factor that makes the map agree with the body
            (`_depth_scale_to_body`).
        category: the object's category (`optim.size_priors.typical_size`).
    """
    device = body_vertices.device
    mask = np.asarray(sample.object_mask) > 0.5
    depth = np.asarray(sample.depth)
    if depth.shape != mask.shape:
        depth = resample_depth(depth, mask.shape).numpy()
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    if len(rows) == 0:
        return prior
    # Only the mask's box (and a pixel round it, for the erosion): a photo has millions.
    top, left = max(rows[0] - 1, 0), max(cols[0] - 1, 0)
    box = np.s_[top : rows[-1] + 2, left : cols[-1] + 2]
    depth = torch.as_tensor(depth[box], dtype=torch.float32, device=device) * depth_scale
    inner = inner_pixels(torch.as_tensor(mask[box], device=device))
    seen = torch.nonzero(inner & (depth > 0))  # (N, 2) row, col in the box
    if len(seen) < MIN_OBJECT_DEPTH_PIXELS:
        return prior
    seen = seen[near_surface(depth[seen[:, 0], seen[:, 1]], typical_size(category)[0])]
    seen = seen[:: -(-len(seen) // MAX_OBJECT_DEPTH_POINTS)]
    K = sample.camera.K(device=device)
    K[0, 2], K[1, 2] = K[0, 2] - left, K[1, 2] - top  # the box's pixels
    surface = back_project(depth, K)[seen[:, 0], seen[:, 1]]  # (N, 3)
    distance = {}
    for limb, (sides, parts) in LIMB_KEYPOINTS.items():
        for side in sides:
            vertices = body_model.parts.get(f"{side}_{parts[0]}")
            if vertices is not None and prior[vertices.cpu().numpy()].any():
                points = body_vertices[vertices].to(surface)
                distance[limb, side] = float(torch.cdist(points, surface).min())
    if not any(gap <= NEAR_IN_DEPTH for gap in distance.values()):
        return prior
    prior = prior.copy()
    for (limb, side), gap in sorted(distance.items()):
        if gap >= FAR_IN_DEPTH:
            prior[_limb_vertices(body_model, limb, side)] = 0.0
            log.info("contact prior: the %s %s is %.2f m from the object in depth", side, limb, gap)
    return prior


def _depth_within_reach(
    depth: torch.Tensor, own: torch.Tensor, category: str | None
) -> torch.Tensor:
    """The depth map, unknown (0) where the object's pixels read beyond `near_surface`.

    Where nearly all of them do (`MIN_NEAR_FRACTION`), the map blurred the object through, its
    nearest readings included (a bottle 2.1 m away read 3.2 m at its nearest at the fitting's
    resolution), and all of its pixels are made unknown: the contact places it instead.

    Args:
        depth: (H, W) metres, 0 where unknown.
        own: (H, W) bool, the object's pixels (not the person's).
        category: the object's category (`optim.size_priors.typical_size`).
    """
    inside = own & (depth > 0)
    if not inside.any():
        return depth
    near = near_surface(depth[inside], typical_size(category)[0])
    if float(near.float().mean()) < MIN_NEAR_FRACTION:
        log.info("depth: the object's depth reads beyond its reach (blurred through); left out")
        return depth.masked_fill(own, 0)
    far = inside.clone()
    far[inside] = ~near
    return depth.masked_fill(far, 0)


OBJECT_DEPTH_REACH = 0.3
"""Metres: the object's surface read from the depth map must come this near one of the body's
contact vertices, or the object's depth is not used (`_depth_off_contact`)."""


def _depth_off_contact(
    depth: torch.Tensor, object_mask: torch.Tensor, touched: torch.Tensor, K: torch.Tensor
) -> torch.Tensor:
    """The depth map, unknown over the object where its surface is out of the body's reach.

    The body touches the object where its contact is. Where no contact vertex of the initial
    body comes within `OBJECT_DEPTH_REACH` of the object's surface as the map reads it, the
    object's depth is what the map blurred into a thin object from behind (a bat 3.5 m away
    read 5.3 m at its nearest): the object is then placed by the contact, not the map.

    Args:
        depth: (H, W) metres, 0 where unknown.
        object_mask: (H, W) bool.
        touched: (N, 3) the initial body's contact vertices, camera frame.
        K: (3, 3) intrinsics of the depth map's pixels.
    """
    seen = object_mask & (depth > 0)
    if not seen.any():
        return depth
    surface = back_project(depth, K.to(depth))[seen]
    gap = float(torch.cdist(touched.to(surface), surface).min())
    if gap <= OBJECT_DEPTH_REACH:
        return depth
    log.info("depth: the object reads %.2f m from the body's contact; its depth is left out", gap)
    return depth.masked_fill(object_mask, 0)


def _to_topology(data, topology, body_model, init, init_vertices, name, values: bool):
    """Contact data on `topology` -> the body model's topology.

    Conversion needs the body in the initialization's pose on both topologies; PICO provides the
    SMPL one (`smpl_vertices` in osx_human.npz).
    """
    topology = topology or "smpl"
    if topology == body_model.name:
        return data
    if topology == "smpl" and init.smpl_vertices is not None:
        source = np.asarray(init.smpl_vertices, dtype=np.float64)
        if values:
            return transfer_values(data, source, init_vertices)
        return transfer_indices(data, nearest_vertex_map(source, init_vertices))
    raise HoifitError(
        f"sample {name}'s contact is on the {topology} mesh but body.backend is "
        f"{body_model.name}, and the folder gives no {topology} mesh of the body to convert "
        f"with: run with --set body.backend={topology}"
    )
