"""The `hoifit` command: `hoifit reconstruct INPUT [options]`.

Arguments are parsed and the config is built and checked before anything heavy is imported,
so a misspelt key, loss or backend is a one-line error with exit status 2 at once.
"""

import argparse
import gc
import logging
import os
import sys
from pathlib import Path

from hoifit.config import load_config, preset_names
from reconstruction.errors import HoifitError


def _reconstruct_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "reconstruct",
        help="reconstruct an image, a sample folder or a folder of sample folders",
        description="Reconstruct a 3D human-object interaction from one image or sample folder.",
    )
    parser.add_argument("input", help="an image file, a sample folder or a folder of them")
    parser.add_argument(
        "--config",
        default="default",
        help=f"preset ({', '.join(preset_names())}) or path of a YAML config",
    )
    parser.add_argument("--out", help="output folder (default: outputs/<input name>)")
    parser.add_argument("--object-mesh", help="object mesh to use (obj, ply, glb, off)")
    parser.add_argument(
        "--object-up",
        type=_up_axis,
        metavar="AXIS",
        help="the object mesh's up axis: x, y, z, +x, ... (negative ones as --object-up=-z); "
        "overrides object_frame.json (default: its up, else +y)",
    )
    parser.add_argument(
        "--object", help="name of the object to look for (default: from NAME__id file names)"
    )
    parser.add_argument("--device", help="auto, cpu, cuda or cuda:N (overrides the config)")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes for a folder of samples, each with its share of the CPU cores",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config field, e.g. --set body.backend=smplx (repeatable)",
    )


def _up_axis(text: str) -> str:
    """'z' -> '+z': an axis without a sign points along itself (checked after parsing)."""
    text = text.strip().lower()
    return text if text[:1] in "+-" else f"+{text}"


def reconstruct_command(args: argparse.Namespace) -> int:
    """Build the config, run the pipeline; returns the exit status.

    0 when every sample was reconstructed, 1 when some of a folder of samples failed, 2 when the
    input or configuration is unusable.
    """
    if args.workers < 1:
        raise HoifitError(f"--workers must be at least 1, got {args.workers}")
    overrides = list(args.set) + ([f"device={args.device}"] if args.device else [])
    config = load_config(args.config, overrides)
    # Imported only now: torch and the models take seconds to import.
    from hoifit.pipeline import reconstruct
    from reconstruction.object_model import UP_TO_Y, MeshError

    # The modules imported so far live as long as the process: out of the garbage collector's
    # reach, they are not walked again by each collection during the fit.
    gc.freeze()
    if args.object_up is not None and args.object_up not in UP_TO_Y:
        raise HoifitError(
            f"--object-up must be one of {', '.join(UP_TO_Y)}, got {args.object_up!r}"
        )

    out = Path(args.out) if args.out else Path("outputs") / Path(args.input).resolve().stem
    try:
        outcomes = reconstruct(
            args.input,
            out,
            config,
            object_mesh=args.object_mesh,
            object_name=args.object,
            workers=args.workers,
            object_up=args.object_up,
        )
    except (MeshError, FileNotFoundError) as error:
        raise HoifitError(str(error)) from error
    # Nor at exit, where collecting the million objects of torch and the models took 1.5 s.
    gc.freeze()
    failed = [name for name, status in outcomes if status.startswith("error")]
    for name, status in outcomes:
        print(f"{name}: {status}")
    print(f"wrote {out}" + (f" ({len(failed)} of {len(outcomes)} failed)" if failed else ""))
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `hoifit` console script; returns the exit status."""
    parser = argparse.ArgumentParser(prog="hoifit", description=__doc__.strip().splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True)
    _reconstruct_parser(subparsers)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not sys.stderr.isatty():
        # In a log, a progress bar (transformers' weight loading, the hub) writes a line per
        # refresh; the stages write one line each instead. Worker processes inherit this.
        os.environ.setdefault("TQDM_DISABLE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        return reconstruct_command(args)
    except HoifitError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
