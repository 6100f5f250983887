"""Train the learned contact estimator (LLaVA + LoRA + SAM decoder) on sample folders.

    python scripts/train_contact.py --data DIR [DIR ...] --out DIR [--steps N] [--lr LR]
        [--batch-size B] [--accumulation K] [--mixed-precision no|bf16|fp16] [--save-every S]
        [--seed S] [--resume] [--vlm ID_OR_PATH] [--sam ID_OR_PATH] [--render-size R]
        [--body-backend anny|smplx|smpl] [--body-model-dir DIR] [--no-object-contact] [--cpu]

See `contact.train` for what is written into --out.
"""

import argparse
import sys

from contact.config import ContactModelConfig
from contact.train import MIXED_PRECISION, TrainConfig, train
from reconstruction.body_models import BACKENDS
from reconstruction.errors import HoifitError


def main(argv=None) -> int:
    """Parse arguments, build the configuration, train."""
    defaults = ContactModelConfig()
    parser = argparse.ArgumentParser(description="Train the contact estimator.")
    parser.add_argument("--data", nargs="+", required=True, help="sample folders or their roots")
    parser.add_argument("--out", required=True, help="output folder (log, checkpoints)")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--accumulation", type=int, default=1)
    parser.add_argument("--mixed-precision", choices=MIXED_PRECISION, default="no")
    parser.add_argument("--save-every", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resume", action="store_true", help="continue from the latest checkpoint")
    parser.add_argument("--vlm", default=defaults.vlm, help="LLaVA hub id or local folder")
    parser.add_argument("--sam", default=defaults.sam, help="SAM hub id or local folder")
    parser.add_argument("--render-size", type=int, default=defaults.render_size)
    parser.add_argument("--body-backend", choices=BACKENDS, default="anny")
    parser.add_argument("--body-model-dir", default=None)
    parser.add_argument("--no-object-contact", action="store_true", help="train body contact only")
    parser.add_argument("--cpu", action="store_true", help="stay on the CPU")
    args = parser.parse_args(argv)
    config = TrainConfig(
        data=args.data,
        output_dir=args.out,
        model=ContactModelConfig(vlm=args.vlm, sam=args.sam, render_size=args.render_size),
        steps=args.steps,
        lr=args.lr,
        batch_size=args.batch_size,
        accumulation=args.accumulation,
        mixed_precision=args.mixed_precision,
        save_every=args.save_every,
        seed=args.seed,
        body_backend=args.body_backend,
        body_model_dir=args.body_model_dir,
        object_contact=not args.no_object_contact,
        resume=args.resume,
        cpu=args.cpu,
    )
    try:
        train(config)
    except (HoifitError, FileNotFoundError, ImportError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
