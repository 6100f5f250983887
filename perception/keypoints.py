"""Top-down 2D body keypoints (COCO-17) with ViTPose."""

from pathlib import Path

import numpy as np
import torch

from perception.preprocess import to_uint8_rgb


class PoseEstimator:
    """ViTPose on person boxes.

    Args:
        model: a `VitPoseForPoseEstimation` with 17 COCO keypoints.
        processor: its `VitPoseImageProcessorPil`: it crops each box (grown by 1.25 to the
            input's aspect ratio) and maps the heatmap peaks back to image pixels.
        device: where the model runs.
    """

    def __init__(self, model, processor, device: torch.device):
        self.model = model.to(device).eval()
        self.processor = processor
        self.device = device

    @classmethod
    def from_pretrained(cls, folder: Path, device: torch.device) -> "PoseEstimator":
        """Load a checkpoint folder (config, weights, preprocessor config)."""
        from transformers import VitPoseForPoseEstimation, VitPoseImageProcessorPil

        return cls(
            VitPoseForPoseEstimation.from_pretrained(folder),
            VitPoseImageProcessorPil.from_pretrained(folder),
            device,
        )

    def keypoints(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """Keypoints of the person in each box (all boxes run as one batch).

        Args:
            image: (H, W, 3) uint8 RGB.
            boxes: (N, 4) XYXY pixels of `image`.

        Returns:
            (N, 17, 3) float32: (u, v) pixels of `image` and confidence in [0, 1].
        """
        return self.keypoints_batch([image], [boxes])[0]

    @torch.no_grad()
    def keypoints_batch(
        self, images: list[np.ndarray], boxes: list[np.ndarray]
    ) -> list[np.ndarray]:
        """`keypoints` for several images (all their boxes in one batch); B arrays (N_i, 17, 3)."""
        images = [to_uint8_rgb(image) for image in images]
        # The processor takes COCO boxes: (x, y, width, height).
        coco = []
        for image_boxes in boxes:
            xyxy = np.asarray(image_boxes, np.float32).reshape(-1, 4)
            coco.append(np.concatenate([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]], axis=1))
        count = self.model.config.num_labels
        if sum(len(c) for c in coco) == 0:
            return [np.zeros((0, count, 3), np.float32) for _ in images]
        pixel_values = self.processor(
            images, boxes=coco, return_tensors="pt", input_data_format="channels_last"
        )["pixel_values"].to(self.device)  # (sum N_i, 3, height, width)
        kwargs = {}
        if getattr(self.model.config.backbone_config, "num_experts", 1) > 1:
            # Mixture-of-experts checkpoints pick their COCO head by dataset index 0.
            kwargs["dataset_index"] = torch.zeros(
                len(pixel_values), dtype=torch.long, device=self.device
            )
        outputs = self.model(pixel_values=pixel_values, **kwargs)
        poses = self.processor.post_process_pose_estimation(outputs, boxes=coco)
        results = []
        for image_poses in poses:
            result = np.zeros((len(image_poses), count, 3), np.float32)
            for n, pose in enumerate(image_poses):
                result[n, :, :2] = pose["keypoints"].numpy()
                # Heatmap peaks of a weak prediction may leave [0, 1].
                result[n, :, 2] = pose["scores"].clamp(0, 1).numpy()
            results.append(result)
        return results
