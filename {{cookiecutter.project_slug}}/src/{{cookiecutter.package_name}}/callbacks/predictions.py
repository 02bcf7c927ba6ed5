"""T11 prediction dynamics: a few frozen val examples, their predictions through training."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from ..mode_gap import mode_gap_first
from ..models import probabilities
from ..plots import new_figure, save_figure
from ..registry import registers
from ..train_context import TrainContext
from ..verdicts import Verdict, verdict
from .common import Monitor, rounded

FALLBACK_EVERY_STEPS = 100  # when Keras does not know the epoch's length (a dataset of unknown size)


class PredictionDynamics(Monitor):
    """Predictions (logits or targets) on the same few val examples, `per_epoch` times an epoch
    and before the first step, in inference mode (one small batch: well under a training step).

    Args:
        x, y: The frozen val examples and their labels.
        task: classification, binary or regression: how outputs become predictions.
        per_epoch: Snapshots an epoch.
        warmup_steps: Stall and thrash are judged after this step.
        stall_below: Stall: every mean |change| of the outputs between snapshots below this.
        thrash_above: Thrash: a mean change of the predicted probabilities above this.
        repeats: Collapse: this many last snapshots all one class; thrash: this many jumps.
        target_std: Regression: the train target's std, the scale of a change; None otherwise.
        run_dir: The run folder the plot goes to (plots/); None: no plot.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, *, task: str, per_epoch: int = 5, warmup_steps: int = 100,
                 stall_below: float = 1e-4, thrash_above: float = 0.5, repeats: int = 3,
                 target_std: float | None = None, run_dir: Path | None = None):
        super().__init__()
        self.x, self.y, self.task = x, np.asarray(y), task
        self.per_epoch, self.warmup_steps = per_epoch, warmup_steps
        self.stall_below, self.thrash_above, self.repeats = stall_below, thrash_above, repeats
        self.target_std = target_std
        self.run_dir = run_dir
        self.steps: list[int] = []
        self.outputs: list[np.ndarray] = []

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        steps = (self.params or {}).get("steps")
        self.every_steps = max(1, steps // self.per_epoch) if steps else FALLBACK_EVERY_STEPS
        self._compile()
        if not self.steps or self.steps[-1] != self.step:
            self.measure({})

    def _compile(self):
        """A compiled call for this one batch, cheaper than `predict_on_batch` or an eager call
        at 5 snapshots an epoch (figures: the template's BENCHMARKS.md)."""
        import tensorflow as tf

        model = self.model
        self._x = tf.convert_to_tensor(self.x)
        self._predict = tf.function(lambda x: model(x, training=False)).get_concrete_function(self._x)

    def measure(self, logs):
        outputs = np.asarray(keras.ops.convert_to_numpy(self._predict(self._x)), "float64")
        self.steps.append(self.step)
        self.outputs.append(outputs.reshape(len(self.x), -1))

    def verdicts(self) -> list[Verdict]:
        outputs = np.array(self.outputs)
        plots = [plot_prediction_dynamics(self.steps, outputs, self.y, self.task, self.target_std, self.run_dir,
                                          self.stall_below, self.thrash_above)] \
            if self.run_dir is not None and len(outputs) else []
        return [judge_predictions(self.steps, outputs, self.y, self.task, self.warmup_steps, self.stall_below,
                                  self.thrash_above, self.repeats, self.target_std, plots)]


def predicted_classes(outputs: np.ndarray, task: str) -> np.ndarray:
    return outputs.argmax(axis=-1) if task == "classification" else (outputs[..., 0] > 0).astype(int)


def changes(outputs: np.ndarray, task: str, target_std: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Between consecutive snapshots: the mean |change| of the raw outputs (logits, scaled
    targets), for stall, and of the probabilities (total variation per example), for thrash.
    Logits keep moving when the probabilities saturate, so a confident model does not look stalled."""
    scale = target_std if task == "regression" and target_std else 1.0
    raw = np.abs(np.diff(outputs, axis=0)).mean(axis=(1, 2)) / scale
    probs = probabilities(outputs, task, target_std)
    if task == "classification":
        moved = 0.5 * np.abs(np.diff(probs, axis=0)).sum(axis=-1).mean(axis=1)
    else:
        moved = np.abs(np.diff(probs, axis=0)).mean(axis=(1, 2))
    return raw, moved


def judge_predictions(steps: list[int], outputs: np.ndarray, y: np.ndarray, task: str, warmup_steps: int,
                      stall_below: float, thrash_above: float, repeats: int, target_std: float | None = None,
                      plots: list[str] = ()) -> Verdict:
    """Warn on three patterns (RECIPE T11):

    - collapse: the last `repeats` snapshots predict one class for every example, although the
      examples' labels differ (judged at the end: at init every prediction is the prior's
      class by design, M2);
    - stall: every change after `warmup_steps` is below `stall_below` (mean |change| of the
      logits, or of the target in units of its std): the model stopped learning;
    - thrash: `repeats` or more changes after the warm-up move the predicted probabilities by
      more than `thrash_above` on average: the step is too large to settle.
    """
    if len(steps) < 2:
        return verdict("T11", "skip", advice="fewer than two snapshots of the predictions (training too short)")
    steps_array = np.asarray(steps)
    raw, moved = changes(outputs, task, target_std)
    after = steps_array[1:] > warmup_steps
    problems, measured = [], {"snapshots": len(steps), "examples": int(outputs.shape[1]),
                              "final_mean_change": rounded(raw[-1])}
    if after.any():
        measured["median_change_after_warmup"] = rounded(np.median(raw[after]))
        if np.all(raw[after] < stall_below):
            problems.append(f"predictions stalled: every change after step {warmup_steps} is below {stall_below:g}")
        jumps = int(np.sum(moved[after] > thrash_above))
        measured["jumps_after_warmup"] = jumps
        if jumps >= repeats:
            problems.append(f"predictions thrash: {jumps} snapshots moved the probabilities by more than "
                            f"{thrash_above:g} on average")
    else:
        measured["stall_and_thrash"] = f"not judged: no snapshot after step {warmup_steps}"
    if task != "regression" and len(np.unique(y)) > 1 and len(steps) >= repeats:
        last = predicted_classes(outputs[-repeats:], task)
        collapsed = all(len(np.unique(row)) == 1 for row in last)
        measured["distinct_predicted_classes"] = int(len(np.unique(last[-1])))
        if collapsed:
            problems.append(f"predictions collapsed: one class for every example in the last {repeats} snapshots, "
                            f"though the labels hold {len(np.unique(y))}")
    advice = ""
    if problems:
        advice = "; ".join(problems) + ". "
        if any("stalled" in p for p in problems):
            advice += "Look for a learning rate of 0 or far too small, or frozen layers (T5, T8, T12). "
        if any("thrash" in p for p in problems):
            advice += "Lower the learning rate or raise the batch size. "
        if any("collapsed" in p for p in problems):
            advice += "The model ignores its input: check the labels and inputs reach the model (B2, D9) and " \
                      "the learning rate."
    return verdict("T11", "warn" if problems else "pass", measured=measured,
                   expected=f"changes >= {stall_below:g} and fewer than {repeats} jumps > {thrash_above:g} after "
                   f"step {warmup_steps}; more than one predicted class",
                   advice=advice.strip(), plots=list(plots))


def plot_prediction_dynamics(steps, outputs, y, task, target_std, run_dir: Path, stall_below, thrash_above) -> str:
    """Left: each example's prediction over time (probability of its label; P(positive); the
    target in std units with its label as a dashed line). Right: the jitter between snapshots."""
    fig, (left, right) = new_figure(11, 4, ncols=2)
    probs = probabilities(outputs, task, target_std)
    colours = [f"C{i % 10}" for i in range(outputs.shape[1])]
    for i in range(outputs.shape[1]):
        if task == "classification":
            series = probs[:, i, int(y[i])]
        else:
            series = probs[:, i, 0]
        left.plot(steps, series, color=colours[i], linewidth=1, alpha=0.8)
        if task == "regression":
            left.axhline(float(y[i]) / (target_std or 1.0), color=colours[i], linestyle=":", linewidth=0.8)
    left.set_ylabel({"classification": "P(true class)", "binary": "P(positive)"}.get(task, "prediction / target std"))
    left.set_xlabel("step")
    left.set_title(f"predictions on {outputs.shape[1]} frozen val examples")
    raw, moved = changes(outputs, task, target_std)
    right.plot(steps[1:], np.clip(raw, stall_below / 10, None), marker=".", label="mean |change| of outputs")
    right.plot(steps[1:], np.clip(moved, stall_below / 10, None), marker=".", label="mean change of probabilities")
    right.axhline(stall_below, color="grey", linestyle="--", linewidth=1)
    right.axhline(thrash_above, color="grey", linestyle=":", linewidth=1)
    right.set_yscale("log")
    right.set_xlabel("step")
    right.set_title("jitter between snapshots (stall --, thrash :)")
    right.legend(fontsize="small")
    return save_figure(fig, run_dir, "T11_prediction_dynamics")


@registers("train", "T11")
def _t11(c: TrainContext) -> Verdict:
    return mode_gap_first(c.watched_verdict("T11", "monitor.prediction_dynamics"), c.earlier)
