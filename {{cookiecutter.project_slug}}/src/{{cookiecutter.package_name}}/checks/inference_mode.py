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
from ..mode_gap import EXAMPLES as MODE_GAP_EXAMPLES
from ..mode_gap import ModeGap, batch_norms, describe_norms, far_worse, lagging_norms, measure_mode_gap
from ..models import expected_init_loss, output_bias
from ..registry import registers
from ..schedule import planned_steps
from ..steps import all_layers, weights_restored
from ..verdicts import Verdict, verdict
from .context import Context
from .loss_trend import short_run

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


def check_inference_mode(model: keras.Model, prepared: Prepared, examples: int = 16, gap: ModeGap | None = None,
                         planned_steps: int = 0, share: float = 0.1, sigmas: float = 3.0) -> Verdict:
    """T4: inference is deterministic, `predict` uses it, and it is not far worse than training mode.

    Inference is deterministic when the same batch twice through model(x, training=False) gives
    identical outputs; `predict` (what `evaluate` and serving run) must give those outputs. With
    batch norms, `gap` measures the same training examples' loss in both modes after `check`'s
    short run (mode_gap.py): right after a short run a batch norm's moving statistics still hold
    much of their start, so a far worse inference mode fails only when the planned run is too
    short for their momentum too (a window longer than 5% of its steps); otherwise the verdict
    passes and says that T4 at `train` measures the end.

    Args:
        model: The model. Its weights are put back afterwards: training mode updates the
            batch-norm moving statistics.
        prepared: The run's data; the first `examples` val examples make the batch.
        examples: How many val examples make the batch.
        gap: The mode gap after a short run, for a model with batch norms; None: not measured.
        planned_steps: The optimizer steps `train` will take.
        share: check.mode_gap_share.
        sigmas: check.mode_gap_sigmas.

    Returns:
        The T4 verdict. Fail when inference is not deterministic, `predict` disagrees, or
        inference mode is far worse and the batch norms' momentum cannot catch up within the
        planned run. Pass otherwise; training mode equal to inference mode although such layers
        exist is reported, not judged (dropout at rate 0).
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
    problems, notes = [], []
    if not deterministic:
        problems.append("two inference-mode calls on the same batch differ (largest gap "
                        f"{float(np.abs(first - second).max()):.3g}): a layer keeps its training behaviour at "
                        "evaluation; pass `training` on to random ops in custom layers")
    if not predict_matches:
        problems.append("predict() disagrees with model(x, training=False): evaluation does not run in inference mode")
    measured = {"mode_dependent_layers": layers or "none", "inference_deterministic": deterministic,
                "predict_is_inference_mode": predict_matches, "training_mode_differs": training_differs}
    if gap is not None:
        measured["after_short_run"] = {"steps": gap.steps, "training_mode_loss": round(gap.training_loss, 5),
                                       "inference_mode_loss": round(gap.inference_loss, 5),
                                       "standard_error": round(gap.standard_error, 5),
                                       "priors_loss": round(gap.unit, 5)}
        measured["planned_steps"] = planned_steps
        lagging, worse = lagging_norms(gap.batch_norms, planned_steps), far_worse(gap, share, sigmas)
        if worse and lagging:
            problems.append(
                f"after {gap.steps} steps the loss of the same training examples is {gap.inference_loss:.3g} in "
                f"inference mode against {gap.training_loss:.3g} in training mode, and the planned run of "
                f"{planned_steps:,} steps is too short for {describe_norms(lagging, planned_steps)}: their moving "
                "averages span more than 5% of it. Lower their momentum (the built-in backbones from scratch set it "
                "from the run's length), or plan a longer run")
        elif worse:
            notes.append(f"inference mode was worse after the {gap.steps}-step short run ({gap.inference_loss:.3g} "
                         f"against {gap.training_loss:.3g}), as batch norms' moving statistics are that early; "
                         f"their momentum suits the planned {planned_steps:,} steps, and T4 at `train` measures "
                         "the end")
    return verdict(
        "T4", "fail" if problems else "pass", measured=measured,
        expected="inference mode deterministic and used by predict/evaluate; not far worse than training mode for "
                 "longer than batch norms' moving statistics need",
        advice="; ".join(problems or notes),
    )


@registers("check", "T4")
def _t4(c: Context) -> Verdict:
    s, gap = c.config.check, None
    batch = c.config.data.batch_size
    planned = planned_steps(c.config, c.prepared.size("train"), batch)
    # A short run first: moving statistics only lag once the weights move.
    if any(layer.trainable for layer in batch_norms(c.model)):
        trained = c.new_model()
        short_run(trained, c.prepared, c.config)
        x, y = c.prepared.sample("train", min(MODE_GAP_EXAMPLES, s.capacity_examples), c.config.seed)
        unit = expected_init_loss(c.prepared, output_bias(c.prepared.task, c.prepared))
        gap = measure_mode_gap(trained, x, y, c.prepared.task, unit, batch)
    return check_inference_mode(c.model, c.prepared, gap=gap, planned_steps=planned, share=s.mode_gap_share,
                                sigmas=s.mode_gap_sigmas)
