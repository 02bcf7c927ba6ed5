"""The two figures the report draws itself, from what the stages left in the run folder.

Every other plot is made by the check that judges it; these two put several stages'
numbers side by side, which no single check sees: the loss curves of `train` (its
`history.csv`) and the baselines of `check` against the trained model of `evaluate`.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import NamedTuple

from matplotlib.ticker import MaxNLocator

from ..plots import new_figure, save_figure
from ..rundir import RunFiles
from ..verdicts import Verdict

LOSS_CURVES = "loss_curves"
BASELINES = "baselines_vs_model"
REPORT_PLOTS = (f"{RunFiles.PLOTS}/{LOSS_CURVES}.png", f"{RunFiles.PLOTS}/{BASELINES}.png")


def loss_curves(run_dir: Path) -> str | None:
    """Train and full-val loss per epoch, from the CSV log that `train` writes; a dashed line
    where a backbone's fine-tuning phase began (history.csv's `phase` column)."""
    history = run_dir / RunFiles.HISTORY
    if not history.exists():
        return None
    with history.open() as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        return None
    fig, ax = new_figure()
    epochs = [int(r["epoch"]) + 1 for r in rows]
    finite = []
    for key, label in (("loss", "train (running mean over the epoch)"), ("val_loss", "val (whole split)")):
        if key in rows[0]:
            values = [_number(r[key]) for r in rows]
            ax.plot(epochs, values, marker="o", label=label)
            finite += [v for v in values if math.isfinite(v)]
    if finite and min(finite) > 0 and max(finite) > 100 * min(finite):
        ax.set_yscale("log")  # one diverging epoch would flatten every other point
    tuned = [epoch for epoch, r in zip(epochs, rows, strict=True) if r.get("phase") == "2"]
    if tuned:  # a backbone's second phase (model.fine_tune_layers): where it began
        ax.axvline(tuned[0] - 0.5, color="grey", linestyle="--")
        ax.text(tuned[0] - 0.5, 0.98, " fine-tuning ->", transform=ax.get_xaxis_transform(), va="top",
                color="grey")
        ax.text(tuned[0] - 0.5, 0.98, "<- head only ", transform=ax.get_xaxis_transform(), va="top",
                ha="right", color="grey")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title("Loss per epoch (history.csv)")
    ax.legend()
    return save_figure(fig, run_dir, LOSS_CURVES)


def _number(value) -> float:
    """A finite float, or NaN for what is not one (verdicts.json writes NaN as a string)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number if math.isfinite(number) else math.nan


def _get(record, *keys):
    for key in keys:
        if not isinstance(record, dict) or key not in record:
            return None
        record = record[key]
    return record


class Bar(NamedTuple):
    label: str
    value: float
    model: bool  # the trained model (or its ensemble), not a baseline
    source: tuple[str, str]  # (stage, id) of the verdict the number comes from


def baseline_scores(verdicts: list[Verdict]) -> tuple[list[Bar], str | None, list[Bar]]:
    """(val losses, the metric's name, its values) of every baseline and of the model, read
    from the verdicts' `measured` records: B1-B4 of `check`, T13, B1 and O4 of `evaluate`."""

    def measured(stage: str, verdict_id: str, *keys):
        found = next((v for v in verdicts if (v.stage, v.id) == (stage, verdict_id)), None)
        return None if found is None else _get(found.measured, *keys)

    def bar(label: str, stage: str, verdict_id: str, keys: tuple, model: bool = False):
        return Bar(label, _number(measured(stage, verdict_id, *keys)), model, (stage, verdict_id))

    def reference_bars(split: str, key: str, suffix: str = "") -> list[Bar]:
        """B3's references: scikit-learn's linear model and boosting, or the Keras linear model."""
        if measured("check", "B3", "references") is None:
            return [bar(f"linear model{suffix} (B3)", "check", "B3", (split, key))]
        return [bar(f"linear model{suffix} (B3)", "check", "B3", ("references", "linear", split, key)),
                bar(f"gradient boosting{suffix} (B3)", "check", "B3", ("references", "boosting", split, key))]

    steps = measured("check", "B2", "steps")
    after = f" after {steps} steps" if steps else ""
    priors = bar("priors (B1)", "check", "B1", ("val", "loss"))
    if not math.isfinite(priors.value):  # no `check` in this folder: evaluate's B1 holds the same number
        expected = next((v.expected for v in verdicts if (v.stage, v.id) == ("evaluate", "B1")), None)
        priors = Bar("priors (B1)", _number(_get(expected, "below_baseline_val_loss")), False, ("evaluate", "B1"))
    losses = [
        priors,
        bar(f"inputs of other examples{after} (B2)", "check", "B2", ("control_val_loss",)),
        bar(f"model{after} (B2)", "check", "B2", ("val_loss",)),
        *reference_bars("val", "loss"),
        bar("trained model (T13)", "evaluate", "T13", ("scores", "val", "loss"), model=True),
        bar("ensemble (O4)", "evaluate", "O4", ("ensemble_val", "loss"), model=True),
    ]
    scores = measured("evaluate", "T13", "scores", "val") or measured("check", "B1", "val") or {}
    metric = next((key for key in scores if key != "loss"), None)
    metrics = [] if metric is None else [
        bar("priors, val (B1)", "check", "B1", ("val", metric)),
        *reference_bars("val", metric, ", val"),
        bar("trained model, val (T13)", "evaluate", "T13", ("scores", "val", metric), model=True),
        bar("trained model, test (T13)", "evaluate", "T13", ("scores", "test", metric), model=True),
        bar("human, test (B4)", "check", "B4", ("test", metric)),
    ]
    return _finite(losses), metric, _finite(metrics)


def _finite(bars: list[Bar]) -> list[Bar]:
    return [b for b in bars if math.isfinite(b.value)]


def baselines_against_model(verdicts: list[Verdict], run_dir: Path) -> tuple[str, list[tuple[str, str]]] | None:
    """Val loss (and the first metric) of each baseline beside the trained model's: the bar
    chart that says at a glance whether the model earned its keep. Returns the plot and the
    (stage, id) of the verdicts whose numbers it shows; None when fewer than two numbers exist
    to compare."""
    losses, metric, metrics = baseline_scores(verdicts)
    if len(losses) < 2:
        return None
    panels = [("val loss (lower is better)", losses)] + ([(metric, metrics)] if len(metrics) >= 2 else [])
    fig, axes = new_figure(width=6 * len(panels), height=3.5, ncols=len(panels))
    for ax, (label, bars) in zip(axes if len(panels) > 1 else [axes], panels, strict=True):
        drawn = ax.barh(range(len(bars)), [b.value for b in bars],
                        color=["tab:blue" if b.model else "tab:gray" for b in bars])
        ax.bar_label(drawn, fmt="%.3g", padding=2)
        ax.set_yticks(range(len(bars)), [b.label for b in bars])
        ax.invert_yaxis()
        ax.set_xlabel(label)
        ax.margins(x=0.15)
    fig.suptitle("Baselines (grey) against the trained model (blue)")
    sources = list(dict.fromkeys(b.source for _, bars in panels for b in bars))
    if any(b.model for b in losses):
        sources += [("evaluate", "B1"), ("evaluate", "B3")]  # the verdicts on the model against the baselines
    return save_figure(fig, run_dir, BASELINES), sources
