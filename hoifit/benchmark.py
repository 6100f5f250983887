"""Fitting benchmark: the same synthetic scenes through several presets, timed and evaluated.

Scenes follow one protocol (`reconstruction.synthetic.PROTOCOLS`): "near_true" hands the fitting
near-true inputs (the easiest case), "photo" only what a photo and perception give; the printed
table says which (`describe_inputs`).
"""

import logging
import time
from pathlib import Path

import numpy as np

from hoifit.config import load_config
from hoifit.pipeline import Session, reconstruct_sample
from reconstruction.errors import HoifitError
from reconstruction.evaluation import METRIC_KEYS, TIME_KEYS, aggregate, evaluate_result
from reconstruction.object_model import MeshError
from reconstruction.synthetic import write_synthetic_samples

log = logging.getLogger(__name__)

PRESETS = ("default", "fast", "interactvlm_fit", "pico_fit", "phosa")
NOISE = ("low", "high")


def describe_inputs(protocol: str, depth: str) -> str:
    """One line saying what the fitting was given under a protocol and depth variant."""
    if protocol == "near_true":
        return (
            "near-true inputs: body init = truth + noise, true contact (with errors), the exact "
            "mesh, the true camera, depth = truth + noise"
        )
    mono = "monocular-like (scale, shift, blurred edges, holes)"
    depth_text = {"mono": mono, "mono_floor": f"{mono}, floor included", "none": "none"}
    return (
        "photo protocol: no body init, no contact, another mesh instance in its own units and "
        f"up axis, focal length guessed (55 deg FOV), depth {depth_text[depth]}"
    )


def run_benchmark(
    work_dir: Path,
    count: int,
    presets=PRESETS,
    noise_levels=NOISE,
    seed: int = 0,
    image_size: tuple[int, int] = (256, 256),
    overrides: list[str] | None = None,
    protocol: str = "near_true",
    depth: str = "mono",
) -> dict[str, dict[str, dict]]:
    """Generate `count` scenes per noise level and reconstruct them with every preset.

    Samples are written once under `work_dir/samples_<inputs>` and reused by every preset, so
    all presets see the same inputs; results go to `work_dir/<preset>_<inputs>`. <inputs> is the
    noise level, prefixed by "photo_<depth>_" under the photo protocol.

    Returns:
        {preset: {noise: {"median_s": median wall time per scene, <evaluation medians>,
        "inputs", "count", "failed"}}}.
    """
    work_dir = Path(work_dir)
    results: dict[str, dict[str, dict]] = {preset: {} for preset in presets}
    for noise in noise_levels:
        tag = noise if protocol == "near_true" else f"photo_{depth}_{noise}"
        samples_dir = work_dir / f"samples_{tag}"
        samples = sorted(p for p in samples_dir.glob("*") if p.is_dir())
        if len(samples) != count:
            samples = write_synthetic_samples(
                samples_dir,
                count,
                seed=seed,
                noise=noise,
                image_size=image_size,
                protocol=protocol,
                depth=depth,
            )
        for preset in presets:
            config = load_config(
                preset, ["fit.progress=false", "export.overlay=false", *(overrides or [])]
            )
            session = Session.create(config)
            rows, times, failed = [], [], 0
            for folder in samples:
                out = work_dir / f"{preset}_{tag}" / folder.name
                start = time.perf_counter()
                try:
                    reconstruct_sample(folder, out, config, session=session)
                except (HoifitError, MeshError) as error:
                    log.error("%s %s %s failed: %s", preset, tag, folder.name, error)
                    failed += 1
                    continue
                times.append(time.perf_counter() - start)
                rows.append(evaluate_result(folder, out))
            summary = aggregate(rows)
            for key in TIME_KEYS:
                summary.pop(key)
            results[preset][noise] = {
                "median_s": float(np.median(times)) if times else None,
                **summary,
                "failed": failed,
            }
            log.info("%s / %s: %s", preset, tag, results[preset][noise])
    return results


def format_results(results: dict[str, dict[str, dict]], inputs: str) -> str:
    """The medians as a table: one row per metric, one column per preset and noise level.

    Args:
        results: what `run_benchmark` returns.
        inputs: the line saying what the fitting was given (`describe_inputs`).
    """
    columns = [(preset, noise) for preset, by_noise in results.items() for noise in by_noise]
    names = [f"{preset}/{noise}" for preset, noise in columns]
    widths = [max(len(name), 10) for name in names]
    lines = [
        f"inputs: {inputs}",
        f"{'median of':>20} " + " ".join(n.rjust(w) for n, w in zip(names, widths, strict=True)),
    ]
    for key in ("median_s", *METRIC_KEYS, "count", "failed"):
        spec = "d" if key in ("count", "failed") else ".3f"
        cells = [
            ("-" if value is None else format(value, spec)).rjust(width)
            for value, width in zip(
                (results[preset][noise].get(key) for preset, noise in columns), widths, strict=True
            )
        ]
        lines.append(f"{key:>20} " + " ".join(cells))
    return "\n".join(lines)
