"""Synthetic human-object interaction scenes with exact ground truth, as sample folders.

`make_scene` builds one sample in memory and `write_synthetic_samples` writes many; see
`scenes` for the pipeline and the protocols (near-true or photo inputs), `interactions` for what
is staged, `noise` for the noise levels.
"""

from reconstruction.synthetic.interactions import INTERACTIONS
from reconstruction.synthetic.noise import NOISE_LEVELS
from reconstruction.synthetic.scenes import (
    DEPTH_VARIANTS,
    PROTOCOLS,
    SyntheticScene,
    make_scene,
    sample_name,
    write_scene,
    write_synthetic_samples,
)

__all__ = [
    "DEPTH_VARIANTS",
    "INTERACTIONS",
    "NOISE_LEVELS",
    "PROTOCOLS",
    "SyntheticScene",
    "make_scene",
    "sample_name",
    "write_scene",
    "write_synthetic_samples",
]
