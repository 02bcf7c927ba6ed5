"""T8 update-to-weight ratio: how far one optimizer step moves each layer's weights."""

from __future__ import annotations

import math
from pathlib import Path

import keras
import numpy as np

from ..plots import plot_per_layer
from ..registry import registers
from ..train_context import TrainContext
from ..verdicts import Verdict, verdict
from .common import Monitor, kernel_names, kernels, rounded


class UpdateRatio(Monitor):
    """||W_after - W_before|| / ||W_before|| of one step, every `every_steps` steps, for each kernel.

    Kernels only: biases, batch-norm scales and shifts start at 0 or 1 and say nothing about
    the step size, and a kernel that starts at zero has no ratio. The weights are copied on the
    host just before a measured step and compared just after it; with steps_per_execution > 1
    the difference covers that many steps and is divided by their number. The measured steps
    are steps every_steps, 2 * every_steps, ...: not the first step, whose Adam update moves
    every weight by exactly the learning rate (the largest step of the run), and which would
    flag a small-initialised output layer (M1) as 10x off the others. The training loss Keras
    logged is kept with each measurement: the ones taken once the model fits its training
    batches are not judged (`fitting_measurements`).

    Args:
        every_steps: Optimizer steps between two measured steps (`monitor.update_every_steps`).
        warn_range: The median ratio over layers warns outside [low, high].
        fail_range: And fails outside this.
        layer_factor: A layer this factor off the median warns.
        run_dir: The run folder the plot goes to (plots/); None: no plot.
        log_dir: TensorBoard folder the measurements are written to; None: none.
    """

    def __init__(self, *, every_steps: int = 100, warn_range: tuple[float, float] = (1e-4, 1e-2),
                 fail_range: tuple[float, float] = (1e-5, 1e-1), layer_factor: float = 10.0,
                 run_dir: Path | None = None, log_dir: Path | None = None):
        super().__init__(every_steps=every_steps, log_dir=log_dir)
        self.warn_range, self.fail_range, self.layer_factor = warn_range, fail_range, layer_factor
        self.run_dir = run_dir
        self.steps: list[int] = []
        self.ratios: list[np.ndarray] = []  # one row per measurement, one column per kernel
        self.losses: list[float] = []  # the training loss Keras logged at each measurement
        self.first_loss: float | None = None  # the fit's first batch's loss
        self.layers: list[str] = []
        self._before = None

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self._kernels = [v for v in kernels(self.model) if float(keras.ops.max(keras.ops.abs(v.value))) > 0]
        self.layers = kernel_names(self._kernels)

    def on_train_batch_begin(self, batch, logs=None):
        super().on_train_batch_begin(batch, logs)
        coming = self.step + (getattr(self.model, "steps_per_execution", 1) or 1)  # steps done after this call
        if self.every_steps and coming // self.every_steps > self.step // self.every_steps and self._kernels:
            # A copy, not a view: the optimizer updates variables in place.
            self._before = [np.array(keras.ops.convert_to_numpy(v.value), "float32") for v in self._kernels]

    def on_train_batch_end(self, batch, logs=None):
        done = batch - self._batch_begin + 1
        super().on_train_batch_end(batch, logs)
        if self.first_loss is None and logs and "loss" in logs:
            self.first_loss = float(logs["loss"])
        if self._before is None:
            return
        # On the host: a few matrices every hundred steps cost less there than a dozen eager
        # device ops (figures: the template's BENCHMARKS.md).
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            values = np.array([np.linalg.norm(keras.ops.convert_to_numpy(v.value) - before) / np.linalg.norm(before)
                               for v, before in zip(self._kernels, self._before, strict=True)], "float64")
        values /= done
        self._before = None
        self.steps.append(self.step)
        self.ratios.append(values)
        self.losses.append(float(logs["loss"]) if logs and "loss" in logs else math.nan)
        self.write_scalars({f"T8_update_ratio/{n}": value for n, value in zip(self.layers, values, strict=True)})

    def verdicts(self) -> list[Verdict]:
        ratios = np.array(self.ratios).reshape(len(self.ratios), len(self.layers))
        plots = [plot_update_ratios(self.steps, self.layers, ratios, self.warn_range, self.run_dir)] \
            if self.run_dir is not None and ratios.size else []
        head = self.layers[-1] if self.layers else None  # the last kernel: the output layer
        penalised = {name for name, v in zip(self.layers, self._kernels, strict=True)
                     if getattr(v, "regularizer", None) is not None}
        fan_ins = [fan_in(v.shape) for v in self._kernels] if steps_per_weight(self.model.optimizer) else None
        judged = fitting_measurements(self.losses, self.first_loss)
        return [judge_update_ratios(self.layers, ratios[judged], self.warn_range, self.fail_range, self.layer_factor,
                                    plots, head, penalised, fan_ins, fitted=len(ratios) - int(judged.sum()))]


# A training loss below this share of its first value: the model fits its training batches, their
# gradients shrink toward zero, and so do Adam's steps (in proportion, once a gradient is below its
# epsilon of 1e-7): the ratio then says nothing of the learning rate. On dev image runs that
# trained on for thousands of steps at a training loss near 1e-5, the median fell 10x below the
# band where the first measurements sat inside it (BENCHMARKS.md, "Check notes: T8").
FITTED_LOSS_SHARE = 0.01


def fitting_measurements(losses: list[float], first_loss: float | None) -> np.ndarray:
    """Which measurements T8 judges: those taken while the training loss was at least
    FITTED_LOSS_SHARE of its first value (a non-finite loss counts as above), and the first
    measurement always.

    Args:
        losses: The training loss Keras logged at each measurement (its epoch's running mean).
        first_loss: The fit's first batch's loss; None or not above 0: every measurement.

    Returns:
        A boolean mask over the measurements.
    """
    losses = np.asarray(losses, "float64")
    if first_loss is None or not math.isfinite(first_loss) or first_loss <= 0:
        return np.ones(len(losses), bool)
    judged = ~(losses < FITTED_LOSS_SHARE * first_loss)
    judged[:1] = True
    return judged


# Optimizers that scale each weight's step by its own gradient history, so that every weight moves
# by about the learning rate a step whatever its gradient's size.
PER_WEIGHT_STEPS = ("Adam", "AdamW", "Adamax", "Nadam", "RMSprop", "Adagrad", "Adadelta", "Lion", "Adafactor")


def steps_per_weight(optimizer) -> bool:
    """Whether `optimizer` (under mixed precision, the one its loss scaling wraps) moves every
    weight by about its learning rate a step."""
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    return type(inner).__name__ in PER_WEIGHT_STEPS


def fan_in(shape) -> int:
    """A kernel's fan-in as Keras' initialisers count it, every axis but the last (a dense
    kernel's inputs; a convolution's window times its input channels, a depthwise one's too):
    the count that set the kernel's scale at the start, which is what makes its ratio differ."""
    return math.prod(int(d) for d in shape[:-1])


def judge_update_ratios(layers: list[str], ratios: np.ndarray, warn_range: tuple[float, float],
                        fail_range: tuple[float, float], layer_factor: float, plots: list[str] = (),
                        head: str | None = None, penalised: set[str] = frozenset(),
                        fan_ins: list[int] | None = None, fitted: int = 0) -> Verdict:
    """Judge the median over layers (of each layer's median over the measurements).

    RECIPE's researched band is the warning: the median outside [1e-4, 1e-2] (about 1e-3 is
    healthy; with Adam the ratio is roughly learning rate / rms(W)). Its table's wider band
    [1e-5, 1e-1] is where the learning rate is wrong beyond doubt (nothing learns, or every
    step rewrites a tenth of the weights): a fail. One layer `layer_factor` off the median
    learns at another speed than the rest: a warn. A non-finite ratio counts as too high.

    Except the output layer (`head`) on the high side: it is initialised small on purpose (M1:
    a head at 1% of the usual scale starts at the loss the priors promise), and as the ratio is
    about learning rate / rms(W), it runs 10-30x above the other layers until its weights have
    grown, which takes a few hundred steps. Far below the median, it is flagged like any layer.
    So are the kernels with a weight penalty (`penalised`): an L1 penalty holds most of their
    weights near zero on purpose (BENCHMARKS.md, "Check notes: T8"), and a step is large beside
    weights that small.

    Under an optimizer that moves each weight by about the learning rate (Adam, the default:
    `fan_ins` given, one a column of `ratios`), a layer's ratio is about rate / rms(W), and He
    initialisation sets rms(W) to sqrt(2 / fan_in): the ratio grows as sqrt(fan_in) by
    construction, so a 3x3 convolution on one grayscale channel (fan-in 9) sits 30x below a
    dense layer of fan-in 8,192 in a healthy model. The layers are then compared by their ratio
    over sqrt(fan_in / 2) (the median band still judges the ratios themselves): what is left is
    a layer's own scale against He's, and how steadily its gradients point, which a layer
    initialised at another scale or frozen changes. Measured on dev image runs (BENCHMARKS.md,
    "Check notes: T8").

    `ratios` holds the measurements judged, those taken before the model fit its training
    batches (`fitting_measurements`); `fitted` counts the others, which the record reports."""
    if ratios.size == 0:
        return verdict("T8", "skip", advice="nothing measured: no trainable weight matrix with non-zero "
                       "values, or the run was shorter than monitor.update_every_steps")
    clean = np.where(np.isfinite(ratios), ratios, np.inf)
    per_layer = np.median(clean, axis=0)
    median = float(np.median(per_layer))
    scale = np.sqrt(np.asarray(fan_ins, "float64") / 2) if fan_ins else np.ones(len(layers))
    compared = per_layer / scale
    middle = float(np.median(compared))
    off = {name: c for name, c in zip(layers, compared, strict=True)
           if middle > 0 and ((c > middle * layer_factor and name != head and name not in penalised)
                              or c < middle / layer_factor)}
    by_fan_in = ", each ratio over sqrt(fan_in / 2), by which He initialisation alone raises it" if fan_ins else ""
    status, problems = "pass", []
    if not fail_range[0] <= median <= fail_range[1]:
        status = "fail"
    elif not warn_range[0] <= median <= warn_range[1]:
        status = "warn"
    if status != "pass":
        problems.append(f"median update/weight ratio {median:.2g} is too {'low' if median < warn_range[0] else 'high'}")
    if off:
        status = "warn" if status == "pass" else status
        problems.append("layers " + ", ".join(f"{k} ({v:.2g})" for k, v in off.items())
                        + f" are more than {layer_factor:g}x off the layers' median ({middle:.2g}){by_fan_in}")
    advice = ""
    if problems:
        advice = "; ".join(problems) + ". "
        if median < warn_range[0]:
            advice += "Raise the learning rate, or look for frozen layers (T5, T12). "
        elif median > warn_range[1]:
            advice += "Lower the learning rate (`check --lr-find`, T10, suggests one). "
        if off:
            advice += "A layer far off the others may be initialised at another scale or frozen."
    measured = {"median_ratio": rounded(median), "measurements": len(ratios),
                "per_layer": {k: rounded(v) for k, v in zip(layers, per_layer, strict=True)}}
    if fitted:
        measured["not_judged_fitted"] = fitted
    if fan_ins:
        measured["fan_in"] = dict(zip(layers, fan_ins, strict=True))
    return verdict("T8", status, measured=measured,
                   expected=f"median in [{warn_range[0]:g}, {warn_range[1]:g}] (fail outside "
                   f"[{fail_range[0]:g}, {fail_range[1]:g}]), every layer within {layer_factor:g}x of the "
                   f"layers' median{by_fan_in}"
                   + (f"; judged while the training loss was above {FITTED_LOSS_SHARE:g} of its first value"
                      if fitted else ""),
                   advice=advice.strip(), plots=list(plots))


def plot_update_ratios(steps, layers, ratios, warn_range, run_dir: Path) -> str:
    return plot_per_layer(steps, layers, ratios, 1e-9, "||dW|| / ||W|| of one step",
                          "T8 update-to-weight ratio per layer (green: healthy band)", run_dir, "T8_update_ratio",
                          band=warn_range)


@registers("train", "T8")
def _t8(c: TrainContext) -> Verdict:
    return c.watched_verdict("T8", "monitor.update_ratio")
