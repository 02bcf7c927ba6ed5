"""T4 train versus inference mode: which layers behave differently, and evaluation is the inference one.

Dropout, noise, batch norm and augmentation layers do one thing in `fit` and another in
`predict`/`evaluate`. A custom layer that ignores the `training` flag keeps dropping units
(or adding noise) at evaluation: the val scores jitter from call to call and are worse
than the model is.
"""

from __future__ import annotations

import keras
import numpy as np

from ..data import Prepared
from ..registry import registers
from ..steps import all_layers, weights_restored
from ..verdicts import Verdict, verdict
from .context import Context

# Layers whose output depends on `training`. Every Keras layer's call takes the argument
# (Dense too), so its signature says nothing: the list is by type.
MODE_LAYERS = (
    keras.layers.Dropout,  # SpatialDropout1D/2D/3D are Dropouts
    keras.layers.AlphaDropout,
    keras.layers.GaussianDropout,
    keras.layers.GaussianNoise,
    keras.layers.BatchNormalization,
)


def mode_dependent_layers(model: keras.Model) -> list[str]:
    """'name (Type)' of each layer, nested models included, whose behaviour differs in training."""
    found = []
    for layer in all_layers(model):
        random_augmentation = type(layer).__name__.startswith("Random")  # RandomFlip, RandomZoom, ...
        recurrent_dropout = isinstance(layer, keras.layers.RNN) and (
            getattr(layer.cell, "dropout", 0) or getattr(layer.cell, "recurrent_dropout", 0))
        if isinstance(layer, MODE_LAYERS) or random_augmentation or recurrent_dropout:
            found.append(f"{layer.name} ({type(layer).__name__})")
    return found


def check_inference_mode(model: keras.Model, prepared: Prepared, examples: int = 16) -> Verdict:
    """T4: list the mode-dependent layers; show that inference is deterministic and `predict` agrees.

    Inference is deterministic when the same batch twice through model(x, training=False) gives
    identical outputs; `predict` (what `evaluate` and serving run) must give those outputs. Whether
    training mode differs is shown too.

    Args:
        model: The model. Its weights are put back afterwards: training mode updates the
            batch-norm moving statistics.
        prepared: The run's data; the first `examples` val examples make the batch.
        examples: How many val examples make the batch.

    Returns:
        The T4 verdict. Fail when inference is not deterministic or `predict` disagrees: a layer
        keeps its training behaviour at evaluation. Pass otherwise. Training mode equal to
        inference mode although such layers exist is reported, not judged (dropout at rate 0).
    """
    x = prepared.head("val", examples)[0].astype("float32")
    layers = mode_dependent_layers(model)
    with weights_restored(model):
        first = keras.ops.convert_to_numpy(model(x, training=False))
        second = keras.ops.convert_to_numpy(model(x, training=False))
        predicted = model.predict(x, batch_size=len(x), verbose=0)
        trained = keras.ops.convert_to_numpy(model(x, training=True))
    deterministic = bool(np.array_equal(first, second))
    predict_matches = bool(np.allclose(predicted, first, rtol=1e-5, atol=1e-6))
    training_differs = bool(not np.allclose(trained, first, rtol=1e-5, atol=1e-6))
    problems = []
    if not deterministic:
        problems.append("two inference-mode calls on the same batch differ (largest gap "
                        f"{float(np.abs(first - second).max()):.3g}): a layer keeps its training behaviour at "
                        "evaluation; pass `training` on to random ops in custom layers")
    if not predict_matches:
        problems.append("predict() disagrees with model(x, training=False): evaluation does not run in inference mode")
    return verdict(
        "T4", "fail" if problems else "pass",
        measured={"mode_dependent_layers": layers or "none", "inference_deterministic": deterministic,
                  "predict_is_inference_mode": predict_matches, "training_mode_differs": training_differs},
        expected="inference mode deterministic and used by predict/evaluate",
        advice="; ".join(problems),
    )


@registers("check", "T4")
def _t4(c: Context) -> Verdict:
    return check_inference_mode(c.model, c.prepared)
