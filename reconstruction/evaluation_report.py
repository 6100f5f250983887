"""Evaluating folders of results: per-sample rows, aggregates, table, CSV, JSON and plots."""

import csv
import io
from pathlib import Path

from reconstruction.atomic_io import atomic_write_bytes, atomic_write_json, atomic_write_text
from reconstruction.evaluation import METRIC_KEYS, TIME_KEYS, aggregate, evaluate_result
from reconstruction.sample_io import list_samples

COLUMNS = ("sample", *METRIC_KEYS, *TIME_KEYS, "inputs", "note")


def evaluate_folder(samples_dir: Path, results_dir: Path) -> list[dict]:
    """Evaluate every sample of `samples_dir` that has a result in `results_dir`.

    Samples without a result (not run, or failed) get a row with only a note.
    """
    rows = []
    for folder in list_samples(samples_dir):
        result = Path(results_dir) / folder.name
        if (result / "metrics.json").is_file():
            rows.append(evaluate_result(folder, result))
        else:
            rows.append({"sample": folder.name, "note": "no result"})
    return rows


def format_table(rows: list[dict], summary: dict) -> str:
    """A fixed-width table of the rows and the medians, under a line naming the inputs."""

    def cell(value):
        if value is None:
            return "-"
        return f"{value:.2f}" if isinstance(value, float) else str(value)

    keys = ("sample", *METRIC_KEYS, *TIME_KEYS)
    widths = [max(len(k), 12) for k in keys]
    lines = [
        f"inputs: {summary.get('inputs') or 'unknown (no ground truth)'}",
        "  ".join(k.rjust(w) for k, w in zip(keys, widths, strict=True)),
    ]
    for row in [*rows, {"sample": "median", **summary}]:
        lines.append(
            "  ".join(cell(row.get(k)).rjust(w) for k, w in zip(keys, widths, strict=True))
        )
    return "\n".join(lines)


def rows_csv(rows: list[dict]) -> str:
    """The rows as CSV text."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def plot_distributions(rows_by_method: dict[str, list[dict]], path: Path) -> None:
    """Box plots of each error metric, one box per method, saved as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [
        k
        for k in METRIC_KEYS
        if any(r.get(k) is not None for rs in rows_by_method.values() for r in rs)
    ]
    fig, axes = plt.subplots(1, max(len(keys), 1), figsize=(3 * max(len(keys), 1), 3.2))
    for axis, key in zip(list(getattr(axes, "flat", [axes])), keys, strict=False):
        data = [[r[key] for r in rs if r.get(key) is not None] for rs in rows_by_method.values()]
        axis.boxplot([d or [float("nan")] for d in data], showfliers=True)
        axis.set_xticks(range(1, len(data) + 1), list(rows_by_method), rotation=45, ha="right")
        axis.set_title(key, fontsize=9)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())


def write_report(
    rows_by_method: dict[str, list[dict]], out_dir: Path, json_path: Path | None = None
) -> dict[str, dict]:
    """Write per-method CSV files, the aggregate JSON and the distribution plot.

    Returns:
        The aggregate of each method.
    """
    out_dir = Path(out_dir)
    summaries = {method: aggregate(rows) for method, rows in rows_by_method.items()}
    for method, rows in rows_by_method.items():
        atomic_write_text(out_dir / f"evaluation_{method}.csv", rows_csv(rows))
    atomic_write_json(out_dir / "evaluation.json", summaries)
    plot_distributions(rows_by_method, out_dir / "evaluation.png")
    if json_path is not None:
        single = next(iter(summaries.values())) if len(summaries) == 1 else summaries
        atomic_write_json(Path(json_path), single)
    return summaries
