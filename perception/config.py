"""Configuration of the perception stage."""

from dataclasses import dataclass

from reconstruction.errors import ConfigError

DEPTH_MODELS = ("depth_pro", "depth_anything")


@dataclass
class PerceptionConfig:
    """Which perception models to use and how confident they must be.

    Each model field takes a registry name (`hoifit.registry.MODELS`), a Hugging Face hub
    id or a local checkpoint folder.

    Attributes:
        detector: open-vocabulary object detector (Grounding DINO).
        segmenter: box-prompted segmenter (SAM).
        depth_model: "depth_pro" (metric depth and focal length) or "depth_anything" (metric
            depth only).
        depth_pro: the Depth Pro checkpoint.
        depth_anything: the metric Depth Anything checkpoint.
        person_detector: person detector (RT-DETR).
        pose: 2D keypoint model (ViTPose).
        clip: CLIP model for retrieval.
        object_threshold: minimum Grounding DINO score of the object.
        person_threshold: minimum RT-DETR score of a person.
    """

    detector: str = "IDEA-Research/grounding-dino-tiny"
    segmenter: str = "facebook/sam-vit-base"
    depth_model: str = "depth_pro"
    depth_pro: str = "apple/DepthPro-hf"
    depth_anything: str = "depth-anything/Depth-Anything-V2-Metric-Indoor-Small-hf"
    person_detector: str = "PekingU/rtdetr_r50vd_coco_o365"
    pose: str = "usyd-community/vitpose-base-simple"
    clip: str = "openai/clip-vit-base-patch32"
    object_threshold: float = 0.3
    person_threshold: float = 0.5

    def __post_init__(self):
        if self.depth_model not in DEPTH_MODELS:
            raise ConfigError(
                f"depth_model must be one of {', '.join(DEPTH_MODELS)}, got {self.depth_model!r}"
            )
        for name in ("object_threshold", "person_threshold"):
            if not 0 <= getattr(self, name) <= 1:
                raise ConfigError(f"{name} must be in [0, 1], got {getattr(self, name)}")

    def model_for(self, stage: str) -> str:
        """The configured model of a registry stage (`hoifit.registry.STAGES`)."""
        return getattr(self, self.depth_model if stage == "depth" else stage)
