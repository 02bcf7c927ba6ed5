"""The toolbox the checks, the baselines and the callbacks share: walk a model's layers, put
its weights back, run a few training steps, score in inference mode. It sits above models/
and below checks/, callbacks/ and the stages, so that none of those imports another for a
helper.

Two ways to train for a few steps, and only two: `step_losses` runs `fit` on a compiled
model (T1, T3, B2, B3: the path `train` takes), `tape_step` is one step by hand for the
checks `fit` cannot serve (T5, T10). T14 calls `fit` itself: it is the real path it checks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import keras
import numpy as np
import tensorflow as tf

from .models import loss_for


def uses_batch_norm(model: keras.Model) -> bool:
    return any(isinstance(layer, keras.layers.BatchNormalization) for layer in all_layers(model))


def all_layers(model: keras.Model) -> Iterator[keras.layers.Layer]:
    """Every layer, nested models (a ResNet50 backbone) included."""
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from all_layers(layer)


@contextmanager
def weights_restored(model: keras.Model) -> Iterator[keras.Model]:
    """Train or call `model` in training mode inside, find its weights (batch-norm moving
    statistics included) as they were afterwards: a check stays a pure function."""
    saved = model.get_weights()
    try:
        yield model
    finally:
        model.set_weights(saved)


class StepLosses(keras.callbacks.Callback):
    """Each step's own training loss. The `loss` that `fit` hands to callbacks is the running
    mean of the epoch, which smooths a rise or a fall away (RECIPE notes, T10); resetting the
    metrics after every batch makes the next batch's `loss` that batch's alone."""

    def __init__(self):
        super().__init__()
        self.losses: list[float] = []

    def on_train_batch_end(self, batch, logs=None):
        self.losses.append(float(logs["loss"]))
        self.model.reset_metrics()


def step_losses(model: keras.Model, dataset: tf.data.Dataset, steps: int) -> list[float]:
    """Train a compiled model `steps` steps on `dataset` (repeated as needed), one `fit` call,
    and return each step's loss (computed before that step's update)."""
    recorder = StepLosses()
    model.fit(dataset.repeat(), steps_per_epoch=steps, epochs=1, verbose=0, shuffle=False, callbacks=[recorder])
    return recorder.losses


def tape_step(model: keras.Model, optimizer: keras.optimizers.Optimizer,
              task: str) -> Callable[[tf.Tensor, tf.Tensor], tuple[tf.Tensor, list[tf.Tensor | None]]]:
    """One training step by hand: `step(x, y)` returns the batch's own loss (the data's plus
    the regularisation penalties, as in `fit`, computed before the update) and the gradients,
    None for a variable the loss does not reach; it applies those that exist.

    For the checks `fit` cannot serve: T10 changes the rate at every step and must not
    `compile` (that would replace the optimizer, and its state, of a model the caller may have
    compiled); T5 must see the None gradients that `fit` drops with a warning. Under
    mixed_float16 the loss is scaled as a LossScaleOptimizer scales it."""
    loss_fn = loss_for(task)
    variables = model.trainable_variables

    def step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
            if model.losses:
                loss = loss + tf.add_n([tf.cast(p, loss.dtype) for p in model.losses])
            scaled = optimizer.scale_loss(loss)  # the loss itself, unless mixed_float16
        grads = tape.gradient(scaled, variables)
        pairs = [(g, v) for g, v in zip(grads, variables, strict=True) if g is not None]
        if pairs:
            optimizer.apply_gradients(pairs)
        return loss, grads

    return step


def inference_outputs(model: keras.Model, x: np.ndarray | tf.data.Dataset, batch_size: int = 256) -> np.ndarray:
    """model(x, training=False) batch by batch, for an array or a batched (input, label)
    dataset (a whole split streams this way). Direct calls, not `predict`: `predict` traces
    a new function for every model, which costs more than the few batches a check scores
    (and TensorFlow warns about the retracing)."""
    if isinstance(x, tf.data.Dataset):
        chunks = [keras.ops.convert_to_numpy(model(inputs, training=False)) for inputs, _ in x]
    else:
        chunks = [keras.ops.convert_to_numpy(model(x[i:i + batch_size], training=False))
                  for i in range(0, len(x), batch_size)]
    return np.concatenate(chunks)


def data_loss(model: keras.Model, x: np.ndarray | tf.data.Dataset, y: np.ndarray, task: str,
              batch_size: int = 256) -> float:
    """The loss of the data alone (no regularisation penalties), in inference mode, over
    every example given (an array, or a dataset in the order of `y`): never a smoothed batch
    average (T13)."""
    return float(loss_for(task)(y, inference_outputs(model, x, batch_size)))


def _data_loss(model: keras.Model, x: np.ndarray, y: np.ndarray, task: str, training: bool):
    """The loss of the data alone: `evaluate` would add the regularisation penalties."""
    outputs = keras.ops.convert_to_numpy(model(x, training=training))
    return float(loss_for(task)(y, outputs)), outputs
