"""Predict body (and object) contact of one photo with a converted InteractVLM checkpoint.

    python scripts/predict_contact.py IMAGE --object NAME --checkpoint DIR --out PRED.npz
        [--interactvlm-data DIR] [--object-mesh PATH] [--inference-type generate|forward]
        [--answer TEXT] [--device cpu|cuda] [--max-new-tokens N] [--questions training|demo]

PRED.npz holds body_contact (6890,) on SMPL topology (with a human-contact checkpoint),
object_contact (V,) on --object-mesh (with an object-contact checkpoint and a mesh), text (the
answer) and topology ("smpl"). Body contact needs InteractVLM's data/ folder (--interactvlm-data).
Runs in float32 on the CPU and bfloat16 on a GPU.
"""

import argparse
import sys

import numpy as np

from contact.interactvlm.model import load_interactvlm
from contact.interactvlm.predict import INFERENCE_TYPES, predict_interactvlm_contact
from reconstruction.atomic_io import atomic_write_npz
from reconstruction.errors import HoifitError
from reconstruction.image_io import load_image


def main(argv=None) -> int:
    """Parse arguments, load the checkpoint, predict, write the npz."""
    parser = argparse.ArgumentParser(description="Predict contact with InteractVLM weights.")
    parser.add_argument("image", help="the photo")
    parser.add_argument("--object", required=True, help="the object class, e.g. chair")
    parser.add_argument("--checkpoint", required=True, help="from scripts/convert_interactvlm.py")
    parser.add_argument("--out", required=True, help="the .npz to write")
    parser.add_argument("--interactvlm-data", default=None, help="InteractVLM's data/ folder")
    parser.add_argument("--object-mesh", default=None, help="object mesh for object contact")
    parser.add_argument("--inference-type", choices=INFERENCE_TYPES, default="generate")
    parser.add_argument("--answer", default=None, help="teacher-forced answer with [SEG]")
    parser.add_argument("--device", default=None, help="default: cuda when available, else cpu")
    parser.add_argument("--max-new-tokens", type=int, default=512)
    parser.add_argument(
        "--questions",
        choices=("training", "demo"),
        default="training",
        help="the checkpoint's own questions, or those of the published run_demo.py",
    )
    args = parser.parse_args(argv)
    try:
        import torch

        device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
        image, _ = load_image(args.image)
        model = load_interactvlm(args.checkpoint, device)
        result = predict_interactvlm_contact(
            model,
            image,
            args.object,
            object_mesh=args.object_mesh,
            interactvlm_data=args.interactvlm_data,
            inference_type=args.inference_type,
            answer=args.answer,
            max_new_tokens=args.max_new_tokens,
            questions=args.questions,
        )
    except HoifitError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    arrays = {"text": np.array(result.text), "topology": np.array(result.topology)}
    if result.body_contact is not None:
        arrays["body_contact"] = result.body_contact
    if result.object_contact is not None:
        arrays["object_contact"] = result.object_contact
        arrays["object_text"] = np.array(result.object_text)
    atomic_write_npz(args.out, arrays)
    print(f"wrote {args.out}: {result.text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
