"""T4 at the end of `train`: the same training examples' loss in training mode and in inference
mode, once `fit` is over (mode_gap.py measures and judges; `check` looks before the run)."""

from __future__ import annotations

import numpy as np

from ..mode_gap import ModeGap, judge_mode_gap, measure_mode_gap
from ..registry import registers
from ..train_context import TrainContext
from ..verdicts import Verdict, verdict
from .common import Monitor


class ModeGapMonitor(Monitor):
    """Measures the mode gap on fixed training examples when training ends: cheap (a few
    forward passes), and what val, test and the export will meet.

    Args:
        x: Fixed training inputs.
        y: Their labels.
        task: The run's task.
        unit: The priors' loss (M1's), to size the difference by.
        batch_size: The run's batch size: training mode's batch statistics depend on it.
        share: check.mode_gap_share.
        sigmas: check.mode_gap_sigmas.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, *, task: str, unit: float, batch_size: int, share: float,
                 sigmas: float):
        super().__init__()
        self.x, self.y, self.task, self.unit, self.batch_size = x, y, task, unit, batch_size
        self.share, self.sigmas = share, sigmas
        self.gap: ModeGap | None = None

    def on_train_end(self, logs=None):
        self.gap = measure_mode_gap(self.model, self.x, self.y, self.task, self.unit, self.batch_size)

    def verdicts(self) -> list[Verdict]:
        if self.gap is None:
            return [verdict("T4", "skip", stage="train", advice="training did not finish: nothing measured")]
        if not np.isfinite([self.gap.training_loss, self.gap.inference_loss]).all():
            return [verdict("T4", "skip", stage="train", advice="the loss is not finite (T9 says where)")]
        return [judge_mode_gap(self.gap, self.share, self.sigmas)]


@registers("train", "T4")
def _t4_train(c: TrainContext) -> Verdict:
    return c.watched_verdict("T4", "monitor.mode_gap")
