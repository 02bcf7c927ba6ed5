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

from .bootstrap import (
    BASELINE_NAMES,
    CONFIDENCE,
    Comparison,
    bootstrap_scores,
    comparison_words,
    paired_difference,
    row_losses,
)
from .checks.baselines import dumb_outputs  # the checks package: every runner registered
from .checks.context import EvaluateContext
from .config import Config
from .cross_validation import cross_validation_line, out_of_fold_outputs
from .data import Prepared
from .data.loaders import import_callable
from .data.pipeline import evaluation_dataset
from .errors import UserError
from .models import score_predictions
from .registry import registers, run_checks
from .resolve import resolve
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


def evaluate(prepared: Prepared, run_dir: Path, config: Config, ensemble: int = 0) -> list[Verdict]:
    """T13, B1, B3, E1-E3, D12 and O4 for the model `train` left in the run folder.

    Args:
        prepared: The run's data.
        run_dir: The run folder `train` wrote best.keras to.
        config: The run's config.
        ensemble: O4's members (`evaluate --ensemble N`); 0: O4 is skipped.

    Returns:
        The verdicts of the stage's recipe entries, in the recipe's order.
    """
    config = resolve(config, prepared).config
    model = load_trained_model(run_dir, config.model.builder)
    record_path = run_dir / RunFiles.EVALUATION
    previous = json.loads(record_path.read_text()) if record_path.exists() else {}
    scores, seen, outputs, intervals = {}, {}, {}, {}
    out_of_fold = out_of_fold_outputs(run_dir, prepared.indices["val"])  # a bag has trained on val (train.folds)
    for split in ("val", "test"):
        outputs[split] = (out_of_fold if split == "val" and out_of_fold is not None
                          else predict_split(model, prepared, split, config.data.batch_size))
        labels = prepared.labels(split)
        scores[split] = score_predictions(prepared.task, labels, outputs[split])
        intervals[split] = {name: found.as_record() for name, found in
                            bootstrap_scores(prepared.task, labels, outputs[split], config.seed).items()}
        seen[split] = len(outputs[split])
    compared = compare_on_test(prepared, run_dir, outputs["test"], config.seed)
    record = {"scores": scores, "intervals": intervals, "confidence": CONFIDENCE, "examples": seen,
              "test_compared_with": {name: c.as_record() for name, c in compared.items()},
              "test_scored_at": previous.get("test_scored_at", []) + [time.strftime("%Y-%m-%dT%H:%M:%S")]}
    if out_of_fold is not None:
        record["val_outputs"] = "out of fold: each val row scored by the fold model that did not train on it"
        record["cross_validation"] = json.loads((run_dir / RunFiles.CROSS_VALIDATION).read_text())
    write_whole(record_path, json.dumps(record, indent=2))
    trained = [v for v in read_verdicts(run_dir) if v.stage == "train"]  # T4 there explains B1 and B3 here
    return run_checks("evaluate", EvaluateContext(config, prepared, run_dir, outputs, scores, intervals, seen,
                                                  record["test_scored_at"], compared, ensemble, trained))


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
    if "cross_validation" in record:
        shown.append(cross_validation_line(record["cross_validation"]))
    for name, comparison in record.get("test_compared_with", {}).items():
        shown.append("  model " + comparison_words(BASELINE_NAMES.get(name, name), Comparison(
            comparison["difference"], *comparison["interval"], comparison["rows"])))
    return shown


@registers("evaluate", "O4")
def _o4(c: EvaluateContext) -> Verdict:
    if not c.ensemble:
        return verdict("O4", "skip", advice="averaging the best trials of a search runs when asked: `tune`, then "
                       "`evaluate --ensemble N`")
    return check_ensemble(c.prepared, c.run_dir, c.ensemble, c.config.data.batch_size)


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
    each = [score_predictions(prepared.task, y_val, output) for output in outputs]
    together = score_predictions(prepared.task, y_val, ensemble_outputs(prepared.task, outputs))
    return judge_ensemble(each[0], together, float(np.mean([s["loss"] for s in each])), len(models))


def judge_ensemble(single: dict[str, float], together: dict[str, float], members_mean: float,
                   members: int) -> Verdict:
    """O4's decision: pass when the ensemble's val loss is at most the best single trial's.

    Args:
        single: The best trial's val scores.
        together: The ensemble's val scores.
        members_mean: The members' mean val loss (the ensemble's is never above it: convexity).
        members: How many trials were averaged.

    Returns:
        The O4 verdict.
    """
    gain = single["loss"] - together["loss"]
    return verdict(
        "O4", "pass" if gain >= 0 else "warn", title=f"Ensemble of the best {members} trials",
        measured={"ensemble_val": together, "best_single_val": single, "val_loss_gain": gain,
                  "members_mean_val_loss": members_mean},
        expected="ensemble val loss <= the best single trial's",
        advice="" if gain >= 0 else "Averaging did not help on val: the trials may share their mistakes; "
        "keep the best single model.",
    )
