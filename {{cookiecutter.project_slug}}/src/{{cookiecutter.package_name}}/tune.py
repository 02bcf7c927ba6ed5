"""O3: KerasTuner random search over the space declared in `tune:` of the config.

Every trial builds its model with the same builder, data pipeline and train-only
statistics as `train`. The search lives in `<run>/tuner/`; running `tune` again on
the same run folder resumes it without redoing finished trials (KerasTuner's own
`overwrite=False`).
"""

from __future__ import annotations

from pathlib import Path

import keras
import keras_tuner

from .config import Config, dump_config, with_values
from .data import Prepared
from .models import build_model, compile_model
from .train import jit_setting, seed_everything, train_datasets
from .verdicts import Verdict

TUNERS = {"random": keras_tuner.RandomSearch, "bayesian": keras_tuner.BayesianOptimization}


class RecipeHyperModel(keras_tuner.HyperModel):
    """The project's model, with its hyperparameters drawn from the declared search space."""

    def __init__(self, config: Config, prepared: Prepared):
        super().__init__(name="recipe")
        self.config = config
        self.prepared = prepared

    def trial_config(self, hp: keras_tuner.HyperParameters) -> Config:
        space = self.config.tune
        return with_values(self.config, {
            "train.learning_rate": hp.Float("learning_rate", *space.learning_rate, sampling="log"),
            "model.hidden_units": hp.Choice("hidden_units", space.hidden_units),
            "model.depth": hp.Int("depth", *space.depth),
            "model.dropout": hp.Float("dropout", *space.dropout),
        })

    def build(self, hp: keras_tuner.HyperParameters) -> keras.Model:
        config = self.trial_config(hp)
        model = build_model(config, self.prepared)
        return compile_model(model, config, jit_compile=jit_setting(config))


def make_tuner(config: Config, prepared: Prepared, run_dir: Path) -> keras_tuner.Tuner:
    space = config.tune
    common = dict(objective=space.objective, seed=config.seed, directory=str(run_dir / "tuner"),
                  project_name="search", overwrite=False)
    hypermodel = RecipeHyperModel(config, prepared)
    if space.algorithm == "hyperband":
        return keras_tuner.Hyperband(hypermodel, max_epochs=space.epochs, **common)
    return TUNERS[space.algorithm](hypermodel, max_trials=space.max_trials,
                                   executions_per_trial=space.executions_per_trial, **common)


def tune(config: Config, prepared: Prepared, run_dir: Path) -> list[Verdict]:
    seed_everything(config.seed)
    tuner = make_tuner(config, prepared, run_dir)
    train_ds, val_ds = train_datasets(config, prepared)
    stop_early = keras.callbacks.EarlyStopping(monitor=config.tune.objective, patience=3)
    tuner.search(train_ds, validation_data=val_ds, epochs=config.tune.epochs, callbacks=[stop_early],
                  shuffle=False, verbose=0)
    best_hp = tuner.get_best_hyperparameters(1)[0]
    best_config = RecipeHyperModel(config, prepared).trial_config(best_hp)
    dump_config(best_config, run_dir / "best_config.yaml")
    trials = [
        {"trial": t.trial_id, "status": t.status, "score": t.score, "hyperparameters": t.hyperparameters.values}
        for t in tuner.oracle.trials.values()
    ]
    completed = [t for t in trials if t["score"] is not None]
    return [Verdict(
        "O3", "Random search", "pass" if completed else "fail",
        measured={"trials": len(trials), "completed": len(completed), "best": best_hp.values,
                  "best_score": tuner.oracle.get_best_trials(1)[0].score if completed else None, "table": trials},
        expected=f"{config.tune.max_trials} trials, {config.tune.objective} on the val split",
        advice=f"Train the best configuration with `train --config {run_dir / 'best_config.yaml'}`."
        if completed else "No trial completed: run `check` on the base configuration first.",
    )]
