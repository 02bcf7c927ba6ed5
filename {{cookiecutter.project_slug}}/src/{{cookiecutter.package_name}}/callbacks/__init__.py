"""The recipe checks that watch training (T6-T12), as `keras.callbacks.Callback`s.

One module per check; each callback measures at intervals during `fit` and returns its
verdicts from `verdicts()` once `fit` is over (`recipe_verdicts` gathers them). The
`monitor:` config section switches each one on or off and sets its interval.
"""

from __future__ import annotations

from pathlib import Path

import keras

from ..config import Config
from ..data import Prepared
from ..mode_gap import EXAMPLES as MODE_GAP_EXAMPLES
from ..models import expected_init_loss, output_bias
from ..rundir import RunFiles
from .activations import ActivationHealth
from .common import Monitor, recipe_verdicts
from .first_layer import FirstLayerWeights
from .gradients import GradientHealth
from .mode_gap import ModeGapMonitor
from .nonfinite import NonFiniteGuard
from .predictions import PredictionDynamics
from .updates import UpdateRatio

__all__ = ["ActivationHealth", "FirstLayerWeights", "GradientHealth", "ModeGapMonitor", "Monitor", "NonFiniteGuard",
           "PredictionDynamics", "UpdateRatio", "recipe_callbacks", "recipe_verdicts"]


def recipe_callbacks(config: Config, prepared: Prepared, run_dir: Path) -> list[keras.callbacks.Callback]:
    """The callbacks `train` adds to `fit`, on fixed samples drawn once from the seed.
    T9 replaces `TerminateOnNaN`; with T9 switched off, `TerminateOnNaN` still stops the run."""
    monitor, seed = config.monitor, config.seed
    log_dir = run_dir / RunFiles.TENSORBOARD / "recipe"
    callbacks: list[keras.callbacks.Callback] = []
    if monitor.gradient_health:
        x, y = prepared.sample("train", config.data.batch_size, seed)
        callbacks.append(GradientHealth(
            x, y, every_steps=monitor.gradient_every_steps, vanishing_below=monitor.gradient_vanishing_below,
            exploding_above=monitor.gradient_exploding_above, clip_norm=config.train.clip_norm,
            loss_unit=expected_init_loss(prepared, output_bias(prepared.task, prepared)),
            run_dir=run_dir, log_dir=log_dir))
    if monitor.activation_health:
        x, _ = prepared.sample("train", monitor.activation_examples, seed + 1)
        callbacks.append(ActivationHealth(
            x, every_steps=monitor.activation_every_steps, std_range=monitor.activation_std_range,
            dead_above=monitor.dead_relu_warn_above, run_dir=run_dir, log_dir=log_dir))
    if monitor.update_ratio:
        callbacks.append(UpdateRatio(
            every_steps=monitor.update_every_steps, warn_range=monitor.update_ratio_warn_range,
            fail_range=monitor.update_ratio_fail_range, layer_factor=monitor.update_ratio_layer_factor,
            run_dir=run_dir, log_dir=log_dir))
    if monitor.prediction_dynamics:
        x, y = prepared.sample("val", monitor.prediction_examples, seed + 2)
        target_std = prepared.stats.target_std if prepared.task == "regression" else None
        callbacks.append(PredictionDynamics(
            x, y, task=prepared.task, per_epoch=monitor.prediction_snapshots_per_epoch,
            warmup_steps=monitor.prediction_warmup_steps, stall_below=monitor.prediction_stall_below,
            thrash_above=monitor.prediction_thrash_above, repeats=monitor.prediction_repeats,
            target_std=target_std, run_dir=run_dir))
    if monitor.first_layer:
        callbacks.append(FirstLayerWeights(min_change=monitor.first_layer_min_change,
                                           input_shape=prepared.input_shape, run_dir=run_dir))
    if monitor.mode_gap:
        x, y = prepared.sample("train", min(MODE_GAP_EXAMPLES, config.check.capacity_examples), seed + 3)
        callbacks.append(ModeGapMonitor(
            x, y, task=prepared.task, unit=expected_init_loss(prepared, output_bias(prepared.task, prepared)),
            batch_size=config.data.batch_size, share=config.check.mode_gap_share, sigmas=config.check.mode_gap_sigmas))
    if monitor.nan_diagnosis:
        callbacks.append(NonFiniteGuard(batch_size=config.data.batch_size, run_dir=run_dir))
    else:
        callbacks.append(keras.callbacks.TerminateOnNaN())
    return callbacks
