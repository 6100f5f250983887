"""Typed configuration of the fitting: object initialization and the staged schedule."""

from dataclasses import dataclass, field

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
            uniformly random rotations.
        keep: hypotheses kept after scoring; they are optimized together until the first stage
            that moves the body, where the best one is chosen.
        icp_steps: rigid-alignment steps of the object's contact points onto the body's.
        use_contact: place hypotheses by the contact points (InteractVLM, PICO); without it
            (PHOSA) they sit at the object mask's centroid.
    """

    num_hypotheses: int = 64
    upright_fraction: float = 0.5
    keep: int = 4
    icp_steps: int = 5
    use_contact: bool = True


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


@dataclass
class FitConfig:
    """The fitting stage.

    Attributes:
        resolution: longer side, in pixels, of the images the losses compare (masks and depth are
            resampled to it); smaller is faster.
        sigma: soft-silhouette edge width in px^2 at that resolution.
        contact_threshold: body/object contact probability above which a vertex counts as in
            contact (choosing limbs to optimize, metrics).
        object_points: object surface points used for the object-in-body penetration term.
        init: object initialization.
        stages: the schedule, run in order.
        progress: show a progress bar.
    """

    resolution: int = 128
    sigma: float = 0.5
    contact_threshold: float = 0.5
    object_points: int = 800
    init: ObjectInitConfig = field(default_factory=ObjectInitConfig)
    stages: list[StageConfig] = field(default_factory=list)
    progress: bool = True
