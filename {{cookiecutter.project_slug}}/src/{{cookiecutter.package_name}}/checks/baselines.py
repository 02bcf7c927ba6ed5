"""Baselines every model must beat, scored with the project's own metrics.

B1 dumb: the train priors or mean. B2 input-independent: the same model trained the same
way on inputs that say nothing about the labels. B3 simple: what scikit-learn's linear model
and gradient boosting reach on the same rows (references.py). B4 human: a second annotation of
the test split, scored as a prediction.
"""

from __future__ import annotations

import csv
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from .. import references
from ..bootstrap import Comparison, comparison_words
from ..config import Config
from ..data import Prepared
from ..data.pipeline import evaluation_dataset, train_datasets
from ..errors import UserError
from ..mode_gap import mode_gap_first
from ..models import ModelSpec, compile_model, output_bias, score_predictions
from ..plots import new_figure, save_figure
from ..registry import registers
from ..rundir import RunFiles, writing_whole
from ..steps import data_loss, inference_outputs, step_losses, weights_restored
from ..verdicts import Verdict, read_verdicts, verdict
from .context import Context, EvaluateContext


def dumb_outputs(prepared: Prepared, n: int) -> np.ndarray:
    """Input-independent outputs from train statistics: log priors (as logits) or the target
    mean; exactly what a model whose output bias came from the priors predicts at init
    before its kernel learns anything."""
    bias = np.asarray(output_bias(prepared.task, prepared), "float32")
    return np.tile(bias, (n, 1))


def dumb_baseline(prepared: Prepared) -> dict[str, dict[str, float]]:
    scores = {}
    for split in ("val", "test"):
        y = prepared.labels(split)
        scores[split] = score_predictions(prepared.task, y, dumb_outputs(prepared, len(y)))
    return scores


def check_dumb_baseline(prepared: Prepared) -> Verdict:
    """B1 at `check`: the floor every model must beat, measured.

    Args:
        prepared: The run's data; the train priors or mean come from its train statistics, and
            the val and test labels are scored against them.

    Returns:
        The B1 verdict: the val and test scores of predicting the train priors or mean; `info`,
        since nothing is judged until a model exists (`evaluate` judges it: check_beats_dumb_baseline).
    """
    what = "target mean" if prepared.task == "regression" else "class priors"
    return verdict("B1", "info", measured=dumb_baseline(prepared),
                   expected=f"a model must score better than predicting the train {what}",
                   advice=f"The scores of predicting the train {what}: the floor to beat.")


def check_beats_dumb_baseline(prepared: Prepared, model_val_loss: float) -> Verdict:
    """B1 after training: the model's full-val loss against the dumb baseline's.

    Args:
        prepared: The run's data; the dumb baseline's val loss is computed from it.
        model_val_loss: The trained model's loss on the whole val split.

    Returns:
        The B1 verdict at `evaluate`: pass when the model's val loss is below the baseline's,
        fail otherwise.
    """
    baseline = dumb_baseline(prepared)["val"]["loss"]
    ok = model_val_loss < baseline
    return verdict("B1", "pass" if ok else "fail",
                   measured={"model_val_loss": model_val_loss}, expected={"below_baseline_val_loss": baseline},
                   advice="" if ok else "The model is no better than predicting the priors/mean: "
                   "run `check` (overfit one batch, loss at init) before training longer.", stage="evaluate")


def derange_batch(x: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Give every example the input of another example of its batch: a random order, each
    taking the input of the one before it (a derangement: in a batch of two or more nobody
    keeps its own input, which a plain permutation does for one example a batch on average).
    Every input statistic is kept, only the pairing with the labels is gone."""
    n = tf.shape(x)[0]
    order = tf.argsort(tf.random.stateless_uniform([n], seed=seed))
    source = tf.scatter_nd(order[:, None], tf.roll(order, shift=1, axis=0), [n])
    return tf.gather(x, source)


def control_batches(dataset: tf.data.Dataset, seed: int) -> tf.data.Dataset:
    """Every batch of `dataset` deranged, each with its own seed (the batch's number)."""
    def deranged(step, batch):
        x, y = batch
        return derange_batch(x, tf.stack([tf.constant(seed, tf.int64), step])), y

    return dataset.enumerate().map(deranged)


def input_independent_run(model: keras.Model, prepared: Prepared, config: Config,
                          control: bool) -> tuple[list[float], float]:
    """check.baseline_steps steps of the real training pipeline from the model's current
    weights (put back afterwards), optimizer as configured; returns each step's loss and
    the full-val data loss. The control sees deranged inputs, in training and in val."""
    train, _ = train_datasets(config, prepared)  # a fresh dataset: the same batches for both runs
    val = evaluation_dataset(prepared, "val")
    if control:
        train, val = control_batches(train.repeat(), config.seed), control_batches(val, config.seed)
    with weights_restored(model):
        compile_model(model, config, jit_compile=False)  # a fresh optimizer
        losses = step_losses(model, train, config.check.baseline_steps)
        return losses, data_loss(model, val, prepared.labels("val"), prepared.task)


def check_input_independent(model: keras.Model, prepared: Prepared, config: Config, run_dir: Path,
                            signal_found: bool | None = None) -> Verdict:
    """B2: the model trained on its inputs against the same model trained on inputs that say nothing about the labels.

    Both start from the same weights and train on the same batches; the control's inputs carry
    no information about the labels.

    The control's inputs are those of other examples of the batch, not zeros: the models
    normalise inside (an adapted Normalization maps 0 to -mean/std) and every input
    statistic stays as it was (RECIPE notes).

    Args:
        model: The model at its current weights; both runs start from them, and they are put
            back afterwards.
        prepared: The run's data: the training batches, the val split, and the priors' val loss.
        config: The run's configuration: the training pipeline, the optimizer,
            `check.baseline_steps` and the B2 ratios.
        run_dir: The run folder the plot of both runs' step losses is saved in.
        signal_found: Whether B3's simple models beat the priors (None: B3 did not run).

    Returns:
        The B2 verdict, with the plot of both runs' step losses. Judged by
        `judge_input_independent` (pass, warn or fail). Skip when the batch size is 1: the
        control takes its inputs from the other examples of a batch.
    """
    if config.data.batch_size < 2:
        return verdict("B2", "skip", advice="data.batch_size is 1: the control takes "
                       "its inputs from the other examples of a batch")
    real_losses, real = input_independent_run(model, prepared, config, control=False)
    control_losses, control = input_independent_run(model, prepared, config, control=True)
    weights_per_example = model.count_params() / max(prepared.size("train"), 1)
    judged = judge_input_independent(real, control, dumb_baseline(prepared)["val"]["loss"], config,
                                     weights_per_example=weights_per_example, signal_found=signal_found)
    judged.plots.append(_plot_runs(real_losses, control_losses, run_dir))
    return judged


# B3: the best simple model must beat the priors' val loss by this factor (its docstring says why).
SIMPLE_MODEL_MARGIN = 0.99
# A model with this many weights per training example can memorise its training split: B2 and
# B3 then name over-fitting beside the wiring bugs (BENCHMARKS.md, "Check notes: B2").
MANY_WEIGHTS_PER_EXAMPLE = 10


def judge_input_independent(real: float, control: float, prior: float, config: Config, *,
                            weights_per_example: float | None = None, signal_found: bool | None = None) -> Verdict:
    """B2 verdict from the val losses of the real run, the control and the priors (B1).

    Args:
        real: The val loss of the model trained on its own inputs.
        control: The val loss of the same model trained on the inputs of other examples.
        prior: The val loss of predicting the train priors or mean (B1).
        config: The run's configuration; `check` holds the ratios and `check.baseline_steps`.
        weights_per_example: The model's weights per training example, or None. At
            MANY_WEIGHTS_PER_EXAMPLE (10) or more, a fail's advice names over-fitting beside the wiring bugs.
        signal_found: Whether B3's simple models beat the priors on these inputs (None: not known).
            False turns "learned nothing from the inputs" into a warn: when no simple model finds
            signal either, weak signal and a broken model cannot be told apart by B2 alone
            (BENCHMARKS.md, "Check notes: B2").

    Returns:
        The B2 verdict. Pass when real <= check.input_independent_pass_ratio x control; fail at >=
        check.input_independent_fail_ratio x control (the model learned nothing from its inputs);
        warn between. A control loss of zero or less fails too. Warn too when the control beats
        the priors, control < check.control_leak_ratio x prior: labels reach the model through
        another channel than the inputs; a fail stays a fail.
    """
    c = config.check
    ratio = real / control if control > 0 else float("inf")
    advice = []
    if (not np.isfinite(ratio) or ratio >= c.input_independent_fail_ratio) and signal_found is False:
        status = "warn"
        advice.append(f"the model does no better on val ({real:.4g}) than the same model trained on inputs that say "
                      f"nothing about the labels ({control:.4g}), and no simple model (B3) beats the priors on these "
                      "inputs either: they may carry little signal, which a short run cannot use; if B3's references "
                      "should find some, check that inputs and labels still match (D9)")
    elif not np.isfinite(ratio) or ratio >= c.input_independent_fail_ratio:
        status = "fail"
        advice.append(f"the model does no better on val ({real:.4g}) than the same model trained on inputs that say "
                      f"nothing about the labels ({control:.4g}): it learned nothing from the inputs; check that "
                      "inputs and labels still match (D9) and that the inputs reach the output (T2, T5)"
                      + (f"; or, with {weights_per_example:,.0f} weights per training example, it memorises the "
                         "training batches instead of generalising (over-fitting: a smaller model, more data or "
                         "regularisation, O2; B3 shows what a simpler model reaches)"
                         if weights_per_example and weights_per_example >= MANY_WEIGHTS_PER_EXAMPLE else ""))
    elif ratio > c.input_independent_pass_ratio:
        status = "warn"
        advice.append(f"the model beats the input-independent control by only {1 - ratio:.1%} on val loss in "
                      f"{c.baseline_steps} steps")
    else:
        status = "pass"
    if control < c.control_leak_ratio * prior:
        status = "fail" if status == "fail" else "warn"
        advice.append(f"the control, which never saw a matching input, beats the priors ({control:.4g} < "
                      f"{prior:.4g}): labels reach the model another way: batches that hold one label (sorted data, a "
                      "small shuffle buffer: D8), or a model that sees more than its inputs")
    return verdict(
        "B2", status,
        measured={"val_loss": round(real, 5), "control_val_loss": round(control, 5), "ratio": round(ratio, 4),
                  "priors_val_loss": round(prior, 5), "steps": c.baseline_steps}
        | ({"weights_per_training_example": round(weights_per_example, 1)} if weights_per_example else {}),
        expected=f"val loss <= {c.input_independent_pass_ratio:g} x control (fail >= "
        f"{c.input_independent_fail_ratio:g} x); control not below {c.control_leak_ratio:g} x priors",
        advice="; ".join(advice),
    )


def _plot_runs(real: list[float], control: list[float], run_dir: Path) -> str:
    fig, ax = new_figure()
    ax.plot(np.arange(1, len(real) + 1), real, label="real inputs", color="tab:blue")
    ax.plot(np.arange(1, len(control) + 1), control, label="inputs of other examples (control)",
            color="tab:gray", alpha=0.8)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss of the step's batch")
    ax.set_title("B2 input-independent baseline")
    ax.legend()
    return save_figure(fig, run_dir, "B2_input_independent")


def simple_model(spec: ModelSpec) -> keras.Model:
    """Linear regression / logistic regression: the train-only scaling, then the output head."""
    inputs = keras.Input(spec.input_shape, name="inputs")
    features = keras.layers.Flatten()(spec.normalization()(inputs))
    return keras.Model(inputs, spec.head(features), name="simple")


def check_simple_model(spec: ModelSpec, prepared: Prepared, config: Config, run_dir: Path) -> Verdict:
    """B3: the references the model must beat, scored on the whole val and test splits.

    Inputs small enough to flatten (tables; images up to references.MAX_FEATURES values) get
    scikit-learn's: a linear model regularised by cross-validation and gradient boosting
    (references.py); the better of the two on val is the bar. Larger images get a Keras
    linear/logistic model trained check.baseline_steps steps on the real training pipeline
    at check.simple_model_learning_rate. Warn when the bar does not beat the priors (B1) by
    1%: the inputs carry no signal these models find, or they do not match the labels (a
    model regularised by cross-validation falls back to the priors on labels it cannot
    learn, so it lands within a hair of them, on either side). The scikit-learn references'
    outputs on val and test are kept in the run folder (RunFiles.REFERENCE_OUTPUTS), for
    `evaluate`'s paired comparison on the same rows.

    Args:
        spec: The model's spec; its normalisation and output head make the Keras linear model
            for larger images.
        prepared: The run's data; the priors' val loss (B1) is computed from it.
        config: The run's configuration: `check.reference_rows` and `seed` for the scikit-learn
            references, the training pipeline, `check.baseline_steps` and
            `check.simple_model_learning_rate` for the Keras model.
        run_dir: The run folder the scikit-learn references' outputs are saved in.

    Returns:
        The B3 verdict at `check`: pass when the best simple model's val loss is below
        SIMPLE_MODEL_MARGIN (0.99) x the priors' val loss, warn otherwise. Its val scores are the
        bar the trained model must clear at `evaluate`.
    """
    prior = dumb_baseline(prepared)["val"]["loss"]
    if references.fits(prepared):
        found, outputs = references.score_references(prepared, config.check.reference_rows, config.seed)
        save_reference_outputs(run_dir, outputs)
        bar = min(found, key=lambda name: found[name]["val"].get("loss", np.inf))
        scores, what = found[bar]["val"], found[bar]["what"]
        measured = {"val": scores, "test": found[bar]["test"], "bar": bar, "references": found,
                    "training_examples": found[bar]["training_examples"], "of_training_split": prepared.size("train"),
                    "capped_by": found[bar]["capped_by"]}
    else:
        model = compile_model(simple_model(spec), config, learning_rate=config.check.simple_model_learning_rate,
                              jit_compile=False)
        train, _ = train_datasets(config, prepared)
        step_losses(model, train, config.check.baseline_steps)
        val = evaluation_dataset(prepared, "val")
        scores = score_predictions(prepared.task, prepared.labels("val"), inference_outputs(model, val))
        what = f"a Keras linear model ({config.check.baseline_steps} steps)"
        measured = {"val": scores, "bar": "linear", "steps": config.check.baseline_steps}
    ok = scores["loss"] < SIMPLE_MODEL_MARGIN * prior
    measured["beats_priors"] = ok  # B2 reads it: no signal found here softens its fail
    if ok:
        others = "; ".join(f"{r['what']}: {r['val']['loss']:.4g}" for name, r in measured.get("references", {}).items()
                           if name != measured["bar"])
        advice = (f"The bar the real model must clear: {what}, val loss {scores['loss']:.4g}"
                  + (f" (the other reference, {others})." if others else ".")
                  + (f" Fitted on {measured['training_examples']:,} of the {prepared.size('train'):,} training rows "
                     f"(capped by {measured['capped_by']}): the references at full strength may do better."
                     if measured.get("capped_by") else ""))
    else:
        advice = (f"The best simple model, {what}, does not beat the priors (val loss {scores['loss']:.4g} against "
                  f"{prior:.4g}): the inputs carry no signal it finds, or they do not match the labels (D9).")
    skipped = measured.get("references", {}).get("linear", {}).get("skipped", {})
    advice += "".join(f" Gradient {name}: {why}." for name, why in skipped.items())
    return verdict("B3", "pass" if ok else "warn", measured=measured,
                   expected=f"below {SIMPLE_MODEL_MARGIN:g} x the priors' val loss {prior:.4g} (B1); the model "
                   "must beat these scores", advice=advice)


def save_reference_outputs(run_dir: Path, outputs: dict[str, dict[str, np.ndarray]]) -> None:
    """B3's references' outputs as `<name>_<split>` arrays of one .npz (read by evaluate.py)."""
    arrays = {f"{name}_{split}": values for name, splits in outputs.items() for split, values in splits.items()}
    with writing_whole(run_dir / RunFiles.REFERENCE_OUTPUTS) as partial, partial.open("wb") as handle:
        np.savez(handle, **arrays)


def load_human_labels(path: Path, prepared: Prepared) -> np.ndarray:
    """B4: a second annotation, .npy or .csv (one label a row, an optional header row), of the
    test split in its order (the order the source yields them), or of every example the
    source yields (then the test split's rows are taken). Class names or ids."""
    if not path.is_file():
        raise UserError(f"data.human_labels: file not found: {path}")
    if path.suffix == ".npy":
        try:
            raw = np.load(path, allow_pickle=False).reshape(-1)
        except ValueError as err:  # an object array, a file that is not .npy
            raise UserError(f"data.human_labels {path}: not a plain .npy array ({err})") from None
    else:
        with path.open(newline="") as handle:
            rows = [row[0].strip() for row in csv.reader(handle) if row and row[0].strip()]
        raw = np.asarray(rows[1:] if rows and not _is_label(rows[0], prepared) else rows)
    test = prepared.indices["test"]
    everything = prepared.source_size
    if len(raw) == everything and len(raw) != len(test):
        raw = raw[prepared.manifest.positions[test]]
    if len(raw) != len(test):
        raise UserError(f"data.human_labels {path}: {len(raw)} labels, but the test split has {len(test)} examples "
                        f"and the data {everything}")
    if prepared.task == "regression":
        try:
            labels = raw.astype("float32")
        except ValueError:
            raise UserError(f"data.human_labels {path}: regression labels must be numbers") from None
        if not np.isfinite(labels).all():
            raise UserError(f"data.human_labels {path}: NaN or Inf at row {int(np.argmin(np.isfinite(labels)))}")
        return labels
    names = {name: i for i, name in enumerate(prepared.class_names)}
    labels = np.array([names[v] if v in names else _as_int(v) for v in raw.astype(str)], "int64")
    bad = np.flatnonzero((labels < 0) | (labels >= prepared.num_classes))
    if len(bad):
        raise UserError(f"data.human_labels {path}: label {raw[bad[0]]!r} at row {int(bad[0])} is not one of the "
                        f"{prepared.num_classes} classes")
    return labels


def _as_int(value: str) -> int:
    try:
        number = float(value)
    except ValueError:
        return -1  # not a class: reported by the caller with its row
    return int(number) if number.is_integer() else -1


def _is_label(text: str, prepared: Prepared) -> bool:
    if text in prepared.class_names:
        return True
    try:
        float(text)
    except ValueError:
        return False
    return True


def human_outputs(task: str, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Hard human answers as the model's outputs: near-certain logits, or the target."""
    if task == "regression":
        return labels[:, None]
    if task == "binary":
        return np.where(labels > 0, 30.0, -30.0)[:, None].astype("float32")
    return (30.0 * (np.eye(num_classes)[labels] - 1)).astype("float32")


def check_human_baseline(prepared: Prepared, config: Config) -> Verdict:
    """B4: a second annotation of the test split scored with the project's metrics.

    The loss of hard answers says little for classes (a wrong answer costs a fixed 30 nats), so
    only the metrics are kept there; regression keeps its MSE.

    Args:
        prepared: The run's data; the test split's labels are the truth the annotation is
            scored against.
        config: The run's configuration; `data.human_labels` is the annotation's file (.npy or
            .csv).

    Returns:
        The B4 verdict: `info`: a level to aim for, which judges nothing by itself. Skip when
        `data.human_labels` is not set.
    """
    if not config.data.human_labels:
        return verdict("B4", "skip",
                       advice="data.human_labels is not set: give it a second annotation of the test split to score")
    labels = load_human_labels(Path(config.data.human_labels), prepared)
    outputs = human_outputs(prepared.task, labels, prepared.num_classes)
    scores = score_predictions(prepared.task, prepared.labels("test"), outputs)
    if prepared.task != "regression":
        scores.pop("loss")
    return verdict("B4", "info", measured={"test": scores, "examples": len(labels)},
                   expected="the trained model's test scores (evaluate) against these",
                   advice="A second annotator scores this on the test split: the level a model can aim for.")


def check_beats_simple_model(run_dir: Path, model_val_loss: float, compared: dict[str, Comparison]) -> Verdict:
    """B3 after training: the model against the best simple model that `check` scored in the same run folder.

    The simple model is scikit-learn's linear model or gradient boosting on tables and small
    images; a Keras linear model on larger images.

    On the test rows the two are compared pairwise (`compare_on_test`): pass when the model is
    better beyond chance, warn when the reference is. Between the two, level on test, the val
    losses decide as before this comparison existed: warn when the reference's is lower. Warn,
    never fail: a short run may not have caught up yet, but a model that a simpler one beats is
    not done.

    Args:
        run_dir: The run folder whose B3 verdict from `check` holds the simple model's val loss.
        model_val_loss: The trained model's loss on the whole val split.
        compared: The model against each reference on the test rows, by name (`compare_on_test`);
            a reference without an entry counts as level, and the val losses decide.

    Returns:
        The B3 verdict at `evaluate`: pass when the model is better on test beyond chance, or
        level on test with a val loss below the reference's; warn otherwise. Skip when `check`
        has not run in `run_dir`.
    """
    simple = next((v for v in read_verdicts(run_dir) if v.id == "B3" and v.stage == "check"), None)
    if simple is None or not isinstance(simple.measured, dict) or "val" not in simple.measured:
        return verdict("B3", "skip", advice="`check` has not run in this run folder: run it to get the "
                       "simple model's score to compare with.", stage="evaluate")
    bar = float(simple.measured["val"]["loss"])
    name = simple.measured.get("bar", "linear")
    what = simple.measured.get("references", {}).get(name, {}).get("what", f"the {name} model")
    ratio = model_val_loss / bar if bar > 0 else float("inf")
    on_test = compared.get(name)
    outcome = on_test.outcome if on_test else "level"
    ok = outcome == "better" or (outcome == "level" and model_val_loss < bar)
    measured = {"model_val_loss": round(model_val_loss, 5), "against": name, "ratio_to_it": round(ratio, 3),
                "on_test": on_test.as_record() if on_test else "no per-row outputs of it in this run folder"}
    if on_test:
        said = comparison_words(what, on_test)
        said = f"On the test split the model is {said}."
    else:
        said = "No paired comparison on test (`check` kept no outputs of this reference)."
    if ok:
        advice = f"{said} Its val loss is {1 - ratio:.1%} below {what}'s ({bar:.4g})." if ratio < 1 else said
    else:
        remedy = "train longer, or try the rate that `check --lr-find` (T10) suggests, before adding capacity."
        advice = (f"{said} " + (remedy[0].upper() + remedy[1:] if outcome == "worse" else
                                f"On val, {what} (val loss {bar:.4g}, from `check`) still beats or matches the trained "
                                f"model ({model_val_loss:.4g}, {ratio - 1:+.1%}): {remedy}"))
    return verdict("B3", "pass" if ok else "warn", measured=measured,
                   expected={"below_simple_model_val_loss": round(bar, 5),
                             "on_test": "a paired 95% interval of the loss difference below zero"},
                   advice=advice, stage="evaluate")


@registers("check", "B1")
def _b1_check(c: Context) -> Verdict:
    return check_dumb_baseline(c.prepared)


@registers("check", "B4")
def _b4(c: Context) -> Verdict:
    return check_human_baseline(c.prepared, c.config)


@registers("check", "B2")
def _b2(c: Context) -> Verdict:
    simple = next((v for v in c.earlier if v.id == "B3"), None)  # B3 runs just before: did it find signal?
    signal = None if simple is None or not isinstance(simple.measured, dict) else simple.measured.get("beats_priors")
    return mode_gap_first(check_input_independent(c.model, c.prepared, c.config, c.run_dir, signal), c.earlier)


@registers("check", "B3")
def _b3_check(c: Context) -> Verdict:
    return check_simple_model(c.spec, c.prepared, c.config, c.run_dir)


@registers("evaluate", "B1")
def _b1_evaluate(c: EvaluateContext) -> Verdict:
    return mode_gap_first(check_beats_dumb_baseline(c.prepared, c.scores["val"]["loss"]), c.earlier)


@registers("evaluate", "B3")
def _b3_evaluate(c: EvaluateContext) -> Verdict:
    return mode_gap_first(check_beats_simple_model(c.run_dir, c.scores["val"]["loss"], c.compared), c.earlier)
