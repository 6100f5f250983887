"""Write synthetic human-object interaction samples with ground truth, as sample folders.

python scripts/make_synthetic.py --out DIR --count N [--seed S] [--noise {none,low,high}]
    [--size 256 | --size 320x240] [--body-backend anny] [--model-dir DIR] [--start I]
    [--protocol {near_true,photo}] [--depth {mono,none}]

Sample i is written to DIR/<category>__synth_<seed>_<i>/ (see reconstruction/synthetic).
--protocol near_true (the default) writes near-true inputs (body init, contact, the exact mesh,
the true camera); --protocol photo only what a photo and perception give (no body init, no
contact, another mesh instance in its own frame, no camera.json), with --depth mono
(monocular-like) or none.
"""

import argparse
import sys

from reconstruction.body_models import BACKENDS
from reconstruction.synthetic import (
    DEPTH_VARIANTS,
    NOISE_LEVELS,
    PROTOCOLS,
    write_synthetic_samples,
)


def image_size(text: str) -> tuple[int, int]:
    """(H, W) from "N" (square) or "WIDTHxHEIGHT", e.g. "320x240" -> (240, 320)."""
    width, _, height = text.lower().partition("x")
    try:
        size = (int(height or width), int(width))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected N or WIDTHxHEIGHT, got {text!r}") from None
    if min(size) < 16:
        raise argparse.ArgumentTypeError(f"image size {text!r} is too small (at least 16)")
    return size


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and write the samples; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--out", required=True, help="folder to write the sample folders into")
    parser.add_argument("--count", type=int, required=True, help="number of samples")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the run")
    parser.add_argument("--noise", choices=list(NOISE_LEVELS), default="low")
    parser.add_argument("--size", type=image_size, default=(256, 256), help="N or WxH pixels")
    parser.add_argument("--body-backend", choices=BACKENDS, default="anny")
    parser.add_argument("--model-dir", help="SMPL-X / SMPL model folder (smplx, smpl)")
    parser.add_argument("--start", type=int, default=0, help="index of the first sample")
    parser.add_argument("--protocol", choices=PROTOCOLS, default="near_true")
    parser.add_argument(
        "--depth", choices=DEPTH_VARIANTS, default="mono", help="depth of the photo protocol"
    )
    args = parser.parse_args(argv)
    try:
        write_synthetic_samples(
            args.out,
            args.count,
            seed=args.seed,
            noise=args.noise,
            image_size=args.size,
            body_backend=args.body_backend,
            model_dir=args.model_dir,
            start=args.start,
            log=print,
            protocol=args.protocol,
            depth=args.depth,
        )
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except RuntimeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
