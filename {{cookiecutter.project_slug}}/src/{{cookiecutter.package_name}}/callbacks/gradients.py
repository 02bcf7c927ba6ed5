"""T6 gradient health: per-layer gradient norms through training, and a clipping threshold."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from ..plots import plot_per_layer
from ..registry import registers
from ..train_context import TrainContext
from ..verdicts import Verdict, verdict
from .common import Monitor, data_loss, layer_name, restoring, rounded


class GradientHealth(Monitor):
    """Every `every_steps` steps (and before the first), the gradient norm of each layer on one
    fixed training batch.

    Keras hands callbacks no gradients (`fit` computes and applies them inside its compiled
    step and logs only the loss), so this computes them itself with `tf.GradientTape` on the
    model's data loss, in training mode like the real step, with batch-norm statistics and
    dropout's random state put back afterwards. A fixed batch makes the measurements comparable
    over time; they sample the run, they are not every step's gradient. Under mixed precision
    the loss is scaled like the optimizer scales it, so float16 gradients do not underflow.
    The norms are judged per unit of `loss_unit`, the loss of predicting the priors (or the
    target mean), see `judge_gradients`.

    Args:
        x, y: The fixed training batch the gradients are taken on.
        every_steps: Optimizer steps between two measurements (`monitor.gradient_every_steps`).
        vanishing_below: Warn when a layer's norm per `loss_unit` stays below this.
        exploding_above: Warn when it goes above this.
        clip_norm: The run's `train.clip_norm`, to say how many steps it cuts; None: no clipping.
        loss_unit: The loss of predicting the priors or the mean: the norms are judged per unit
            of it, so a loss in large units is not an explosion.
        run_dir: The run folder the plot goes to (plots/); None: no plot.
        log_dir: TensorBoard folder the measurements are written to; None: none.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, *, every_steps: int = 500, vanishing_below: float = 1e-7,
                 exploding_above: float = 1e3, clip_norm: float | None = None, loss_unit: float = 1.0,
                 run_dir: Path | None = None, log_dir: Path | None = None):
        super().__init__(every_steps=every_steps, log_dir=log_dir)
        self.x, self.y = x, y
        self.vanishing_below, self.exploding_above, self.clip_norm = vanishing_below, exploding_above, clip_norm
        self.run_dir = run_dir
        self.loss_unit = loss_unit if np.isfinite(loss_unit) and loss_unit > 0 else 1.0
        self.steps: list[int] = []
        self.norms: list[np.ndarray] = []  # one row per measurement, one column per layer
        self.layers: list[str] = []

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        variables = self.model.trainable_variables
        self.layers = list(dict.fromkeys(layer_name(v) for v in variables))
        self._columns = np.array([self.layers.index(layer_name(v)) for v in variables])
        self.measure({})

    def _squared_norms(self) -> np.ndarray:
        """Eagerly: a compiled function's trace costs more than it saves over the handful of
        measurements a run makes (figures: the template's BENCHMARKS.md)."""
        import tensorflow as tf  # GradientTape: Keras has no backend-neutral gradient API

        model, optimizer = self.model, self.model.optimizer
        with tf.GradientTape() as tape:
            loss = data_loss(model, self.y, model(self.x, training=True))
            scaled = optimizer.scale_loss(loss) if optimizer is not None else loss
        gradients = tape.gradient(scaled, model.trainable_variables)
        scale = float(optimizer.scale_loss(tf.constant(1.0))) if optimizer is not None else 1.0
        out = []
        for gradient in gradients:
            if gradient is None:  # not connected to the loss: a zero gradient (T5 names it)
                out.append(tf.constant(0.0))
                continue
            values = gradient.values if isinstance(gradient, tf.IndexedSlices) else gradient
            out.append(tf.reduce_sum(tf.square(tf.cast(values, tf.float32))))
        return keras.ops.convert_to_numpy(tf.stack(out)).astype("float64") / scale**2

    def on_train_end(self, logs=None):
        if self.steps and self.steps[-1] != self.step:
            self.measure({})

    def measure(self, logs):
        with restoring(self.model.non_trainable_variables):
            squared = self._squared_norms()
        per_layer = np.zeros(len(self.layers))
        np.add.at(per_layer, self._columns, squared)
        norms = np.sqrt(per_layer)
        self.steps.append(self.step)
        self.norms.append(norms)
        scalars = {f"T6_gradient_norm/{name}": norm for name, norm in zip(self.layers, norms, strict=True)}
        self.write_scalars({"T6_gradient_norm/global": float(np.sqrt(per_layer.sum()))} | scalars)

    def verdicts(self) -> list[Verdict]:
        norms = np.array(self.norms).reshape(len(self.norms), len(self.layers))
        unit = self.loss_unit
        plots = []
        if self.run_dir is not None and len(self.norms):
            plots.append(plot_gradient_norms(self.steps, self.layers, norms / unit, self.vanishing_below,
                                             self.exploding_above, self.run_dir))
        return [judge_gradients(self.steps, self.layers, norms, self.vanishing_below, self.exploding_above,
                                self.clip_norm, unit, plots)]


def judge_gradients(steps: list[int], layers: list[str], norms: np.ndarray, vanishing_below: float,
                    exploding_above: float, clip_norm: float | None, loss_unit: float = 1.0,
                    plots: list[str] = ()) -> Verdict:
    """Warn when a layer's gradient vanishes or explodes, or clipping would cut most steps.

    The norms are judged per unit of `loss_unit`: the loss of predicting the train priors (or
    the target mean), M1's expected loss at init, a property of the data, not of the model. A
    gradient scales with the loss: MSE on a target in large units
    (BENCHMARKS.md, "Check notes: T6") gives norms of 1e4 in a healthy model, a target in tiny units norms of
    1e-8. For cross-entropy the unit is the priors' entropy (ln 10 = 2.3 for 10 balanced
    classes), so RECIPE's thresholds keep their meaning there, and a model whose own loss is
    huge (bad init, exploding logits) is not divided away. The clip norm suggested is in raw
    units, the ones `train.clip_norm` takes.

    Vanishing: the layer's norm is below `vanishing_below` in more than half of the
    measurements where some layer's norm is above it (when every layer is that small the loss
    is flat or solved, and there is nothing to pass back). Exploding: above `exploding_above`,
    or non-finite, in any measurement. The suggested clip norm is the 90th percentile of the
    measured global norms; a `clip_norm` that more than half of them exceed is too aggressive.
    """
    if norms.size == 0:
        return verdict("T6", "skip", advice="no gradient was measured (no trainable weights, or no step ran)")
    raw = np.where(np.isfinite(norms), norms, np.inf)
    finite = raw / loss_unit
    flowing = finite.max(axis=1) >= vanishing_below
    vanishing = [name for i, name in enumerate(layers)
                 if flowing.any() and np.mean(finite[flowing, i] < vanishing_below) > 0.5]
    exploding = [name for i, name in enumerate(layers) if np.any(finite[:, i] > exploding_above)]
    global_norms = np.sqrt(np.sum(np.square(raw), axis=1))
    finite_norms = global_norms[np.isfinite(global_norms)]
    suggested = float(np.percentile(finite_norms, 90)) if finite_norms.size else float("nan")
    measured = {
        "measurements": len(steps), "steps": [int(steps[0]), int(steps[-1])],
        "smallest_median_norm_per_loss": _extreme(layers, np.median(finite, axis=0), np.argmin),
        "largest_norm_per_loss": _extreme(layers, np.max(finite, axis=0), np.argmax),
        "global_norm_p90": rounded(suggested), "loss_unit": rounded(loss_unit),
    }
    problems = []
    if vanishing:
        problems.append(f"vanishing gradients in {', '.join(vanishing)}")
        measured["vanishing"] = vanishing
    if exploding:
        problems.append(f"exploding gradients in {', '.join(exploding)}")
        measured["exploding"] = exploding
    if clip_norm is not None:
        share = float(np.mean(global_norms > clip_norm))
        measured["clipped_share"] = round(share, 3)
        if share > 0.5:
            problems.append(f"train.clip_norm={clip_norm:g} clips {share:.0%} of the measured steps")
    advice = ""
    if problems:
        advice = "; ".join(problems) + ". "
        if vanishing:
            advice += "Use ReLU-family activations with He initialisation, normalisation layers or residual " \
                      "connections; check for a saturating activation or tiny initial weights. "
        if exploding:
            advice += "Lower the learning rate or set train.clip_norm" + (
                f" (about {suggested:.3g}, the 90th percentile of the measured norms). " if finite_norms.size
                else " (no finite norm was measured to suggest one). ")
        if clip_norm is not None and measured["clipped_share"] > 0.5:
            advice += f"Raise train.clip_norm towards {suggested:.3g}."
    return verdict("T6", "warn" if problems else "pass", measured=measured,
                   expected="every layer's norm per unit of the priors' loss in "
                   f"[{vanishing_below:g}, {exploding_above:g}]"
                   + ("" if clip_norm is None else ", at most half the steps clipped"),
                   advice=advice.strip(), plots=list(plots))


def _extreme(layers: list[str], values: np.ndarray, pick) -> dict[str, float]:
    index = int(pick(values))
    return {layers[index]: rounded(values[index])}


def plot_gradient_norms(steps, layers, norms, vanishing_below, exploding_above, run_dir: Path) -> str:
    # A non-finite norm is drawn above the exploding line; zeros and vanishing norms at the bottom.
    return plot_per_layer(steps, layers, np.nan_to_num(norms, nan=exploding_above * 10), vanishing_below / 10,
                          "gradient norm / loss at init (fixed batch)",
                          "T6 per-layer gradient norms (dashed: vanishing and exploding thresholds)",
                          run_dir, "T6_gradient_norms", thresholds=(vanishing_below, exploding_above))


@registers("train", "T6")
def _t6(c: TrainContext) -> Verdict:
    return c.watched_verdict("T6", "monitor.gradient_health")
