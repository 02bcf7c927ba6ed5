"""Figures for the report: matplotlib without a screen, saved under `<run>/plots/`."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np

from .rundir import RunFiles

matplotlib.use("Agg")  # no display on servers and CI
import matplotlib.pyplot as plt  # noqa: E402


def new_figure(width: float = 6, height: float = 3.5, ncols: int = 1, nrows: int = 1, **subplots):
    """(figure, axes): one axes, or an array of `ncols` side by side (`nrows` one above the other)."""
    return plt.subplots(nrows, ncols, figsize=(width, height), layout="constrained", **subplots)


def save_figure(fig, run_dir: Path, name: str) -> str:
    """Save and close; returns the path relative to the run folder, as verdicts record it."""
    folder = run_dir / RunFiles.PLOTS
    folder.mkdir(exist_ok=True)
    fig.savefig(folder / f"{name}.png", dpi=100)
    plt.close(fig)
    return f"plots/{name}.png"


def plot_per_layer(steps, layers: list[str], values: np.ndarray, floor: float, ylabel: str, title: str,
                   run_dir: Path, name: str, thresholds: tuple[float, ...] = (),
                   band: tuple[float, float] | None = None) -> str:
    """One line per layer (a column of `values`) over optimizer steps on a log axis, the way
    T6's gradient norms and T8's update ratios are read: which layer leaves the healthy range,
    and when. Values below `floor` (zeros included, which a log axis cannot show) sit at the
    floor, so a vanished layer shows as a line along the bottom instead of no line at all.
    `thresholds` are drawn dashed, `band` (low, high) shaded green as the healthy range."""
    fig, ax = new_figure(7, 4)
    for i, layer in enumerate(layers):
        ax.plot(steps, np.clip(values[:, i], floor, None), marker=".", label=layer)
    for threshold in thresholds:
        ax.axhline(threshold, color="grey", linestyle="--", linewidth=1)
    if band is not None:
        ax.axhspan(*band, color="tab:green", alpha=0.1)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if len(layers) <= 12:  # beyond that the legend hides the lines; TensorBoard has them by name
        ax.legend(fontsize="small", ncol=2)
    return save_figure(fig, run_dir, name)
