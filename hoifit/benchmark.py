"""Fitting benchmark: the same synthetic scenes through several presets, timed and evaluated."""

import logging
import time
from pathlib import Path

import numpy as np

from hoifit.config import load_config
from hoifit.pipeline import Session, reconstruct_sample
from reconstruction.errors import HoifitError
from reconstruction.evaluation import METRIC_KEYS, aggregate, evaluate_result
from reconstruction.object_model import MeshError
from reconstruction.synthetic import write_synthetic_samples

log = logging.getLogger(__name__)

PRESETS = ("default", "fast", "interactvlm_fit", "pico_fit", "phosa")
NOISE = ("low", "high")


def run_benchmark(
    work_dir: Path,
    count: int,
    presets=PRESETS,
    noise_levels=NOISE,
    seed: int = 0,
    image_size: tuple[int, int] = (256, 256),
    overrides: list[str] | None = None,
) -> dict[str, dict[str, dict]]:
    """Generate `count` scenes per noise level and reconstruct them with every preset.

    Samples are written once under `work_dir/samples_<noise>` and reused by every preset, so
    all presets see the same inputs; results go to `work_dir/<preset>_<noise>`.

    Returns:
        {preset: {noise: {"median_s": median wall time per scene, <evaluation medians>,
        "count", "failed"}}}.
    """
    work_dir = Path(work_dir)
    results: dict[str, dict[str, dict]] = {preset: {} for preset in presets}
    for noise in noise_levels:
        samples_dir = work_dir / f"samples_{noise}"
        samples = sorted(p for p in samples_dir.glob("*") if p.is_dir())
        if len(samples) != count:
            samples = write_synthetic_samples(
                samples_dir, count, seed=seed, noise=noise, image_size=image_size
            )
        for preset in presets:
            config = load_config(
                preset, ["fit.progress=false", "export.overlay=false", *(overrides or [])]
            )
            session = Session.create(config)
            rows, times, failed = [], [], 0
            for folder in samples:
                out = work_dir / f"{preset}_{noise}" / folder.name
                start = time.perf_counter()
                try:
                    reconstruct_sample(folder, out, config, session=session)
                except (HoifitError, MeshError) as error:
                    log.error("%s %s %s failed: %s", preset, noise, folder.name, error)
                    failed += 1
                    continue
                times.append(time.perf_counter() - start)
                rows.append(evaluate_result(folder, out))
            summary = aggregate(rows)
            summary.pop("time_s")
            results[preset][noise] = {
                "median_s": float(np.median(times)) if times else None,
                **summary,
                "failed": failed,
            }
            log.info("%s / %s: %s", preset, noise, results[preset][noise])
    return results


def format_results(results: dict[str, dict[str, dict]]) -> str:
    """One line per preset and noise level."""
    keys = ("median_s", *METRIC_KEYS)
    header = f"{'preset':>16} {'noise':>5} " + " ".join(f"{k:>17}" for k in keys)
    lines = [header]
    for preset, by_noise in results.items():
        for noise, row in by_noise.items():
            cells = " ".join(
                f"{'-' if row.get(k) is None else format(row[k], '.3f'):>17}" for k in keys
            )
            lines.append(f"{preset:>16} {noise:>5} {cells}")
    return "\n".join(lines)
