"""Peak memory and time of contact inference for each weight dtype and quantization.

    python scripts/benchmark_contact_memory.py [--vlm ID_OR_PATH] [--sam ID_OR_PATH]
        [--options fp32 bf16 fp16 8bit 4bit] [--device cuda|cpu] [--random-size tiny|small]
        [--interactvlm CHECKPOINT --interactvlm-data DIR] [--json PATH]

Each option runs in a fresh process: load `ContactVLM` (LLaVA + LoRA + SAM) with that dtype or
bitsandbytes quantization, then `predict_contact` on one synthetic scene (the canonical Anny body
and the scene's object mesh), once to warm up and once measured. Reported per option:
- on CUDA, the peak of `torch.cuda.max_memory_allocated` over loading and inference, in GiB;
- on the CPU, the process's peak resident memory (`ru_maxrss`) and its growth over the
  resident memory before loading, in GiB;
- the load time and the time of the measured prediction, in seconds.
An option that cannot run here (4-bit/8-bit need bitsandbytes and a CUDA GPU; missing weights)
is reported with the reason instead.

With `--interactvlm`, a checkpoint converted from an InteractVLM release
(`scripts/convert_interactvlm.py`) is measured instead: `load_interactvlm` in that dtype, then
`predict_interactvlm_contact` on the scene's image with a teacher-forced answer (the same work as
a generated one minus the decoding loop, whose length a model decides); quantization is not
offered for it.

`--random-size` replaces `--vlm`/`--sam` with randomly initialized models of that size
(`contact.random_models`), which checks the script without any download; their figures say
nothing about real checkpoints.
"""

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import transformers

from contact.config import ContactModelConfig
from contact.inference import predict_contact
from contact.model import ContactVLM
from contact.random_models import save_random_llava, save_random_sam
from reconstruction.atomic_io import atomic_write_json
from reconstruction.body_models import build_body_model
from reconstruction.synthetic import make_scene

OPTIONS = {
    "fp32": {"dtype": "fp32"},
    "bf16": {"dtype": "bf16"},
    "fp16": {"dtype": "fp16"},
    "8bit": {"dtype": "fp16", "quantization": "8bit"},
    "4bit": {"dtype": "bf16", "quantization": "4bit"},
}
"""The options by name, as `ContactModelConfig` fields (the quantized ones compute in fp16/bf16)."""

GIB = 1024**3


def _rss_gib() -> float:
    """Current resident memory of this process, GiB (Linux /proc)."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() / GIB


def measure(option: str, vlm: str, sam: str, device: str) -> dict:
    """Load the model with `option` on `device`, predict twice, return the figures."""
    config = ContactModelConfig(vlm=vlm, sam=sam, **OPTIONS[option])
    sample = make_scene(0, seed=0, image_size=(256, 256)).sample
    body_model = build_body_model("anny").to(device)
    before = _rss_gib()
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    model = ContactVLM.from_pretrained(config, device)
    load_seconds = time.perf_counter() - started

    def predict():
        return predict_contact(
            model, sample.image, sample.object_category, body_model, sample.object_mesh
        )

    return _timed(option, device, load_seconds, before, predict)


INTERACTVLM_ANSWER = "The contacting body parts are hands, and the contact region is [SEG]."
"""The teacher-forced answer of the InteractVLM measurement."""


def measure_interactvlm(option: str, checkpoint: str, data: str | None, device: str) -> dict:
    """Load a converted InteractVLM checkpoint in `option`'s dtype, predict twice, figures."""
    from contact.interactvlm import load_interactvlm, predict_interactvlm_contact

    if "quantization" in OPTIONS[option]:
        raise SystemExit(f"{option} is not offered for converted InteractVLM checkpoints")
    dtype = ContactModelConfig(**OPTIONS[option]).torch_dtype
    sample = make_scene(0, seed=0, image_size=(256, 256)).sample
    before = _rss_gib()
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    model = load_interactvlm(checkpoint, device, dtype)
    load_seconds = time.perf_counter() - started

    def predict():
        return predict_interactvlm_contact(
            model,
            sample.image,
            sample.object_category,
            object_mesh=sample.object_mesh,
            interactvlm_data=data,
            inference_type="forward",
            answer=INTERACTVLM_ANSWER,
        )

    return _timed(option, device, load_seconds, before, predict)


def _timed(option: str, device: str, load_seconds: float, before: float, predict) -> dict:
    """Warm up, time one prediction, and read the peak memory."""
    predict()
    if device == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    predict()
    if device == "cuda":
        torch.cuda.synchronize()
    result = {
        "option": option,
        "device": device,
        "load_seconds": load_seconds,
        "predict_seconds": time.perf_counter() - started,
    }
    if device == "cuda":
        result["peak_gpu_gib"] = torch.cuda.max_memory_allocated() / GIB
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GIB
        result.update(peak_rss_gib=peak, rss_growth_gib=peak - before)
    return result


def run_option(
    option: str, vlm: str, sam: str, device: str, interactvlm: tuple[str, str | None] | None = None
) -> dict:
    """`measure`, or `measure_interactvlm`, in a fresh process.

    Every option then starts from the same memory.
    """
    command = [sys.executable, __file__, "--one", option, "--vlm", vlm, "--sam", sam]
    if interactvlm is not None:
        command += ["--interactvlm", interactvlm[0]]
        command += ["--interactvlm-data", interactvlm[1]] if interactvlm[1] else []
    done = subprocess.run(
        [*command, "--device", device], capture_output=True, text=True, check=False
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        reason = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"option": option, "device": device, "skipped": reason}
    return json.loads(lines[-1])


def format_table(results: list[dict]) -> str:
    """Markdown table of the options' figures."""
    lines = [
        "| option | device | peak GiB | load s | predict s | note |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        if "skipped" in r:
            lines.append(f"| {r['option']} | {r['device']} | | | | {r['skipped']} |")
            continue
        peak = r.get("peak_gpu_gib", r.get("peak_rss_gib"))
        note = "" if "rss_growth_gib" not in r else f"RSS grew {r['rss_growth_gib']:.2f} GiB"
        lines.append(
            f"| {r['option']} | {r['device']} | {peak:.2f} | {r['load_seconds']:.1f} "
            f"| {r['predict_seconds']:.2f} | {note} |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    """Parse arguments, run every option in its own process, print and write the table."""
    defaults = ContactModelConfig()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vlm", default=defaults.vlm, help="LLaVA hub id or local folder")
    parser.add_argument("--sam", default=defaults.sam, help="SAM hub id or local folder")
    parser.add_argument("--options", nargs="+", choices=list(OPTIONS), default=list(OPTIONS))
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--random-size", choices=("tiny", "small"), help="random stand-ins")
    parser.add_argument("--interactvlm", help="a converted InteractVLM checkpoint to measure")
    parser.add_argument("--interactvlm-data", help="InteractVLM's data/ folder (body contact)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--one", choices=list(OPTIONS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    transformers.utils.logging.disable_progress_bar()
    if args.one:
        if args.interactvlm:
            figures = measure_interactvlm(
                args.one, args.interactvlm, args.interactvlm_data, args.device
            )
        else:
            figures = measure(args.one, args.vlm, args.sam, args.device)
        print(json.dumps(figures))
        return 0
    interactvlm = (args.interactvlm, args.interactvlm_data) if args.interactvlm else None
    with tempfile.TemporaryDirectory() as scratch:
        if args.random_size:
            args.vlm, args.sam = f"{scratch}/llava", f"{scratch}/sam"
            save_random_llava(Path(args.vlm), args.random_size)
            save_random_sam(Path(args.sam), args.random_size)
        results = [
            run_option(o, args.vlm, args.sam, args.device, interactvlm) for o in args.options
        ]
    print(format_table(results))
    if args.json:
        source = (
            {"interactvlm": args.interactvlm} if interactvlm else {"vlm": args.vlm, "sam": args.sam}
        )
        atomic_write_json(args.json, {**source, "results": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
