"""O1 and O2: the learning rate over a run, and the regularisers switched on.

Adam at 3e-4 and a constant rate are the default (O1): a schedule is opt-in, counted in
optimizer steps (never in epochs, so that changing the batch size or the data does not
silently stretch or squash it), and a warning fires when it would take the rate below 1% of
its peak before half the run: the second half would then barely train.
"""

from __future__ import annotations

import math

import keras
import numpy as np

from .config import Config
from .registry import registers
from .train_context import TrainContext
from .verdicts import Verdict, verdict

Rate = float | keras.optimizers.schedules.LearningRateSchedule  # what an optimizer takes as its learning rate
FLOOR = 0.01  # RECIPE O1: below 1% of the peak rate...
BEFORE = 0.5  # ...before half the run is a warning


def steps_per_epoch(examples: int, batch_size: int) -> int:
    """Batches in one epoch: the last, smaller batch counts (the pipeline keeps it, T13)."""
    return max(1, math.ceil(examples / batch_size))


def planned_epochs(config: Config, examples: int, batch_size: int) -> int:
    """train.epochs, or more when they would give fewer than train.min_steps optimizer steps:
    a budget counted in steps, so that 1,300 digits get as many updates as a large set's few
    epochs (measured on the digits, the reference CNN at Adam 3e-4: 94.7% test accuracy after
    20 epochs, 800 steps; 97.6% after 100, 4,000 steps). The checkpoint `evaluate` scores is the
    best by val loss, so a long budget cannot leave a worse model behind."""
    return max(config.train.epochs, math.ceil(config.train.min_steps / steps_per_epoch(examples, batch_size)))


def planned_steps(config: Config, examples: int, batch_size: int) -> int:
    """The optimizer steps `train` plans for `examples` training examples at `batch_size`:
    `planned_epochs` full epochs. What the learning-rate schedule decays over, what a backbone
    from scratch fits its batch norms' momentum to, and what T4 measures a lag against.

    Args:
        config: The run's config (`train.epochs`, `train.min_steps`).
        examples: Training examples an epoch.
        batch_size: Examples a step.

    Returns:
        The planned steps, at least 1.
    """
    return planned_epochs(config, examples, batch_size) * steps_per_epoch(examples, batch_size)


def learning_rate(config: Config, total_steps: int) -> Rate:
    """The configured rate: a float when constant, else a Keras schedule over optimizer steps.
    `train.schedule_decay_steps` null decays over the whole run (`total_steps`)."""
    t = config.train
    if t.schedule == "constant":
        return t.learning_rate
    decay = t.schedule_decay_steps or max(1, total_steps - t.warmup_steps)
    if t.schedule == "cosine":
        # With warmup, Keras' CosineDecay ramps linearly from `initial_learning_rate` to
        # `warmup_target`, then decays from there; without, it decays from `initial_learning_rate`.
        if t.warmup_steps:
            return keras.optimizers.schedules.CosineDecay(
                0.0, decay, alpha=t.schedule_final_fraction, warmup_target=t.learning_rate,
                warmup_steps=t.warmup_steps)
        return keras.optimizers.schedules.CosineDecay(t.learning_rate, decay, alpha=t.schedule_final_fraction)
    return keras.optimizers.schedules.PolynomialDecay(
        t.learning_rate, decay, end_learning_rate=t.learning_rate * t.schedule_final_fraction, power=1.0)


def rates_over_run(rate: Rate, total_steps: int, points: int = 1001) -> tuple[np.ndarray, np.ndarray]:
    """(steps, rates): the rate at up to `points` evenly spaced steps of the run (a schedule is
    called once per point, eagerly: every step of a million-step run would take minutes)."""
    steps = np.unique(np.linspace(0, total_steps - 1, min(total_steps, points)).astype(int))
    if isinstance(rate, float):
        return steps, np.full(len(steps), rate)
    return steps, np.array([float(rate(int(step))) for step in steps])


def check_schedule(config: Config, total_steps: int, rate: Rate | None = None) -> Verdict:
    """O1. Pass for Adam at a constant rate or a schedule that keeps the rate above 1% of its
    peak through the first half of the run; warn when it falls below before half the run (a
    decay meant in epochs but given in steps is the usual cause), or when the optimizer is not
    Adam/AdamW (a fine choice, but the recipe's safe default is Adam). `rate`: the rate or
    schedule the run's optimizer was given (`train` builds it once for both); by default the
    one the config describes."""
    t = config.train
    steps, rates = rates_over_run(learning_rate(config, total_steps) if rate is None else rate, total_steps)
    peak = float(rates.max())
    low = np.flatnonzero((steps >= t.warmup_steps) & (rates < FLOOR * peak))  # warmup starts low on purpose
    first_low = int(steps[low[0]]) if len(low) else None
    measured = {"optimizer": t.optimizer, "schedule": t.schedule, "peak_rate": peak, "total_steps": total_steps,
                "rate_at_half": float(np.interp(total_steps // 2, steps, rates)),
                "below_1pct_from_step": first_low if first_low is not None else "never"}
    expected = f"the rate stays >= {FLOOR:.0%} of its peak until step {int(BEFORE * total_steps)} (half the run)"
    advice = []
    if first_low is not None and first_low < BEFORE * total_steps:
        advice.append(f"the {t.schedule} schedule takes the rate below {FLOOR:.0%} of its peak at step "
                      f"{first_low} of {total_steps}: the rest of the run barely trains. Schedules count "
                      "optimizer steps: set train.schedule_decay_steps to about the run's length "
                      f"({total_steps}), or null for exactly that, or use train.schedule=constant")
    if t.optimizer == "sgd":
        advice.append("SGD needs a tuned rate and often a schedule; Adam at 3e-4 is the safe start (O1)")
    return verdict("O1", "warn" if advice else "pass", measured, expected,
                   advice="; ".join(advice) + "." if advice else "")


def regularisers_on(config: Config) -> list[str]:
    """The O2 switches that are on in this config, each a setting that a user can name."""
    switches = {"data.augment": config.data.augment, "model.dropout": config.model.dropout > 0,
                "train.weight_decay": config.train.weight_decay > 0,
                "train.early_stopping": config.train.early_stopping}
    return [name for name, on in switches.items() if on]


def check_regularisation(config: Config) -> Verdict:
    """O2. Lists the regularisers this run uses; warns when several are on at once, since a
    run then cannot tell which one helped (or hurt): add them one at a time, each a run."""
    on = regularisers_on(config)
    measured = {"switched_on": on or "none"}
    if len(on) > 1:
        return verdict("O2", "warn", measured, "at most one regulariser per run",
                       advice=f"{len(on)} regularisers are on at once ({', '.join(on)}): switch them on one at a "
                       "time, a run each, and keep the ones that lower the val loss.")
    return verdict("O2", "pass", measured, "at most one regulariser per run")


@registers("train", "O1")
def _o1(c: TrainContext) -> Verdict:
    return check_schedule(c.config, c.total_steps, c.rate)


@registers("train", "O2")
def _o2(c: TrainContext) -> Verdict:
    return check_regularisation(c.config)
