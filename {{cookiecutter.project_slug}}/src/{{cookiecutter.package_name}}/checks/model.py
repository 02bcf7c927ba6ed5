"""M checks: the model and its initialisation, before any training."""

from __future__ import annotations

import math

import keras
import numpy as np

from ..data import Prepared
from ..data.pipeline import evaluation_dataset
from ..models import LogLink, expected_init_loss, loss_for
from ..registry import registers
from ..table_model import LINEAR_PATH_LAYERS, MemberMean
from ..verdicts import Verdict, verdict
from .context import Context

PROBABILITY_ACTIVATIONS = {"softmax", "sigmoid"}


def _final_activation(model: keras.Model) -> str | None:
    layer = model.layers[-1]
    if isinstance(layer, keras.layers.Softmax):
        return "softmax"
    activation = getattr(layer, "activation", None)
    return getattr(activation, "__name__", None)


def check_loss_at_init(model: keras.Model, prepared: Prepared, bias: list[float] | None,
                       warn_nats: float, batch_size: int = 256) -> Verdict:
    """M1: measured loss of the untrained model on the whole val split against the expected.

    Softmax adds about Var(logits)/2 nats above the bias-only value from the random kernel.

    Args:
        model: The untrained model.
        prepared: The run's data: the val split.
        bias: The model's output bias (what it outputs when its final kernel is zero), from
            which the expected loss is computed; None gives zero logits, or 0 for regression.
        warn_nats: The nats above the expected loss that warn (`check.init_loss_warn_nats`).
        batch_size: The batch size of the pass over val.

    Returns:
        The M1 verdict: warn above expected + warn_nats (regression: 25% above), fail above 2x
        or below 0.5x, or when the loss is not finite; pass otherwise.
    """
    y_val = prepared.labels("val")
    outputs = model.predict(evaluation_dataset(prepared, "val", batch_size), verbose=0)
    measured = float(loss_for(prepared.task)(y_val, outputs))
    expected = expected_init_loss(prepared, bias)
    margin = expected * 0.25 if prepared.task == "regression" else warn_nats
    if not math.isfinite(measured) or measured > 2 * expected or measured < expected / 2:
        status = "fail"
        advice = ("The loss at init is far from what the output layer promises: check the output "
                  "activation against the loss (M3), the labels, and the output bias (M2).")
    elif measured > expected + margin:
        status, advice = "warn", "The initial outputs are too confident: scale down the final layer's weights."
    else:
        status, advice = "pass", ""
    return verdict("M1", status, measured=round(measured, 4),
                   expected=f"{expected:.4f} (tolerance +{margin:.3g}, fail beyond x2 or x0.5)", advice=advice)


def check_loss_input(model: keras.Model, prepared: Prepared) -> Verdict:
    """M3: the loss takes logits (from_logits=True), so the model must not end in a softmax or sigmoid.

    The output width must match the task. Loss at init cannot see a double softmax.

    Args:
        model: The model; its final layer's activation and its output width are read.
        prepared: The run's data: the task and the number of classes.

    Returns:
        The M3 verdict: fail when a classifier ends in a softmax or sigmoid, when a regression
        output is not linear, or when the output width is not the task's (the number of classes,
        or 1 for binary and regression); pass otherwise.
    """
    activation = None if isinstance(model.layers[-1], (keras.layers.Rescaling, LogLink)) else _final_activation(model)
    units = model.outputs[0].shape[-1]
    wanted_units = prepared.num_classes if prepared.task == "classification" else 1
    problems = []
    if prepared.task != "regression" and activation in PROBABILITY_ACTIVATIONS:
        problems.append(f"the model ends in {activation} but the loss expects logits (from_logits=True): "
                        "remove the final activation")
    if prepared.task == "regression" and activation not in (None, "linear"):
        problems.append(f"a regression output should be linear, not {activation}")
    if units != wanted_units:
        problems.append(f"the output has {units} units, the task needs {wanted_units}")
    return verdict("M3", "fail" if problems else "pass",
                   measured={"final_activation": activation or "linear", "units": units},
                   expected={"final_activation": "linear (logits)", "units": wanted_units},
                   advice="; ".join(problems))


def check_output_bias(model: keras.Model, bias: list[float] | None) -> Verdict:
    """M2: the output layer's bias holds the train statistics it was meant to.

    Args:
        model: The model; what it outputs when its final kernel is zero is read (output_offset).
        bias: The output bias it was meant to hold, from the train priors or mean; None when
            model.init_output_bias is false.

    Returns:
        The M2 verdict: pass when the final layer's offset equals `bias`, warn when it differs
        or the final layer has no bias, skip when `bias` is None.
    """
    if bias is None:
        return verdict("M2", "skip", advice="model.init_output_bias is false")
    actual = output_offset(model)
    if actual is None:
        return verdict("M2", "warn", measured="no bias on the final layer",
                       expected=bias, advice="Give the final layer a bias and set it from the priors/mean.")
    actual = np.asarray(actual)
    ok = actual.shape == np.shape(bias) and np.allclose(actual, bias, atol=1e-4, rtol=1e-5)
    return verdict("M2", "pass" if ok else "warn", measured=actual.round(4).tolist(),
                   expected=np.round(bias, 4).tolist(),
                   advice="" if ok else "Initialise the output bias from train statistics (ModelSpec.head).")


def output_offset(model: keras.Model) -> list[float] | None:
    """What the model outputs when its final kernel is zero: the final bias, or for a head
    that scales back to target units, offset + scale * bias. None when there is no bias. A wide
    table's linear path, zero at the start, is left out: the head's offset is the model's."""
    layers = [layer for layer in model.layers if layer.name not in LINEAR_PATH_LAYERS]
    if isinstance(layers[-1], MemberMean):  # an ensemble's members share the head, and so its offset
        layers = layers[:-1]
    link = isinstance(layers[-1], LogLink)  # a log scale: the offset is read through exp(z) - 1
    if link:
        layers = layers[:-1]
    if isinstance(layers[-1], keras.layers.Rescaling) and getattr(layers[-2], "bias", None) is not None:
        bias = keras.ops.convert_to_numpy(layers[-2].bias).astype("float64")
        offset = layers[-1].offset + layers[-1].scale * bias
        return (np.expm1(offset) if link else offset).tolist()
    bias = getattr(layers[-1], "bias", None)
    return None if bias is None else keras.ops.convert_to_numpy(bias).astype("float64").tolist()


@registers("check", "M3")
def _m3(c: Context) -> Verdict:
    return check_loss_input(c.model, c.prepared)


@registers("check", "M2")
def _m2(c: Context) -> Verdict:
    return check_output_bias(c.model, c.spec.output_bias)


@registers("check", "M1")
def _m1(c: Context) -> Verdict:
    return check_loss_at_init(c.model, c.prepared, output_offset(c.model), c.config.check.init_loss_warn_nats)
