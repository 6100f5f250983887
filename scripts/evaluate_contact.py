"""Evaluate predicted contact against annotated sample folders with the DAMON and PIAD metrics.

    python scripts/evaluate_contact.py SAMPLES_DIR PREDICTIONS_DIR [--json PATH]
        [--geodesic-dtype float16|float32] [--body-model-dir DIR]

PREDICTIONS_DIR holds `<sample name>/contact.npz`; see `contact.evaluate` for what is scored.
"""

import argparse
import json
import sys
from pathlib import Path

from contact.evaluate import evaluate
from reconstruction.atomic_io import atomic_write_json
from reconstruction.errors import HoifitError


def main(argv=None) -> int:
    """Parse arguments, evaluate, print and write the aggregates."""
    parser = argparse.ArgumentParser(description="Evaluate predicted contact (DAMON, PIAD).")
    parser.add_argument("samples", type=Path, help="folder of annotated sample folders")
    parser.add_argument("predictions", type=Path, help="folder of <sample>/contact.npz")
    parser.add_argument("--json", type=Path, help="write the aggregates here")
    parser.add_argument(
        "--geodesic-dtype",
        choices=("float16", "float32"),
        default="float16",
        help="storage of the cached body geodesic matrix (float16 halves 190-750 MB)",
    )
    parser.add_argument("--body-model-dir", help="SMPL-X / SMPL model folder, for those bodies")
    args = parser.parse_args(argv)
    try:
        if not args.predictions.is_dir():
            raise HoifitError(f"predictions folder {args.predictions} does not exist")
        result = evaluate(args.samples, args.predictions, args.geodesic_dtype, args.body_model_dir)
    except (HoifitError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2))
    if args.json:
        atomic_write_json(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
