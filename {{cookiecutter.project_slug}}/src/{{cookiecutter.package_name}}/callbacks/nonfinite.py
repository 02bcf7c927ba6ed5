"""T9 NaN and Inf: stop at the first non-finite loss, name the layer it came from, save the batch."""

from __future__ import annotations

import math
from pathlib import Path

import keras
import numpy as np

from ..registry import registers
from ..rundir import RunFiles, writing_whole
from ..train_context import TrainContext
from ..verdicts import Verdict, verdict
from .common import Monitor, data_loss, layer_name, layer_probe, probe_layers, restoring


class NonFiniteGuard(Monitor):
    """Stops training at the first non-finite loss (what `keras.callbacks.TerminateOnNaN` does,
    which it replaces), then finds where the NaN or Inf came from.

    To replay the offending step it needs that step's batch and the weights from before it.
    Keras gives callbacks neither, and the batch cannot be taken from the tf.data pipeline
    (prefetching runs ahead of the step being trained). So during `fit` the model's
    `train_step` is wrapped: before each step it copies the batch and the trainable weights into
    variables on the device, and it stops overwriting them once the loss has gone non-finite,
    so with steps_per_execution > 1 they still hold the first bad step. The variables have a
    fixed shape, because XLA (on by default on GPUs) refuses variables that change shape: the
    batch is padded to `batch_size` rows (a larger batch keeps its first `batch_size` rows).
    The cost is one device copy of the batch and of the weights per step (Adam keeps two such
    copies anyway); the wrapper is removed at the end of `fit`. Under a distribution strategy
    with several replicas the copies are not made: training still stops, without the batch and
    the layer; inputs of no fixed shape (ragged) are not recorded either.

    The diagnosis then runs the batch through a probe of every layer's output, eagerly (no XLA:
    check_numerics-style checks pass silently inside jitted code), with the copied weights, and
    names the first layer whose output is non-finite. The batch is saved as `nan_batch.npz`.

    Mixed precision: the loss-scale optimizer skips steps whose float16 gradients overflow, on
    purpose; the loss stays finite and this check stays quiet, as it should.

    Args:
        batch_size: Rows of the copied batch (`data.batch_size`; larger batches keep their first rows).
        run_dir: The run folder `nan_batch.npz` is saved to; None: not saved.
    """

    def __init__(self, *, batch_size: int, run_dir: Path | None = None):
        super().__init__()
        self.batch_size, self.run_dir = batch_size, run_dir
        self.event: dict | None = None  # what went non-finite, where, at which step
        self.steps_run = 0
        self._slots = None

    # --- recording the step's inputs -------------------------------------------------------
    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self._start = self.step
        self._recording = _single_replica(self.model)
        if self._recording:
            self._install()

    def _install(self):
        import tensorflow as tf  # device-side copies inside the compiled step

        model = self.model
        weights = model.trainable_variables
        capacity = self.batch_size
        with tf.init_scope():
            self._frozen = tf.Variable(False, trainable=False)
            self._rows = tf.Variable(0, trainable=False)
            self._steps_before = tf.Variable(tf.zeros((), model.optimizer.iterations.dtype), trainable=False)
            self._weight_copies = [tf.Variable(tf.zeros_like(w.value), trainable=False) for w in weights]
        # The class's own step, or the one a user set on the instance, never a wrapper left behind
        # by a fit that raised before on_train_end.
        original = getattr(model.train_step, "unwrapped", model.train_step)
        guard = self

        def train_step(data):
            flat = [tf.convert_to_tensor(t) for t in tf.nest.flatten(data)]
            if guard._slots is None:  # first trace: one slot per part of the batch, of fixed shape
                if any(t.shape.rank == 0 or not t.shape[1:].is_fully_defined() for t in flat):
                    guard._slots = []  # ragged or scalar parts: not recorded
                else:
                    with tf.init_scope():
                        guard._slots = [tf.Variable(tf.zeros([capacity, *t.shape[1:]], t.dtype), trainable=False)
                                        for t in flat]
                    guard._structure = data

            def keep():
                if guard._slots:
                    rows = tf.minimum(tf.shape(flat[0])[0], capacity)
                    guard._rows.assign(rows)
                    for slot, value in zip(guard._slots, flat, strict=True):
                        # XLA wants fixed shapes: the batch is padded (or cut) to `capacity` rows.
                        padding = [[0, capacity - rows]] + [[0, 0]] * (value.shape.rank - 1)
                        slot.assign(tf.reshape(tf.pad(value[:rows], padding), slot.shape))
                for copy, weight in zip(guard._weight_copies, weights, strict=True):
                    copy.assign(weight.value)
                guard._steps_before.assign(model.optimizer.iterations)
                return tf.constant(True)

            tf.cond(guard._frozen, lambda: tf.constant(False), keep)
            logs = original(data)
            loss = logs.get("loss") if isinstance(logs, dict) else None
            if loss is not None:
                guard._frozen.assign(tf.logical_or(guard._frozen,
                                                   tf.logical_not(tf.reduce_all(tf.math.is_finite(loss)))))
            return logs

        train_step.unwrapped = original
        model.train_step = train_step
        model.make_train_function(force=True)

    def on_train_end(self, logs=None):
        step = vars(self.model).get("train_step")
        if step is not None and hasattr(step, "unwrapped"):
            if step.unwrapped == type(self.model).train_step.__get__(self.model):
                del self.model.train_step  # back to the class's own step
            else:
                self.model.train_step = step.unwrapped
            self.model.make_train_function(force=True)
        self.steps_run = self.step - self._start

    # --- watching the loss -----------------------------------------------------------------
    def on_train_batch_end(self, batch, logs=None):
        super().on_train_batch_end(batch, logs)
        loss = (logs or {}).get("loss")
        if loss is None or self.event is not None:
            return
        loss = float(loss)
        if not math.isfinite(loss):
            self.model.stop_training = True
            self.event = {"step": self.step, "loss": str(loss)}
            if self._recording and self._slots:
                # The step itself, not the hook's: with steps_per_execution > 1 they differ.
                self.event["step"] = int(self._steps_before.numpy()) + 1
                self.event.update(self._diagnose())

    def _diagnose(self) -> dict:
        import tensorflow as tf

        rows = int(self._rows.numpy())
        arrays = [slot.numpy()[:rows] for slot in self._slots]
        data = tf.nest.pack_sequence_as(self._structure, arrays)
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        found = {}
        if self.run_dir is not None:
            parts = {"x": x, "y": y, "sample_weight": sample_weight}
            named = {name: np.asarray(v) for name, v in parts.items() if v is not None and not isinstance(v, dict)}
            if len(named) < len([v for v in parts.values() if v is not None]):  # dict inputs: numbered parts
                named = {f"part_{i}": a for i, a in enumerate(arrays)}
            with writing_whole(self.run_dir / RunFiles.NAN_BATCH) as partial, partial.open("wb") as handle:
                np.savez(handle, **named)
            found["batch"] = RunFiles.NAN_BATCH
        with restoring(self.model.variables):
            for weight, copy in zip(self.model.trainable_variables, self._weight_copies, strict=True):
                weight.assign(copy.value())
            found.update(first_nonfinite(self.model, x, y))
        return found

    def verdicts(self) -> list[Verdict]:
        return [judge_nonfinite(self.event, self.steps_run)]


def _single_replica(model) -> bool:
    strategy = getattr(model, "distribute_strategy", None)
    return strategy is None or strategy.num_replicas_in_sync == 1


def _finite(value) -> bool:
    return bool(np.all(np.isfinite(np.asarray(keras.ops.convert_to_numpy(value), "float64"))))


def first_nonfinite(model: keras.Model, x, y) -> dict:
    """Where a batch first turns non-finite under the model's current weights: the inputs, the
    labels, a layer's weights, a layer's output (the first in graph order), or the loss itself.
    Runs eagerly, so no XLA hides or rejects anything; in training mode, like the step."""
    for name, part in (("the input batch", x), ("the labels", y)):
        if any(not _finite(t) for t in keras.tree.flatten(part) if np.issubdtype(np.asarray(t).dtype, np.number)):
            return {"origin": name, "kind": "data"}
    for variable in model.trainable_variables:
        if not _finite(variable.value):
            return {"origin": layer_name(variable), "kind": "weights"}
    layers = probe_layers(model)
    probe = layer_probe(model, layers)
    if probe is not None:
        outputs = probe(x, training=True)
        for layer, output in zip(layers, outputs, strict=True):
            if not _finite(output):
                return {"origin": layer.name, "kind": "output", "layer_class": type(layer).__name__}
    y_pred = model(x, training=True)
    if not _finite(y_pred):
        return {"origin": "the model's output (inside a layer the probe cannot reach)", "kind": "output"}
    if not _finite(data_loss(model, y, y_pred)):
        return {"origin": "the loss", "kind": "loss"}
    return {"origin": "not reproduced", "kind": "unknown"}


def judge_nonfinite(event: dict | None, steps_run: int) -> Verdict:
    """Fail at a non-finite loss, naming where it came from; pass when training stayed finite."""
    if event is None:
        return verdict("T9", "pass", measured={"steps": steps_run}, expected="a finite loss at every step")
    origin, kind = event.get("origin"), event.get("kind")
    where, fix = {
        "data": (f"{origin} already holds NaN or Inf", "find the example in the saved batch and fix or drop it "
                 "(D4 checks the source; look at the pipeline's transformations)"),
        "weights": (f"the weights of {origin} were already non-finite before this step",
                    "an earlier update blew up: lower the learning rate or set train.clip_norm (T6)"),
        "output": (f"the first non-finite output is {origin}'s"
                   + (f" ({event['layer_class']})" if event.get("layer_class") else ""),
                   f"look at what {origin} computes on the saved batch (an exp that overflows, a log or sqrt of a "
                   "number <= 0, a division by zero); if its inputs grew step by step, lower the learning rate "
                   "or set train.clip_norm"),
        "loss": ("every layer's output is finite, the loss is not", "check the labels against what the loss "
                 "takes (M3) and any custom loss for a log of 0"),
        "unknown": ("replaying the batch gave a finite loss", "a non-deterministic op, or the step before: "
                    "replay the saved batch with the weights of the last checkpoint"),
    }.get(kind, ("the batch and the layer were not recorded (several replicas, or inputs of no fixed shape)",
                 "lower the learning rate or set train.clip_norm, and rerun on one device to find the layer"))
    saved = f" The batch is saved in {event['batch']} (np.load it and call the model on it)." \
        if "batch" in event else ""
    return verdict("T9", "fail", measured=event, expected="a finite loss at every step",
                   advice=f"The loss went {event['loss']} at step {event['step']}: {where}; {fix}.{saved}")


@registers("train", "T9")
def _t9(c: TrainContext) -> Verdict:
    return c.watched_verdict("T9", "monitor.nan_diagnosis")
