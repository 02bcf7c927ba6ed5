"""T4's measurement: the same training examples' loss in training mode and in inference mode.

Val, test, `evaluate`, the export and `predict` all run the model in inference mode, where a
batch norm uses its moving statistics instead of the batch's. A batch norm whose moving
statistics lag behind the weights (momentum 0.999 over a 410-step run still holds 66% of the
statistics it started with) gives a model that trains well and predicts at chance: measured on
keras.applications' MobileNetV3Small from scratch on 1,300 digits, val accuracy 0.94 in training
mode and 0.10 in inference mode (issue #40). Shared by `check` (checks/inference_mode.py) and the
callback that measures the end of `train` (callbacks/mode_gap.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import keras
import numpy as np

from .models import loss_for
from .steps import all_layers, weights_restored
from .verdicts import Verdict, verdict

TRAINING_REPEATS = 4  # training-mode passes averaged: dropout draws anew at each
# Training examples measured (fewer when check.capacity_examples is lower): a standard error of the
# mean difference of a few hundredths of the priors' loss, and 150 MB at most for 224 x 224 photos,
# held for the whole of `fit`.
EXAMPLES = 256
# A batch norm's moving average spans about 1 / (1 - momentum) steps; longer than this share of
# the run, it averages statistics of weights long gone (momentum 0.99 failed a 410-step run too).
WINDOW_SHARE_LIMIT = 0.05


@dataclass
class ModeGap:
    """T4's numbers on one set of training examples.

    Attributes:
        training_loss: The mean data loss in training mode (batch statistics, dropout on).
        inference_loss: The mean data loss in inference mode (moving statistics, no dropout).
        standard_error: Of the mean per-example difference, inference minus training.
        unit: The priors' loss on val (M1's): how large a difference is.
        examples: Examples measured, in batches of the run's batch size.
        steps: Optimizer steps the model had taken when measured.
        batch_norms: Each batch norm: name, momentum, its moving average's window in steps and
            the share of its starting statistics still in it after `steps`.
        dropouts: Each dropout layer: name and rate.
    """

    training_loss: float
    inference_loss: float
    standard_error: float
    unit: float
    examples: int
    steps: int
    batch_norms: list[dict] = field(default_factory=list)
    dropouts: list[dict] = field(default_factory=list)

    @property
    def difference(self) -> float:
        return self.inference_loss - self.training_loss


def batch_norms(model: keras.Model) -> list[keras.layers.BatchNormalization]:
    return [layer for layer in all_layers(model) if isinstance(layer, keras.layers.BatchNormalization)]


def window(momentum: float) -> float:
    """The steps a moving average with this momentum spans (its weights' mean age)."""
    return math.inf if momentum >= 1 else 1.0 / (1.0 - momentum)


def mode_layers(model: keras.Model, steps: int) -> tuple[list[dict], list[dict]]:
    """The layers that differ between the modes: batch norms (momentum, window, the share of the
    starting statistics left after `steps`) and dropouts (rate)."""
    norms = [{"layer": layer.name, "momentum": float(layer.momentum), "window_steps": round(window(layer.momentum), 1),
              "start_left": round(float(layer.momentum) ** max(steps, 0), 4)}
             for layer in batch_norms(model) if layer.trainable]
    dropouts = [{"layer": layer.name, "rate": float(layer.rate)} for layer in all_layers(model)
                if isinstance(layer, keras.layers.Dropout) and layer.rate > 0]
    return norms, dropouts


def measure_mode_gap(model: keras.Model, x: np.ndarray, y: np.ndarray, task: str, unit: float, batch_size: int
                     ) -> ModeGap:
    """Each example's data loss in inference mode and, averaged over TRAINING_REPEATS passes, in
    training mode, in batches of the run's size (batch statistics depend on it). The model's
    weights and moving statistics are put back afterwards.

    Args:
        model: The model, trained or not.
        x: Training inputs, a fixed sample.
        y: Their labels.
        task: The run's task (the loss).
        unit: The priors' loss, to size the difference by.
        batch_size: The run's batch size.

    Returns:
        The ModeGap.
    """
    loss = loss_for(task)
    batch_size = max(2, min(batch_size, len(x)))
    chunks = [slice(i, i + batch_size) for i in range(0, len(x), batch_size) if len(x[i:i + batch_size]) > 1]
    inference, training = [], []
    with weights_restored(model):
        for part in chunks:
            size = len(y[part])
            inference.append(np.asarray(loss.call(y[part], model(x[part], training=False)), "float64").reshape(size))
            runs = [np.asarray(loss.call(y[part], model(x[part], training=True)), "float64").reshape(size)
                    for _ in range(TRAINING_REPEATS)]
            training.append(np.mean(runs, axis=0))
    inference, training = np.concatenate(inference), np.concatenate(training)
    difference = inference - training
    error = float(difference.std(ddof=1) / math.sqrt(len(difference))) if len(difference) > 1 else 0.0
    optimizer = getattr(model, "optimizer", None)
    steps = int(optimizer.iterations.numpy()) if optimizer is not None and hasattr(optimizer, "iterations") else 0
    norms, dropouts = mode_layers(model, steps)
    return ModeGap(float(training.mean()), float(inference.mean()), error, float(unit), len(difference), steps,
                   norms, dropouts)


def far_worse(gap: ModeGap, share: float, sigmas: float) -> bool:
    """Inference mode worse by more than `share` of the priors' loss and `sigmas` standard errors."""
    return gap.difference > share * gap.unit and gap.difference > sigmas * gap.standard_error


def lagging_norms(norms: list[dict], planned_steps: int) -> list[dict]:
    """The batch norms whose moving average spans more than WINDOW_SHARE_LIMIT of the run."""
    return [n for n in norms if n["window_steps"] > WINDOW_SHARE_LIMIT * max(planned_steps, 1)]


def describe_norms(norms: list[dict], steps: int) -> str:
    """'12 batch norms (momentum 0.999: a window of 1,000 steps; 66% of their starting statistics left
    after 410 steps), e.g. conv_bn, expanded_conv_bn'."""
    if not norms:
        return "no trainable batch norm"
    momenta = sorted({n["momentum"] for n in norms})
    worst = max(norms, key=lambda n: n["start_left"])
    said = ", ".join(f"{m:g}" for m in momenta)
    return (f"{len(norms)} batch norm(s) (momentum {said}: a window of {window(max(momenta)):,.0f} steps; "
            f"{worst['start_left']:.0%} of their starting statistics left after {steps:,} steps), e.g. "
            + ", ".join(n["layer"] for n in norms[:3]))


def judge_mode_gap(gap: ModeGap, share: float, sigmas: float, stage: str = "train") -> Verdict:
    """T4 at the end of `train`: fail when inference mode is far worse than training mode on
    the same training examples (`far_worse`), naming the layers that differ between the modes.

    Args:
        gap: The measurement, at the end of `fit`.
        share: check.mode_gap_share.
        sigmas: check.mode_gap_sigmas.
        stage: The stage the verdict belongs to.

    Returns:
        The T4 verdict: fail on a far worse inference mode, pass otherwise.
    """
    measured = _measured(gap)
    expected = (f"inference-mode loss at most {share:g} x the priors' loss ({share * gap.unit:.3g}) above "
                f"training mode's, or within {sigmas:g} standard errors")
    if not far_worse(gap, share, sigmas):
        return verdict("T4", "pass", measured=measured, expected=expected, stage=stage)
    return verdict("T4", "fail", measured=measured, expected=expected, stage=stage, advice=(
        f"On the same training examples the model's loss is {gap.inference_loss:.3g} in inference mode against "
        f"{gap.training_loss:.3g} in training mode: val, test, the export and `predict` run the worse one. "
        + _remedy(gap)))


def _measured(gap: ModeGap) -> dict:
    return {"training_mode_loss": round(gap.training_loss, 5), "inference_mode_loss": round(gap.inference_loss, 5),
            "difference": round(gap.difference, 5), "standard_error": round(gap.standard_error, 5),
            "priors_loss": round(gap.unit, 5), "examples": gap.examples, "steps": gap.steps,
            "batch_norms": len(gap.batch_norms), "momenta": sorted({n["momentum"] for n in gap.batch_norms}),
            "dropouts": gap.dropouts or "none"}


def _remedy(gap: ModeGap) -> str:
    if gap.batch_norms:
        return (f"The layers that differ: {describe_norms(gap.batch_norms, gap.steps)}. Their moving statistics "
                "lag behind the weights: lower their momentum to suit the run's length (the built-in backbones "
                "from scratch do: model.weights null), train longer, or recompute the statistics after training "
                "with one pass over training images in training mode.")
    if gap.dropouts:
        return ("No batch norm differs; dropout (" + ", ".join(f"{d['layer']} {d['rate']:g}" for d in gap.dropouts)
                + ") should make training mode the worse one: look for a custom layer whose inference branch "
                "differs from its training branch.")
    return "No Keras layer differs between the modes: look for a custom layer that reads `training`."


def mode_gap_first(found: Verdict, earlier: list[Verdict]) -> Verdict:
    """A warn or fail that a failed T4 explains, its advice led by T4's: when inference mode is far
    worse than training mode, B2, T11, B1 and B3 fail for that reason, not for wiring, labels or
    the learning rate their own advice would name.

    Args:
        found: The verdict of B2, T11, B1 or B3.
        earlier: The verdicts given before it (this stage's, and `train`'s for `evaluate`).

    Returns:
        `found`, its advice led by T4's cause when T4 failed and `found` warns or fails.
    """
    failed = next((v for v in reversed(earlier) if v.id == "T4" and v.status == "fail"), None)
    if failed is not None and found.status in ("warn", "fail"):
        found.advice = (f"T4 failed first (at `{failed.stage or 'this stage'}`): the model is far worse in inference "
                        "mode than in training mode, which val, test and the baselines' comparisons all use; fix "
                        f"that before reading this verdict. {found.advice}")
        if isinstance(found.measured, dict):
            found.measured["explained_by"] = "T4"
    return found
