"""A short training run of the contact estimator on synthetic scenes, scored against baselines.

    python scripts/contact_short_run.py --out DIR [--train N] [--test N] [--steps N] [--lr LR]
        [--batch-size B] [--size small|tiny] [--image-size PX] [--render-size PX] [--seed S]
        [--body-backend anny|smplx|smpl] [--body-model-dir DIR] [--geodesic-dtype float16|float32]

No pretrained weights are needed: the model is a randomly initialized LLaVA and SAM of
`contact.random_models.SIZES[--size]` (built from configs and saved under DIR/models), trained
with `contact.train.train` on the CPU. The run shows that the whole learning path (prompt, LoRA,
projection, FeatLift, decoder, lift, losses) learns from data; it says nothing about the accuracy
of a model fine-tuned from real LLaVA and SAM weights.

Steps:
1. DIR/train and DIR/test: synthetic scenes (`write_synthetic_samples`, seeds S and S + 1).
2. DIR/run: training log and checkpoints (`contact.train`).
3. DIR/predictions/<method>/<sample>/contact.npz for the trained model and the baselines:
   - `zero`: no contact anywhere;
   - `average`: the mean body contact map of the training scenes, and for the object the mean
     map of the training scenes with the same object mesh;
   - `category_average`: the mean body contact map of the training scenes of the test scene's
     object category (what the object name alone tells), object as in `average`.
4. The DAMON body metrics (F1, precision, recall at 0.5, geodesic error) and the PIAD object
   metrics of every method (`contact.evaluate.evaluate`), printed as a table and
   written to DIR/results.json.
"""

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import transformers

from contact.config import ContactModelConfig
from contact.dataset import object_name
from contact.evaluate import evaluate
from contact.inference import load_contact_model, predict_folder
from contact.random_models import save_random_llava, save_random_sam
from contact.train import TrainConfig, latest_checkpoint, train
from reconstruction.atomic_io import atomic_write_json
from reconstruction.body_models import BACKENDS, build_body_model
from reconstruction.errors import HoifitError
from reconstruction.sample_io import GroundTruth, SampleContact, read_ground_truth, write_contact
from reconstruction.synthetic import INTERACTIONS, write_synthetic_samples

BASELINES = ("zero", "average", "category_average")


def _mesh_key(folder: Path, truth: GroundTruth) -> tuple[str, int]:
    """Identifies a sample's object mesh: its category and vertex count (that of its contact)."""
    return object_name(folder), len(truth.object_contact)


def baseline_predictions(
    train_folders: list[Path], test_folders: list[Path]
) -> dict[str, dict[str, tuple[np.ndarray, np.ndarray | None]]]:
    """The baselines' (body, object) contact for each test sample, from the training scenes.

    Returns:
        {baseline: {test sample name: (body (V,), object (Vo,) or None)}}; object is None where
        no training scene has the same object mesh.
    """
    body_maps: list[np.ndarray] = []
    body_by_category: dict[str, list[np.ndarray]] = defaultdict(list)
    object_by_mesh: dict[tuple[str, int], list[np.ndarray]] = defaultdict(list)
    for folder in train_folders:
        truth = read_ground_truth(folder)
        body_maps.append(truth.body_contact)
        body_by_category[object_name(folder)].append(truth.body_contact)
        object_by_mesh[_mesh_key(folder, truth)].append(truth.object_contact)
    average = np.mean(body_maps, axis=0)
    out: dict[str, dict] = {name: {} for name in BASELINES}
    for folder in test_folders:
        objects = object_by_mesh.get(_mesh_key(folder, read_ground_truth(folder)))
        object_average = None if not objects else np.mean(objects, axis=0)
        category = body_by_category.get(object_name(folder))
        out["zero"][folder.name] = (
            np.zeros_like(average),
            None if object_average is None else np.zeros_like(object_average),
        )
        out["average"][folder.name] = (average, object_average)
        out["category_average"][folder.name] = (
            average if category is None else np.mean(category, axis=0),
            object_average,
        )
    return out


def write_predictions(
    folder: Path, predictions: dict[str, tuple[np.ndarray, np.ndarray | None]], topology: str
) -> None:
    """Write {sample name: (body, object)} as `folder/<sample>/contact.npz`."""
    for name, (body, obj) in predictions.items():
        contact = SampleContact(
            body_contact=np.asarray(body, np.float32),
            body_topology=topology,
            object_contact=None if obj is None else np.asarray(obj, np.float32),
        )
        write_contact(folder / name, contact)


def format_table(results: dict[str, dict]) -> str:
    """Markdown table of the body and object metrics of every method."""
    columns = "F1 | precision | recall | geodesic cm | obj SIM | obj MAE | obj AUC | obj aIOU"
    lines = [f"| method | {columns} |", "|" + "---|" * 9]
    for method, result in results.items():
        damon, piad = result["damon"] or {}, result["piad"] or {}
        values = [damon.get(k, np.nan) for k in ("f1", "precision", "recall", "geodesic_error_cm")]
        values += [piad.get(k, np.nan) for k in ("sim", "mae", "auc", "aiou")]
        lines.append(f"| {method} | " + " | ".join(f"{v:.3f}" for v in values) + " |")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> dict:
    """Generate, train, predict, evaluate; return {"results", "train_seconds", ...}."""
    out = Path(args.out)
    size = (args.image_size, args.image_size)
    common = {
        "image_size": size,
        "body_backend": args.body_backend,
        "model_dir": args.body_model_dir,
    }
    train_folders = write_synthetic_samples(out / "train", args.train, seed=args.seed, **common)
    test_folders = write_synthetic_samples(out / "test", args.test, seed=args.seed + 1, **common)

    categories = tuple(sorted({i.category for i in INTERACTIONS.values()}))
    save_random_llava(out / "models" / "llava", args.size, categories, seed=args.seed)
    save_random_sam(out / "models" / "sam", args.size, seed=args.seed)
    config = TrainConfig(
        data=[str(out / "train")],
        output_dir=str(out / "run"),
        model=ContactModelConfig(
            vlm=str(out / "models" / "llava"),
            sam=str(out / "models" / "sam"),
            lora_dropout=0.0,
            render_size=args.render_size,
        ),
        steps=args.steps,
        lr=args.lr,
        batch_size=args.batch_size,
        save_every=args.steps,
        seed=args.seed,
        body_backend=args.body_backend,
        body_model_dir=args.body_model_dir,
        cpu=True,
    )
    started = time.perf_counter()
    history = train(config, log=every_nth_step(max(1, args.steps // 20)))
    train_seconds = time.perf_counter() - started

    body_model = build_body_model(args.body_backend, model_dir=args.body_model_dir)
    model = load_contact_model(latest_checkpoint(out / "run") / "trainable.pt")
    started = time.perf_counter()
    predicted = {}
    for folder in test_folders:
        prediction = predict_folder(model, folder, body_model)
        predicted[folder.name] = (prediction.body, prediction.object)
    predict_seconds = (time.perf_counter() - started) / len(test_folders)
    methods = {"model": predicted, **baseline_predictions(train_folders, test_folders)}
    results = {}
    for method, predictions in methods.items():
        write_predictions(out / "predictions" / method, predictions, body_model.name)
        results[method] = evaluate(
            out / "test", out / "predictions" / method, args.geodesic_dtype, args.body_model_dir
        )
    return {
        "results": results,
        "train_seconds": train_seconds,
        "predict_seconds_per_image": predict_seconds,
        "first_loss": history[0],
        "last_loss": history[-1],
        "arguments": vars(args),
    }


def every_nth_step(every: int):
    """A `train` log that prints step 1, every `every`-th step and any other message."""

    def log(line: str) -> None:
        word = line.split()[0]
        if not word.startswith("step=") or word == "step=1" or int(word[5:]) % every == 0:
            print(line, flush=True)

    return log


def main(argv=None) -> int:
    """Parse arguments, run, print the table and write DIR/results.json."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--train", type=int, default=104, help="training scenes")
    parser.add_argument("--test", type=int, default=39, help="test scenes")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--size", choices=("tiny", "small"), default="small")
    parser.add_argument("--image-size", type=int, default=128, help="synthetic image side, px")
    parser.add_argument("--render-size", type=int, default=256, help="contact render side, px")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--body-backend", choices=BACKENDS, default="anny")
    parser.add_argument("--body-model-dir", default=None)
    parser.add_argument("--geodesic-dtype", choices=("float16", "float32"), default="float16")
    args = parser.parse_args(argv)
    transformers.utils.logging.disable_progress_bar()
    try:
        summary = run(args)
    except (HoifitError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(format_table(summary["results"]))
    print(
        f"training: {args.steps} steps in {summary['train_seconds']:.0f} s; "
        f"prediction: {summary['predict_seconds_per_image']:.2f} s per image"
    )
    atomic_write_json(Path(args.out) / "results.json", summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
