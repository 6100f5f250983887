"""Reconstruct a 3D human-object interaction from one image or sample folder.

python reconstruct.py SAMPLE_FOLDER_OR_IMAGE [--config NAME] [--out DIR] [--set key=value]
"""

import argparse
import logging
import sys
from pathlib import Path

from reconstruction.config import load_config, preset_names
from reconstruction.errors import HoifitError
from reconstruction.object_model import MeshError
from reconstruction.pipeline import reconstruct


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, build the config, run the pipeline; returns the exit status.

    0 when every sample was reconstructed, 1 when some of a folder of samples failed, 2 when the
    input or configuration is unusable.
    """
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("input", help="an image file or a sample folder")
    parser.add_argument(
        "--config",
        default="default",
        help=f"preset ({', '.join(preset_names())}) or path of a YAML config",
    )
    parser.add_argument("--out", help="output folder (default: outputs/<sample name>)")
    parser.add_argument("--object-mesh", help="object mesh to use (obj, ply, glb, off)")
    parser.add_argument(
        "--object", help="name of the object to look for (default: from NAME__id file names)"
    )
    parser.add_argument("--device", help="auto, cpu, cuda or cuda:N (overrides the config)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config field, e.g. --set body.backend=smplx (repeatable)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        overrides = list(args.set) + ([f"device={args.device}"] if args.device else [])
        config = load_config(args.config, overrides)
        out = Path(args.out) if args.out else Path("outputs") / Path(args.input).resolve().stem
        outcomes = reconstruct(
            args.input, out, config, object_mesh=args.object_mesh, object_name=args.object
        )
    except (HoifitError, MeshError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    failed = [name for name, status in outcomes if status.startswith("error")]
    for name, status in outcomes:
        print(f"{name}: {status}")
    print(f"wrote {out}" + (f" ({len(failed)} of {len(outcomes)} failed)" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
