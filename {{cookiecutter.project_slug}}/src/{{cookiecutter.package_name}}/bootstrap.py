"""Bootstrap intervals: how far a score measured on a few hundred test rows could move on another
draw of rows like them, and whether one model's lead over another is larger than that.

A test split is often 15 to 200 rows; one number from it hides that a second split could put two
models the other way round. `evaluate` gives every score with a percentile bootstrap 95% interval
(the rows resampled with replacement, the score recomputed each time), and compares the model
with each reference by a *paired* bootstrap of the per-row loss difference on the same rows: the
rows the two models both find hard cancel, so the paired interval is narrower than two separate
intervals would suggest, and it is the one that answers "is the model better?".

Written with NumPy rather than scikit-learn's `bootstrap` helpers: the losses must be the
project's own (keras' cross-entropy from logits, squared error) row by row, and AUC must be
recomputed on each resample without sorting again (`_auc`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CONFIDENCE = 0.95
RESAMPLES = 1000
# Beyond this many rows x resamples the replicates shrink (at least MIN_RESAMPLES): a 300,000-row
# test split gets 200, whose percentiles still hold to about a tenth of the interval's width.
MAX_DRAWS = 60_000_000
MIN_RESAMPLES = 200
# The baselines `evaluate` compares the model with, as a sentence names them.
BASELINE_NAMES = {"priors": "the priors (B1)", "linear": "the linear model (B3)", "boosting": "gradient boosting (B3)"}


def row_losses(task: str, y_true: np.ndarray, outputs: np.ndarray) -> np.ndarray:
    """Each row's contribution to the project's loss (models.loss_for): their mean is the loss.

    Args:
        task: "classification" (logits, one a class), "binary" (one logit) or "regression".
        y_true: the labels, class ids or targets.
        outputs: what the model outputs for those rows.

    Returns:
        A float64 array, one loss a row.
    """
    y = np.asarray(y_true)
    out = np.asarray(outputs, "float64")
    if task == "classification":
        out = out.reshape(len(out), -1)
        shifted = out - out.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        return -log_probs[np.arange(len(out)), y.astype(int)]
    out = out.reshape(len(out))
    if task == "binary":  # sigmoid cross-entropy from logits, the stable form
        return np.maximum(out, 0) - out * y + np.log1p(np.exp(-np.abs(out)))
    return (y.astype("float64") - out) ** 2


def row_metrics(task: str, y_true: np.ndarray, outputs: np.ndarray) -> dict[str, np.ndarray]:
    """The per-row form of models.metrics_for's means: accuracy (0 or 1) for classes, absolute
    error for regression. AUC is not a mean of rows: `bootstrap_scores` treats it apart."""
    y = np.asarray(y_true)
    out = np.asarray(outputs, "float64")
    if task == "classification":
        return {"accuracy": (out.reshape(len(out), -1).argmax(axis=1) == y).astype("float64")}
    out = out.reshape(len(out))
    if task == "binary":  # logits: the threshold 0 is probability 0.5, as keras' BinaryAccuracy(threshold=0)
        return {"accuracy": ((out > 0) == (y > 0.5)).astype("float64")}
    return {"mae": np.abs(y.astype("float64") - out)}


def _draws(rows: int, resamples: int, seed: int) -> tuple[np.random.Generator, int]:
    affordable = MAX_DRAWS // max(rows, 1)
    return np.random.default_rng(seed), max(MIN_RESAMPLES, min(resamples, affordable))


def _interval(values: np.ndarray, confidence: float) -> list[float]:
    tail = (1 - confidence) / 2 * 100
    low, high = np.nanpercentile(values, [tail, 100 - tail])
    return [float(low), float(high)]


class _Auc:
    """Area under the ROC curve of any resample in O(rows): the scores are sorted once; a resample
    is a count per row, and the area sums, over groups of tied scores, the positives' weight times
    the negatives' weight below them (ties count half)."""

    def __init__(self, positive: np.ndarray, scores: np.ndarray):
        order = np.argsort(scores, kind="stable")
        self.order = order
        self.positive = positive[order]
        _, self.group = np.unique(scores[order], return_inverse=True)

    def __call__(self, counts: np.ndarray) -> float:
        counts = counts[self.order]
        pos = np.bincount(self.group, counts * self.positive)
        neg = np.bincount(self.group, counts * (1 - self.positive))
        total_pos, total_neg = pos.sum(), neg.sum()
        if total_pos == 0 or total_neg == 0:
            return float("nan")  # a resample of one class has no ROC curve
        below = np.cumsum(neg) - neg
        return float((pos * (below + neg / 2)).sum() / (total_pos * total_neg))


@dataclass(frozen=True)
class Interval:
    """A score, its bootstrap interval and what it was measured on."""

    value: float
    low: float
    high: float
    rows: int

    @property
    def width(self) -> float:
        return self.high - self.low

    def as_record(self) -> dict:
        return {"value": self.value, "interval": [self.low, self.high], "rows": self.rows}


def bootstrap_scores(task: str, y_true: np.ndarray, outputs: np.ndarray, seed: int,
                     resamples: int = RESAMPLES, confidence: float = CONFIDENCE) -> dict[str, Interval]:
    """The loss and each metric of one split, each with its percentile bootstrap interval.

    Args:
        task: "classification", "binary" or "regression".
        y_true: the split's labels.
        outputs: the model's outputs on the same rows.
        seed: the resampling seed (the run's): the same run gives the same interval.
        resamples: how many resamples, fewer on very large splits (MAX_DRAWS).
        confidence: the interval's coverage.

    Returns:
        {"loss": Interval, "accuracy" | "mae": Interval, and "auc" for binary tasks}. An empty
        split gives an empty dict.
    """
    rows = len(y_true)
    if rows == 0:
        return {}
    per_row = {"loss": row_losses(task, y_true, outputs), **row_metrics(task, y_true, outputs)}
    auc = None
    if task == "binary":
        auc = _Auc((np.asarray(y_true) > 0.5).astype("float64"), np.asarray(outputs, "float64").reshape(rows))
    rng, count = _draws(rows, resamples, seed)
    draws = {name: np.empty(count) for name in [*per_row, *(["auc"] if auc else [])]}
    for i in range(count):
        counts = np.bincount(rng.integers(0, rows, rows), minlength=rows).astype("float64")
        for name, values in per_row.items():
            draws[name][i] = counts @ values / rows
        if auc:
            draws["auc"][i] = auc(counts)
    found = {name: Interval(float(values.mean()), *_interval(draws[name], confidence), rows)
             for name, values in per_row.items()}
    if auc:
        found["auc"] = Interval(auc(np.ones(rows)), *_interval(draws["auc"], confidence), rows)
    return found


@dataclass(frozen=True)
class Comparison:
    """A paired comparison of two models' losses on the same rows: model minus reference."""

    difference: float
    low: float
    high: float
    rows: int

    @property
    def outcome(self) -> str:
        """"better" or "worse" when the interval excludes zero, else "level"."""
        if self.high < 0:
            return "better"
        if self.low > 0:
            return "worse"
        return "level"

    def as_record(self) -> dict:
        return {"difference": self.difference, "interval": [self.low, self.high], "rows": self.rows,
                "outcome": self.outcome}


def paired_difference(model_losses: np.ndarray, reference_losses: np.ndarray, seed: int,
                      resamples: int = RESAMPLES, confidence: float = CONFIDENCE) -> Comparison:
    """The mean per-row loss difference (model minus reference) and its paired bootstrap interval.

    Args:
        model_losses: the model's loss on each row (`row_losses`).
        reference_losses: the reference's loss on the same rows, in the same order.
        seed: the resampling seed.
        resamples: how many resamples (fewer on very large splits).
        confidence: the interval's coverage.

    Returns:
        A Comparison; its `outcome` says "better" only when the whole interval is below zero.
    """
    difference = np.asarray(model_losses, "float64") - np.asarray(reference_losses, "float64")
    rows = len(difference)
    if rows == 0:
        raise ValueError("a paired comparison needs at least one row")
    rng, count = _draws(rows, resamples, seed)
    means = np.array([difference[rng.integers(0, rows, rows)].mean() for _ in range(count)])
    return Comparison(float(difference.mean()), *_interval(means, confidence), rows)


def signed(value: float) -> str:
    return f"{value:+.3g}"


def comparison_words(what: str, comparison: Comparison) -> str:
    """One sentence for a person: better than, worse than or level with `what`, the difference
    and its interval, and on a level result how large a difference these rows could have shown."""
    figures = (f"loss difference {signed(comparison.difference)} (95% interval {signed(comparison.low)} to "
               f"{signed(comparison.high)}) over {comparison.rows:,} test rows")
    if comparison.outcome == "better":
        return f"better than {what}: {figures}"
    if comparison.outcome == "worse":
        return f"worse than {what}: {figures}"
    return (f"level with {what}: {figures}; on this many rows a difference smaller than about "
            f"{(comparison.high - comparison.low) / 2:.2g} cannot be told from chance")
