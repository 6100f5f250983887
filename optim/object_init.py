"""Object initialization: where the object starts, in a batch of rotation hypotheses.

The object's centre goes to the object mask's centroid at a depth read from the depth map inside
the mask, or, without one, at the depth of the body's contact vertices (as InteractVLM does). Its
scale comes from the mask's extent at that depth, kept within the category's size prior and, for
furniture of a standard height, weighed with that height (`size_priors.HEIGHTS`). Then each
rotation hypothesis is rigidly aligned (ICP with fixed scale, batched over hypotheses) so the
object's contact points meet the body's; and, unless the contact pairs body and object points,
each is also moved where the mask (and the depth map) show the object (`centre_on_mask`). All
are scored at once by how well their hard silhouette matches the object mask, how near the body's
contact is, and how well their relief matches the depth map's; the best few that differ modulo
the category's symmetry are kept.

A ground-standing object (`FitInputs.ground_standing`, with a floor) only turns about the floor's
normal: its hypotheses stand upright, its alignment to the contact turns it about that normal
alone, and each hypothesis is moved along the normal until it rests on the floor.
"""

import math

import torch
from torch import Tensor

from optim.config import ObjectInitConfig
from optim.floor import CAMERA_UP
from optim.inputs import FitInputs
from optim.losses import inner_pixels, mask_centroid, occlusion_valid_mask
from optim.size_priors import typical_height, typical_size
from reconstruction.interaction_library import canonical_category
from reconstruction.object_model import ObjectPose
from reconstruction.rasterizer import rasterize
from reconstruction.rotations import axis_angle_to_matrix, kabsch, matrix_to_rotation_6d
from reconstruction.symmetry import CATEGORY_SYMMETRY, HALF_TURN, pairwise_cosines

MODEL_TO_CAMERA = torch.diag(torch.tensor([1.0, -1.0, -1.0]))
"""An object modelled y-up stands upright in the OpenCV camera frame (y down) after this turn."""

UPRIGHT_PREFERENCE = 0.05
"""Score added to a free object's hypothesis per unit of cosine between its up axis and the
world's up (so 0.1 between upright and upside down): a tie-breaker against silhouette IoU and
contact fit, which differ by more than that between poses that do not fit alike."""


FACING_PREFERENCE = 0.1
"""Score added per unit of cosine between a seat's front (`FitInputs.seat_front`) and the seated
body's forward, both level (so 0.2 between facing the body's way and facing against it): more
than the silhouette IoU of another instance of the category tells a chair seen from the front
from one turned (on the full-size photo-protocol chair, a pose turned 120 degrees from the truth
scored 0.04 above it)."""

MIN_LEVEL_FACING = 0.7
"""The body's facing (or, lying, its axis) counts for `FACING_PREFERENCE` only when its level part
is this long (within about 45 degrees of the level)."""


def body_axis(keypoints: Tensor) -> Tensor:
    """The way a body extends: from its hips' midpoint to its shoulders'.

    Args:
        keypoints: (17, 3) COCO-17 keypoints, camera frame.

    Returns:
        (3,) unit vector, camera frame.
    """
    axis = (keypoints[5] + keypoints[6] - keypoints[11] - keypoints[12]) / 2
    return axis / axis.norm().clamp_min(1e-9)


def body_forward(keypoints: Tensor) -> Tensor:
    """The way a body faces: its left hip to right hip, crossed with its up (hips to shoulders).

    For a y-up body facing +z, the left hip lies at +x, and (+x) x (+y) = +z.

    Args:
        keypoints: (17, 3) COCO-17 keypoints, camera frame.

    Returns:
        (3,) unit vector, camera frame.
    """
    across = keypoints[11] - keypoints[12]  # right hip -> left hip
    forward = torch.linalg.cross(across, body_axis(keypoints))
    return forward / forward.norm().clamp_min(1e-9)


def _level(vectors: Tensor, up: Tensor) -> Tensor:
    """Vectors (..., 3) less their part along the unit vertical `up`."""
    return vectors - (vectors @ up)[..., None] * up


def _level_cosine(directions: Tensor, reference: Tensor, up: Tensor) -> Tensor:
    """Cosine of the angle between directions and a reference, both projected onto the level.

    Args:
        directions: (K, 3).
        reference: (3,).
        up: (3,) unit vertical.

    Returns:
        (K,) cosines; 0 where either projection vanishes.
    """
    level, ref = _level(directions, up), _level(reference, up)
    norms = level.norm(dim=-1) * ref.norm()
    return torch.where(norms > 1e-9, (level @ ref) / norms.clamp_min(1e-9), torch.zeros_like(norms))


def _turn_preference(
    rotations: Tensor, direction: Tensor, body: Tensor, up: Tensor, either_way: bool
) -> Tensor:
    """`FACING_PREFERENCE` times the level cosine between an object direction and the body's.

    Args:
        rotations: (K, 3, 3) object rotations.
        direction: (3,) object frame (a seat's front, a support's length).
        body: (3,) unit, camera frame (the body's facing or axis); 0 for all hypotheses when its
            level part is shorter than `MIN_LEVEL_FACING`.
        up: (3,) unit vertical, camera frame.
        either_way: the cosine's absolute value (a bench sat on from either side, a support lain
            on either way).

    Returns:
        (K,) score added to each hypothesis.
    """
    body = body.to(rotations)
    if _level(body, up).norm() <= MIN_LEVEL_FACING:
        return rotations.new_zeros(len(rotations))
    cosine = _level_cosine(rotations @ direction.to(rotations), body, up)
    return FACING_PREFERENCE * (cosine.abs() if either_way else cosine)


def rotation_hypotheses(
    count: int, upright_fraction: float, generator: torch.Generator, dtype=torch.float32
) -> Tensor:
    """Rotation hypotheses for an object modelled y-up.

    Args:
        count: number of hypotheses.
        upright_fraction: share standing upright, evenly spaced turns about the vertical.
        generator: random source for the rest (uniform random rotations).
        dtype: floating dtype of the result.

    Returns:
        (count, 3, 3) rotation matrices, object frame to camera frame.
    """
    upright = max(1, round(count * upright_fraction)) if count else 0
    yaw = torch.arange(upright, dtype=dtype) * (2 * math.pi / max(upright, 1))
    turns = torch.zeros(upright, 3, dtype=dtype)
    turns[:, 1] = yaw
    standing = MODEL_TO_CAMERA.to(dtype) @ axis_angle_to_matrix(turns)
    # Uniform rotations: normalized Gaussian quaternions.
    q = torch.randn(count - upright, 4, generator=generator, dtype=dtype)
    q = q / q.norm(dim=-1, keepdim=True)
    w, x, y, z = q.unbind(-1)
    random = torch.stack(
        (
            1 - 2 * (y * y + z * z),
            2 * (x * y - z * w),
            2 * (x * z + y * w),
            2 * (x * y + z * w),
            1 - 2 * (x * x + z * z),
            2 * (y * z - x * w),
            2 * (x * z - y * w),
            2 * (y * z + x * w),
            1 - 2 * (x * x + y * y),
        ),
        dim=-1,
    ).reshape(-1, 3, 3)
    return torch.cat((standing, random))


def upright_rotations(count: int, normal: Tensor) -> Tensor:
    """Evenly spaced turns about a floor's normal of an object modelled y-up, standing upright.

    Args:
        count: number of turns.
        normal: (3,) unit floor normal pointing up, camera frame.

    Returns:
        (count, 3, 3) rotations, object frame to camera frame, each taking the object's +y to
        `normal`.
    """
    dtype = normal.dtype
    yaw = torch.arange(count, dtype=dtype) * (2 * math.pi / max(count, 1))
    turns = torch.zeros(count, 3, dtype=dtype)
    turns[:, 1] = yaw
    standing = MODEL_TO_CAMERA.to(dtype) @ axis_angle_to_matrix(turns)  # +y to camera -y
    level = torch.tensor([0.0, -1.0, 0.0], dtype=dtype)
    axis = torch.linalg.cross(level, normal.cpu())
    # Angle by atan2, not acos: exact for a level floor; (1, 0, 0) for an upside-down camera.
    angle = torch.atan2(axis.norm(), level @ normal.cpu())
    axis = axis / axis.norm() if axis.norm() > 1e-9 else torch.tensor([1.0, 0.0, 0.0], dtype=dtype)
    return (axis_angle_to_matrix(axis * angle) @ standing).to(normal.device)


def rest_on_floor(rotations: Tensor, translations: Tensor, points: Tensor, floor: Tensor) -> Tensor:
    """Translations moved along the floor's normal so each pose's lowest point is on the floor.

    Args:
        rotations: (K, 3, 3) object rotations.
        translations: (K, 3) camera frame, metres.
        points: (N, 3) object-frame points at the object's scale (scale * vertices).
        floor: (4,) plane (n, d), n unit pointing up (`optim.floor`).

    Returns:
        (K, 3) translations.
    """
    normal, offset = floor[:3], floor[3]
    if torch.isnan(offset):  # a floor of unknown height: nothing to rest on
        return translations
    lowest = (points @ rotations.transpose(1, 2) @ normal).min(1).values  # (K,)
    height = lowest + translations @ normal + offset  # (K,) of the lowest point
    return translations - height[:, None] * normal


def yaw_alignment(source: Tensor, target: Tensor, weights: Tensor, axis: Tensor) -> Tensor:
    """Best rotations about one axis taking centred `source` onto centred `target` (batched).

    The 1-DoF Kabsch: the angle is atan2(sum w a . (s x t), sum w s_perp . t_perp) with s_perp,
    t_perp the parts perpendicular to the axis a.

    Args:
        source: (K, P, 3) centred points.
        target: (K, P, 3) centred points.
        weights: (P,) non-negative.
        axis: (3,) unit rotation axis.

    Returns:
        (K, 3, 3) rotations about `axis` minimizing sum_p w_p |R s_p - t_p|^2.
    """
    w = weights[None, :, None]
    sin = (w * torch.linalg.cross(source, target, dim=-1)).sum(1) @ axis  # (K,)
    source_perp = source - (source @ axis)[..., None] * axis
    target_perp = target - (target @ axis)[..., None] * axis
    cos = (w * source_perp * target_perp).sum((1, 2))  # (K,)
    return axis_angle_to_matrix(axis * torch.atan2(sin, cos)[:, None])


MIN_RELIEF_PIXELS = 20
"""Pixels a hypothesis must share with the depth map inside the object mask for its relief to
be compared; one that shares fewer is scored as a flat object would be."""


def relief_error(rendered: Tensor, depth: Tensor, seen: Tensor) -> Tensor:
    """How far each hypothesis' relief departs from the depth map's, inside the object mask.

    The relief is the depth less its median over the compared pixels: a monocular map's scale
    and shift errors barely change it, while it tells apart poses that cast the same silhouette
    (a box turned one way or the mirror way, a chair facing the camera or away from it). Pixels
    one step from the mask's edge are left out (a monocular map blurs its edges into the
    background).

    Args:
        rendered: (K, H, W) each hypothesis' depth, 0 where it does not cover the pixel.
        depth: (H, W) the depth map, 0 where unknown.
        seen: (H, W) bool, object pixels not hidden by the person.

    Returns:
        (K,) mean absolute difference of the reliefs, metres; for a hypothesis sharing fewer
        than `MIN_RELIEF_PIXELS` pixels, the map's own mean absolute relief (a flat object's),
        or 0 for all when the map has fewer than that inside the mask.
    """
    known = inner_pixels(seen) & (depth > 0)
    nan = torch.tensor(float("nan"), dtype=rendered.dtype, device=rendered.device)
    flat = rendered.new_zeros(())
    if int(known.sum()) >= MIN_RELIEF_PIXELS:
        observed = depth[known].to(rendered)
        flat = (observed - observed.median()).abs().mean()
    compared = known[None] & (rendered > 0)
    ours = torch.where(compared, rendered, nan).flatten(1)
    theirs = torch.where(compared, depth[None].to(rendered), nan).flatten(1)
    ours = ours - ours.nanmedian(1, keepdim=True).values
    theirs = theirs - theirs.nanmedian(1, keepdim=True).values
    error = (ours - theirs).abs().nanmean(1)
    enough = compared.flatten(1).sum(1) >= MIN_RELIEF_PIXELS
    return torch.where(enough, error, flat)


MIN_CENTRING_PIXELS = 10
"""Visible pixels a hypothesis must show (outside the person) to be moved onto the mask; one
showing fewer keeps its translation."""
CENTRING_STEPS = 2
"""Linearized centring steps (`centre_on_mask`): the second corrects the first's perspective and,
where the person hides part of the object, part of its shortfall (a moved hypothesis hides
differently). A third, or keeping the best-overlapping of the positions tried, changed which
hypothesis won on several photo-protocol scenes without a better median (rotation 26.5 and
14.2 deg, object relative to the body 16.2 and 20.3 cm, against 14.2 deg and 17.4 cm)."""


def centre_on_mask(
    rotations: Tensor,
    translations: Tensor,
    points: Tensor,
    faces: Tensor,
    K: Tensor,
    target: Tensor,
    hidden: Tensor | None = None,
    depth: Tensor | None = None,
    floor: Tensor | None = None,
    steps: int = CENTRING_STEPS,
) -> Tensor:
    """Translations that put each hypothesis where the mask (and the depth map) show the object.

    Each hypothesis is moved so the centroid of its silhouette's visible part (outside the person)
    lands on the visible mask's centroid and, with a depth map, so its median rendered depth there
    matches the map's: a least-squares step in metres (pixel offsets times depth over focal
    length). An object on a floor moves along the floor only; without depth, an object keeps its
    distance (one on a floor moves only across the view, along the floor). Then the silhouette
    IoU scores the rotation, not where contact alone put the object (a hand touches a table's
    edge, not its middle).

    Args:
        rotations: (K, 3, 3) object rotations.
        translations: (K, 3) camera frame, metres.
        points: (V, 3) object-frame vertices at the object's scale.
        faces: (F, 3) the object's faces.
        K: (3, 3) intrinsics of the masks.
        target: (H, W) bool object mask.
        hidden: (H, W) bool pixels the person covers, or None.
        depth: (H, W) depth map, 0 where unknown, or None.
        floor: (4,) floor plane for a ground-standing object, or None.
        steps: linearized steps.

    Returns:
        (K, 3) translations.
    """
    seen = target if hidden is None else target & ~hidden
    if int(seen.sum()) < MIN_CENTRING_PIXELS:
        return translations
    goal, _ = mask_centroid(seen.to(points))
    # Depth is compared one pixel in from the mask's edge (a monocular map blurs the background
    # into thin parts and edges), where the hypothesis covers it too.
    known = None
    if depth is not None:
        known = inner_pixels(seen) & (depth > 0)
        known = known if int(known.sum()) >= MIN_RELIEF_PIXELS else None
    if floor is not None:  # along the floor: two directions perpendicular to its normal
        normal = floor[:3].to(points)
        first = torch.linalg.cross(normal, normal.new_tensor([0.0, 0.0, 1.0]))
        if first.norm() < 1e-6:
            first = torch.linalg.cross(normal, normal.new_tensor([1.0, 0.0, 0.0]))
        first = first / first.norm()
        basis = torch.stack((first, torch.linalg.cross(normal, first)), 1)  # (3, 2)
        if known is None:
            # Without depth, only across the view: how far along the floor the object stands
            # would follow from the floor's height under it, which the feet give too roughly.
            basis = basis[:, :1]
    elif known is not None:
        basis = torch.eye(3, dtype=points.dtype, device=points.device)
    else:  # in the image plane, at the same distance
        basis = torch.eye(3, dtype=points.dtype, device=points.device)[:, :2]
    focal = (K[0, 0] + K[1, 1]) / 2
    for _ in range(steps):
        posed = points[None] @ rotations.transpose(1, 2) + translations[:, None]
        fragments = rasterize(posed, faces, K, tuple(target.shape))
        visible = fragments.mask if hidden is None else fragments.mask & ~hidden
        count = visible.flatten(1).sum(1)
        centroid, _ = mask_centroid(visible.to(points))  # (K, 2)
        rendered = torch.where(visible, fragments.depth, torch.nan).flatten(1)
        z = rendered.nanmedian(1).values  # (K,)
        # The 3D point seen at the centroid, and the pixel offset it must travel, in metres.
        ray = torch.cat(((centroid - K[:2, 2]) / K.diagonal()[:2], torch.ones_like(z)[:, None]), 1)
        point = ray * z[:, None]
        jacobian = torch.zeros(len(z), 3, 3, dtype=points.dtype, device=points.device)
        jacobian[:, 0, 0] = jacobian[:, 1, 1] = 1
        jacobian[:, :2, 2] = -point[:, :2] / z[:, None]
        residual = torch.zeros_like(point)
        residual[:, :2] = (goal - centroid) * z[:, None] / focal
        if known is None:
            jacobian = jacobian[:, :2]
            residual = residual[:, :2]
        else:
            compared = visible & known
            offset = torch.where(compared, depth.to(points) - fragments.depth, torch.nan)
            offset = offset.flatten(1).nanmedian(1).values
            enough = compared.flatten(1).sum(1) >= MIN_RELIEF_PIXELS
            jacobian[:, 2, 2] = enough.to(points)
            residual[:, 2] = torch.where(enough, offset, torch.zeros_like(offset))
        system = jacobian @ basis  # (K, rows, unknowns)
        normal_matrix = system.transpose(1, 2) @ system
        ridge = 1e-3 * torch.eye(basis.shape[1], dtype=points.dtype, device=points.device)
        step = torch.linalg.solve(
            normal_matrix + ridge, system.transpose(1, 2) @ residual[..., None]
        )
        move = (basis @ step)[..., 0]
        ok = (count >= MIN_CENTRING_PIXELS) & torch.isfinite(move).all(1)
        translations = translations + torch.where(ok[:, None], move, torch.zeros_like(move))
    return translations


def _contact_sets(inputs: FitInputs, body_vertices: Tensor, threshold: float):
    """Body and object contact points and weights for the alignment, or None.

    Contact is where the probability reaches `threshold`; for the category's prior, at most its
    largest body probability (its likeliest parts are its contact).

    Returns:
        (body_points (P, 3) camera frame, object_points (P, 3) object frame, weights (P,),
        paired: bool) or None when there is no contact to align.
    """
    if inputs.num_pairs:
        object_points = inputs.pair_object_points(inputs.object_vertices[None])[0]
        body_points = body_vertices[inputs.pair_body_vertex]
        weights = torch.ones(inputs.num_pairs, dtype=body_points.dtype, device=body_points.device)
        return body_points, object_points, weights, True
    if inputs.body_contact is None:
        return None
    if inputs.contact_is_prior and inputs.body_contact.max() > 0:
        # The prior's likeliest parts, even when none is likely (a standing body's hands on a
        # chair, 0.3), and the object regions at least that likely (its backrest, 0.4).
        threshold = min(threshold, float(inputs.body_contact.max()))
    if not (inputs.body_contact >= threshold).any():
        return None
    body_points = body_vertices[inputs.body_contact >= threshold]
    if inputs.object_contact is not None and (inputs.object_contact >= threshold).any():
        object_points = inputs.object_vertices[inputs.object_contact >= threshold]
    else:
        # Surface samples rather than vertices: a box has only eight.
        object_points = inputs.object_points
    return body_points, object_points, None, False


def initialize_object(
    inputs: FitInputs,
    body_vertices: Tensor,
    config: ObjectInitConfig,
    contact_threshold: float = 0.5,
    seed: int = 0,
    facing: Tensor | None = None,
    axis: Tensor | None = None,
) -> tuple[ObjectPose, Tensor]:
    """Object pose and scale hypotheses, best first.

    Args:
        inputs: the scene's observations.
        body_vertices: (V, 3) initial body vertices, camera frame.
        config: number of hypotheses, how many to keep, ICP steps.
        contact_threshold: contact probability counted as contact.
        seed: seed for the random rotation hypotheses.
        facing: (3,) the way the body faces, camera frame (`body_forward`); with
            `FitInputs.seat_front`, hypotheses facing the same way score up to
            `FACING_PREFERENCE` more.
        axis: (3,) the way the body extends, camera frame (`body_axis`); with
            `FitInputs.lying_length`, hypotheses along it, either way, score up to
            `FACING_PREFERENCE` more.

    Returns:
        The `config.keep` best poses (`keep_with_prior` when the contact is only the
        category's prior), K, best first, and their scores (K,): silhouette IoU with the object
        mask, less the normalized contact residual and `depth_weight` times the relief error
        over the object's size, plus `UPRIGHT_PREFERENCE` times the cosine of a free object's
        tilt and `FACING_PREFERENCE` times that of a seat's turn from the body's facing (or the
        absolute cosine of a lying body's support's turn from the body's axis); higher is better.
    """
    device, dtype = body_vertices.device, body_vertices.dtype
    generator = torch.Generator().manual_seed(seed)
    mesh = inputs.object_vertices
    mesh_center = (mesh.min(0).values + mesh.max(0).values) / 2
    extent = float((mesh.max(0).values - mesh.min(0).values).max().clamp_min(1e-6))
    contact = (
        _contact_sets(inputs, body_vertices, contact_threshold) if config.use_contact else None
    )
    K = inputs.K.to(dtype)

    # Depth and centre: the mask centroid at the depth map's median inside the mask, else at the
    # depth of the contact vertices, else of the body.
    mask = inputs.object_mask
    # The object's pixels, and the person's, who may hide part of it.
    target = None if mask is None else mask > 0.5
    hidden = None if inputs.person_mask is None else inputs.person_mask > 0.5
    centroid = None
    if mask is not None:
        centroid, defined = mask_centroid(mask)
        centroid = centroid if defined else None
    depth = None
    if mask is not None and inputs.depth is not None:
        inside = target & (inputs.depth > 0)
        if inside.any():
            depth = inputs.depth[inside].median()
    if depth is None:
        depth = (contact[0] if contact is not None else body_vertices)[:, 2].mean()
    if centroid is not None:
        center = torch.stack(
            (
                (centroid[0] - K[0, 2]) / K[0, 0] * depth,
                (centroid[1] - K[1, 2]) / K[1, 1] * depth,
                depth,
            )
        )
    elif contact is not None:
        center = contact[0].mean(0)
    else:
        center = body_vertices.mean(0)

    # Scale: the mask's larger side at that depth, within two log-std of the category's size.
    size, log_std = typical_size(inputs.category)
    scale = size / extent
    if mask is not None and target.any():
        rows = target.any(1).nonzero()
        cols = target.any(0).nonzero()
        pixels = max(int(rows.max() - rows.min()) + 1, int(cols.max() - cols.min()) + 1)
        seen = pixels * float(depth) / float(K[0, 0])
        low, high = size * math.exp(-2 * log_std), size * math.exp(2 * log_std)
        scale = min(max(seen, low), high) / extent
    height = typical_height(inputs.category)
    mesh_height = float(mesh[:, 1].max() - mesh[:, 1].min())
    if height is not None and mesh_height > 0:
        # Furniture's height is standard, its length is not (a table's mask may show its long
        # side or its short one): the two log-scales weighed by the inverse variances of the
        # category's largest extent and of its height.
        typical, height_std = height
        weight = log_std**-2 / (log_std**-2 + height_std**-2)
        scale = math.exp(weight * math.log(scale) + (1 - weight) * math.log(typical / mesh_height))

    floor = (
        inputs.floor.to(device, dtype)
        if inputs.ground_standing and inputs.floor is not None
        else None
    )
    if floor is None:
        rotations = rotation_hypotheses(
            config.num_hypotheses, config.upright_fraction, generator, dtype
        ).to(device)
    else:
        rotations = upright_rotations(config.num_hypotheses, floor[:3])
    count = rotations.shape[0]
    translations = center[None] - scale * (rotations @ mesh_center)
    if floor is not None:
        translations = rest_on_floor(rotations, translations, scale * mesh, floor)
    no_residual = torch.zeros(count, dtype=dtype, device=device)
    groups = []
    if contact is not None:
        # Both the hypotheses only moved onto the contact and their ICP-refined versions compete:
        # ICP from different starts finds different fits, but with few or nearly collinear
        # contact points it can also drag every start to one poor fit.
        groups.append(_align_contacts(rotations, scale, contact, 0, floor, mesh))
        groups.append(_align_contacts(rotations, scale, contact, config.icp_steps, floor, mesh))
    if mask is not None and (contact is None or not contact[3]):
        # And the hypotheses where the image shows the object: contact that does not say which
        # object point touches which body point (a prior's hands on a table) cannot place it.
        centred = centre_on_mask(
            rotations,
            translations,
            scale * mesh,
            inputs.object_faces,
            K,
            target,
            hidden,
            inputs.depth,
            floor,
        )
        residual = (
            no_residual
            if contact is None
            else _contact_residual(rotations, centred, scale, contact)
        )
        groups.append((rotations, centred, residual))
    if not groups:  # no contact and no mask: where the start put them
        groups.append((rotations, translations, no_residual))
    rotations, translations, residual = (torch.cat(group) for group in zip(*groups, strict=True))

    size_m = max(extent * scale, 1e-6)
    score = -residual / size_m
    if mask is not None and mask.sum() > 0:
        posed = scale * mesh[None] @ rotations.transpose(1, 2) + translations[:, None]
        fragments = rasterize(posed, inputs.object_faces, K, inputs.image_size)
        silhouettes = fragments.mask.to(dtype)
        valid = torch.ones_like(target)
        if hidden is not None:
            # The person may hide part of the object: those pixels do not count against it.
            valid = occlusion_valid_mask(target, hidden)
        inter = (silhouettes * target).flatten(1).sum(1)
        union = ((silhouettes + target - silhouettes * target) * valid).flatten(1).sum(1)
        score = score + inter / union.clamp_min(1)
        if inputs.depth is not None and config.depth_weight > 0:
            seen = target if hidden is None else target & ~hidden
            error = relief_error(fragments.depth, inputs.depth, seen)
            score = score - config.depth_weight * error / size_m
    up = inputs.floor[:3] if inputs.floor is not None else rotations.new_tensor(CAMERA_UP)
    up = up.to(rotations)
    if floor is None:
        # Among poses that fit alike (a box upside down casts the same silhouette and takes the
        # same hands), the one standing up.
        score = score + UPRIGHT_PREFERENCE * (rotations[:, :, 1] @ up)
    if inputs.seat_front is not None and facing is not None:
        # A seated person faces the way the seat does (its backrest behind them, a bench's
        # length across them); a body facing mostly up or down (lying) tells nothing.
        either_way = CATEGORY_SYMMETRY.get(canonical_category(inputs.category)) == HALF_TURN
        score = score + _turn_preference(rotations, inputs.seat_front, facing, up, either_way)
    if inputs.lying_length is not None and axis is not None:
        # A lying person lies along the support; a body standing or sitting upright tells nothing.
        score = score + _turn_preference(rotations, inputs.lying_length, axis, up, True)
    keep = config.keep_with_prior if inputs.contact_is_prior else config.keep
    order = distinct_best(score, rotations, keep, inputs.category)
    log_scale = torch.full((len(order), 1), math.log(scale), dtype=dtype, device=device)
    pose = ObjectPose(matrix_to_rotation_6d(rotations[order]), translations[order], log_scale)
    return pose, score[order]


DISTINCT_DEG = 20.0
"""Kept hypotheses differ from each better one by at least this rotation, where there are
enough: a hypothesis only moved onto the contact and its ICP-refined copy, or two neighbouring
turns, are one hypothesis kept twice."""


def distinct_best(score: Tensor, rotations: Tensor, keep: int, category: str | None) -> Tensor:
    """Indices of the `keep` best hypotheses, each turned `DISTINCT_DEG` from the better ones.

    Greedy, best first; turns are compared modulo the category's symmetry (a box turned half
    round is the same hypothesis). When fewer than `keep` are that distinct, the best of the
    rest fill in.

    Args:
        score: (K,) higher is better.
        rotations: (K, 3, 3) object frame to camera frame.
        keep: how many to return.
        category: the object's category, for its symmetry.

    Returns:
        (min(keep, K),) indices, best first.
    """
    order = torch.argsort(score, descending=True).tolist()
    symmetry = CATEGORY_SYMMETRY.get(canonical_category(category))
    close = pairwise_cosines(rotations, symmetry) > math.cos(math.radians(DISTINCT_DEG))
    chosen: list[int] = []
    for index in order:
        if len(chosen) == keep:
            break
        if not close[index, chosen].any():
            chosen.append(index)
    rest = [i for i in order if i not in chosen]
    return torch.tensor(chosen + rest[: keep - len(chosen)], dtype=torch.long, device=score.device)


def _contact_residual(rotations: Tensor, translations: Tensor, scale: float, contact) -> Tensor:
    """Mean distance from each body contact point to the nearest object contact point, metres.

    Args:
        rotations: (K, 3, 3) object rotations.
        translations: (K, 3) camera frame.
        scale: object scale.
        contact: from `_contact_sets`, unpaired.

    Returns:
        (K,) distances.
    """
    body_points, object_points = contact[0], contact[1]
    posed = scale * object_points[None] @ rotations.transpose(1, 2) + translations[:, None]
    return torch.cdist(body_points[None].expand(len(posed), -1, -1), posed).amin(2).mean(1)


def _align_contacts(
    rotations: Tensor,
    scale: float,
    contact,
    steps: int,
    floor: Tensor | None = None,
    mesh: Tensor | None = None,
):
    """Rigid ICP of the object's contact points onto the body's, every hypothesis at once.

    With a floor, the object only turns about the floor's normal and rests on the floor: the
    contact then places it along the floor only.

    Args:
        rotations: (K, 3, 3) starting rotations.
        scale: object scale (fixed).
        contact: from `_contact_sets`.
        steps: ICP iterations.
        floor: (4,) floor plane (`optim.floor`) for a ground-standing object, or None.
        mesh: (V, 3) object-frame vertices; needed with `floor`.

    Returns:
        rotations (K, 3, 3), translations (K, 3), mean residual distance (K,) in metres.
    """
    body_points, object_points, weights, paired = contact
    source = scale * object_points  # (Po, 3), object frame at scale
    count = rotations.shape[0]
    for step in range(steps + 1):
        posed = source[None] @ rotations.transpose(1, 2)  # (K, Po, 3), without translation
        if paired:
            matched_body, matched_object, w = body_points.expand(count, -1, -1), posed, weights
        else:
            # Correspondences: each body contact point to the nearest posed object point, after
            # matching centroids.
            shift = body_points.mean(0)[None, None] - posed.mean(1, keepdim=True)
            nearest = torch.cdist(body_points[None].expand(count, -1, -1), posed + shift).argmin(2)
            matched_object = torch.gather(posed, 1, nearest[..., None].expand(-1, -1, 3))
            matched_body = body_points.expand(count, -1, -1)
            w = torch.ones(body_points.shape[0], dtype=source.dtype, device=source.device)
        w_norm = w / w.sum().clamp_min(1e-12)
        body_mean = (matched_body * w_norm[None, :, None]).sum(1)  # (K, 3)
        object_mean = (matched_object * w_norm[None, :, None]).sum(1)
        translations = body_mean - object_mean
        if floor is not None:
            translations = rest_on_floor(rotations, translations, scale * mesh, floor)
        residual = (
            (matched_object + translations[:, None] - matched_body).norm(dim=-1) * w_norm
        ).sum(1)
        if step == steps:
            break
        centred_object = matched_object - object_mean[:, None]
        centred_body = matched_body - body_mean[:, None]
        if floor is None:
            delta = kabsch(centred_object, centred_body, w_norm)
        else:
            delta = yaw_alignment(centred_object, centred_body, w_norm, floor[:3])
        rotations = delta @ rotations
    return rotations, translations, residual
