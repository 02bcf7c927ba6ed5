"""T2 batch independence: the output of one example must not depend on the other examples.

A reshape or transpose that moves the batch axis, a reduction over axis 0, a "normalise by
the batch mean" written by hand: each mixes examples, trains without an error and quietly
lets a prediction depend on its batch mates. The gradient of one example's output with
respect to the whole input batch shows it: it must be zero everywhere but on that example.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from ..config import Config
from ..data import Prepared
from ..registry import registers
from ..steps import all_layers
from ..verdicts import Verdict, verdict
from .context import Context

TOKEN_LAYERS = (keras.layers.Embedding,)


def input_gradients(model: keras.Model, x: np.ndarray, index: int, seed: int) -> np.ndarray | None:
    """Gradient of sum(r * y[index]) with respect to the whole input batch, r fixed random.

    A random projection r, not sum(y[index]): softmax rows sum to 1, so that gradient is
    about zero and the check would pass whatever the model does (RECIPE notes). Written
    with tf.GradientTape: keras.ops has no gradient op (each backend has its own: the tape,
    jax.grad, torch.autograd), and the project runs on the TensorFlow backend."""
    inputs = tf.constant(x, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        outputs = [tf.reshape(tf.cast(o, tf.float32), (len(x), -1)) for o in keras.tree.flatten(
            model(inputs, training=False))]  # inference mode: batch norm uses its moving statistics
        row = tf.concat(outputs, axis=1)[index]
        r = np.random.default_rng(seed).standard_normal(row.shape[0]).astype("float32")
        target = tf.reduce_sum(r * row)
    grad = tape.gradient(target, inputs)
    return None if grad is None else grad.numpy()


def check_batch_independence(model: keras.Model, prepared: Prepared, config: Config) -> Verdict:
    """T2: the output of one example must not depend on the other examples of its batch.

    For the first and the last example i of a batch of check.independence_examples
    training examples, the input gradient of example i's output must be non-zero on example i
    and at most check.independence_tolerance of that on every other example.

    Args:
        model: The model, run in inference mode (batch norm uses its moving statistics).
        prepared: The run's data; the first check.independence_examples training examples
            make the batch.
        config: The run's configuration: `check.independence_examples`,
            `check.independence_tolerance`, `check.batch_mixing_expected`, and `seed` for the
            random projections of the outputs.

    Returns:
        The T2 verdict. Fail when another example's input moves example i's output (the examples
        are named), or when example i's own input does not (the output ignores the input); pass
        otherwise. Skip when the model mixes the batch by design (check.batch_mixing_expected:
        in-batch negatives, set attention) or takes token ids (no gradient reaches an integer input).
    """
    if config.check.batch_mixing_expected:
        return verdict("T2", "skip", advice="check.batch_mixing_expected is true: the model mixes the "
                       "examples of a batch by design (in-batch negatives, set attention)")
    if any(isinstance(layer, TOKEN_LAYERS) for layer in all_layers(model)):
        return verdict("T2", "skip", advice="the model looks up token ids (Embedding): no gradient reaches "
                       "integer inputs; check the batch independence from the embedding output by hand")
    x = prepared.head("train", config.check.independence_examples)[0]
    n = len(x)
    tolerance = config.check.independence_tolerance
    measured, problems = {}, []
    for index in (0, n - 1):
        grad = input_gradients(model, x, index, config.seed + index)
        size = np.zeros(n) if grad is None else np.abs(grad.reshape(n, -1)).max(axis=1)
        own = float(size[index])
        ratio = float(np.delete(size, index).max() / own) if own > 0 else float("inf")
        measured[f"example_{index}"] = {"own_input_grad": own, "largest_other_over_own": ratio}
        if own == 0:
            problems.append(f"the output of example {index} does not depend on its own input: is a branch cut "
                            "off, or the input scaled to a constant?")
        elif ratio > tolerance:
            mixed = [j for j in range(n) if j != index and size[j] > tolerance * own]
            problems.append(f"the output of example {index} depends on the inputs of examples {mixed}: look for "
                            "a reshape/transpose that moves the batch axis, or an op that reduces over axis 0")
    return verdict(
        "T2", "fail" if problems else "pass", measured=measured | {"batch": n},
        expected=f"own gradient > 0, every other example's <= {tolerance:g} x own (inference mode)",
        advice="; ".join(problems),
    )


@registers("check", "T2")
def _t2(c: Context) -> Verdict:
    return check_batch_independence(c.model, c.prepared, c.config)
