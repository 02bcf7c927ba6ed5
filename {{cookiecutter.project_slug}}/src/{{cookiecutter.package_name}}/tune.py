"""O3: KerasTuner random search over the space declared in `tune:` of the config.

Every trial builds its model with the same builder, data pipeline and train-only
statistics as `train`. The search lives in `<run>/tuner/`; running `tune` again on
the same run folder resumes it without redoing finished trials (KerasTuner's own
`overwrite=False`). Several processes share one search through KerasTuner's
chief/worker mode (KERASTUNER_TUNER_ID, KERASTUNER_ORACLE_IP, KERASTUNER_ORACLE_PORT):
the chief serves the oracle, the workers run trials.
"""

from __future__ import annotations

import copy
import csv
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import keras
import keras_tuner
import numpy as np

from .bucket_runs import PushEachEpoch, in_bucket
from .callbacks import recipe_callbacks, recipe_verdicts
from .config import Config, dump_config, with_values
from .cross_validation import fold_ids, fold_prepared
from .data import Prepared
from .data.batching import auto_batch_size
from .data.pipeline import fit_inputs, train_datasets
from .errors import UserError
from .models import build_model, compile_model, metrics_for, probabilities, resolve_builder
from .plots import new_figure, save_figure
from .precision import jit_setting
from .registry import registers, run_checks
from .resolve import resolve
from .rundir import RunFiles, write_whole, writing_whole
from .runtime import seed_everything
from .schedule import steps_per_epoch
from .verdicts import Verdict, read_verdicts, verdict, write_verdicts

TUNERS = {"random": keras_tuner.RandomSearch, "bayesian": keras_tuner.BayesianOptimization}
SEARCH_FILE = "search.json"  # what the search in a tuner folder is about, to refuse a foreign one


HYPERPARAMETERS = ["learning_rate", "hidden_units", "depth", "dropout", "weight_decay", "batch_size"]


class RecipeHyperModel(keras_tuner.HyperModel):
    """The project's model, with its hyperparameters drawn from the declared search space."""

    def __init__(self, config: Config, prepared: Prepared, owners_dir: Path | None = None,
                 trials_dir: Path | None = None):
        super().__init__(name="recipe")
        self.config = config
        self.prepared = prepared
        self.owners_dir = owners_dir
        self.trials_dir = trials_dir or Path(RunFiles.TRIALS)

    def trial_config(self, hp: keras_tuner.HyperParameters) -> Config:
        space = self.config.tune
        # the table model keeps its own keys (its defaults are RealMLP's, not the mlp's)
        table_model = resolve_builder(self.config, self.prepared.kind) == "tabular"
        units, depth, dropout = ("tabular_units", "tabular_depth", "tabular_dropout") if table_model else (
            "hidden_units", "depth", "dropout")
        # KerasTuner's Choice holds values of one type: the batch sizes go in as text ("auto", "64")
        batch = hp.Choice("batch_size", [str(b) for b in space.batch_size])
        return with_values(self.config, {
            "train.learning_rate": hp.Float("learning_rate", *space.learning_rate, sampling="log"),
            f"model.{units}": hp.Choice("hidden_units", space.hidden_units),
            f"model.{depth}": hp.Int("depth", *space.depth),
            f"model.{dropout}": hp.Float("dropout", *space.dropout),
            "train.weight_decay": hp.Choice("weight_decay", space.weight_decay),
            "data.batch_size": (auto_batch_size(self.prepared.kind, self.prepared.size("train")) if batch == "auto"
                                else int(batch)),
        })

    def build(self, hp: keras_tuner.HyperParameters) -> keras.Model:
        return _compiled(self.trial_config(hp), self.prepared)

    def fit(self, hp, model, *args, **kwargs):
        """A trial trains as `train` does: the same pipeline (at the trial's batch size) and
        train-only statistics, and the same recipe callbacks (T6-T12), whose verdicts go into
        the trial's own folder. A trial whose loss goes non-finite fails with the reason, so
        KerasTuner records it as failed and the search goes on."""
        trial_id = kwargs.pop("trial_id", None)
        maximise = kwargs.pop("maximise", False)
        config = self.trial_config(hp)
        trial_dir = self.trials_dir / str(trial_id)
        trial_dir.mkdir(parents=True, exist_ok=True)
        if self.owners_dir is not None and trial_id is not None:
            self.owners_dir.mkdir(parents=True, exist_ok=True)
            write_whole(self.owners_dir / f"{trial_id}.txt", os.environ.get("KERASTUNER_TUNER_ID", "local"))
        if config.tune.folds > 1:
            return self._fit_folds(config, trial_dir, maximise, kwargs)
        return self._fit_watched(config, model, self.prepared, trial_dir, kwargs)

    def _fit_watched(self, config: Config, model: keras.Model, prepared: Prepared, trial_dir: Path,
                     kwargs: dict) -> keras.callbacks.History:
        """One fit on `prepared`'s train and val, watched by the recipe callbacks (their verdicts
        in the trial's folder); a non-finite loss fails the trial with its reason."""
        train_ds, val_ds = train_datasets(config, prepared)
        monitors = recipe_callbacks(config, prepared, trial_dir)
        kwargs = {**kwargs, "callbacks": list(kwargs.get("callbacks", [])) + monitors}
        history = model.fit(**fit_inputs(train_ds, val_ds, prepared, config.data.batch_size),
                            **{k: v for k, v in kwargs.items() if k not in ("validation_data",)})
        verdicts = recipe_verdicts(monitors)
        write_verdicts(trial_dir, "tune", verdicts)
        _refuse_non_finite(history, verdicts)
        return history

    def _fit_folds(self, config: Config, trial_dir: Path, maximise: bool, kwargs: dict) -> dict[str, float]:
        """tune.folds: one model a fold (train.folds' folds, statistics from the fold's own
        training rows), each early-stopped on its fold; the trial scores the mean of their best
        objectives. The first fold is watched and saved as the trial's model (KerasTuner's
        checkpoint callback is in its callbacks); the others get a copy of the early stopping."""
        count, objective = config.tune.folds, config.tune.objective
        folds = fold_ids(self.prepared, config.data.split, count)
        callbacks = list(kwargs.get("callbacks", []))
        stopping = [c for c in callbacks if isinstance(c, keras.callbacks.EarlyStopping)]
        best = []
        fit_options = {name: value for name, value in kwargs.items() if name not in ("validation_data", "callbacks")}
        for fold in range(count):
            held_out = fold_prepared(self.prepared, folds, fold, config, count)
            model = _compiled(config, held_out)
            if fold == 0:
                history = self._fit_watched(config, model, held_out, trial_dir, kwargs)
            else:
                train_ds, val_ds = train_datasets(config, held_out)
                history = model.fit(**fit_inputs(train_ds, val_ds, held_out, config.data.batch_size), **fit_options,
                                    callbacks=[copy.deepcopy(c) for c in stopping])
                _refuse_non_finite(history, [])
            values = history.history.get(objective, [])
            best.append(float(max(values) if maximise else min(values)))
        write_whole(trial_dir / "folds.json", json.dumps({"objective": objective, "best_per_fold": best}, indent=2))
        return {objective: float(np.mean(best))}


def _compiled(config: Config, prepared: Prepared) -> keras.Model:
    """A trial's model for `prepared`'s data (the val split's, or a fold's), compiled for the
    trial's epochs."""
    total_steps = config.tune.epochs * steps_per_epoch(prepared.size("train"), config.data.batch_size)
    return compile_model(build_model(config, prepared), config, jit_compile=jit_setting(config),
                         total_steps=total_steps)


def _refuse_non_finite(history: keras.callbacks.History, verdicts: list[Verdict]) -> None:
    losses = history.history.get("loss", [])
    if not losses or not all(math.isfinite(v) for v in losses):
        nan = next((v for v in verdicts if v.id == "T9" and v.status == "fail"), None)
        raise keras_tuner.errors.FailedTrialError(
            f"the training loss went non-finite (losses per epoch: {losses})"
            + (f": {nan.advice}" if nan else "; lower the learning rate"))


class _RecipeTunerMixin:
    """Hands the hypermodel the trial id (to record which worker ran the trial) and the
    objective's direction (to pick each fold's best epoch with tune.folds)."""

    def run_trial(self, trial, *args, **kwargs):
        kwargs["trial_id"] = trial.trial_id
        kwargs["maximise"] = self.oracle.objective.direction == "max"
        return super().run_trial(trial, *args, **kwargs)


def _tuner_class(algorithm: str):
    base = keras_tuner.Hyperband if algorithm == "hyperband" else TUNERS[algorithm]
    return type(f"Recipe{base.__name__}", (_RecipeTunerMixin, base), {})


def valid_objectives(task: str) -> list[str]:
    names = ["loss"] + [m.name for m in metrics_for(task)]
    return names + [f"val_{n}" for n in names]


def _check_search_identity(config: Config, tuner_dir: Path) -> None:
    """A tuner folder made by another search would mix its trials into this one."""
    identity = {"task": config.task, "data": config.data.model_dump(mode="json"),
                "model": config.model.builder, "tune": config.tune.model_dump(mode="json")}
    path = tuner_dir / SEARCH_FILE
    if path.exists():
        previous = json.loads(path.read_text())
        if previous != identity:
            changed = sorted(k for k in identity if identity[k] != previous.get(k))
            raise UserError(
                f"{tuner_dir} holds a different search (changed: {', '.join(changed)}); "
                "use a new --run-dir, or the config that search was started with"
            )
    else:
        tuner_dir.mkdir(parents=True, exist_ok=True)
        write_whole(path, json.dumps(identity, indent=2))


def _save_json_whole(path, obj) -> str:
    """keras_tuner's `utils.save_json`, written beside the file and renamed over it: KerasTuner
    rewrites oracle.json and trial.json in place, and a search killed during that write left an
    empty oracle.json that no resume could read (JSONDecodeError; seen under load in CI)."""
    text = json.dumps(obj)
    write_whole(Path(path), text)
    return text


def make_tuner(config: Config, prepared: Prepared, run_dir: Path) -> keras_tuner.Tuner:
    # A patch of the library rather than code of our own: KerasTuner's Stateful.save and its tuner
    # call this one function for every state file, and a search must survive a kill at any moment.
    keras_tuner.src.utils.save_json = _save_json_whole
    space = config.tune
    if space.objective not in valid_objectives(config.task):
        raise UserError(f"tune.objective {space.objective!r} is not logged by this model; "
                        f"use one of {', '.join(valid_objectives(config.task))}")
    tuner_dir = run_dir / RunFiles.TUNER
    _check_search_identity(config, tuner_dir)
    common = dict(objective=space.objective, seed=config.seed, directory=str(tuner_dir), project_name="search",
                  overwrite=False, max_consecutive_failed_trials=space.max_consecutive_failed_trials)
    hypermodel = RecipeHyperModel(config, prepared, owners_dir=tuner_dir / "owners",
                                  trials_dir=run_dir / RunFiles.TRIALS)
    if space.algorithm == "hyperband":
        return _tuner_class("hyperband")(hypermodel, max_epochs=space.epochs, **common)
    return _tuner_class(space.algorithm)(hypermodel, max_trials=space.max_trials,
                                         executions_per_trial=space.executions_per_trial, **common)


class TrialProgress(keras.callbacks.Callback):
    """A line after every trial of a search: how many are done, the last epoch's objective,
    the time so far and left. KerasTuner deep-copies the callbacks for each trial; this one
    returns itself from the copy, so that one counter sees them all.

    Args:
        trials: Trials the search will run at most; None when not known ahead (hyperband).
        objective: The logged value each line reports.
    """

    def __init__(self, *, trials: int | None, objective: str):
        super().__init__()
        self.trials, self.objective, self.done = trials, objective, 0  # trials: None when not known ahead
        self.start = time.monotonic()

    def __deepcopy__(self, memo):
        return self

    def on_train_end(self, logs=None):
        self.done += 1
        value = (logs or {}).get(self.objective)
        score = f", {self.objective} {value:.4g} at its last epoch" if isinstance(value, (int, float)) else ""
        elapsed = time.monotonic() - self.start
        if self.trials:
            left = elapsed * max(self.trials - self.done, 0) / self.done
            print(f"tune: {self.done} of at most {self.trials} trial runs done{score}; {elapsed:.0f} s so far, "
                  f"about {left:.0f} s left", flush=True)
        else:
            print(f"tune: {self.done} trial runs done{score}; {elapsed:.0f} s so far", flush=True)


def is_worker() -> bool:
    """A worker of a distributed search: it runs trials, the chief reports."""
    tuner_id = os.environ.get("KERASTUNER_TUNER_ID", "")
    return "KERASTUNER_ORACLE_IP" in os.environ and "chief" not in tuner_id


def tune(config: Config, prepared: Prepared, run_dir: Path) -> list[Verdict] | None:
    resolved = resolve(config, prepared)  # as tune_config.yaml records it; each trial sets its own batch and rate
    config = resolved.config
    seed_everything(config.seed)
    tuner = make_tuner(config, prepared, run_dir)
    dump_config(resolved.written, run_dir / RunFiles.TUNE_CONFIG)
    stop_early = keras.callbacks.EarlyStopping(monitor=config.tune.objective,
                                               patience=config.tune.early_stopping_patience)
    # Each trial builds its own datasets (its batch size is a hyperparameter): RecipeHyperModel.fit.
    runs = None if config.tune.algorithm == "hyperband" else config.tune.max_trials * config.tune.executions_per_trial
    progress = TrialProgress(trials=runs, objective=config.tune.objective)
    mirror = in_bucket(run_dir)  # a run folder in a bucket: each epoch's trial files sent after it
    pushes = [PushEachEpoch(mirror)] if mirror is not None else []
    tuner.search(epochs=config.tune.epochs, callbacks=[stop_early, progress, *pushes], shuffle=False, verbose=0)
    if is_worker():
        return None
    return run_checks("tune", TuneContext(config, prepared, tuner, run_dir))


def trial_table(tuner: keras_tuner.Tuner, run_dir: Path) -> list[dict]:
    owners = run_dir / RunFiles.TUNER / "owners"
    rows = []
    for trial in sorted(tuner.oracle.trials.values(), key=lambda t: t.trial_id):
        owner = owners / f"{trial.trial_id}.txt"
        reason = (trial.message or "").strip().splitlines()[-1:] if trial.status != "COMPLETED" else []
        rows.append({"trial": trial.trial_id, "status": trial.status, "score": trial.score,
                     "worker": owner.read_text() if owner.exists() else "",
                     "recipe_checks": _recipe_summary(run_dir / RunFiles.TRIALS / trial.trial_id),
                     **trial.hyperparameters.values, "reason": reason[0] if reason else ""})
    return rows


def _recipe_summary(trial_dir: Path) -> str:
    """The trial's T6-T12 verdicts in a few words: `pass`, or the ids that warned or failed."""
    verdicts = read_verdicts(trial_dir)
    flagged = [f"{v.id} {v.status}" for v in verdicts if v.status in ("warn", "fail")]
    return "; ".join(flagged) if flagged else ("pass" if verdicts else "")


@dataclass
class TuneContext:
    """What the search's check judges: the finished search and the run it belongs to."""

    config: Config
    prepared: Prepared
    tuner: keras_tuner.Tuner
    run_dir: Path
    earlier: list = field(default_factory=list)


@registers("tune", "O3")
def _o3(c: TuneContext) -> Verdict:
    return check_search(c.config, c.prepared, c.tuner, c.run_dir)


def check_search(config: Config, prepared: Prepared, tuner: keras_tuner.Tuner, run_dir: Path) -> Verdict:
    rows = trial_table(tuner, run_dir)
    with writing_whole(run_dir / RunFiles.TRIALS_TABLE) as partial, partial.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=sorted({k for row in rows for k in row}))
        writer.writeheader()
        writer.writerows(rows)
    completed = [r for r in rows if r["status"] == "COMPLETED" and r["score"] is not None]
    if not completed:
        return verdict("O3", "fail", measured={"trials": len(rows), "completed": 0, "table": rows},
                       expected="at least one completed trial",
                       advice="No trial completed: run `check` on the base configuration first.")
    best_trial = tuner.oracle.get_best_trials(1)[0]
    best_config = RecipeHyperModel(config, prepared).trial_config(best_trial.hyperparameters)
    dump_config(best_config, run_dir / RunFiles.BEST_CONFIG)
    plot = _plot_search(rows, config.tune.objective, run_dir)
    failed = len(rows) - len(completed)
    return verdict(
        "O3", "warn" if failed else "pass",
        measured={"trials": len(rows), "completed": len(completed), "failed": failed,
                  "best": best_trial.hyperparameters.values, "best_score": best_trial.score, "table": rows},
        expected=f"{config.tune.max_trials} trials ({config.tune.algorithm}), {config.tune.objective} on the val split",
        advice=(f"{failed} trial(s) failed (see trials.csv for the reasons). " if failed else "")
        + f"Train the best configuration: `train --config {run_dir / 'best_config.yaml'}`.",
        plots=[plot],
    )


def _plot_search(rows: list[dict], objective: str, run_dir: Path) -> str:
    """The objective against each hyperparameter: where the good region is, at a glance."""
    names = [n for n in HYPERPARAMETERS if len({r.get(n) for r in rows}) > 1] or ["learning_rate"]
    fig, axes = new_figure(width=3 * len(names), height=3, ncols=len(names), sharey=True)
    done = [r for r in rows if r["score"] is not None and math.isfinite(r["score"])]
    for ax, name in zip(np.atleast_1d(axes), names, strict=True):
        ax.scatter([r[name] for r in done], [r["score"] for r in done])
        ax.set_xlabel(name)
        if name == "learning_rate":
            ax.set_xscale("log")
    np.atleast_1d(axes)[0].set_ylabel(objective)
    fig.suptitle(f"O3 random search: {objective} of each completed trial")
    return save_figure(fig, run_dir, "O3_search")


def ensemble_outputs(task: str, member_outputs: list[np.ndarray]) -> np.ndarray:
    """O4: average the members' probabilities (not logits) and return them as logits again,
    so the project's losses and metrics score the ensemble like any model."""
    stacked = np.stack([np.asarray(o, "float64") for o in member_outputs])
    if task == "regression":
        return stacked.mean(axis=0)
    mean = probabilities(stacked, task, None).mean(axis=0)
    if task == "binary":
        p = np.clip(mean, 1e-7, 1 - 1e-7)
        return np.log(p / (1 - p))
    return np.log(np.clip(mean, 1e-7, 1.0))
