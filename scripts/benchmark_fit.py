"""Benchmark the fitting presets on synthetic scenes with ground truth.

    python scripts/benchmark_fit.py [--count 20 | --quick] [--presets default fast ...]
        [--protocol near_true|photo] [--depth mono|none] [--seed S] [--work DIR] [--json PATH]

Generates N scenes at two noise levels (low, high), reconstructs each with every preset on the
same inputs, and prints per preset and noise level the median wall time per scene and the
evaluation medians (see scripts/evaluate.py), under a line saying what the fitting was given.
--protocol near_true (the default) hands the fitting near-true inputs; --protocol photo only what
a photo and perception give, with --depth mono (monocular-like) or none (see
reconstruction/synthetic/scenes.py).
"""

import argparse
import json
import logging
import sys
import tempfile
from pathlib import Path

from hoifit.benchmark import NOISE, PRESETS, describe_inputs, format_results, run_benchmark
from reconstruction.atomic_io import atomic_write_text
from reconstruction.synthetic import DEPTH_VARIANTS, PROTOCOLS


def main(argv=None) -> int:
    """Parse arguments, run the benchmark, print (and write) the figures."""
    parser = argparse.ArgumentParser(description="Benchmark the fitting presets.")
    parser.add_argument("--count", type=int, default=20, help="scenes per noise level")
    parser.add_argument("--quick", action="store_true", help="5 scenes per noise level")
    parser.add_argument("--presets", nargs="+", default=list(PRESETS))
    parser.add_argument("--noise", nargs="+", default=list(NOISE), choices=["none", *NOISE])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--protocol", choices=PROTOCOLS, default="near_true")
    parser.add_argument(
        "--depth", choices=DEPTH_VARIANTS, default="mono", help="depth of the photo protocol"
    )
    parser.add_argument("--work", type=Path, help="keep samples and results here")
    parser.add_argument("--json", type=Path, help="write the figures as JSON")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="config override applied to every preset",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    count = 5 if args.quick else args.count
    with tempfile.TemporaryDirectory() as scratch:
        results = run_benchmark(
            args.work or Path(scratch),
            count,
            args.presets,
            args.noise,
            args.seed,
            overrides=args.set,
            protocol=args.protocol,
            depth=args.depth,
        )
    print(format_results(results, describe_inputs(args.protocol, args.depth)))
    if args.json:
        atomic_write_text(args.json, json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
