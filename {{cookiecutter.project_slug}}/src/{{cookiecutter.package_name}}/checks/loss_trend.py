"""T3 before training: the training loss goes down in a short run, and a larger model fits better.

A loss that does not fall over the first few dozen steps of the real pipeline (a learning
rate far off, labels that do not match the inputs, a frozen model) wastes a whole training
run. A larger model that fits the training data no better than a smaller one in the same
budget says the capacity is not where the config puts it (a bottleneck, a width setting
the model ignores).
"""

from __future__ import annotations

import math
from pathlib import Path

import keras
import numpy as np

from ..config import Config, with_values
from ..data import Prepared
from ..data.pipeline import train_datasets
from ..models import compile_model, loss_for
from ..plots import new_figure, save_figure
from ..registry import registers
from ..steps import inference_outputs, step_losses
from ..train_context import TrainContext
from ..verdicts import Verdict, verdict
from .context import Context


def larger_config(config: Config) -> Config:
    """The config's model at twice the width (hidden units, filters, the table model's units):
    the cleanest capacity knob. Depth also changes how fast a net trains at first, which this
    comparison is not about."""
    return with_values(config, {"model.hidden_units": 2 * config.model.hidden_units,
                                "model.tabular_units": 2 * config.model.tabular_units,
                                "model.filters": 2 * config.model.filters})


BLOW_UP = 4.0  # the last steps' mean loss this many times the first steps': diverging, whatever the noise
# A loss at its floor jitters in a short run, most where a few rare positives rule a small loss; a
# learning rate far too high multiplies it, with an error as large as the rise
# (BENCHMARKS.md, "Check notes: T3").
FLOOR_JITTER = 0.25
# A change counts when it passes this many of its standard errors (the fixed examples' rise in the
# second half, their fall, the wider model's gap)...
SIGNIFICANT_ERRORS = 2.0
# ...and, for the second half's rise, this share of the loss too (a rise of 1e-9 nats on a loss
# fitted to its floor is real and harmless)...
RISE_SHARE = 0.01
# ...and this share of what the first half gained, in a run that fell measurably: a run diverging
# as it ends gives back much of its fall, while a model that fitted a small table's rows nearly
# to zero jitters back up by a sliver of it (the dev wide regression: 27.6 down to 0.33, back up
# 0.30, 2.4 standard errors: a false fail). A loss that did not fall measurably is judged on its
# whole change (FLOOR_JITTER): a text table's model still at the priors after 60 steps (0.694 to
# 0.691, then up 0.019 at 3.6 standard errors, ending 0.016 above its start at 1.9) failed as
# diverging before.
GIVE_BACK_SHARE = 0.1
# A loss that falls by less than loss_trend_min_drop (or not measurably) in the short run goes on
# for this many times its steps before the verdict: the dev text tables' embedded model fell 0.1%
# in 60 steps, still under 1% in 120 and 1.5% in 240 (health_tweets), and trains in the full run;
# a broken model falls in neither.
SLOW_START_RUNS = 4
# A wider model that fits worse by this share of the model's own fall (and beyond its errors) warns:
# a wider model that ignores its input falls barely at all, while on healthy tables the gap is
# a few percent of the fall either way and its sign changes with the seed (the dev Computers
# table: the wider model ahead by 4.7 and 5.5 standard errors on two seeds, behind by 2.3 on the
# third, 2% of the fall: a false warn). The errors count the examples' noise, not the seed's.
CAPACITY_GAP_SHARE = 0.5


def example_losses(model: keras.Model, x: np.ndarray, y: np.ndarray, task: str) -> np.ndarray:
    """Each example's data loss, in inference mode."""
    return np.asarray(loss_for(task).call(y, inference_outputs(model, x)), "float64").reshape(len(y))


def short_run(model: keras.Model, prepared: Prepared, config: Config, steps: int | None = None,
              compile: bool = True) -> tuple[list[float], np.ndarray, np.ndarray, tuple[float, float]]:
    """`steps` (check.loss_trend_steps) steps of the real training pipeline (a fresh dataset: the
    same batches in the same order for every model), the optimizer as configured (`compile`
    false: the model goes on with its optimizer as it is). Returns each step's loss; the loss of
    each of up to check.capacity_examples training examples before and after (the same examples
    each time, so no batch-to-batch noise); and how much their loss rose from the middle of the
    run to its end, with its standard error over the examples (paired: each example against
    itself)."""
    steps = steps or config.check.loss_trend_steps
    x_sample, y_sample = prepared.sample("train", config.check.capacity_examples, config.seed)
    before = example_losses(model, x_sample, y_sample, prepared.task)
    if compile:
        compile_model(model, config, jit_compile=False)  # XLA compile time would dwarf a short run
    train, _ = train_datasets(config, prepared)
    half = steps // 2
    losses = step_losses(model, train, half)
    middle = example_losses(model, x_sample, y_sample, prepared.task)
    losses += step_losses(model, train, steps - half)
    end = example_losses(model, x_sample, y_sample, prepared.task)
    return losses, before, end, paired_difference(middle, end)


def paired_difference(after: np.ndarray, other_after: np.ndarray) -> tuple[float, float]:
    """The mean of `other_after - after` over the same examples, and its standard error."""
    change = np.asarray(other_after, "float64") - np.asarray(after, "float64")
    return float(np.mean(change)), float(np.std(change, ddof=1) / np.sqrt(len(change))) if len(change) > 1 else 0.0


def _drop(start: float, end: float) -> float:
    return 1 - end / start if math.isfinite(start) and math.isfinite(end) and start > 0 else -math.inf


def judge_loss_trend(losses: list[float], before: float, fitted: float, window: int, min_drop: float,
                     rise: tuple[float, float] | None = None, fall: tuple[float, float] | None = None
                     ) -> tuple[str, dict, list[str]]:
    """T3's trend, from each step's loss and the loss on fixed training examples before and after.

    The fixed examples are the measure: fail when their loss did not fall, warn when it fell by
    less than `min_drop`; fail too when it rose in the second half by more than twice its
    standard error, 1% and a tenth of what the first half gained, in a run that fell measurably (a
    run diverging as it ends, which the endpoints cannot see; a loss that did not fall measurably
    is judged on its whole change, below). The step
    windows (the mean of the first and the last `window` steps) fail only when they are not
    finite or grew BLOW_UP-fold: per-batch losses are heavy tailed (a rare positive in a batch
    multiplies its loss), so a noise estimated from their spread is too small, and a healthy
    table with 3% positives failed T3 on it (the fixed examples' loss fell from 0.139 to 0.115).
    A loss that did not fall but rose within twice its error and FLOOR_JITTER warns instead of
    failing (a target that is mostly noise starts at its floor, the output bias at the mean, and
    the short run only jitters around it: a false fail on 3,000 rows explaining 1% of the
    target's variance).

    Args:
        losses: Each step's training loss.
        before: The mean loss of the fixed training examples before the run.
        fitted: Their mean loss after it.
        window: How many steps the first and the last step windows average.
        min_drop: The relative drop of the fixed examples' loss below which it warns.
        rise: How much those examples' loss rose from the middle of the run to its end, with
            its standard error (short_run); None leaves the second half unjudged.
        fall: The mean change of each fixed example's loss from before to after, with its
            standard error; None: a loss that did not fall always fails.

    Returns:
        (status, measured, advice): "pass", "warn" or "fail" as above, what was measured, and
        one line of advice for each problem (none on a pass).
    """
    first_steps, last_steps = np.asarray(losses[:window], float), np.asarray(losses[-window:], float)
    first, last = float(np.mean(first_steps)), float(np.mean(last_steps))
    exploded = not (math.isfinite(first) and math.isfinite(last)) or (first > 0 and last > BLOW_UP * first)
    fell = fitted < before and (fall is None or -fall[0] > SIGNIFICANT_ERRORS * fall[1])  # measurably
    diverging = (fell and rise is not None and rise[0] > SIGNIFICANT_ERRORS * rise[1]
                 and rise[0] > RISE_SHARE * max(fitted, 1e-12)
                 and rise[0] > GIVE_BACK_SHARE * (before - (fitted - rise[0])))  # of the fall to the middle
    drop = _drop(before, fitted)
    measured = {"steps": len(losses), f"first_{window}_steps": round(first, 5), f"last_{window}_steps": round(last, 5),
                "train_sample_before": round(before, 5), "train_sample_after": round(fitted, 5)}
    if rise is not None:
        measured["second_half_rise"] = {"mean": round(rise[0], 5), "standard_error": round(rise[1], 5)}
    if fall is not None:
        measured["fixed_examples_change"] = {"mean": round(fall[0], 5), "standard_error": round(fall[1], 5)}
    jitter = (fall is not None and 0 < fall[1] and fall[0] <= SIGNIFICANT_ERRORS * fall[1]
              and math.isfinite(fitted) and fitted <= (1 + FLOOR_JITTER) * before)
    if drop <= 0 and not (exploded or diverging) and jitter:
        return "warn", measured, [f"the loss on fixed training examples did not fall measurably in {len(losses)} "
                                  f"steps ({before:.4g} -> {fitted:.4g}, within twice its standard error "
                                  f"{fall[1]:.2g}): the model may start at what the inputs can explain (a target "
                                  "that is mostly noise: compare B3's references with the priors), or the "
                                  "learning rate is too small"]
    if drop <= 0 or exploded or diverging:
        why = (f"the loss on fixed training examples did not fall ({before:.4g} -> {fitted:.4g})" if drop <= 0 else
               f"the last {window} steps' loss ({last:.4g}) is over {BLOW_UP:g} times the first {window}'s "
               f"({first:.4g})" if exploded else
               f"the fixed training examples' loss rose over the second half of the run by {rise[0]:.3g} (standard "
               f"error {rise[1]:.2g}): it is diverging as it ends")
        return "fail", measured, [f"the training loss did not go down in {len(losses)} steps: {why}; try a 10x "
                                  "smaller learning rate, and run T1 (overfit one batch) and D9 (inputs match labels)"]
    if drop < min_drop:
        return "warn", measured, [f"the training loss fell by only {drop:.1%} in {len(losses)} steps: the learning "
                                  "rate may be too small"]
    return "pass", measured, []


def check_loss_goes_down(model: keras.Model, larger: keras.Model | None, prepared: Prepared, config: Config,
                         run_dir: Path) -> Verdict:
    """T3 (before training): the loss goes down in a short run, and a 2x wider model fits no worse.

    Trains `model` and `larger` the same short run; the trend is `judge_loss_trend`'s.
    Capacity: warn (not fail: a short budget can favour the smaller model) when `larger` fits
    the same training examples worse by over twice the paired standard error and by over
    CAPACITY_GAP_SHARE of `model`'s own fall in the run. Not merely "no better": on a noisy
    target both reach its floor in the short run and the order is a coin toss (BENCHMARKS.md,
    "Check notes: T3"); and the paired error counts the examples' noise, not the seed's, so a
    gap of a few percent of the fall passes two errors on some seeds. A larger model that
    ignores the input falls barely at all.

    Args:
        model: The model to train (pass a fresh one).
        larger: The same model at twice the width (larger_config), or None. The capacity
            comparison is skipped when it has no more parameters than `model` (a builder that
            ignores the width keys, or the table model already at its size for the rows) or is None.
        prepared: The run's data: the training pipeline and the fixed training examples.
        config: The run's configuration: `check.loss_trend_steps`, `check.loss_trend_window`,
            `check.loss_trend_min_drop`, `check.capacity_examples`, the pipeline and the optimizer.
        run_dir: The run folder the plot of the step losses is saved in.

    Returns:
        The T3 verdict, with the plot: the trend's pass, warn or fail from `judge_loss_trend`; a
        pass becomes a warn when `larger` fits worse, a fail stays a fail.
    """
    window, min_drop = config.check.loss_trend_window, config.check.loss_trend_min_drop
    losses, before_each, after, rise = short_run(model, prepared, config)
    before, fitted = float(np.mean(before_each)), float(np.mean(after))
    status, measured, advice = judge_loss_trend(losses, before, fitted, window, min_drop, rise,
                                                fall=paired_difference(before_each, after))
    if status == "warn":  # a slow start (a fall under min_drop, or none measurable): the same run goes on
        more, _, later, later_rise = short_run(model, prepared, config, (SLOW_START_RUNS - 1) * len(losses),
                                               compile=False)
        status, measured, advice = judge_loss_trend(losses + more, before, float(np.mean(later)), window, min_drop,
                                                    later_rise, fall=paired_difference(before_each, later))
        measured["slow_start"] = {"steps": len(losses), "train_sample_after": round(fitted, 5)}
    larger_losses = None
    if larger is None or larger.count_params() <= model.count_params():
        measured["capacity"] = ("skipped: no larger model (the builder ignores model.hidden_units, "
                                "model.tabular_units and model.filters, or the table model is at its size for "
                                "the rows)")
        # said beside the status, not only in the record: a PASS that compared no capacity must say so
        advice.append(f"capacity not compared: the 2x wider model has no more parameters than this one "
                      f"({model.count_params():,}), so only the loss trend was judged"
                      if larger is not None else "capacity not compared: no wider model to build")
    else:
        larger_losses, _, larger_after, _ = short_run(larger, prepared, config)
        larger_fitted = float(np.mean(larger_after))
        worse, error = paired_difference(after, larger_after)
        measured["capacity"] = {"params": [model.count_params(), larger.count_params()],
                                "train_sample_after": [round(fitted, 5), round(larger_fitted, 5)],
                                "larger_minus_model": {"mean": round(worse, 5), "standard_error": round(error, 5)}}
        model_fall = before - fitted
        if worse > SIGNIFICANT_ERRORS * error and model_fall > 0 and worse > CAPACITY_GAP_SHARE * model_fall:
            status = "fail" if status == "fail" else "warn"
            advice.append(f"a model with {larger.count_params()} parameters fits the training data worse "
                          f"({larger_fitted:.4g}) than one with {model.count_params()} ({fitted:.4g}) in the same "
                          f"steps, by over twice the standard error of the difference ({error:.2g}) and over "
                          f"{CAPACITY_GAP_SHARE:.0%} of the smaller model's fall from {before:.4g}: look for a "
                          "bottleneck or a setting the model ignores")
    plot = _plot(losses, larger_losses, run_dir)
    return verdict("T3", status, measured=measured,
                   expected=f"the loss on fixed training examples down by >= {min_drop:.0%}, not rising over the "
                   f"second half beyond twice its standard error; the last {window} steps under {BLOW_UP:g}x the "
                   f"first {window}; a 2x wider model fits no worse beyond twice the paired standard error and "
                   f"{CAPACITY_GAP_SHARE:.0%} of the model's fall",
                   advice="; ".join(advice), plots=[plot])


def _plot(losses: list[float], larger: list[float] | None, run_dir: Path) -> str:
    fig, ax = new_figure()
    ax.plot(np.arange(1, len(losses) + 1), losses, label="model", color="tab:blue")
    if larger is not None:
        ax.plot(np.arange(1, len(larger) + 1), larger, label="2x wider", color="tab:orange", alpha=0.8)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss of the step's batch")
    ax.set_title("T3 training loss over a short run")
    ax.legend()
    return save_figure(fig, run_dir, "T3_loss_goes_down")


def judge_training_loss(losses: list[float]) -> Verdict:
    """T3 during the real run: the loss came down from the first epoch to the last.

    Args:
        losses: Every epoch's training loss, first to last (`train` passes them).

    Returns:
        The T3 verdict: pass when the last epoch's loss is finite and below the first's, fail
        otherwise; skip when fewer than two epochs ran.
    """
    if len(losses) < 2:
        return verdict("T3", "skip",
                       advice="fewer than two epochs ran in this call (resumed at the end, or epochs=1)")
    first, last = float(losses[0]), float(losses[-1])
    ok = np.isfinite(last) and last < first
    return verdict("T3", "pass" if ok else "fail",
                   measured={"first_epoch": round(first, 4), "last_epoch": round(last, 4)},
                   expected="last < first",
                   advice="" if ok else "The training loss did not go down: run `check` (T1 overfit one "
                   "batch) and try a smaller learning rate.")


@registers("check", "T3")
def _t3(c: Context) -> Verdict:
    return check_loss_goes_down(c.new_model(), c.new_model(larger_config(c.config)), c.prepared, c.config, c.run_dir)


@registers("train", "T3")
def _t3_train(c: TrainContext) -> Verdict:
    return judge_training_loss(c.epoch_losses)
