"""T1 overfit one batch: a copy of the model trained on a few examples must memorise them."""

from __future__ import annotations

import math
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from ..config import Config
from ..data import Prepared
from ..models import compile_model
from ..plots import new_figure, save_figure
from ..registry import registers
from ..steps import _data_loss, step_losses, uses_batch_norm
from ..verdicts import Verdict, verdict
from .context import Context

SLOW_FIT_BUDGETS = 2  # a warn when the last steps' rate reaches the goal within this many budgets more
POOL_PER_EXAMPLE = 8  # T1's examples come from a pool this many times larger, the duplicates left out


def overfit_batch(prepared: Prepared, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A few training examples, covering as many classes as fit, no two with the same inputs:
    rows that look alike to the model but carry different labels cannot all be memorised (a
    table of a few coarse columns repeats its inputs under both labels: BENCHMARKS.md,
    "Check notes: T1"). Drawn from a pool of POOL_PER_EXAMPLE times as many, read once."""
    y = prepared.labels("train")  # from the manifest: only the pool is read
    pool = POOL_PER_EXAMPLE * n
    if prepared.task == "regression":
        order = np.random.default_rng(seed).choice(len(y), size=min(pool, len(y)), replace=False)
    else:
        by_class = [np.flatnonzero(y == c)[:pool] for c in np.unique(y)]
        order = np.array([idx[i] for i in range(pool) for idx in by_class if i < len(idx)][:pool])
    x_pool, y_pool = prepared.take(prepared.indices["train"][order])
    kept, seen = [], set()
    for i, row in enumerate(x_pool):
        if row.tobytes() not in seen:
            seen.add(row.tobytes())
            kept.append(i)
        if len(kept) == n:
            break
    return x_pool[kept], y_pool[kept]


def _predictions_match(task: str, y: np.ndarray, outputs: np.ndarray) -> bool:
    if task == "classification":
        return bool(np.all(outputs.argmax(-1) == y))
    if task == "binary":
        return bool(np.all((outputs[:, 0] > 0) == (y > 0.5)))
    return bool(np.mean((outputs[:, 0] - y) ** 2) <= 1e-2 * max(np.var(y), 1e-12))


def _steps_still_needed(goal: float, loss: float, previous: float, chunk: int) -> float:
    """Steps the last chunk's rate of fall would still take to bring `loss` to `goal`:
    infinite when the loss has stopped falling."""
    if loss <= goal:
        return 0.0
    if not 0 < loss < previous:
        return math.inf
    return chunk * math.log(goal / loss) / math.log(loss / previous)


def check_overfit_one_batch(model: keras.Model, prepared: Prepared, config: Config, run_dir: Path) -> Verdict:
    """T1: a model that cannot drive a handful of examples to near-zero loss has a bug.

    Trains `model` itself (pass a fresh copy), with the run's optimizer (train.optimizer; AdamW
    keeps its decay) at check.overfit_learning_rate, no augmentation, its dropout layers at rate 0
    and its weight penalties (kernel regularizers) off: regularisation
    fights memorising (the table model's dropout of 0.15 held Salaries' 8 salaries at 2.8% of
    their starting loss, "no longer falling", a false fail). Pass when the data loss came
    within check.overfit_tolerance of the way from its start to 0 and every prediction matches
    its label (regression: MSE <= 1% of the batch variance). The loss is measured in inference
    mode, except for models with batch norm: their moving statistics lag far behind a batch of 8
    after a few hundred steps, so they are judged in training mode, on the batch's own statistics.

    Not there within the budget is a fail only when the loss has stopped falling or falls
    too slowly: a loss whose last 50 steps' rate would reach the goal within SLOW_FIT_BUDGETS
    more budgets is a slow fit (a regression target whose close inputs hold far-apart
    values, say), and gets a warn. The rate of the last steps underestimates a fall that
    is still speeding up, hence more than one budget; the planted bugs this check exists
    for (a cut-off branch, a rate of 0, stopped gradients) leave the loss flat, or need
    tens of budgets.

    Args:
        model: The model trained; pass a fresh copy, since its dropout and weight penalties are
            turned off and its weights trained.
        prepared: The run's data; check.overfit_examples training examples with distinct inputs
            are taken from it.
        config: The run's configuration: `check.overfit_examples`, `check.overfit_steps`,
            `check.overfit_learning_rate`, `check.overfit_tolerance`, `seed` and the optimizer.
        run_dir: The run folder the plot of labels and predictions is saved in.

    Returns:
        The T1 verdict, with the plot: pass when the loss reached check.overfit_tolerance x its
        start and every prediction matches its label within check.overfit_steps; warn when it did
        not but would within SLOW_FIT_BUDGETS (2) more budgets at the last steps' rate; fail
        otherwise.
    """
    x, y = overfit_batch(prepared, config.check.overfit_examples, config.seed)
    dropouts = [layer for layer in model._flatten_layers() if isinstance(layer, keras.layers.Dropout)]
    for layer in dropouts:  # memorising needs no regulariser (the recipe: "turn off regularisation")
        layer.rate = 0.0
    penalised = [w for w in model.weights if getattr(w, "regularizer", None) is not None]
    for weight in penalised:  # nor a weight penalty (the table model's L1 on a wide table)
        weight.regularizer = None
    training_mode = uses_batch_norm(model)
    compile_model(model, config, learning_rate=config.check.overfit_learning_rate, jit_compile=False)
    start, outputs = _data_loss(model, x, y, prepared.task, training_mode)
    # One epoch of `todo` steps over the same batch repeated: an epoch per step would pay
    # Keras' per-epoch overhead on every step (figures: the template's BENCHMARKS.md).
    same_batch = tf.data.Dataset.from_tensors((x, y))
    budget, chunk, steps, loss, previous = config.check.overfit_steps, 50, 0, start, start
    target = config.check.overfit_tolerance * start
    while steps < budget:
        todo = min(chunk, budget - steps)
        step_losses(model, same_batch, todo)
        steps += todo
        previous, (loss, outputs) = loss, _data_loss(model, x, y, prepared.task, training_mode)
        if loss <= target and _predictions_match(prepared.task, y, outputs):
            break
    matched = _predictions_match(prepared.task, y, outputs)
    ok = loss <= target and matched
    # For regression the predictions match only at an MSE under 1% of the batch variance.
    goal = min(target, 1e-2 * float(np.var(y))) if prepared.task == "regression" else target
    still_needed = _steps_still_needed(goal, loss, previous, todo)
    slow = not ok and loss > goal and still_needed <= SLOW_FIT_BUDGETS * budget
    plot = _plot_overfit(prepared, y, outputs, run_dir)
    if ok:
        advice = ""
    elif slow:
        advice = (f"The loss was still falling ({previous:.4g} to {loss:.4g} in the last {todo} steps) and "
                  f"would need about {still_needed:.0f} steps more at that rate: a slow fit rather than a bug. "
                  "Raise check.overfit_steps or check.overfit_learning_rate to see it through.")
    else:
        trend = ("no longer falling" if math.isinf(still_needed) else
                 f"falling too slowly to get there: about {still_needed:.0f} steps more at the last {todo}'s rate")
        advice = (f"The model cannot memorise {len(y)} examples (loss {loss:.4g} after {steps} steps, {trend}): "
                  "look for a bug in the model, the loss or the labels before training for real.")
    return verdict(
        "T1", "pass" if ok else "warn" if slow else "fail",
        measured={"start_loss": round(start, 4), "final_loss": round(loss, 6), "steps": steps,
                  "all_predictions_match": matched,
                  "steps_still_needed": None if math.isinf(still_needed) else round(still_needed),
                  "judged_in": "training mode" if training_mode else "inference mode",
                  "dropout_layers_turned_off": len(dropouts), "weight_penalties_turned_off": len(penalised)},
        expected=(f"loss <= {config.check.overfit_tolerance:g} x start within {budget} steps, every prediction "
                  f"right; a loss still falling fast enough to get there within {SLOW_FIT_BUDGETS * budget} steps "
                  "more is a warn"),
        advice=advice,
        plots=[plot],
    )


def _plot_overfit(prepared: Prepared, y: np.ndarray, outputs: np.ndarray, run_dir: Path) -> str:
    fig, ax = new_figure()
    positions = np.arange(len(y))
    if prepared.task == "classification":
        ax.scatter(positions, y, marker="o", s=80, label="label", facecolors="none", edgecolors="k")
        ax.scatter(positions, outputs.argmax(-1), marker="x", s=60, label="prediction", color="tab:red")
        ax.set_ylabel("class")
    else:
        predicted = outputs[:, 0] if prepared.task == "regression" else 1 / (1 + np.exp(-outputs[:, 0]))
        ax.bar(positions - 0.2, y, width=0.4, label="label")
        ax.bar(positions + 0.2, predicted, width=0.4, label="prediction")
    ax.set_xlabel("example in the batch")
    ax.set_title("T1 overfit one batch: labels and predictions after training")
    ax.legend()
    return save_figure(fig, run_dir, "T1_overfit_one_batch")


@registers("check", "T1")
def _t1(c: Context) -> Verdict:
    return check_overfit_one_batch(c.new_model(), c.prepared, c.config, c.run_dir)
