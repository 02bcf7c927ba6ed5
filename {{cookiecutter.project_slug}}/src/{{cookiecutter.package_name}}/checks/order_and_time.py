"""D14: order and time. Does a random split flatter a table whose rows are records over time?

A hash split puts rows of the same week in train and in test, so a model is tested on the
neighbours of what it trained on; when the label drifts or neighbours in time are alike, that
test score says how the model does on last week's rows, not next month's. D14 asks the question
directly, with a quick reference (scikit-learn's histogram gradient boosting, B3's) fitted twice on
a seeded sample of every split's rows: trained on a random 70% and scored on a random 10%, then
trained on the earliest 70% and scored on the latest 10% (by the time column). The ratio of the
two test losses, with a bootstrap interval from both test sets, is the figure: near 1 when time
does not matter (a shuffled twin of the same table: the same rows with their times permuted), far
above 1 when the future is harder than a random split suggests. The label's rank correlation
with time is reported beside it (a trend), and the verdict names `data.split_by: time`.

The time column is `data.time_column`, or the table's one datetime column (D10) when there is
exactly one. Without one, D14 skips and says so: the file's row order alone is not evidence (a CSV
sorted by its label, as iris ships, has neighbours alike and nothing wrong with a random split).
"""

from __future__ import annotations

import numpy as np

from ..bootstrap import row_losses
from ..config import InspectConfig
from ..data import SPLITS, Prepared
from ..data.time_split import parse_times, time_column, time_words
from ..references import fit_boosting, reference_outputs
from ..registry import registers
from ..verdicts import Verdict, verdict
from .context import Context

# Fewer rows than this with a time give two test sets of a dozen rows: nothing to judge.
MIN_ROWS = 200
RESAMPLES = 1000


def split_losses(x: np.ndarray, y: np.ndarray, order: np.ndarray, task: str, classes: int,
                 seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The reference's per-row test losses on a random split and on a split by `order` (the
    rows' places in time): trained on 70% of the rows, tested on 10%, each way.

    Args:
        x: Inputs as the references see them, one row each.
        y: Labels.
        order: Row indices from the earliest to the latest.
        task: "classification", "binary" or "regression".
        classes: Class count (0 for regression).
        seed: Seeds the random split and the fits.

    Returns:
        (random_losses, time_losses), one loss per test row each.
    """
    n = len(y)
    train, test = int(0.7 * n), int(0.9 * n)
    shuffled = np.random.default_rng(seed).permutation(n)
    found = []
    for rows in (shuffled, order):
        model, _ = fit_boosting(task, x[rows[:train]], y[rows[:train]], seed)
        outputs = reference_outputs(model, task, x[rows[test:]], classes)
        found.append(row_losses(task, y[rows[test:]], outputs))
    return found[0], found[1]


def ratio_interval(random_losses: np.ndarray, time_losses: np.ndarray, seed: int,
                   confidence: float = 0.95) -> tuple[float, float, float]:
    """The ratio of the mean time-split loss to the mean random-split loss, with a percentile
    bootstrap interval (each test set resampled on its own: they are different rows)."""
    rng = np.random.default_rng(seed)
    floor = 1e-12
    ratio = float(time_losses.mean() / max(random_losses.mean(), floor))
    draws_random = rng.integers(0, len(random_losses), (RESAMPLES, len(random_losses)))
    draws_time = rng.integers(0, len(time_losses), (RESAMPLES, len(time_losses)))
    ratios = time_losses[draws_time].mean(axis=1) / np.maximum(random_losses[draws_random].mean(axis=1), floor)
    tail = (1 - confidence) / 2
    return ratio, float(np.quantile(ratios, tail)), float(np.quantile(ratios, 1 - tail))


def judge_order_and_time(ratio: float, low: float, high: float, warn_ratio: float, measured: dict) -> Verdict:
    """D14's decision: warn when even the low end of the interval puts the time split's loss
    `warn_ratio` times above the random split's.

    Args:
        ratio: Time-split test loss over random-split test loss.
        low: The low end of its 95% interval.
        high: The high end.
        warn_ratio: inspect.time_warn_ratio.
        measured: What the verdict reports.

    Returns:
        The D14 verdict.
    """
    expected = {"time_split_loss_over_random": f"low end of its 95% interval below {warn_ratio:g}"}
    if low > warn_ratio:
        return verdict("D14", "warn", measured=measured, expected=expected,
                       advice=f"Trained on the past and tested on the latest rows, the reference's loss is "
                       f"{ratio:.2f}x ({low:.2f} to {high:.2f}) what a random split gives: a random test split "
                       "flatters the model for the future. Split by time (data.split_by: time, data.time_column: "
                       f"{measured['time_column']}), so that test is the latest rows, as the model will meet them."
                       + ("" if measured.get("named") else f" ({measured['time_column']} is the table's one date "
                          "column; if it is not when each row was recorded, name that column in data.time_column.)"))
    return verdict("D14", "pass", measured=measured, expected=expected)


def check_order_and_time(prepared: Prepared, config, inspect: InspectConfig, seed: int) -> Verdict:
    """D14 (module docstring): the reference on a random split against a split by time."""
    column = time_column(prepared, config)
    if column is None:
        return verdict("D14", "skip", advice="no time column: name one in data.time_column when rows are records "
                       "over time (the file's row order alone proves nothing: a file sorted by its label is fine)")
    every = np.concatenate([prepared.indices[s] for s in SPLITS])
    rows = np.sort(np.random.default_rng(seed).choice(every, size=min(len(every), inspect.time_sample),
                                                       replace=False))
    import pyarrow as pa

    cells = [row.get(column, "") for row in prepared.raw_rows(rows)]
    times, kind = parse_times(pa.array(cells, pa.string()))
    known = np.isfinite(times)
    rows, times = rows[known], times[known]
    if len(rows) < MIN_ROWS or len(np.unique(times)) < 10:
        return verdict("D14", "skip", advice=f"{len(rows)} rows with a time in {column!r} and "
                       f"{len(np.unique(times))} distinct times: too few to compare a split by time with a random one")
    from ..references import standardised

    x, y = prepared.take(rows)
    x = standardised(prepared, x)
    classes = prepared.num_classes if prepared.task != "regression" else 0
    order = np.argsort(times, kind="stable")
    earliest = y[order[:int(0.7 * len(y))]]
    if prepared.task != "regression" and len(np.unique(earliest)) < 2:  # boosting cannot fit one class
        named = prepared.class_names[int(earliest[0])] if len(earliest) else "?"
        return verdict("D14", "warn", measured={"time_column": column, "rows": len(rows),
                                                "earliest_70_percent_classes": [named]},
                       expected="the earliest 70% of the rows hold more than one class",
                       advice=f"The earliest 70% of the rows by {column!r} hold only the class {named!r}: the label "
                       "depends on time, and a random split mixes periods the model will never see together. Split "
                       f"by time (data.split_by: time, data.time_column: {column}).")
    try:
        random_losses, time_losses = split_losses(x, y, order, prepared.task, classes, seed)
    except ValueError as err:  # a class too rare to reach a random training part, or such
        return verdict("D14", "skip", advice=f"the reference could not be fitted on {len(rows)} rows: "
                       f"{str(err).splitlines()[0]}")
    ratio, low, high = ratio_interval(random_losses, time_losses, seed)
    measured = {"time_column": column, "named": bool(config.data.time_column), "rows": len(rows),
                "from": time_words(float(times.min()), kind), "to": time_words(float(times.max()), kind),
                "random_split_test_loss": round(float(random_losses.mean()), 6),
                "time_split_test_loss": round(float(time_losses.mean()), 6),
                "time_split_loss_over_random": round(ratio, 3), "interval": [round(low, 3), round(high, 3)],
                "label_trend": _trend(times, y, prepared.task)}
    return judge_order_and_time(ratio, low, high, inspect.time_warn_ratio, measured)


def _trend(times: np.ndarray, y: np.ndarray, task: str) -> str:
    """The label's Spearman correlation with time (binary and regression), in words."""
    if task == "classification":
        return "not measured for several classes"
    from scipy.stats import spearmanr

    rho = spearmanr(times, y.astype("float64")).statistic
    return f"Spearman {rho:+.2f} with time" if np.isfinite(rho) else "constant"


@registers("inspect", "D14")
def _d14(c: Context) -> Verdict:
    return check_order_and_time(c.prepared, c.config, c.config.inspect, c.config.seed)
