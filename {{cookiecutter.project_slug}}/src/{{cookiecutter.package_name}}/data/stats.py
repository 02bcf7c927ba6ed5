"""D2: statistics of the training split alone, saved with the run, applied unchanged elsewhere."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..rundir import write_whole

# A feature that never varies in train would divide by zero; it is left unscaled instead.
MIN_STD = 1e-6
SKEW_RAW = 1.0  # skewness of a positive target above this (house prices: 1.9; diabetes: 0.44)...
SKEW_LOG_SHARE = 0.5  # ...and of log(1 + y) below half of it, in absolute value: a log scale serves it
BINS = 48  # quantile bins of each table feature (rtdl-num-embeddings' and TabM's piecewise-linear default)...
# ...fewer on a wide table, down to 2, until all features hold at most this many bins together: the bins
# are the first layer's inputs, and on 500 continuous columns 48 each made an epoch 3.7x periodic's (10.5 s
# against 2.9 s on 35,000 rows; 6 each, what this budget leaves them: 1.2 s); the benchmark tables hold 72 to 483
BIN_BUDGET = 4096
BIN_SAMPLE_VALUES = 5_000_000  # the bins come from a seeded sample of training rows of at most this many values...
BIN_SAMPLE_ROWS = 20_000  # ...and rows: a quantile of 20,000 draws is off by under 0.4 percentile points
QUANTILE_COLUMNS = 256  # np.quantile sorts a copy of what it is given: a block of columns at a time


def skewness(values: np.ndarray) -> float:
    """The third standardised moment (0 for a symmetric distribution)."""
    values = np.asarray(values, "float64")
    std = values.std()
    return float(np.mean(((values - values.mean()) / std) ** 3)) if std > 0 else 0.0


def skewed_positive(y: np.ndarray) -> bool:
    """D13's rule: a positive target whose skewness passes SKEW_RAW and whose log(1 + y) is far
    more symmetric (prices, counts, durations): a log scale serves it."""
    y = np.asarray(y, "float64")
    if len(y) < 2 or y.min() <= 0:
        return False
    raw = skewness(y)
    return raw > SKEW_RAW and abs(skewness(np.log1p(y))) < SKEW_LOG_SHARE * raw


@dataclass
class TrainStats:
    n_train: int
    mean: list[float]  # per feature (tables) or per channel (images)
    std: list[float]
    class_counts: list[int] | None = None  # classification and binary
    target_mean: float | None = None  # regression
    target_std: float | None = None
    target_skewed: bool = False  # positive and long-tailed (D13's rule, on train alone): a log scale serves it
    target_log_std: float | None = None  # the std of log(1 + y) over train (targets above -1)
    target_high: float | None = None  # the largest training target
    low: float | None = None  # the smallest and largest input value in train (augmentation's range)
    high: float | None = None
    # tables: per feature, the distinct edges of BINS quantile bins of a sample of train (`piecewise_bins`)
    bin_edges: list[list[float]] | None = None

    @property
    def pixel_range(self) -> tuple[float, float]:
        return (self.low or 0.0, 1.0 if self.high is None else self.high)

    @property
    def priors(self) -> list[float] | None:
        if self.class_counts is None:
            return None
        total = sum(self.class_counts)
        return [c / total for c in self.class_counts]

    def save(self, path: Path) -> None:
        write_whole(path, json.dumps(asdict(self) | {"priors": self.priors}, indent=2))

    @classmethod
    def load(cls, path: Path) -> TrainStats:
        record = json.loads(path.read_text())
        record.pop("priors", None)
        return cls(**record)


def compute_train_stats(x_train: np.ndarray, y_train: np.ndarray, task: str, num_classes: int) -> TrainStats:
    """Statistics of the training split; val and test are never passed in here."""
    axes = tuple(range(x_train.ndim - 1))  # every axis but the features / channels
    mean = x_train.mean(axis=axes, dtype="float64")
    std = x_train.std(axis=axes, dtype="float64")
    stats = TrainStats(len(x_train), mean.tolist(), np.where(std < MIN_STD, 1.0, std).tolist(),
                       low=float(x_train.min()) if x_train.size else 0.0,
                       high=float(x_train.max()) if x_train.size else 1.0)
    if x_train.ndim == 2 and len(x_train):
        rows = np.random.default_rng(0).random(len(x_train)) < _bin_sample_share(*x_train.shape)
        stats.bin_edges = piecewise_bins(x_train[rows] if rows.any() else x_train)
    return _with_labels(stats, y_train, task, num_classes)


def piecewise_bins(sample: np.ndarray, bins: int = BINS, budget: int = BIN_BUDGET) -> list[list[float]]:
    """Each feature's distinct quantile edges over a sample of training rows (rtdl-num-embeddings'
    `compute_bins`): BINS + 1 edges for a continuous feature, fewer where values repeat (a 0/1
    column has two: one bin), one for a constant feature (no bin); on a wide table fewer bins
    a feature, halving from BINS (48, 24, 12, ...) down to 2, until all hold at most `budget`."""
    sample = np.asarray(sample)
    while True:
        distinct = []
        for start in range(0, sample.shape[1], QUANTILE_COLUMNS):
            # "nearest": edges are values the feature takes, so a 0/1 column gets {0, 1}, not an edge between
            edges = np.quantile(sample[:, start:start + QUANTILE_COLUMNS], np.linspace(0.0, 1.0, bins + 1), axis=0,
                                method="nearest")
            distinct += [np.unique(column).tolist() for column in edges.T]
        if bins <= 2 or sum(len(e) - 1 for e in distinct) <= budget:
            return distinct
        bins = max(bins // 2, 2)


def _bin_sample_share(rows: int, features: int) -> float:
    """The share of training rows the bins are drawn from: at most BIN_SAMPLE_ROWS rows and
    BIN_SAMPLE_VALUES values (5,000 tf-idf columns: 1,000 rows), every row of a small table."""
    wanted = max(1_000, min(BIN_SAMPLE_ROWS, BIN_SAMPLE_VALUES // max(features, 1)))
    return min(1.0, wanted / max(rows, 1))


def stream_train_stats(train, y_train: np.ndarray, task: str, num_classes: int, batch_size: int = 256) -> TrainStats:
    """The same statistics in one streaming pass over the (input, label) pairs of `train`:
    per-batch sums of x - shift and its square in float64, with the first batch's mean as
    the shift, so that pixel values around 128 lose no precision to the subtraction."""
    count, shift, total, squares = 0, None, None, None
    low, high = np.inf, -np.inf
    draw, sampled = np.random.default_rng(0), []  # tables: the rows the bins come from
    for x, _ in train.batch(batch_size).as_numpy_iterator():
        if x.ndim == 2:
            sampled.append(x[draw.random(len(x)) < _bin_sample_share(len(y_train), x.shape[1])])
        values = x.reshape(-1, x.shape[-1]).astype("float64")
        low, high = min(low, float(values.min())), max(high, float(values.max()))
        if shift is None:
            shift = values.mean(axis=0)
            total, squares = np.zeros_like(shift), np.zeros_like(shift)
        centred = values - shift
        total += centred.sum(axis=0)
        squares += (centred ** 2).sum(axis=0)
        count += len(values)
    mean = shift + total / count
    std = np.sqrt(np.maximum(squares / count - (total / count) ** 2, 0.0))
    stats = TrainStats(len(y_train), mean.tolist(), np.where(std < MIN_STD, 1.0, std).tolist(), low=low, high=high)
    if sampled:
        sample = np.concatenate(sampled)
        sampled.clear()
        stats.bin_edges = piecewise_bins(sample) if len(sample) else None
    return _with_labels(stats, y_train, task, num_classes)


def _with_labels(stats: TrainStats, y_train: np.ndarray, task: str, num_classes: int) -> TrainStats:
    if task == "regression":
        stats.target_mean = float(np.mean(y_train, dtype="float64"))
        stats.target_std = float(np.std(y_train, dtype="float64"))
        stats.target_high = float(np.max(y_train)) if len(y_train) else None
        stats.target_skewed = skewed_positive(y_train)
        if len(y_train) and np.min(y_train) > -1:
            stats.target_log_std = float(np.std(np.log1p(np.asarray(y_train, "float64"))))
    else:
        stats.class_counts = np.bincount(y_train, minlength=num_classes).tolist()
    return stats
