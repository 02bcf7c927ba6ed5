"""T10: the learning-rate range test (`check --lr-find`).

The learning rate grows exponentially, one training step at each rate, on the real training
pipeline; the loss against the rate shows where training starts to work, where it works
fastest and where it blows up. The check suggests rates and says where the configured one
lies; it never changes the config, and it leaves the model as it found it.
"""

from __future__ import annotations

import math
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from ..config import Config
from ..data import Prepared
from ..data.pipeline import train_datasets
from ..models import make_optimizer
from ..plots import new_figure, save_figure
from ..registry import registers
from ..steps import tape_step, weights_restored
from ..verdicts import Verdict, verdict
from .context import Context

DIVERGENCE_FACTOR = 4.0  # RECIPE: stop when the smoothed loss exceeds 4x the best seen
DISAGREEMENT = 10.0  # RECIPE: warn when the suggestions span more than 10x
SAFETY_MARGIN = 3.0  # warn when train.learning_rate is above the divergence rate / 3


def sweep_rates(config: Config) -> np.ndarray:
    """check.lr_find_steps rates, geometrically spaced from lr_find_min to lr_find_max."""
    c = config.check
    return np.geomspace(c.lr_find_min, c.lr_find_max, c.lr_find_steps)


def run_sweep(model: keras.Model, prepared: Prepared, config: Config) -> tuple[np.ndarray, np.ndarray, str]:
    """Train `model` one step per rate of `sweep_rates` (it changes the model: callers restore
    it). Stops early when the loss is not finite or its running (causal) exponential average
    exceeds DIVERGENCE_FACTOR x the best average so far. Returns the rates reached, each
    step's loss (NaN/Inf kept, as NaN) and why the sweep stopped."""
    rates = sweep_rates(config)
    optimizer = make_optimizer(config, learning_rate=float(rates[0]))
    if model.dtype_policy.name == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    # steps.tape_step, not `fit`: the rate changes every step, and the batch-level loss of
    # `fit` is the epoch's running mean, which lags behind a rising loss and makes a finder
    # suggest rates too high (RECIPE notes, T10). No XLA: its compile time would dwarf a sweep.
    step = tf.function(tape_step(model, optimizer, prepared.task), jit_compile=False)
    train, _ = train_datasets(config, prepared)
    beta = 1 - 2 / (_span(len(rates)) + 1)
    losses, average, best, reason = [], 0.0, math.inf, "end of the sweep"
    for i, (rate, (x, y)) in enumerate(zip(rates, train.repeat(), strict=False)):  # the data never ends
        optimizer.learning_rate = float(rate)
        loss = float(step(x, y)[0])
        losses.append(loss if math.isfinite(loss) else math.nan)
        if not math.isfinite(loss):
            reason = "the loss was not finite"
            break
        average = beta * average + (1 - beta) * loss
        smoothed = average / (1 - beta ** (i + 1))  # bias-corrected: the first value is the first loss
        best = min(best, smoothed)
        if smoothed > DIVERGENCE_FACTOR * best:
            reason = f"smoothed loss above {DIVERGENCE_FACTOR:g}x the best"
            break
    return rates[:len(losses)], np.array(losses, dtype=float), reason


def _span(steps: int) -> int:
    """Smoothing window: about 10% of the sweep (0.8 decades of 1e-7..10), odd, at least 3 steps."""
    return max(3, steps // 10) | 1


def centred_average(values: np.ndarray, span: int) -> np.ndarray:
    """Moving average centred on each step (shorter at the ends): it smooths the batch noise
    without shifting the curve to higher rates, as a running average would."""
    kernel = np.ones(span)
    return np.convolve(values, kernel, "same") / np.convolve(np.ones_like(values), kernel, "same")


def valley_index(losses: np.ndarray) -> int:
    """fastai's `valley`: the longest stretch over which the loss keeps falling (the longest
    decreasing subsequence), and the point about half-way along it, where the fall is well
    under way but far from the blow-up."""
    n = len(losses)
    longest, end = [1] * n, 0
    for i in range(1, n):
        for j in range(i):
            if losses[i] < losses[j] and longest[i] < longest[j] + 1:
                longest[i] = longest[j] + 1
        if longest[i] > longest[end]:
            end = i
    start = end - longest[end] + 1
    third = (end - start) / 3
    return start + int(third) + int(third / 2)


def suggestions(rates: np.ndarray, smoothed: np.ndarray, start: float) -> tuple[dict[str, float], float | None]:
    """Three suggested rates (valley, minimum/10, steepest descent before the minimum) and the
    divergence rate: the first after the minimum where the smoothed loss is back above its
    `start` (training undoes itself) or above DIVERGENCE_FACTOR x the minimum (None: neither).
    A cross-entropy saturates near the loss of random guessing at huge rates, often below 4x
    the best: the return to the start is what marks its divergence."""
    lowest = int(np.argmin(smoothed))
    log_rates = np.log10(rates)
    slope = np.gradient(smoothed[:lowest + 1], log_rates[:lowest + 1]) if lowest >= 1 else np.zeros(1)
    found = {"valley": float(rates[valley_index(smoothed)]),
             "minimum/10": float(rates[lowest] / 10),
             "steepest": float(rates[int(np.argmin(slope))])}
    above = np.flatnonzero(smoothed[lowest:] > min(start, DIVERGENCE_FACTOR * smoothed[lowest]))
    return found, float(rates[lowest + above[0]]) if len(above) else None


def check_lr_range(model: keras.Model, prepared: Prepared, config: Config, run_dir: Path) -> Verdict:
    """T10: the learning-rate range test (`check --lr-find`).

    Sweeps the rate from check.lr_find_min to check.lr_find_max in check.lr_find_steps
    steps of the real training pipeline, with the configured optimizer; the model's weights
    (batch-norm statistics included) are put back afterwards and a compiled model keeps its
    own optimizer untouched.

    Args:
        model: The model swept; it is left as it was found.
        prepared: The run's data: the training pipeline.
        config: The run's configuration: `check.lr_find_min`, `check.lr_find_max`,
            `check.lr_find_steps`, `check.lr_find_min_drop`, `train.learning_rate` and the optimizer.
        run_dir: The run folder the plot of the loss against the rate is saved in.

    Returns:
        The T10 verdict, with the plot. Fail when the loss never falls: the best smoothed loss is
        less than check.lr_find_min_drop below the first steps' (nothing learns at any rate), or
        no step gave a finite loss. Warn when the suggestions span more than 10x (a noisy or
        odd-shaped curve: read the plot), when the loss did not diverge within the sweep, when
        train.learning_rate is above the divergence rate / 3 (training would sit at the edge of
        blowing up), or below the smallest suggestion / 10 (training far slower than it could).
        Otherwise pass, suggesting `valley`.
    """
    with weights_restored(model):
        rates, raw, stopped = run_sweep(model, prepared, config)
    finite = np.isfinite(raw)  # NaNs dropped: the curve and the suggestions use finite steps only
    nan_rate = float(rates[np.argmin(finite)]) if not finite.all() else None
    rates, raw = rates[finite], raw[finite]
    configured = config.train.learning_rate
    if len(raw) < 3:
        return verdict("T10", "fail", measured={"finite_steps": int(len(raw)), "stopped": stopped},
                       expected="a finite loss at the smallest rates",
                       advice=f"The loss is not finite from the first steps (at {_rate_text(nan_rate)}): look for "
                       "NaN/Inf in the data (D4, D7) or a broken loss before searching for a rate.")
    span = _span(config.check.lr_find_steps)
    smoothed = centred_average(raw, span)
    start = float(np.mean(raw[:span]))
    best = float(smoothed.min())
    drop = 1 - best / start if start > 0 else 0.0
    found, diverged = suggestions(rates, smoothed, start)
    if diverged is None:
        diverged = nan_rate
    spread = max(found.values()) / min(found.values())
    measured = {"suggested": _round(found["valley"]), "suggestions": {k: _round(v) for k, v in found.items()},
                "divergence_rate": _round(diverged) if diverged else "not reached",
                "configured_rate": configured, "start_loss": round(start, 5), "best_loss": round(best, 5),
                "drop": round(drop, 4), "steps": int(len(raw)), "stopped": stopped}
    plot = _plot(rates, raw, smoothed, found, diverged, configured, run_dir)
    expected = (f"the loss falls by >= {config.check.lr_find_min_drop:.0%} then diverges; "
                f"suggestions within {DISAGREEMENT:g}x; train.learning_rate between min suggestion / 10 and "
                f"divergence / {SAFETY_MARGIN:g}")
    if drop < config.check.lr_find_min_drop:
        return verdict(
            "T10", "fail", measured, expected, plots=[plot], advice=(
            f"The loss never fell by {config.check.lr_find_min_drop:.0%} at any rate from {rates[0]:.1e} to "
            f"{rates[-1]:.1e} (best {best:.4g} against {start:.4g} at the start): nothing learns; check that the "
            "model uses its input (T1, B2) and that gradients reach the weights (T5)."))
    advice = []
    if spread > DISAGREEMENT:
        advice.append(f"the suggestions span {spread:.0f}x ({_listed(found)}): the curve has no clear shape, "
                      f"read {plot} before picking a rate")
    if diverged is None:
        advice.append(f"the loss did not diverge up to {rates[-1]:.1e}: raise check.lr_find_max (clip_norm "
                      "and normalisation layers can make a model hard to blow up)")
    elif configured > diverged / SAFETY_MARGIN:
        advice.append(f"train.learning_rate={configured:g} is above the divergence rate / {SAFETY_MARGIN:g} "
                      f"({diverged:.2g} / {SAFETY_MARGIN:g}): training may blow up; try {found['valley']:.2g}")
    if configured < min(found.values()) / 10:
        advice.append(f"train.learning_rate={configured:g} is more than 10x below every suggestion "
                      f"({_listed(found)}): training will be slow; try {found['valley']:.2g}")
    status = "warn" if advice else "pass"
    if not advice:
        advice.append(f"suggested train.learning_rate={found['valley']:.2g} ({_listed(found)}); "
                      "the config is left as it is")
    return verdict("T10", status, measured, expected, advice="; ".join(advice) + ".", plots=[plot])


def _rate_text(rate: float | None) -> str:
    return f"rate {rate:.1e}" if rate else "the smallest rate"


def _round(rate: float) -> float:
    return float(f"{rate:.3g}")


def _listed(found: dict[str, float]) -> str:
    return ", ".join(f"{name} {rate:.2g}" for name, rate in found.items())


def _plot(rates, raw, smoothed, found, diverged, configured, run_dir: Path) -> str:
    fig, ax = new_figure()
    ax.plot(rates, raw, color="0.75", lw=0.8, label="each step's loss")
    ax.plot(rates, smoothed, color="C0", label="smoothed")
    for (name, rate), colour in zip(found.items(), ("C2", "C1", "C4"), strict=True):
        ax.axvline(rate, color=colour, ls="--", lw=1, label=f"{name} {rate:.2g}")
    if diverged:
        ax.axvline(diverged, color="C3", lw=1, label=f"diverges {diverged:.2g}")
    ax.axvline(configured, color="k", ls=":", lw=1, label=f"configured {configured:g}")
    low, start = float(np.min(smoothed)), float(np.max(smoothed[: max(1, len(smoothed) // 10)]))
    ax.set_ylim(low - 0.05 * abs(low), max(start, DIVERGENCE_FACTOR * low) * 1.1 + 1e-12)
    ax.set(xscale="log", xlabel="learning rate", ylabel="training loss", title="T10 learning-rate range test")
    ax.legend(fontsize=7)
    return save_figure(fig, run_dir, "T10_lr_range")


@registers("check", "T10")
def _t10(c: Context) -> Verdict:
    if not c.lr_find:
        return verdict("T10", "skip", advice="the sweep costs check.lr_find_steps steps, so it runs when asked: "
                       "`check --lr-find`")
    return check_lr_range(c.model, c.prepared, c.config, c.run_dir)
