"""Detection, segmentation, depth, 2D keypoints and body initialization."""
