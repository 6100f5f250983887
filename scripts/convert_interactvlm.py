"""Convert a published InteractVLM release into a hoifit contact checkpoint folder.

    python scripts/convert_interactvlm.py RELEASE_DIR --out DIR [--clip HUB_ID_OR_DIR]

RELEASE_DIR is the unzipped release as downloaded (config.json, pytorch_model-*.bin, tokenizer
files). The weights are for non-commercial research only; hoifit never fetches or ships them. See
`contact.interactvlm.convert` for what is written into --out.
"""

import argparse
import sys

from contact.interactvlm.convert import DEFAULT_CLIP, convert_release
from reconstruction.errors import HoifitError


def main(argv=None) -> int:
    """Parse arguments and convert."""
    parser = argparse.ArgumentParser(description="Convert an InteractVLM release for hoifit.")
    parser.add_argument("release", help="the unzipped InteractVLM release folder")
    parser.add_argument("--out", required=True, help="the checkpoint folder to create")
    parser.add_argument(
        "--clip",
        default=None,
        help=f"CLIP hub id or local folder (default: the release's, i.e. {DEFAULT_CLIP})",
    )
    args = parser.parse_args(argv)
    try:
        out = convert_release(args.release, args.out, args.clip)
    except HoifitError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
