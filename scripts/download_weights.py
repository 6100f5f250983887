"""Download the perception models' weights into the Hugging Face cache.

Usage: python scripts/download_weights.py [stage ...]   (default: every stage's default model;
a registry name such as depth_anything works too)
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hoifit.registry import DEFAULT_MODELS, MODELS, STAGES  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Download the requested models; print one line per model; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stages", nargs="*", help=f"stages {STAGES} or model names {list(MODELS)}")
    args = parser.parse_args(argv)
    names = []
    for item in args.stages or STAGES:
        if item in DEFAULT_MODELS:
            names.append(DEFAULT_MODELS[item])
        elif item in MODELS:
            names.append(item)
        else:
            parser.error(f"unknown stage or model {item!r}")
    from huggingface_hub import snapshot_download

    status = 0
    for name in names:
        info = MODELS[name]
        print(f"{info.title}: {info.hub_id} ({info.licence}, approx. {info.download_gb} GB)")
        try:
            path = snapshot_download(info.hub_id)
        except Exception as error:  # noqa: BLE001 - report any hub failure on one line
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            print(
                f"error: cannot download {info.hub_id} ({reason}): check the network",
                file=sys.stderr,
            )
            status = 1
            continue
        print(f"  -> {path}")
    return status


if __name__ == "__main__":
    sys.exit(main())
