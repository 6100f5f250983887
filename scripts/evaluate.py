"""Evaluate reconstructions against their sample folders.

    python scripts/evaluate.py SAMPLES_DIR RESULTS_DIR [RESULTS_DIR ...] [--json PATH] [--out DIR]

Each RESULTS_DIR (one method) holds one output folder per sample, as `reconstruct.py SAMPLES_DIR
--out RESULTS_DIR` writes them. Prints a table per method; writes evaluation_<method>.csv,
evaluation.json (medians per method) and evaluation.png (error distributions) into --out
(default: the first RESULTS_DIR); --json writes the aggregate (of the only method, or of each).
Each table and aggregate says what inputs the fitting was given (protocol, depth variant, noise),
from the samples' ground_truth.json.
"""

import argparse
import sys
from pathlib import Path

from reconstruction.errors import HoifitError
from reconstruction.evaluation import aggregate
from reconstruction.evaluation_report import evaluate_folder, format_table, write_report


def main(argv=None) -> int:
    """Parse arguments, evaluate, print and write the report."""
    parser = argparse.ArgumentParser(description="Evaluate reconstructions of sample folders.")
    parser.add_argument("samples", type=Path, help="folder of sample folders")
    parser.add_argument("results", type=Path, nargs="+", help="results folder(s), one per method")
    parser.add_argument("--json", type=Path, help="write the aggregate here")
    parser.add_argument("--out", type=Path, help="report folder (default: first results folder)")
    args = parser.parse_args(argv)
    try:
        rows_by_method = {}
        for results in args.results:
            if not results.is_dir():
                raise HoifitError(f"results folder {results} does not exist")
            rows_by_method[results.name] = evaluate_folder(args.samples, results)
    except HoifitError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for method, rows in rows_by_method.items():
        print(f"== {method}")
        print(format_table(rows, aggregate(rows)))
    write_report(rows_by_method, args.out or args.results[0], args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
