"""T13: score the trained model on the whole val split, and on the test split once, each score
with its bootstrap interval; compare it with the baselines on the same test rows (B1, B3: paired
intervals); then look at its mistakes on val (E1-E3) and at the labels that its val and test
predictions contradict (D12)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import keras
import numpy as np

from .baselines import check_beats_dumb_baseline, dumb_outputs
from .bootstrap import (
    BASELINE_NAMES,
    CONFIDENCE,
    Comparison,
    bootstrap_scores,
    comparison_words,
    paired_difference,
    row_losses,
)
from .checks.error_analysis import check_errors
from .checks.label_issues import judge_label_issues
from .config import Config
from .data import Prepared
from .data.batching import settle_for
from .data.loaders import import_callable
from .data.pipeline import evaluation_dataset
from .errors import UserError
from .models import class_probabilities, score_predictions
from .rundir import RunFiles, write_whole
from .verdicts import Verdict, read_verdicts, verdict


def load_trained_model(run_dir: Path, builder: str = "auto") -> keras.Model:
    """best.keras. A builder of the user's (`my_module:build`) is imported first: the custom
    layers it registers with keras.saving must exist before the file can be read back."""
    path = run_dir / RunFiles.BEST_MODEL
    if not path.exists():
        raise UserError(f"no trained model at {path}; run `train` with --run-dir {run_dir} first")
    if ":" in builder:
        import_callable(builder, "model.builder")
    return keras.models.load_model(path)


def predict_split(model: keras.Model, prepared: Prepared, split: str, batch_size: int) -> np.ndarray:
    """Outputs for every example of a split, in its order, streamed batch by batch."""
    return model.predict(evaluation_dataset(prepared, split, batch_size), verbose=0)


def evaluate(prepared: Prepared, run_dir: Path, config: Config) -> list[Verdict]:
    """T13, B1, B3, E1-E3 and D12 for the model `train` left in the run folder."""
    settle_for(config, prepared)
    model = load_trained_model(run_dir, config.model.builder)
    record_path = run_dir / RunFiles.EVALUATION
    previous = json.loads(record_path.read_text()) if record_path.exists() else {}
    scores, seen, outputs, intervals = {}, {}, {}, {}
    for split in ("val", "test"):
        outputs[split] = predict_split(model, prepared, split, config.data.batch_size)
        labels = prepared.labels(split)
        scores[split] = score_predictions(prepared.task, labels, outputs[split])
        intervals[split] = {name: found.as_record() for name, found in
                            bootstrap_scores(prepared.task, labels, outputs[split], config.seed).items()}
        seen[split] = len(outputs[split])
    compared = compare_on_test(prepared, run_dir, outputs["test"], config.seed)
    record = {"scores": scores, "intervals": intervals, "confidence": CONFIDENCE, "examples": seen,
              "test_compared_with": {name: c.as_record() for name, c in compared.items()},
              "test_scored_at": previous.get("test_scored_at", []) + [time.strftime("%Y-%m-%dT%H:%M:%S")]}
    write_whole(record_path, json.dumps(record, indent=2))
    return [judge_full_set(prepared, seen, record["test_scored_at"], scores, intervals),
            check_beats_dumb_baseline(prepared, scores["val"]["loss"]),
            check_beats_simple_model(run_dir, scores["val"]["loss"], compared),
            *check_errors(prepared, prepared.labels("val"), outputs["val"], config.evaluate, run_dir),
            check_held_out_label_issues(prepared, outputs, config.inspect.label_issues_warn, run_dir)]


def reference_test_outputs(prepared: Prepared, run_dir: Path) -> dict[str, np.ndarray]:
    """The baselines' outputs on the test rows: the priors (B1), and B3's references as `check`
    saved them in this run folder (none when `check` did not run here, or scored another split)."""
    rows = prepared.size("test")
    found = {"priors": dumb_outputs(prepared, rows)}
    path = run_dir / RunFiles.REFERENCE_OUTPUTS
    if path.exists():
        with np.load(path) as saved:
            found |= {key.removesuffix("_test"): saved[key] for key in saved.files
                      if key.endswith("_test") and len(saved[key]) == rows}
    return found


def compare_on_test(prepared: Prepared, run_dir: Path, model_outputs: np.ndarray, seed: int) -> dict[str, Comparison]:
    """The model's test loss against each baseline's on the same rows: a paired bootstrap
    interval of the difference (bootstrap.py), the report's "better than" / "level with"."""
    if prepared.size("test") == 0:
        return {}
    labels = prepared.labels("test")
    mine = row_losses(prepared.task, labels, model_outputs)
    return {name: paired_difference(mine, row_losses(prepared.task, labels, theirs), seed)
            for name, theirs in reference_test_outputs(prepared, run_dir).items()}


def score_lines(record: dict) -> list[str]:
    """evaluation.json for the terminal: each split's scores with their intervals and sizes, then
    the model against each baseline on the test rows."""
    shown = []
    for split, found in record.get("intervals", {}).items():
        cells = [f"{name} {r['value']:.4g} ({r['interval'][0]:.4g} to {r['interval'][1]:.4g})"
                 for name, r in found.items()]
        rows = record["examples"][split]
        shown.append(f"{split} ({rows:,} rows, {record['confidence']:.0%} bootstrap intervals): " + ", ".join(cells))
    for name, comparison in record.get("test_compared_with", {}).items():
        shown.append("  model " + comparison_words(BASELINE_NAMES.get(name, name), Comparison(
            comparison["difference"], *comparison["interval"], comparison["rows"])))
    return shown


def check_held_out_label_issues(prepared: Prepared, outputs: dict[str, np.ndarray], warn_share: float,
                          run_dir: Path) -> Verdict:
    """D12 on val and test together, with the trained model's probabilities: out-of-sample,
    since it never trained on them, and from the strongest model the run has."""
    if prepared.task == "regression":
        return verdict("D12", "skip", stage="evaluate", advice="confident learning needs classes; E1's residuals "
                       "show the examples a regression model cannot fit")
    rows = np.concatenate([prepared.indices["val"], prepared.indices["test"]])
    probs = class_probabilities(np.concatenate([outputs["val"], outputs["test"]]), prepared.task)
    return judge_label_issues(prepared, rows, probs, warn_share, run_dir, "val+test", "trained model")


def check_beats_simple_model(run_dir: Path, model_val_loss: float, compared: dict[str, Comparison]) -> Verdict:
    """B3 after training: the model against the best simple model that `check` scored in the same
    run folder (scikit-learn's linear model or gradient boosting on tables and small images; a
    Keras linear model on larger images).

    On the test rows the two are compared pairwise (`compare_on_test`): pass when the model is
    better beyond chance, warn when the reference is. Between the two, level on test, the val
    losses decide as before this comparison existed: warn when the reference's is lower. Warn,
    never fail: a short run may not have caught up yet, but a model that a simpler one beats is
    not done."""
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


def judge_full_set(prepared: Prepared, seen: dict[str, int], test_scored_at: list[str],
                   scores: dict[str, dict[str, float]], intervals: dict[str, dict] | None = None) -> Verdict:
    """Every val and test example was scored, and the test split was scored once only. The
    record carries the test scores' bootstrap intervals, which the report's headline shows."""
    sizes = {split: len(prepared.indices[split]) for split in seen}
    complete = seen == sizes
    once = len(test_scored_at) == 1
    if not complete:
        status, advice = "fail", "Some examples were not scored: look for drop_remainder, steps= or repeat()."
    elif not once:
        status = "warn"
        advice = (f"The test split has now been scored {len(test_scored_at)} times; choosing a model "
                  "by its test score turns the test set into a validation set.")
    else:
        status, advice = "pass", ""
    test_intervals = {name: r["interval"] for name, r in (intervals or {}).get("test", {}).items()}
    return verdict("T13", status,
                   measured={"examples_scored": seen, "scores": scores, "test_scored_times": len(test_scored_at),
                             "test_intervals": test_intervals},
                   expected={"examples_scored": sizes, "test_scored_times": 1}, advice=advice)


def check_ensemble(prepared: Prepared, run_dir: Path, members: int, batch_size: int) -> Verdict:
    """O4: average the best `members` trials of the run's search; report the gain on val
    over the best single trial. The test split is not touched: ensembling is a choice made
    on val."""
    from .config import load_config
    from .tune import ensemble_outputs, make_tuner

    snapshot = run_dir / RunFiles.TUNE_CONFIG
    if not snapshot.exists():
        raise UserError(f"--ensemble needs a search in {run_dir}: run `tune --run-dir {run_dir}` first")
    tuner = make_tuner(load_config(snapshot), prepared, run_dir)
    models = tuner.get_best_models(members)
    if len(models) < 2:
        raise UserError(f"--ensemble {members}: the search in {run_dir} has {len(models)} completed trial(s)")
    y_val = prepared.labels("val")
    outputs = [predict_split(model, prepared, "val", batch_size) for model in models]
    single = score_predictions(prepared.task, y_val, outputs[0])
    together = score_predictions(prepared.task, y_val, ensemble_outputs(prepared.task, outputs))
    gain = single["loss"] - together["loss"]
    return verdict(
        "O4", "pass" if gain >= 0 else "warn", title=f"Ensemble of the best {len(models)} trials",
        measured={"ensemble_val": together, "best_single_val": single, "val_loss_gain": gain},
        expected="ensemble val loss <= the best single trial's",
        advice="" if gain >= 0 else "Averaging did not help on val: the trials may share their mistakes; "
        "keep the best single model.",
    )
