"""Command-line arguments shared by the end-to-end tests."""

QUICK = [
    "--config", "fast",
    "--set", "fit.stages.0.iterations=3",
    "--set", "fit.stages.1.iterations=3",
    "--set", "fit.stages.2.iterations=3",
    "--set", "fit.progress=false",
]  # fmt: skip
"""The fast preset cut to three iterations a stage: every stage runs, in seconds."""
