"""Typed configuration of the fitting: body and object initialization and the staged schedule.

Torch-free, so that a config is parsed and checked before anything heavy loads. Every field is
checked when its dataclass is built; a bad value raises `ConfigError` naming the field.
"""

from dataclasses import dataclass, field

from reconstruction.errors import ConfigError

LOSS_NAMES = (
    "contact_paired",
    "contact_unpaired",
    "penetration_body_in_object",
    "penetration_object_in_body",
    "silhouette_body",
    "silhouette_object",
    "depth",
    "ordinal_depth",
    "keypoints_2d",
    "keypoints_torso",
    "pose_prior",
    "shape_prior",
    "scale_prior",
    "centroid",
    "coarse_interaction",
    "support",
)
"""The weight keys a stage accepts; `optim.losses` documents what each measures."""

OBJECT_VARIABLES = ("object_rotation", "object_translation", "object_scale")
BODY_VARIABLES = (
    "body_orient",
    "body_translation",
    "body_pose",
    "body_pose_contact",
    "hands",
    "body_shape",
)
VARIABLES = OBJECT_VARIABLES + BODY_VARIABLES
"""What a stage may optimize. `body_pose` is every body joint; `body_pose_contact` only the joints
of the limbs in contact (a hand in contact moves its arm, a foot its leg, the buttocks the hips);
`hands` the finger joints of backends that have them."""


@dataclass
class ObjectInitConfig:
    """How the object pose and scale start.

    Attributes:
        num_hypotheses: rotation hypotheses tried, scored in one batch.
        upright_fraction: share of the hypotheses that keep the object's +y axis up in the image
            and only turn it about the vertical (most objects stand upright); the rest are
            uniformly random rotations. A ground-standing object with a floor
            (`FitInputs.ground_standing`) gets only upright turns about the floor's normal.
        keep: hypotheses kept after scoring; they are optimized together until the first stage
            that moves the body, where the best one is chosen.
        keep_with_prior: hypotheses kept when the contact is only the category's prior
            (`FitInputs.contact_is_prior`): the stages' losses then weigh a guessed contact and
            judge between hypotheses worse than the initialization's score does.
        icp_steps: rigid-alignment steps of the object's contact points onto the body's.
        use_contact: place hypotheses by the contact points (InteractVLM, PICO); without it
            (PHOSA) they sit at the object mask's centroid.
        depth_weight: weight, in the hypotheses' score, of how far their relief departs from
            the depth map's inside the object mask, as a fraction of the object's size
            (`optim.object_init.relief_error`); 0 ignores the depth map.
    """

    num_hypotheses: int = 64
    upright_fraction: float = 0.5
    keep: int = 4
    keep_with_prior: int = 1
    icp_steps: int = 5
    use_contact: bool = True
    depth_weight: float = 0.0

    def __post_init__(self):
        _at_least("num_hypotheses", self.num_hypotheses, 1)
        _within("upright_fraction", self.upright_fraction, 0.0, 1.0)
        for name in ("keep", "keep_with_prior"):
            _at_least(name, getattr(self, name), 1)
            if getattr(self, name) > self.num_hypotheses:
                raise ConfigError(
                    f"{name} ({getattr(self, name)}) must not exceed num_hypotheses "
                    f"({self.num_hypotheses})"
                )
        _at_least("icp_steps", self.icp_steps, 0)
        _at_least("depth_weight", self.depth_weight, 0.0)


@dataclass
class StageConfig:
    """One optimization stage.

    Attributes:
        name: shown in the progress bar and the loss log.
        optimize: the variables this stage moves (see `VARIABLES`).
        weights: loss name -> weight; names are those of `optim.losses` (`LOSS_NAMES`).
        iterations: maximum number of Adam steps.
        lr: Adam learning rate.
        early_stop_tol: relative improvement of the total loss under which an iteration counts
            as stalled.
        patience: stalled iterations in a row that end the stage early; 0 never stops early.
    """

    name: str = "stage"
    optimize: list[str] = field(default_factory=list)
    weights: dict[str, float] = field(default_factory=dict)
    iterations: int = 100
    lr: float = 0.01
    early_stop_tol: float = 1e-4
    patience: int = 20

    def __post_init__(self):
        unknown = sorted(set(self.optimize) - set(VARIABLES))
        if unknown:
            raise ConfigError(
                f"optimize: unknown variable {unknown[0]!r}; known: {', '.join(VARIABLES)}"
            )
        unknown = sorted(set(self.weights) - set(LOSS_NAMES))
        if unknown:
            raise ConfigError(
                f"weights: unknown loss {unknown[0]!r}; known: {', '.join(LOSS_NAMES)}"
            )
        for name, weight in self.weights.items():
            _at_least(f"weights.{name}", weight, 0.0)
        _at_least("iterations", self.iterations, 0)
        _positive("lr", self.lr)
        _at_least("early_stop_tol", self.early_stop_tol, 0.0)
        _at_least("patience", self.patience, 0)


def _default_body_stages() -> list[StageConfig]:
    # The root alone against the torso keypoints, then the whole pose against every keypoint,
    # the person mask and depth.
    return [
        StageConfig(
            name="body_root",
            optimize=["body_orient", "body_translation"],
            weights={"keypoints_torso": 100.0, "keypoints_2d": 50.0},
            iterations=60,
            lr=0.03,
            patience=0,
        ),
        StageConfig(
            name="body_pose",
            optimize=["body_orient", "body_translation", "body_pose"],
            weights={
                "keypoints_2d": 100.0,
                "silhouette_body": 1.0,
                "depth": 2.0,
                "pose_prior": 0.2,
            },
            iterations=80,
            lr=0.03,
            patience=10,
        ),
    ]


@dataclass
class BodyInitConfig:
    """How a body is found when the sample has no body initialization.

    Every pose of the interaction pose library (or the rest pose alone) is placed at the
    person's distance (depth inside the person mask, else the torso's size in pixels) and
    turned about the vertical axis by `turns` evenly spaced angles (keypoints alone confuse a
    person seen from the front with one seen from behind). All hypotheses are fitted at once,
    as one batch, by `stages` of the same staged fitter, at the fitting's resolution and sigma:
    after the first stage (the root against the keypoints, cheap) only the `keep` best go on,
    ranked by their loss relative to the best one's plus `prior_weight` times the negative log
    probability of their pose for the object's category; the best at the end, ranked the same
    way, is kept.

    Attributes:
        turns: rotations about the vertical axis tried per pose.
        pose_library: start from the interaction pose library; False starts from the rest pose.
        keep: hypotheses fitted on after the first stage.
        prior_weight: weight of the category's pose prior in the ranking (0: none). At 0.3 a
            pose twice as likely for the category (a chair: sitting against a hand on it) makes
            up for a loss 21% higher; on the photo protocol's scenes the keypoints' evidence
            alone picked the staged pose in 11 of 13, and at the earlier 0.05 on the absolute
            loss the prior overruled it (a person beside a chair was fitted sitting).
        depth: place the body by the depth map and fit it to it too. Off, the body's distance
            comes from its size (the torso keypoints) and the fitting's focal length, and only
            the 2D evidence shapes it: a monocular depth map's scale error (up to 25% in the
            photo protocol) put the body at a distance where it had to lean to match the
            keypoints (a standing person was fitted 28 cm off, leaning 26 degrees; without the
            depth, 2.7 cm). The fit that follows scales the depth map to the body instead
            (`FitConfig.depth_to_body`).
        stages: the body-only schedule (object variables and terms are not allowed).
    """

    turns: int = 8
    pose_library: bool = True
    keep: int = 4
    prior_weight: float = 0.3
    depth: bool = False
    stages: list[StageConfig] = field(default_factory=_default_body_stages)

    def __post_init__(self):
        _at_least("turns", self.turns, 1)
        _at_least("keep", self.keep, 1)
        _at_least("prior_weight", self.prior_weight, 0.0)
        for index, stage in enumerate(self.stages):
            moving = sorted(set(stage.optimize) & set(OBJECT_VARIABLES))
            if moving:
                raise ConfigError(f"stages.{index}: a body stage cannot optimize {moving[0]!r}")
            if not stage.optimize:
                raise ConfigError(f"stages.{index}: a body stage must optimize a body variable")


@dataclass
class FitConfig:
    """The fitting stage.

    Attributes:
        resolution: longer side, in pixels, of the images the losses compare (masks and depth are
            resampled to it); smaller is faster.
        sigma: soft-silhouette edge width in px^2 at that resolution.
        contact_threshold: body/object contact probability above which a vertex counts as in
            contact (choosing limbs to optimize, metrics).
        body_proxy_faces: faces of the coarse proxy of the body (made of its own vertices) whose
            silhouette and depth the image terms compare; 0 uses the full mesh.
        object_proxy_faces: the same for the object: a mesh with more faces (a scan may have
            hundreds of thousands) is drawn through a decimated proxy of its own vertices; 0
            uses the full mesh. Not lower by default: decimation thins a chair's or a table's
            legs (proxy IoU 0.92 at 2000 faces for a table of 12.9k, 0.95 at 3000).
        contact_prior: without a contact map (annotated or predicted), use the interaction
            library's contact prior for the object's category (which body parts touch it, and
            where on it).
        prior_contact_poses_body: whether a contact that comes from that prior may turn the
            body and bend its limbs in the stages that involve the object. False keeps the
            body's orientation and pose as the image evidence fitted them (only its position
            moves): on photo-protocol scenes, contact guessed from the category pulled the body
            away from the truth (the seated person's error grew from 6 to 22 cm).
        prior_contact_reach: metres; with contact from that prior, each unpaired contact
            distance d counts as d * reach / (d + reach) (`optim.losses.contact_unpaired`):
            guessed contact closes the gaps the image leaves small, but no longer drags the
            object off where the masks and the depth map put it towards a body part the
            photo places far from it (a standing person's other hand, a lying body misplaced).
            None keeps plain distances. On the 18 photo-protocol scenes (monocular depth),
            against plain distances: object relative to the body 16.2 -> 11.2 cm median (19.2
            -> 13.9 mean), object Chamfer 17.0 -> 11.3 cm, contact 2.1 -> 1.7 cm; rotation
            22.0 -> 18.1 deg. A reach of 0.15 m: relative 10.1 cm but contact 2.7 cm (a lying
            body let go of its table: 31 cm); 0.2 m in between.
        depth_to_body: before fitting, scale the depth map by the median ratio of the initial
            body's depth to it inside the person mask (a monocular estimate's scale is
            uncertain), so that the object is placed relative to the body the image shows
            rather than at the depth map's absolute distance; a map within 5% of the body's
            scale is kept (`hoifit.fit_inputs.METRIC_DEPTH_TOLERANCE`).
        focal_from_depth: when the focal length is only the default guess (no camera.json, no
            configured focal length or field of view, none in EXIF) and there is a depth map,
            the body initialization is moved to the map's distance and the focal length scaled
            to match (`hoifit.fit_inputs.focal_from_depth`); the camera goes to camera.json. Off
            by default: on the 18 photo-protocol scenes (seed 0) it halved the absolute
            translation error and cut the floor gap (58 -> 26 cm, 13.6 -> 8.3 cm) but the
            median object rotation error rose from 14 to 30 degrees. Nothing in the geometry is
            inconsistent: the object hypotheses are near-tied (on the hand on a chair the right
            turn's silhouette IoU is 0.46 against 0.50 for one 50 degrees off, and the depth
            map's relief decides), and the other perspective tips them the other way.
        object_points: object surface points used for the object-in-body penetration term.
        init: object initialization.
        body_init: body initialization, for samples without one.
        stages: the schedule, run in order.
        progress: show a progress bar while a stage runs (on a terminal only; a log gets one
            line per stage).
    """

    resolution: int = 128
    sigma: float = 0.5
    contact_threshold: float = 0.5
    contact_prior: bool = True
    prior_contact_poses_body: bool = False
    prior_contact_reach: float | None = 0.3
    depth_to_body: bool = True
    focal_from_depth: bool = False
    body_proxy_faces: int = 6000
    object_proxy_faces: int = 20000
    object_points: int = 800
    init: ObjectInitConfig = field(default_factory=ObjectInitConfig)
    body_init: BodyInitConfig = field(default_factory=BodyInitConfig)
    stages: list[StageConfig] = field(default_factory=list)
    progress: bool = True

    def __post_init__(self):
        _at_least("resolution", self.resolution, 16)
        _positive("sigma", self.sigma)
        _within("contact_threshold", self.contact_threshold, 0.0, 1.0)
        _at_least("object_points", self.object_points, 1)
        _at_least("body_proxy_faces", self.body_proxy_faces, 0)
        _at_least("object_proxy_faces", self.object_proxy_faces, 0)


def _at_least(name: str, value, low) -> None:
    if not value >= low:
        raise ConfigError(f"{name} must be at least {low}, got {value}")


def _positive(name: str, value) -> None:
    if not value > 0:
        raise ConfigError(f"{name} must be positive, got {value}")


def _within(name: str, value, low, high) -> None:
    if not low <= value <= high:
        raise ConfigError(f"{name} must be in [{low}, {high}], got {value}")
