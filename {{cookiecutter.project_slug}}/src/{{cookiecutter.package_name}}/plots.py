"""Figures for the report: matplotlib without a screen, saved under `<run>/plots/`."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on servers and CI
import matplotlib.pyplot as plt  # noqa: E402


def new_figure(width: float = 6, height: float = 3.5, ncols: int = 1, **subplots):
    """(figure, axes): one axes, or an array of `ncols` side by side."""
    return plt.subplots(1, ncols, figsize=(width, height), layout="constrained", **subplots)


def save_figure(fig, run_dir: Path, name: str) -> str:
    """Save and close; returns the path relative to the run folder, as verdicts record it."""
    folder = run_dir / "plots"
    folder.mkdir(exist_ok=True)
    fig.savefig(folder / f"{name}.png", dpi=100)
    plt.close(fig)
    return f"plots/{name}.png"
