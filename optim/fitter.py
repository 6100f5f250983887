"""The staged optimizer: object hypotheses, then joint body-object refinement, all from config.

Each stage names the variables it moves, its loss weights and its iteration budget
(`optim.config.StageConfig`). The loss terms are the pure functions of `optim.losses`, combined
from the stage's dict of weights and logged one by one. A stage stops early when the total loss
stalls; a non-finite loss or gradient rolls the stage back to its best state and is recorded.
"""

import dataclasses
import functools
import logging
import math
import sys
import time
from dataclasses import dataclass, field

import torch
from torch import Tensor
from tqdm import tqdm

from optim import losses as L
from optim.config import BODY_VARIABLES, OBJECT_VARIABLES, VARIABLES, FitConfig, StageConfig
from optim.inputs import FitInputs
from optim.losses.closest_point import FixedMesh
from optim.object_init import body_axis, body_forward, initialize_object
from optim.state import FitState
from reconstruction.body_models import BodyOutput, BodyParams
from reconstruction.camera import project_points
from reconstruction.errors import HoifitError
from reconstruction.object_model import ObjectPose, object_to_camera
from reconstruction.proxy import body_proxy, mesh_proxy
from reconstruction.rasterizer import rasterize
from reconstruction.rotations import rotation_6d_to_matrix
from reconstruction.soft_silhouette import soft_silhouette

log = logging.getLogger(__name__)

BODY_ONLY_LOSSES = {
    "silhouette_body",
    "keypoints_2d",
    "keypoints_torso",
    "pose_prior",
    "shape_prior",
    "depth",
}
"""Terms that can be evaluated before the object exists (`depth` then covers the body alone)."""
ROOT_VARIABLES = {"body_orient", "body_translation"}
"""Body variables that move the body rigidly (see `SceneLosses.body`)."""
POSING_VARIABLES = {"body_orient", "body_pose", "body_pose_contact", "hands", "body_shape"}
"""Body variables a contact prior may not move (`FitConfig.prior_contact_poses_body`)."""
TORSO_KEYPOINTS = (5, 6, 11, 12)
"""COCO-17 shoulders and hips (`keypoints_torso`)."""
CONTACT_LIMBS = {
    "left_hand": ("left_arm", "left_hand"),
    "right_hand": ("right_arm", "right_hand"),
    "left_arm": ("left_arm",),
    "right_arm": ("right_arm",),
    "left_foot": ("left_leg", "left_foot"),
    "right_foot": ("right_leg", "right_foot"),
    "left_leg": ("left_leg",),
    "right_leg": ("right_leg",),
    "buttocks": ("buttocks",),
    "back": ("back",),
    "torso": ("torso",),
}
"""Which joints move when a part is in contact (`body_pose_contact`): a hand in contact moves its
whole arm, a foot its leg, the buttocks the hips; the head moves nothing."""


@dataclass
class StageReport:
    """What happened in one stage.

    Attributes:
        name: the stage's name.
        iterations: steps taken.
        seconds: wall time.
        status: "converged" (early stop), "max_iterations", or "rolled_back" (a non-finite loss
            or gradient; the state went back to the stage's best).
        message: details of a roll-back.
        final: loss terms of the best state (weighted total under "total"), for the kept
            hypothesis.
    """

    name: str
    iterations: int = 0
    seconds: float = 0.0
    status: str = "max_iterations"
    message: str = ""
    final: dict[str, float] = field(default_factory=dict)


@dataclass
class FitResult:
    """The fitted scene.

    Attributes:
        body: fitted body parameters (batch 1, rotation matrices), camera frame.
        object_pose: fitted object pose and scale (batch 1).
        body_vertices: (V, 3) fitted body vertices, camera frame.
        object_vertices: (Vo, 3) fitted object vertices, camera frame.
        stages: one report per stage (the object initialization first).
        log: one row per iteration: stage, iteration, total and every weighted term's raw value.
        diverged: True if any stage rolled back.
    """

    body: BodyParams
    object_pose: ObjectPose
    body_vertices: Tensor
    object_vertices: Tensor
    stages: list[StageReport]
    log: list[dict]
    diverged: bool


def contact_joint_indices(inputs: FitInputs, threshold: float) -> list[int]:
    """Body-pose joints of the limbs in contact (see `CONTACT_LIMBS`)."""
    model = inputs.body_model
    in_contact = torch.zeros(model.num_vertices, dtype=torch.bool, device=inputs.device)
    if inputs.body_contact is not None:
        in_contact |= inputs.body_contact >= threshold
    if inputs.num_pairs:
        in_contact[inputs.pair_body_vertex] = True
    joints = set()
    for part, limbs in CONTACT_LIMBS.items():
        vertices = model.parts.get(part)
        if vertices is not None and in_contact[vertices.to(in_contact.device)].any():
            for limb in limbs:
                joints.update(model.part_joints.get(limb, ()))
    return sorted(joints)


@dataclass
class LocalBody:
    """A body at the origin, unrotated (`SceneLosses.local_body`), and its COCO-17 keypoints.

    Attributes:
        output: the posed body, root joint at the origin, no global rotation.
        keypoints: (B, 17, 3) its keypoints.
        keypoint_weights: (17, 1) each keypoint's total weight over vertices and joints.
    """

    output: BodyOutput
    keypoints: Tensor
    keypoint_weights: Tensor

    @functools.cached_property
    def surface(self) -> FixedMesh:
        """The body's surface (batch 1), indexed once for the object's penetration."""
        return FixedMesh(self.output.vertices[0], self.output.faces)


class RigidBody:
    """A `LocalBody` rotated and moved: what a stage that moves only the root sees.

    It reads like a `BodyOutput`; vertices and joints are computed on first use only, so a stage
    that compares keypoints alone never moves the whole mesh.
    """

    def __init__(self, local: LocalBody, rotation: Tensor, shift: Tensor):
        """Rotation (B, 3, 3) and shift (B, 1, 3): x = rotation @ x_local + shift."""
        self.local, self.rotation, self.shift = local, rotation, shift
        self.faces = local.output.faces

    def _move(self, points: Tensor) -> Tensor:
        return points @ self.rotation.transpose(1, 2) + self.shift

    def to_local(self, points: Tensor) -> Tensor:
        """(B, N, 3) camera-frame points -> the local body's frame: the inverse of the move."""
        return (points - self.shift) @ self.rotation

    @functools.cached_property
    def vertices(self) -> Tensor:
        """(B, V, 3) the moved vertices."""
        return self._move(self.local.output.vertices)

    @functools.cached_property
    def joints(self) -> Tensor:
        """(B, J, 3) the moved joints."""
        return self._move(self.local.output.joints)

    @functools.cached_property
    def keypoints(self) -> Tensor:
        """(B, 17, 3) the moved COCO-17 keypoints."""
        local = self.local
        return local.keypoints @ self.rotation.transpose(1, 2) + local.keypoint_weights * self.shift


class SceneLosses:
    """Evaluates the weighted loss terms of a scene for the current state.

    Holds what does not change during the fitting (targets at the fitting resolution, validity
    masks, the body at its initialization when a stage keeps it fixed).
    """

    def __init__(self, inputs: FitInputs, config: FitConfig):
        self.inputs = inputs
        self.config = config
        self.object_valid = None
        self.body_valid = None
        if inputs.object_mask is not None and inputs.person_mask is not None:
            self.object_valid = L.occlusion_valid_mask(inputs.object_mask, inputs.person_mask)
            self.body_valid = L.occlusion_valid_mask(inputs.person_mask, inputs.object_mask)
        self.object_depth_pixels = self.person_depth_pixels = None
        if inputs.object_mask is not None:
            self.object_depth_pixels = L.depth_pixels(inputs.object_mask > 0.5)
        if inputs.person_mask is not None:
            self.person_depth_pixels = L.depth_pixels(inputs.person_mask > 0.5)
        self.object_extent = self.object_height = self.object_proxy = None
        if inputs.object_vertices is not None:
            extent = inputs.object_vertices.max(0).values - inputs.object_vertices.min(0).values
            self.object_extent, self.object_height = float(extent.max()), float(extent[1])
            index, faces = mesh_proxy(
                inputs.object_vertices.cpu().numpy(),
                inputs.object_faces.cpu().numpy(),
                config.object_proxy_faces,
            )
            if len(faces) < len(inputs.object_faces):  # else the mesh is drawn as it is
                device = inputs.device
                self.object_proxy = (
                    torch.as_tensor(index, device=device),
                    torch.as_tensor(faces, dtype=torch.long, device=device),
                )
        self.init_pose = inputs.body_init.to_matrices().body_pose.detach()
        self.default_betas = inputs.body_model.default_betas.to(inputs.device)
        self.image_diag = math.hypot(*inputs.image_size)
        self.with_object = True

    @functools.cached_property
    def body_area_weights(self) -> Tensor:
        """(V,) each body vertex's weight in the penetration (`L.vertex_area_weights`).

        From the initial body, computed when a penetration term first needs it, so a body-only
        fit of many hypotheses does not run the body model for it.
        """
        with torch.no_grad():
            vertices = self.inputs.body_model(self.inputs.body_init).vertices[0]
        return L.vertex_area_weights(vertices, self.inputs.body_model.faces.long())

    def body(self, state: FitState, local: LocalBody | None = None) -> BodyOutput | RigidBody:
        """Body model output for the state.

        Args:
            state: the variables.
            local: the body posed at the origin without its global rotation (`local_body`),
                when only the root moves: the body is then that one rotated and moved, which
                is exact (the root is at the origin there) and far cheaper than the model.
        """
        if local is None:
            return self.inputs.body_model(state.body_params())
        rotation = rotation_6d_to_matrix(state.body_orient6d)  # (B, 3, 3)
        return RigidBody(local, rotation, state.body_transl[:, None])

    def body_proxy(self, body: BodyOutput) -> tuple[Tensor, Tensor]:
        """The body's mesh as the image terms draw it: (B, U, 3) vertices and (Fp, 3) faces.

        With `FitConfig.body_proxy_faces` the silhouette and depth of the body are drawn from a
        coarse proxy made of its own vertices (`reconstruction.proxy`), several
        times cheaper at the fitting's resolution; 0 draws the full mesh.
        """
        faces = self.config.body_proxy_faces
        if not faces:
            return body.vertices, self.inputs.body_model.faces
        index, proxy_faces = body_proxy(self.inputs.body_model, faces)
        return body.vertices[:, index], proxy_faces

    def local_body(self, state: FitState) -> LocalBody:
        """The state's body at the origin, unrotated (root joint at the origin), no gradient."""
        params = state.body_params()
        count = params.batch_size
        params.global_orient = torch.eye(3, device=params.transl.device).expand(count, 3, 3)
        params.transl = torch.zeros_like(params.transl)
        model = self.inputs.body_model
        with torch.no_grad():
            output = model(params)
            keypoints = model.coco17_keypoints(output)
        # Keypoints are linear in the vertices and joints: rigidly moved, they move with them,
        # the shift scaled by each keypoint's total weight.
        weights = model.coco_vertex_weights.sum(1) + model.coco_joint_weights.sum(1)  # (17,)
        return LocalBody(output, keypoints, weights[:, None].to(keypoints))

    def keypoints(self, body: BodyOutput | RigidBody) -> Tensor:
        """(B, 17, 3) COCO-17 keypoints of the body."""
        if isinstance(body, RigidBody):
            return body.keypoints
        return self.inputs.body_model.coco17_keypoints(body)

    def __call__(
        self, state: FitState, weights: dict[str, float], body: BodyOutput, body_moves: bool
    ) -> dict[str, Tensor]:
        """Raw (unweighted) loss terms, each (K,), for the terms with a non-zero weight.

        Terms that depend on the body alone are left out while the body is fixed: they are
        constant then and would only cost time. Before the object is initialized
        (`with_object` False) only the body's terms are evaluated.
        """
        inputs, cfg = self.inputs, self.config
        active = {name for name, w in weights.items() if w != 0}
        terms: dict[str, Tensor] = {}
        K, size = inputs.K, inputs.image_size
        count = state.num_hypotheses
        if not self.with_object:
            return self._body_terms(state, active & BODY_ONLY_LOSSES, body, count, terms)
        pose = state.object_pose()
        object_vertices = object_to_camera(inputs.object_vertices, pose)  # (K, Vo, 3)
        body_vertices = body.vertices.expand(count, -1, -1)  # (K, V, 3)

        if "contact_paired" in active and inputs.num_pairs:
            terms["contact_paired"] = L.contact_paired(
                body_vertices[:, inputs.pair_body_vertex],
                inputs.pair_object_points(object_vertices),
            )
        if "contact_unpaired" in active and inputs.body_contact is not None:
            terms["contact_unpaired"] = L.contact_unpaired(
                body_vertices,
                inputs.body_contact,
                object_vertices,
                inputs.object_contact,
                reach=cfg.prior_contact_reach if inputs.contact_is_prior else None,
            )
        if "coarse_interaction" in active:
            terms["coarse_interaction"] = L.coarse_interaction(body_vertices, object_vertices)
        if "penetration_body_in_object" in active:
            terms["penetration_body_in_object"] = L.penetration_body_in_object(
                body_vertices, inputs.sdf, pose, weights=self.body_area_weights
            )
        if "penetration_object_in_body" in active:
            points = object_to_camera(inputs.object_points, pose)
            if isinstance(body, RigidBody):
                # The same depths, found in the body's own frame, where it does not move.
                terms["penetration_object_in_body"] = L.penetration_object_in_body(
                    body.to_local(points), body.local.surface
                )
            else:
                terms["penetration_object_in_body"] = L.penetration_object_in_body(
                    points, body_vertices, inputs.body_model.faces
                )

        # The image terms draw the object's proxy, if it has one (`FitConfig.object_proxy_faces`).
        proxy, proxy_faces = object_vertices, inputs.object_faces
        if self.object_proxy is not None:
            proxy, proxy_faces = object_vertices[:, self.object_proxy[0]], self.object_proxy[1]
        need_object_sil = bool({"silhouette_object", "centroid"} & active)
        if need_object_sil and inputs.object_mask is not None:
            soft = soft_silhouette(proxy, proxy_faces, K, size, cfg.sigma)
            if "silhouette_object" in active:
                terms["silhouette_object"] = L.silhouette_iou_loss(
                    soft, inputs.object_mask, self.object_valid
                )
            if "centroid" in active:
                terms["centroid"] = L.mask_centroid_loss(soft, inputs.object_mask)
        want_ordinal = (
            "ordinal_depth" in active
            and inputs.person_mask is not None
            and inputs.object_mask is not None
        )
        want_depth = "depth" in active and inputs.depth is not None
        bod = None
        if want_depth and inputs.object_mask is not None or want_ordinal:
            obj = rasterize(proxy, proxy_faces, K, size)
            if want_depth and inputs.object_mask is not None:
                terms["depth"] = L.depth_loss(
                    obj.depth, obj.mask, inputs.depth, self.object_depth_pixels
                )
            if want_ordinal:
                bod = rasterize(*self.body_proxy(body), K, size)
                terms["ordinal_depth"] = L.ordinal_depth_loss(
                    bod.depth.expand(count, -1, -1),
                    bod.mask.expand(count, -1, -1),
                    obj.depth,
                    obj.mask,
                    inputs.person_mask > 0.5,
                    inputs.object_mask > 0.5,
                )
        if body_moves:
            body_terms = self._body_terms(state, active & BODY_ONLY_LOSSES, body, count, {}, bod)
            for name, value in body_terms.items():
                terms[name] = terms[name] + value if name in terms else value
        if "support" in active and inputs.ground_standing and inputs.floor is not None:
            up = pose.rotation_matrix()[:, :, 1]  # (K, 3): objects are modelled y-up
            terms["support"] = L.support_loss(object_vertices, up, inputs.floor)
        if "scale_prior" in active:
            terms["scale_prior"] = L.scale_prior(
                state.object_log_scale, self.object_extent, inputs.category, self.object_height
            )
        return terms

    def _body_terms(
        self,
        state: FitState,
        active: set[str],
        body: BodyOutput,
        count: int,
        terms: dict,
        frags=None,
    ) -> dict[str, Tensor]:
        """The terms of the body alone, each (count,); the body holds 1 or `count` hypotheses.

        `frags` is the body's rasterization when the caller already has it.
        """
        inputs, K, size = self.inputs, self.inputs.K, self.inputs.image_size
        if "silhouette_body" in active and inputs.person_mask is not None:
            soft = soft_silhouette(*self.body_proxy(body), K, size, self.config.sigma)
            terms["silhouette_body"] = L.silhouette_iou_loss(
                soft, inputs.person_mask, self.body_valid
            ).expand(count)
        if "depth" in active and inputs.depth is not None and inputs.person_mask is not None:
            if frags is None:
                frags = rasterize(*self.body_proxy(body), K, size)
            terms["depth"] = L.depth_loss(
                frags.depth, frags.mask, inputs.depth, self.person_depth_pixels
            ).expand(count)
        if {"keypoints_2d", "keypoints_torso"} & active and inputs.keypoints_2d is not None:
            projected = project_points(self.keypoints(body), K)
            if "keypoints_2d" in active:
                terms["keypoints_2d"] = L.keypoint_loss(
                    projected, inputs.keypoints_2d, image_diag=self.image_diag
                ).expand(count)
            if "keypoints_torso" in active:
                torso = torch.zeros_like(inputs.keypoints_2d)
                torso[TORSO_KEYPOINTS, :] = inputs.keypoints_2d[TORSO_KEYPOINTS, :]
                terms["keypoints_torso"] = L.keypoint_loss(
                    projected, torso, image_diag=self.image_diag
                ).expand(count)
        if "pose_prior" in active:
            current = rotation_6d_to_matrix(state.body_pose6d)
            terms["pose_prior"] = L.pose_prior(current, self.init_pose).expand(count)
        if "shape_prior" in active:
            terms["shape_prior"] = L.shape_prior(state.body_betas, self.default_betas).expand(count)
        return terms


def _trainable(state: FitState, stage: StageConfig, joint_mask: Tensor) -> list[Tensor]:
    """Mark the stage's variables as requiring gradients; returns them."""
    unknown = set(stage.optimize) - set(VARIABLES)
    if unknown:
        raise ValueError(
            f"stage {stage.name!r} optimizes unknown variable {sorted(unknown)[0]!r}; "
            f"known: {', '.join(VARIABLES)}"
        )
    chosen = {
        "object_rotation": [state.object_rot6d],
        "object_translation": [state.object_transl],
        "object_scale": [state.object_log_scale],
        "body_orient": [state.body_orient6d],
        "body_translation": [state.body_transl],
        "body_pose": [state.body_pose6d],
        "body_pose_contact": [state.body_pose6d],
        "hands": [t for t in (state.left_hand6d, state.right_hand6d) if t is not None],
        "body_shape": [state.body_betas],
    }
    params = []
    for tensor in state.tensors().values():
        tensor.requires_grad_(False)
    for name in stage.optimize:
        for tensor in chosen[name]:
            if not any(tensor is p for p in params):
                params.append(tensor.requires_grad_(True))
    if "body_pose_contact" in stage.optimize and "body_pose" not in stage.optimize:
        # Only the contacting limbs' joints move: the others' gradients are zeroed, and Adam
        # leaves a variable with zero gradient where it is.
        mask = joint_mask.to(state.body_pose6d)[None, :, None]
        state.body_pose6d.register_hook(lambda grad: grad * mask)
    return params


def run_stage(
    state: FitState,
    stage: StageConfig,
    scene: SceneLosses,
    joint_mask: Tensor,
    progress: bool,
    log_rows: list[dict],
) -> tuple[StageReport, Tensor]:
    """Optimize one stage in place on `state`.

    Returns:
        The stage's report and the per-hypothesis weighted total loss of the best state (K,).
    """
    report = StageReport(stage.name)
    start = time.perf_counter()
    # A fresh leaf per stage so hooks of earlier stages do not stay attached.
    for name, tensor in state.tensors().items():
        setattr(state, name, tensor.detach().clone())
    params = _trainable(state, stage, joint_mask)
    body_moves = bool(set(BODY_VARIABLES) & set(stage.optimize))
    root_only = body_moves and set(stage.optimize) & set(BODY_VARIABLES) <= ROOT_VARIABLES
    local = scene.local_body(state) if root_only else None
    frozen_body = None
    if not body_moves:
        # Held as a rigid body, so that the penetration search indexes it once for the stage.
        with torch.no_grad():
            frozen_body = scene.body(state, scene.local_body(state))
    best_state, best_total, best_terms = state.snapshot(), None, {}
    if not params or stage.iterations <= 0:
        report.seconds = time.perf_counter() - start
        return report, torch.zeros(state.num_hypotheses)
    optimizer = torch.optim.Adam(params, lr=stage.lr)
    stalled, previous = 0, math.inf
    # A bar on a terminal only: in a log file it would write a line per refresh.
    bar = tqdm(
        range(stage.iterations),
        desc=stage.name,
        disable=not (progress and sys.stderr.isatty()),
        leave=False,
    )
    for iteration in bar:
        optimizer.zero_grad(set_to_none=True)
        body = scene.body(state, local) if body_moves else frozen_body
        terms = scene(state, stage.weights, body, body_moves)
        per_hypothesis = sum(
            (stage.weights[name] * value for name, value in terms.items()),
            torch.zeros(state.num_hypotheses, device=state.object_transl.device),
        )
        total = per_hypothesis.sum()
        finite = bool(torch.isfinite(per_hypothesis).all())
        if finite:
            total.backward()
            finite = all(p.grad is None or bool(torch.isfinite(p.grad).all()) for p in params)
        if not finite:
            state.restore(best_state)
            report.status = "rolled_back"
            report.message = (
                f"non-finite loss or gradient at iteration {iteration}; kept the best state"
            )
            log.warning("stage %s: %s", stage.name, report.message)
            break
        value = float(total.detach())
        if best_total is None or value < float(best_total.sum()):
            best_state = state.snapshot()
            best_total = per_hypothesis.detach().clone()
            best_terms = {name: t.detach().clone() for name, t in terms.items()}
        log_rows.append(
            {
                "stage": stage.name,
                "iteration": iteration,
                "total": value,
                **{name: float(t.detach().mean()) for name, t in terms.items()},
            }
        )
        bar.set_postfix(loss=f"{value:.4g}")
        optimizer.step()
        report.iterations = iteration + 1
        if stage.patience > 0:
            improvement = (previous - value) / max(abs(previous), 1e-12)
            stalled = stalled + 1 if improvement < stage.early_stop_tol else 0
            previous = min(previous, value)
            if stalled >= stage.patience:
                report.status = "converged"
                break
    bar.close()
    # The last step may have made things worse: finish on the best state seen.
    state.restore(best_state)
    for tensor in state.tensors().values():
        tensor.requires_grad_(False)
    if best_total is None:
        best_total = torch.full((state.num_hypotheses,), math.inf)
    best = int(torch.argmin(best_total))
    report.final = {name: float(t[best]) for name, t in best_terms.items()}
    report.final["total"] = float(best_total[best])
    report.seconds = time.perf_counter() - start
    log.info(
        "stage %s: %d iterations, %.1f s, %s, loss %.4g",
        stage.name,
        report.iterations,
        report.seconds,
        report.status,
        report.final["total"],
    )
    return report, best_total


def needs_object(stage: StageConfig) -> bool:
    """Whether a stage moves the object or weighs a term that involves it."""
    active = {name for name, weight in stage.weights.items() if weight != 0}
    return bool(set(OBJECT_VARIABLES) & set(stage.optimize)) or bool(active - BODY_ONLY_LOSSES)


def _initialize(state, inputs, scene, config, seed):
    """Object hypotheses from the current body; returns the new state, ranking and report."""
    start = time.perf_counter()
    with torch.no_grad():
        output = scene.body(state)
        forward = axis = None
        if inputs.seat_front is not None or inputs.lying_length is not None:
            keypoints = inputs.body_model.coco17_keypoints(output)[0]
            forward = body_forward(keypoints) if inputs.seat_front is not None else None
            axis = body_axis(keypoints) if inputs.lying_length is not None else None
    pose, scores = initialize_object(
        inputs, output.vertices[0], config.init, config.contact_threshold, seed, forward, axis
    )
    state = dataclasses.replace(
        state.snapshot(),
        object_rot6d=pose.rot6d.detach().clone(),
        object_transl=pose.transl.detach().clone(),
        object_log_scale=pose.log_scale.detach().clone(),
    )
    report = StageReport(
        "object_init",
        iterations=config.init.num_hypotheses,
        seconds=time.perf_counter() - start,
        status="done",
        final={"score": float(scores[0])},
    )
    return state, -scores, report


def _keep_body_pose(stage: StageConfig) -> StageConfig:
    """The stage without the body's posing variables when it involves the object."""
    if not needs_object(stage):
        return stage
    kept = [name for name in stage.optimize if name not in POSING_VARIABLES]
    if len(kept) < len(stage.optimize):
        log.info(
            "stage %s: the contact is the category's prior; the body keeps its pose", stage.name
        )
    return dataclasses.replace(stage, optimize=kept)


def fit(inputs: FitInputs, config: FitConfig, seed: int = 0) -> FitResult:
    """Fit body and object to the observations with the configured schedule.

    Args:
        inputs: observations and models of one scene.
        config: initialization and stages.
        seed: seed of the random rotation hypotheses.

    The object is initialized (`optim.object_init`) right before the first stage that involves
    it, from the body as the stages before have fitted it, so a schedule may first align the body
    alone.

    Returns:
        The fitted scene, per-stage reports and the loss log.
    """
    placeholder = ObjectPose.identity(1, device=inputs.device, dtype=inputs.K.dtype)
    state = FitState.create(inputs.body_init, placeholder)
    scene = SceneLosses(inputs, config)
    joint_mask = torch.zeros(inputs.body_model.num_body_joints, dtype=torch.bool)
    joint_mask[contact_joint_indices(inputs, config.contact_threshold)] = True
    reports: list[StageReport] = []
    rows: list[dict] = []
    totals = None
    stages = config.stages
    if inputs.contact_is_prior and not config.prior_contact_poses_body:
        stages = [_keep_body_pose(stage) for stage in stages]
    for stage in [*stages, None]:
        if totals is None and (stage is None or needs_object(stage)):
            # The object starts from the body as the stages so far have left it.
            state, totals, report = _initialize(state, inputs, scene, config, seed)
            reports.append(report)
        if stage is None:
            break
        if state.num_hypotheses > 1 and set(BODY_VARIABLES) & set(stage.optimize):
            state = state.select(int(torch.argmin(totals)))
        scene.with_object = totals is not None
        report, stage_totals = run_stage(state, stage, scene, joint_mask, config.progress, rows)
        reports.append(report)
        if scene.with_object:
            totals = stage_totals
        if report.status == "rolled_back" and not torch.isfinite(stage_totals).any():
            break
    if state.num_hypotheses > 1:
        state = state.select(int(torch.argmin(totals)))
    with torch.no_grad():
        body = state.body_params()
        body_vertices = inputs.body_model(body).vertices[0]
        object_vertices = object_to_camera(inputs.object_vertices, state.object_pose())[0]
    return FitResult(
        body=body,
        object_pose=state.object_pose(),
        body_vertices=body_vertices,
        object_vertices=object_vertices,
        stages=reports,
        log=rows,
        diverged=any(r.status == "rolled_back" for r in reports),
    )


@dataclass
class BodyFitResult:
    """The best of several body hypotheses fitted alone.

    Attributes:
        body: the kept body's parameters (batch 1, rotation matrices), camera frame.
        index: which hypothesis was kept.
        totals: (B,) weighted total loss of each hypothesis at the end.
        stages: one report per stage.
        log: one row per iteration.
    """

    body: BodyParams
    index: int
    totals: Tensor
    stages: list[StageReport]
    log: list[dict]


def fit_body(
    inputs: FitInputs,
    stages: list[StageConfig],
    config: FitConfig,
    keep: int | None = None,
    log_prior: Tensor | None = None,
) -> BodyFitResult:
    """Fit B body hypotheses to the image alone, as one batch, and keep the best.

    After the first stage only the `keep` best hypotheses go on (the first stage is meant to be
    cheap, e.g. the root against the keypoints; the later ones render silhouettes).

    Args:
        inputs: observations; `body_init` holds the B starting bodies; the object fields may be
            None (only the body's terms are evaluated).
        stages: a body-only schedule (`BodyInitConfig.stages`).
        config: the fitting's resolution-dependent settings (`sigma`) and `progress`.
        keep: hypotheses kept after the first stage; None keeps all.
        log_prior: (B,) added to each hypothesis' relative loss when ranking them (e.g. the
            negative log prior probability of its pose for the object's category); None adds
            nothing. The relative loss is the loss over the best hypothesis' loss, so that
            the prior weighs the same whatever the scale of the stage's terms.

    Returns:
        The kept body and what happened; `index` and `totals` refer to the B hypotheses
        (`totals` is inf for those dropped after the first stage).

    Raises:
        ValueError: a stage moves the object.
        HoifitError: every hypothesis diverged.
    """
    for stage in stages:
        if set(OBJECT_VARIABLES) & set(stage.optimize):
            raise ValueError(f"stage {stage.name!r} moves the object; a body fit cannot")
    count = inputs.body_init.batch_size
    placeholder = ObjectPose.identity(count, device=inputs.device, dtype=inputs.K.dtype)
    state = FitState.create(inputs.body_init, placeholder)
    scene = SceneLosses(inputs, config)
    scene.with_object = False
    prior = torch.zeros(count) if log_prior is None else log_prior.detach().float().cpu()
    alive = torch.arange(count)
    joint_mask = torch.zeros(inputs.body_model.num_body_joints, dtype=torch.bool)
    reports, rows = [], []
    totals = torch.zeros(count)
    for index, stage in enumerate(stages):
        report, totals = run_stage(state, stage, scene, joint_mask, config.progress, rows)
        totals = totals.cpu()
        reports.append(report)
        if report.status == "rolled_back" and not torch.isfinite(totals).any():
            raise HoifitError(
                f"the body fit diverged in stage {stage.name!r} (non-finite loss); check the "
                "keypoints and the person mask"
            )
        if index == 0 and keep is not None and keep < len(alive):
            order = torch.argsort(_relative(totals) + prior[alive])[:keep]
            state = state.select(order.tolist())
            scene.init_pose = scene.init_pose[order.to(scene.init_pose.device)]
            alive, totals = alive[order], totals[order]
    best = int(torch.argmin(_relative(totals) + prior[alive]))
    all_totals = torch.full((count,), math.inf)
    all_totals[alive] = totals
    return BodyFitResult(
        body=state.select(best).body_params(),
        index=int(alive[best]),
        totals=all_totals,
        stages=reports,
        log=rows,
    )


def _relative(totals: Tensor) -> Tensor:
    """Each loss over the smallest: 1 for the best hypothesis, 1.5 for one 50% worse."""
    return totals / totals.min().clamp_min(torch.finfo(totals.dtype).tiny)
