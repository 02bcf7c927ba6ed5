"""D2: statistics of the training split alone, saved with the run, applied unchanged elsewhere."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

# A feature that never varies in train would divide by zero; it is left unscaled instead.
MIN_STD = 1e-6


@dataclass
class TrainStats:
    n_train: int
    mean: list[float]  # per feature (tables) or per channel (images)
    std: list[float]
    class_counts: list[int] | None = None  # classification and binary
    target_mean: float | None = None  # regression
    target_std: float | None = None

    @property
    def priors(self) -> list[float] | None:
        if self.class_counts is None:
            return None
        total = sum(self.class_counts)
        return [c / total for c in self.class_counts]

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self) | {"priors": self.priors}, indent=2))

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
    std = np.where(std < MIN_STD, 1.0, std)
    stats = TrainStats(len(x_train), mean.tolist(), std.tolist())
    if task == "regression":
        stats.target_mean = float(np.mean(y_train, dtype="float64"))
        stats.target_std = float(np.std(y_train, dtype="float64"))
    else:
        stats.class_counts = np.bincount(y_train, minlength=num_classes).tolist()
    return stats
