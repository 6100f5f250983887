"""Synthetic human-object interaction scenes with exact ground truth, as sample folders.

`make_scene` builds one sample in memory and `write_synthetic_samples` writes many; see
`scenes` for the pipeline, `interactions` for what is staged, `noise` for the noise levels.
"""

from reconstruction.synthetic.interactions import INTERACTIONS
from reconstruction.synthetic.noise import NOISE_LEVELS
from reconstruction.synthetic.scenes import (
    SyntheticScene,
    make_scene,
    sample_name,
    write_synthetic_samples,
)

__all__ = [
    "INTERACTIONS",
    "NOISE_LEVELS",
    "SyntheticScene",
    "make_scene",
    "sample_name",
    "write_synthetic_samples",
]
