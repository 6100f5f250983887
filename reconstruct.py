"""Reconstruct a 3D human-object interaction from one image or sample folder.

python reconstruct.py INPUT [--config NAME] [--out DIR] [--workers N] [--set key=value]

The same as `hoifit reconstruct INPUT ...` (see `hoifit.cli`).
"""

import sys

from hoifit import cli


def main(argv: list[str] | None = None) -> int:
    """`hoifit reconstruct` with these arguments; returns the exit status."""
    return cli.main(["reconstruct", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
