"""T5 every weight learns: after a few steps every trainable variable has moved.

A layer left with `trainable = False`, a branch whose output never reaches the loss, a
variable created but never used: Keras trains on, with at most a warning about missing
gradients. A few steps on the model, with its weights put back afterwards, name them.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from ..backbones import frozen_by_design, frozen_share
from ..config import Config
from ..data import Prepared
from ..data.pipeline import train_datasets
from ..models import make_optimizer
from ..registry import registers
from ..steps import all_layers, tape_step, weights_restored
from ..verdicts import Verdict, verdict
from .context import Context

# Non-trainable by design: statistics computed from the data (D2) or tracked while training,
# not weights someone froze.
STATISTICS_LAYERS = (keras.layers.Normalization, keras.layers.Discretization, keras.layers.StringLookup,
                     keras.layers.IntegerLookup, keras.layers.TextVectorization)
MOVING_STATISTICS = {"moving_mean", "moving_variance"}


def frozen_variables(model: keras.Model) -> list[str]:
    """Paths of the non-trainable weights, less batch-norm moving statistics and the
    adapted statistics of preprocessing layers."""
    frozen: dict[str, None] = {}
    for layer in all_layers(model):
        if isinstance(layer, (keras.Model, *STATISTICS_LAYERS)):
            continue  # a nested model's own layers are visited one by one
        for variable in layer.non_trainable_weights:
            if variable.name not in MOVING_STATISTICS:
                frozen[variable.path] = None
    return list(frozen)


def _declared(path: str, expected: list[str]) -> bool:
    """An entry names a variable path or any prefix of it (a layer, a nested model)."""
    return any(path == entry or path.startswith(entry.rstrip("/") + "/") for entry in expected)


def learning_steps(model: keras.Model, prepared: Prepared, config: Config) -> dict[str, list[str]]:
    """Run check.weight_steps training steps on the real training batches and sort the
    trainable variables by what went wrong: no gradient at all (`None`: not connected to the
    loss), a gradient exactly zero on every batch, a value that did not change.

    By hand (steps.tape_step), eagerly: Keras' `fit` drops `None` gradients with a warning."""
    variables = model.trainable_variables
    before = [keras.ops.convert_to_numpy(v).copy() for v in variables]
    ever_nonzero = [False] * len(variables)
    no_gradient: set[int] = set()
    step = tape_step(model, make_optimizer(config), prepared.task)
    train, _ = train_datasets(config, prepared)
    for x, y in train.repeat().take(config.check.weight_steps):
        _, grads = step(x, y)
        for k, grad in enumerate(grads):
            if grad is None:
                no_gradient.add(k)
            elif not ever_nonzero[k]:
                ever_nonzero[k] = bool(tf.reduce_any(tf.convert_to_tensor(grad) != 0))  # embeddings: sparse
    # A variable without a gradient cannot change: name it once, under its cause.
    unchanged = [k for k, v in enumerate(variables)
                 if ever_nonzero[k] and np.array_equal(before[k], keras.ops.convert_to_numpy(v))]
    names = [v.path for v in variables]
    return {"no_gradient": [names[k] for k in sorted(no_gradient)],
            "zero_gradient": [names[k] for k, ok in enumerate(ever_nonzero) if not ok and k not in no_gradient],
            "unchanged": [names[k] for k in unchanged]}


def check_every_weight_learns(model: keras.Model, prepared: Prepared, config: Config) -> Verdict:
    """T5: after a few steps every trainable variable has moved.

    Args:
        model: The model. The model's weights are put back afterwards.
        prepared: The run's data: the real training batches.
        config: The run's configuration: `check.weight_steps`, `check.expected_frozen` (a
            pretrained backbone frozen by design counts as listed), the pipeline and the optimizer.

    Returns:
        The T5 verdict: fail when a trainable variable gets no gradient, a gradient that is zero
        on every one of check.weight_steps batches, or does not change; warn when a variable is
        frozen (non-trainable, less batch-norm moving statistics and adapted preprocessing
        statistics) without being listed in check.expected_frozen, or a listed entry matches no
        frozen variable (it still trains). Pass otherwise.
    """
    by_design = frozen_by_design(model, config)
    expected = [*config.check.expected_frozen, *by_design]
    frozen = frozen_variables(model)
    with weights_restored(model):
        found = learning_steps(model, prepared, config)
    unexpected = [p for p in frozen if not _declared(p, expected)]
    still_training = [e for e in config.check.expected_frozen if not any(_declared(p, [e]) for p in frozen)]
    advice = []
    if found["no_gradient"]:
        advice.append(f"no gradient reaches {found['no_gradient']}: they are not connected to the loss")
    if found["zero_gradient"]:
        advice.append(f"the gradient of {found['zero_gradient']} is exactly zero on every batch (a branch "
                      "multiplied by zero, dead units)")
    if found["unchanged"]:
        advice.append(f"{found['unchanged']} did not change in {config.check.weight_steps} steps")
    status = "fail" if advice else "pass"
    if unexpected:
        advice.append(f"{unexpected} are frozen (not trainable): add them to check.expected_frozen if that is "
                      "meant, else set their layer's trainable=True")
    if still_training:
        advice.append(f"check.expected_frozen lists {still_training}, which match no frozen variable: "
                      "set trainable=False on them if they should stay fixed")
    if status == "pass" and advice:
        status = "warn"
    frozen_values, all_values = frozen_share(model)
    return verdict(
        "T5", status,
        measured={"trainable_variables": len(model.trainable_variables), "steps": config.check.weight_steps,
                  **found, "frozen": frozen if len(frozen) <= 20 else [*frozen[:20], f"... {len(frozen) - 20} more"],
                  "frozen_values": f"{frozen_values:,} of {all_values:,}"},
        expected={"every trainable variable changes": True,
                  "frozen": [*config.check.expected_frozen, *(["the pretrained backbone"] if by_design else [])]},
        advice="; ".join(advice),
    )


@registers("check", "T5")
def _t5(c: Context) -> Verdict:
    return check_every_weight_learns(c.model, c.prepared, c.config)
