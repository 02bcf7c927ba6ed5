"""What the recipe callbacks share: a step counter with intervals, the data loss, layer probes.

Each check that watches training is a `keras.callbacks.Callback` (a `Monitor`): it measures
on fixed samples every N optimizer steps, keeps the numbers, and turns them into verdicts at
the end with a pure `judge_*` function of those numbers, which the tests call directly too.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import keras
import numpy as np

from ..verdicts import Verdict


class Monitor(keras.callbacks.Callback):
    """A recipe check during `fit`: counts optimizer steps and calls `measure` every `every_steps`.

    `step` counts the optimizer steps done (it starts from the optimizer's own counter, so a
    resumed run keeps counting). Keras calls batch hooks once per `steps_per_execution` steps;
    the counter adds them all, and a measurement falls on the first hook past each multiple.

    Args:
        every_steps: Optimizer steps between two measurements; None: `measure` is never called
            on an interval (the check measures at the start and the end only).
        log_dir: TensorBoard folder for the measurements; None: none are written.
    """

    def __init__(self, *, every_steps: int | None = None, log_dir: str | Path | None = None):
        super().__init__()
        self.every_steps = every_steps
        self.log_dir = None if log_dir is None else str(log_dir)
        self.step = 0
        self._batch_begin = 0
        self._writer = None

    def on_train_begin(self, logs=None):
        optimizer = getattr(self.model, "optimizer", None)
        # One read per fit; reading it every batch would cost a device sync per step.
        self.step = int(optimizer.iterations.numpy()) if optimizer is not None else 0

    def on_train_batch_begin(self, batch, logs=None):
        self._batch_begin = batch

    def on_train_batch_end(self, batch, logs=None):
        before = self.step
        self.step += batch - self._batch_begin + 1
        if self.every_steps and self.step // self.every_steps > before // self.every_steps:
            self.measure(logs or {})

    def measure(self, logs: dict) -> None:
        """One measurement; the step it belongs to is `self.step`."""

    def verdicts(self) -> list[Verdict]:
        raise NotImplementedError

    def write_scalars(self, values: dict[str, float]) -> None:
        """A few numbers to TensorBoard (`<run>/tensorboard/recipe`), beside Keras' own logs."""
        if self.log_dir is None or not values:
            return
        import tensorflow as tf  # TensorBoard's writer; the rest of the callbacks use keras.ops

        if self._writer is None:
            self._writer = tf.summary.create_file_writer(self.log_dir)
        with self._writer.as_default(step=self.step):
            for name, value in values.items():
                if np.isfinite(value):
                    tf.summary.scalar(name, float(value))


def recipe_verdicts(callbacks) -> list[Verdict]:
    """The verdicts of every recipe check in a callback list, in list order."""
    return [verdict for callback in callbacks if isinstance(callback, Monitor) for verdict in callback.verdicts()]


def layer_name(variable) -> str:
    """`conv_0/kernel` -> `conv_0`; a nested model's variables keep their path (`resnet50/conv1_conv`)."""
    path = getattr(variable, "path", None) or variable.name
    return path.rsplit("/", 1)[0] if "/" in path else path


def kernel_names(variables) -> list[str]:
    """One name a kernel: its layer's (`layer_name`), with the variable's own name after it where
    the layer holds several (a SeparableConv's depthwise and pointwise kernels), so that a record
    keyed by name keeps each of them."""
    layers = [layer_name(v) for v in variables]
    return [f"{layer}/{v.name}" if layers.count(layer) > 1 else layer
            for layer, v in zip(layers, variables, strict=True)]


# Variables of rank >= 2 whose step is not a scale's: an embedding table (a step moves only the
# rows of its batch: BENCHMARKS.md, "Check notes: T8") and a phase (an angle near +-pi, whose
# size says nothing of how far a step moves the function).
NOT_KERNELS = ("embeddings", "phase")


def kernels(model: keras.Model) -> list:
    """Trainable weight matrices and filters (rank >= 2): not biases, not norm scales and shifts,
    not embedding tables or phases (NOT_KERNELS)."""
    return [v for v in model.trainable_variables if len(v.shape) >= 2 and v.name not in NOT_KERNELS]


def data_loss(model: keras.Model, y, y_pred):
    """The compiled loss of the data alone, without `model.losses` (the regularisation penalties)."""
    loss = model.loss
    if isinstance(loss, str):
        loss = keras.losses.get(loss)
    if callable(loss):
        return keras.ops.mean(loss(y, y_pred))
    return model.compute_loss(y=y, y_pred=y_pred)  # several outputs: Keras' own sum (with penalties)


@contextlib.contextmanager
def restoring(variables):
    """Put `variables` back as they were: a measurement in training mode must not move batch-norm
    statistics or dropout's random state, so training with and without the checks is the same."""
    saved = [keras.ops.copy(v.value) for v in variables]
    try:
        yield
    finally:
        for variable, value in zip(variables, saved, strict=True):
            variable.assign(value)


def probe_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """Top-level layers with one symbolic output, in graph order. A nested model (a backbone)
    is left out: its inner layers are not reachable from the outer inputs, and its `output` is
    the one of its own graph, built on its own Input before the outer model called it (a probe
    model asking for it failed: "Output ... is not connected to inputs")."""
    layers = []
    for layer in model.layers:
        if isinstance(layer, (keras.layers.InputLayer, keras.Model)):
            continue
        try:
            output = layer.output
        except (AttributeError, ValueError):  # shared layer (several outputs) or never called
            continue
        if isinstance(output, keras.KerasTensor):
            layers.append(layer)
    return layers


def layer_probe(model: keras.Model, layers: list[keras.layers.Layer]) -> keras.Model | None:
    """A model from the model's inputs to each layer's output (the layers and weights are shared).
    None for a subclassed model, which has no layer graph to cut."""
    try:
        inputs = model.input  # the model's own structure (a tensor, a list, a dict)
    except (AttributeError, ValueError):
        return None
    if inputs is None or not layers:
        return None
    return keras.Model(inputs, [layer.output for layer in layers])


def rounded(value: float, digits: int = 3) -> float:
    """A number short enough for a table: 3 significant digits."""
    value = float(value)
    return value if value == 0 or not np.isfinite(value) else float(f"{value:.{digits}g}")
