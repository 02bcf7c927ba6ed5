"""One training run: seed, precision, fit with checkpoints and resume (or one fit a fold and their
bag, train.folds), export for serving."""

from __future__ import annotations

import csv
import shutil
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from .autos import HEADER as AUTOS_HEADER
from .autos import decided_autos
from .backbones import fine_tuning, unfreeze_top
from .bucket_runs import PushEachEpoch, in_bucket
from .callbacks import recipe_callbacks, recipe_verdicts
from .callbacks.tensorboard import EpochTensorBoard
from .checkpoints import Checkpoints, save_model_whole
from .checks import loss_trend  # noqa: F401  (registers T3's runner)
from .config import Config, dump_config, load_config
from .cross_validation import (
    bag_model,
    cross_validation_line,
    fold_finished,
    fold_ids,
    fold_prepared,
    save_fold_outputs,
    write_cross_validation,
)
from .data import Prepared
from .data.pipeline import evaluation_dataset, fit_inputs, train_datasets, train_shards
from .distribute import global_batch_size, is_multi_worker, strategy_for
from .errors import UserError
from .models import build_model, compile_model
from .multi_worker import discard_worker_run_dir, fit_multi_worker, weights_digest, worker_run_dir
from .precision import detect_hardware, jit_setting, resolve_precision
from .registry import run_checks
from .resolve import Resolved, resolve
from .resume import ResumePoint, restore
from .rundir import RunFiles, record_git_commit
from .runtime import seed_everything
from .schedule import learning_rate, planned_epochs, planned_steps
from .serving import export_for_serving
from .train_context import TrainContext
from .verdicts import Verdict, read_verdicts, write_verdicts


def _refuse_to_overwrite(config: Config, run_dir: Path) -> None:
    """A backup left by a run with another config would resume the wrong experiment, and a
    finished run's checkpoints would be overwritten by a new one: both are refused."""
    snapshot = run_dir / RunFiles.TRAIN_CONFIG
    folds_unfinished = (run_dir / RunFiles.FOLDS).is_dir() and not (run_dir / RunFiles.LAST_MODEL).exists()
    if ((run_dir / RunFiles.BACKUP).exists() or folds_unfinished) and snapshot.exists():
        previous = load_config(snapshot)
        if previous != config:
            raise UserError(
                f"{run_dir} holds an unfinished run with a different config ({snapshot}); "
                "resume with that config, or choose a new --run-dir"
            )
    elif (run_dir / RunFiles.LAST_MODEL).exists():
        raise UserError(f"{run_dir} holds a finished training run ({run_dir / RunFiles.LAST_MODEL}); choose a new "
                        "--run-dir (or delete that folder) to train again")


def callbacks_for(config: Config, run_dir: Path, prepared: Prepared, *, watch: bool = True,
                  watch_dir: Path | None = None) -> list[keras.callbacks.Callback]:
    """The checkpoints and Keras' logs, the recipe checks that watch training (T6-T12,
    `monitor:`) after them, so that they see the weights EarlyStopping restores; `train` adds
    the resume backup (O5) last, so that an epoch's backup comes after its log line.

    Args:
        config: The run's config.
        run_dir: Where the checkpoints and logs go (a fold's folder, with train.folds).
        prepared: The data this fit trains on.
        watch: Whether the recipe callbacks watch this fit; with train.folds only the first
            fold is watched, and the others are stopped by TerminateOnNaN alone.
        watch_dir: Where the recipe callbacks write their plots and logs: `run_dir` by default;
            with train.folds, the run folder.

    Returns:
        The callbacks, in order.
    """
    callbacks = [
        # best.json: a resumed run's best so far
        Checkpoints(run_dir, every_seconds=config.train.checkpoint_every_seconds),
        keras.callbacks.CSVLogger(str(run_dir / RunFiles.HISTORY), append=True),
        EpochTensorBoard(str(run_dir / RunFiles.TENSORBOARD), write_graph=False),
    ]
    if config.train.early_stopping:
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=config.train.early_stopping_patience, restore_best_weights=True))
    elif planned_epochs(config, prepared.size("train"), config.data.batch_size) > config.train.epochs:
        # The epochs train.min_steps added end once the val loss has not improved for
        # train.min_steps_patience epochs: best.keras holds the best epoch either way, so this
        # changes what the run costs, not the model it leaves (not a regulariser: O2).
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=config.train.min_steps_patience, start_from_epoch=config.train.epochs))
    watched = recipe_callbacks(config, prepared, watch_dir or run_dir) if watch else [
        keras.callbacks.TerminateOnNaN()]
    return callbacks + watched  # T9 (or TerminateOnNaN) among them


@dataclass
class Fitted:
    """One fit, as the checks of `train` read it."""

    model: keras.Model
    history: keras.callbacks.History
    callbacks: list[keras.callbacks.Callback]
    total_steps: int
    rate: object
    resume_point: ResumePoint


def train(config: Config, prepared: Prepared, run_dir: Path, strategy=None) -> list[Verdict]:
    """One run: a fit, or with train.folds one fit a fold and their bag (cross_validation.py).

    Args:
        config: The run's config.
        prepared: The run's data.
        run_dir: The run folder.
        strategy: distribute.strategy_for(config), made before the data were loaded
            (multi_worker needs that); None makes it here.

    Returns:
        The verdicts of `train`.
    """
    strategy = strategy or strategy_for(config)
    resolved = resolve(config, prepared, strategy)  # every auto decided, as the run's train_config.yaml records it
    config, folds = resolved.config, resolved.config.train.folds
    _refuse_to_overwrite(resolved.written, run_dir)
    precision = resolve_precision(config.train.precision, detect_hardware())  # refuses one this machine lacks
    keras.mixed_precision.set_global_policy(precision)
    out = worker_run_dir(run_dir, strategy)  # the chief writes the run folder, other workers a temporary one
    prepared.stats.save(out / RunFiles.STATS)
    record_git_commit(out)
    batch = global_batch_size(config, strategy)  # data.batch_size per replica
    if folds > 1:
        return _train_folds(resolved, prepared, out, strategy, batch, precision, folds)
    fitted = _fit(resolved, prepared, out, strategy, batch, precision, seed=config.seed, watch_dir=out,
                  config_to=out / RunFiles.TRAIN_CONFIG)
    if is_multi_worker(strategy):
        print(f"trained weights: sha256 {weights_digest(fitted.model)} (the same on every worker)")
    if config.train.export:  # the best epoch, as `evaluate` scores it and `predict` serves it
        best = out / RunFiles.BEST_MODEL
        served = keras.models.load_model(best, compile=False) if best.exists() else fitted.model
        export_for_serving(served, prepared, out / RunFiles.EXPORT, config.data.source)
    watched = {v.id: v for v in [fitted.resume_point.verdict(), *recipe_verdicts(fitted.callbacks)]}
    verdicts = run_checks("train", TrainContext(config, fitted.total_steps, fitted.rate,
                                                _epoch_losses(out, fitted.history), watched))
    discard_worker_run_dir(out, run_dir)
    return verdicts


def _fit(resolved: Resolved, prepared: Prepared, out: Path, strategy, batch: int, precision: str, *, seed: int,
         watch_dir: Path | None, config_to: Path | None) -> Fitted:
    """Build, compile, resume from `out`'s backup if there is one, and fit (then fine-tune a
    backbone) with `resolved`'s config; checkpoints and logs go to `out`, the recipe callbacks'
    plots to `watch_dir`, and the config with what its autos became to `config_to`."""
    config = resolved.config
    seed_everything(seed, config.train.deterministic)
    epochs = planned_epochs(config, prepared.size("train"), batch)  # at least train.min_steps steps
    total_steps = planned_steps(config, prepared.size("train"), batch)
    with strategy.scope():
        rate = learning_rate(config, total_steps)  # the optimizer's, and the one O1 judges
        model = compile_model(build_model(config, prepared), config, learning_rate=rate,
                              jit_compile=jit_setting(config))
        backup = restore(model, out / RunFiles.BACKUP)  # every worker reads the chief's backup when it can
    if config_to is not None:
        dump_config(resolved.written, config_to, header=AUTOS_HEADER, notes=decided_autos(resolved, prepared, model))
    if backup:
        print(f"resuming from the backup at step {backup.global_step} (epoch {backup.epoch + 1} of "
              f"{epochs}, restarted from its first batch)")
    train_ds, val_ds = train_datasets(config, prepared, batch, for_fit=True)
    callbacks = callbacks_for(config, out, prepared, watch=watch_dir is not None, watch_dir=watch_dir)
    if fine_tuning(config):
        callbacks.insert(0, Phase(1))  # before CSVLogger: history.csv's `phase` column
    resume_point = ResumePoint(out / RunFiles.BACKUP, every_steps=config.train.backup_every_steps, start=backup)
    callbacks.append(resume_point)
    mirror = in_bucket(out)  # a run folder in a bucket: each epoch's files sent after it
    if mirror is not None:
        callbacks.append(PushEachEpoch(mirror))
    if is_multi_worker(strategy):  # Keras 3's fit fails under MultiWorkerMirroredStrategy (keras-team/keras#20585)
        history = fit_multi_worker(model, train_shards(config, prepared, batch), val_ds, epochs,
                                   callbacks, strategy, steps_per_epoch=total_steps // epochs,
                                   initial_epoch=backup.epoch if backup else 0)
    else:
        # shuffle=False: the pipeline already reshuffles each epoch from the seed.
        history = model.fit(**fit_inputs(train_ds, val_ds, prepared, batch),
                            epochs=epochs, initial_epoch=backup.epoch if backup else 0,
                            callbacks=callbacks, shuffle=False, verbose=2)
    if fine_tuning(config) and not is_multi_worker(strategy):
        history = _fine_tune(model, config, prepared, history, callbacks, strategy, batch,
                             done=(backup.epoch if backup else 0) + len(history.history.get("loss", [])))
    return Fitted(model, history, callbacks, total_steps, rate, resume_point)


def _train_folds(resolved: Resolved, prepared: Prepared, out: Path, strategy, batch: int, precision: str,
                 k: int) -> list[Verdict]:
    """train.folds: one fit a fold into <run>/folds/<i>/, each resumed or kept as a killed run
    left it; then the out-of-fold score and the bag (cross_validation.py). The recipe callbacks
    watch the first fold, whose history is the run's history.csv. Every fold runs with the
    run's resolved config: the members of a bag share one set of decisions."""
    config = resolved.config
    folds = fold_ids(prepared, config.data.split, k)
    fold_dirs = [out / RunFiles.FOLDS / str(i + 1) for i in range(k)]
    first = None
    for i, fold_dir in enumerate(fold_dirs):
        if fold_finished(fold_dir):
            print(f"fold {i + 1} of {k}: finished before, kept ({fold_dir})")
            continue
        fold_dir.mkdir(parents=True, exist_ok=True)
        held_out = fold_prepared(prepared, folds, i, config, k)
        print(f"fold {i + 1} of {k}: trains on {held_out.size('train'):,} rows, early-stops on its "
              f"{held_out.size('val'):,}")
        fitted = _fit(resolved, held_out, fold_dir, strategy, batch, precision, seed=config.seed + i,
                      watch_dir=out if i == 0 else None, config_to=out / RunFiles.TRAIN_CONFIG if i == 0 else None)
        if i == 0:
            first = fitted
            watched = [fitted.resume_point.verdict(), *recipe_verdicts(fitted.callbacks)]
            write_verdicts(fold_dir, "train", watched)  # for a run resumed after this fold
        best = fold_dir / RunFiles.BEST_MODEL
        member = keras.models.load_model(best, compile=False) if best.exists() else fitted.model
        outputs = member.predict(evaluation_dataset(held_out, "val", batch), verbose=0)
        save_fold_outputs(fold_dir, held_out.indices["val"], outputs)
    record = write_cross_validation(out, prepared, fold_dirs, config.seed)
    print(cross_validation_line(record))
    bag = bag_model([keras.models.load_model(d / RunFiles.BEST_MODEL, compile=False) for d in fold_dirs],
                    prepared.task)
    (out / RunFiles.CHECKPOINTS).mkdir(exist_ok=True)
    for name in (RunFiles.BEST_MODEL, RunFiles.LAST_MODEL):
        save_model_whole(bag, out / name)
    if config.train.export:
        export_for_serving(bag, prepared, out / RunFiles.EXPORT, config.data.source)
    shutil.copyfile(fold_dirs[0] / RunFiles.HISTORY, out / RunFiles.HISTORY)  # the watched fold's curves
    watched = {v.id: v for v in read_verdicts(fold_dirs[0])}
    total_steps = first.total_steps if first else planned_steps(config, int(np.sum((folds >= 0) & (folds != 0))), batch)
    rate = first.rate if first else learning_rate(config, total_steps)
    return run_checks("train", TrainContext(config, total_steps, rate,
                                            _epoch_losses(out, first.history if first else None), watched))


class Phase(keras.callbacks.Callback):
    """Adds `phase` to every epoch's logs (1: the head on a frozen backbone, 2: fine-tuning),
    so that history.csv and the report say which phase each epoch belonged to."""

    def __init__(self, number: int):
        super().__init__()
        self.number = number

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["phase"] = self.number


def _fine_tune(model: keras.Model, config: Config, prepared: Prepared, history, callbacks: list, strategy,
               batch: int, done: int) -> keras.callbacks.History:
    """keras.io's second phase (backbones.py): the backbone's top layers unfrozen, recompiled
    at model.fine_tune_learning_rate, model.fine_tune_epochs more epochs after the `done` ones,
    with the same checkpoints (best.keras may come from either phase) and logs. Not the resume
    backup (its optimizer state has the first phase's variables: a run stopped in this phase is
    not resumed), not early stopping (the head's plateau is where this phase starts), and not
    the recipe's callbacks: they watch one fit each, and their verdicts are the first phase's."""
    with strategy.scope():
        unfrozen = unfreeze_top(model, config.model.fine_tune_layers)
        compile_model(model, config, learning_rate=config.model.fine_tune_learning_rate,
                      jit_compile=jit_setting(config))
    print(f"fine-tuning: {len(unfrozen)} top layers of the backbone unfrozen ({unfrozen[0]} .. {unfrozen[-1]}), "
          f"{config.model.fine_tune_epochs} epochs at {config.model.fine_tune_learning_rate:g}")
    train_ds, val_ds = train_datasets(config, prepared, batch, for_fit=True)
    kept = [Phase(2), keras.callbacks.TerminateOnNaN()] + [
        c for c in callbacks if isinstance(c, (Checkpoints, keras.callbacks.CSVLogger, EpochTensorBoard))]
    return model.fit(**fit_inputs(train_ds, val_ds, prepared, batch), epochs=done + config.model.fine_tune_epochs,
                     initial_epoch=done, callbacks=kept, shuffle=False, verbose=2)


def _epoch_losses(run_dir: Path, history: keras.callbacks.History | None) -> list[float]:
    """Every epoch's training loss, those before a resume included (the CSV log holds them)."""
    rows = _history_rows(run_dir)
    if rows or history is None:
        return [float(row["loss"]) for row in rows]
    return history.history.get("loss", [])


def _history_rows(run_dir: Path) -> list[dict]:
    path = run_dir / RunFiles.HISTORY
    if not path.exists():
        return []
    with path.open() as handle:
        return list(csv.DictReader(handle))
