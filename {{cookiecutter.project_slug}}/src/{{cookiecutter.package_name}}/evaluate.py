"""T13: score the trained model on the whole val split, and on the test split once; then look
at its mistakes on val (E1-E3) and at the labels that its val and test predictions
contradict (D12)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import keras
import numpy as np

from .baselines import check_beats_dumb_baseline
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
    scores, seen, outputs = {}, {}, {}
    for split in ("val", "test"):
        outputs[split] = predict_split(model, prepared, split, config.data.batch_size)
        scores[split] = score_predictions(prepared.task, prepared.labels(split), outputs[split])
        seen[split] = len(outputs[split])
    record = {"scores": scores, "examples": seen, "test_scored_at": previous.get("test_scored_at", [])
              + [time.strftime("%Y-%m-%dT%H:%M:%S")]}
    write_whole(record_path, json.dumps(record, indent=2))
    return [judge_full_set(prepared, seen, record["test_scored_at"], scores),
            check_beats_dumb_baseline(prepared, scores["val"]["loss"]),
            check_beats_simple_model(run_dir, scores["val"]["loss"]),
            *check_errors(prepared, prepared.labels("val"), outputs["val"], config.evaluate, run_dir),
            check_held_out_label_issues(prepared, outputs, config.inspect.label_issues_warn, run_dir)]


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


def check_beats_simple_model(run_dir: Path, model_val_loss: float) -> Verdict:
    """B3 after training: the model's full-val loss against the best simple model that `check`
    scored in the same run folder (scikit-learn's linear model or gradient boosting on tables
    and small images; a Keras linear model on larger images), and by how much. Warn, not
    fail: a short run may not have caught up yet, but a model that a simpler one beats is not
    done."""
    simple = next((v for v in read_verdicts(run_dir) if v.id == "B3" and v.stage == "check"), None)
    if simple is None or not isinstance(simple.measured, dict) or "val" not in simple.measured:
        return verdict("B3", "skip", advice="`check` has not run in this run folder: run it to get the "
                       "simple model's score to compare with.", stage="evaluate")
    bar = float(simple.measured["val"]["loss"])
    name = simple.measured.get("bar", "linear")
    what = simple.measured.get("references", {}).get(name, {}).get("what", f"the {name} model")
    ok = model_val_loss < bar
    ratio = model_val_loss / bar if bar > 0 else float("inf")
    return verdict("B3", "pass" if ok else "warn",
                   measured={"model_val_loss": round(model_val_loss, 5), "against": name,
                             "ratio_to_it": round(ratio, 3)},
                   expected={"below_simple_model_val_loss": round(bar, 5)},
                   advice=f"The model's val loss is {1 - ratio:.1%} below {what}'s ({bar:.4g})." if ok else
                   f"{what[0].upper() + what[1:]} (val loss {bar:.4g}, from `check`) still beats the trained "
                   f"model ({model_val_loss:.4g}, {ratio - 1:.1%} above it): train longer, or try the rate that "
                   "`check --lr-find` (T10) suggests, before adding capacity.", stage="evaluate")


def judge_full_set(prepared: Prepared, seen: dict[str, int], test_scored_at: list[str],
                   scores: dict[str, dict[str, float]]) -> Verdict:
    """Every val and test example was scored, and the test split was scored once only."""
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
    return verdict("T13", status,
                   measured={"examples_scored": seen, "scores": scores, "test_scored_times": len(test_scored_at)},
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
