"""One training run: seed, precision, fit with checkpoints and resume, export for serving."""

from __future__ import annotations

import csv
from pathlib import Path

import keras

from .autos import HEADER as AUTOS_HEADER
from .autos import decided_autos
from .backbones import fine_tuning, unfreeze_top
from .callbacks import recipe_callbacks, recipe_verdicts
from .callbacks.tensorboard import EpochTensorBoard
from .checkpoints import Checkpoints
from .checks import loss_trend  # noqa: F401  (registers T3's runner)
from .config import Config, dump_config, load_config
from .data import Prepared
from .data.batching import settle_for
from .data.pipeline import fit_inputs, train_datasets, train_shards
from .distribute import global_batch_size, is_multi_worker, strategy_for
from .errors import UserError
from .models import build_model, compile_model
from .multi_worker import discard_worker_run_dir, fit_multi_worker, worker_run_dir
from .precision import detect_hardware, jit_setting, resolve_precision
from .registry import run_checks
from .resume import ResumePoint, restore
from .rundir import RunFiles, record_git_commit
from .runtime import seed_everything
from .schedule import learning_rate, planned_epochs, planned_steps
from .serving import export_for_serving
from .train_context import TrainContext
from .verdicts import Verdict


def _refuse_to_overwrite(config: Config, run_dir: Path) -> None:
    """A backup left by a run with another config would resume the wrong experiment, and a
    finished run's checkpoints would be overwritten by a new one: both are refused."""
    snapshot = run_dir / RunFiles.TRAIN_CONFIG
    if (run_dir / RunFiles.BACKUP).exists() and snapshot.exists():
        previous = load_config(snapshot)
        if previous != config:
            raise UserError(
                f"{run_dir} holds an unfinished run with a different config ({snapshot}); "
                "resume with that config, or choose a new --run-dir"
            )
    elif (run_dir / RunFiles.LAST_MODEL).exists():
        raise UserError(f"{run_dir} holds a finished training run ({run_dir / RunFiles.LAST_MODEL}); choose a new "
                        "--run-dir (or delete that folder) to train again")


def callbacks_for(config: Config, run_dir: Path, prepared: Prepared) -> list[keras.callbacks.Callback]:
    """The checkpoints and Keras' logs, the recipe checks that watch training (T6-T12,
    `monitor:`) after them, so that they see the weights EarlyStopping restores; `train` adds
    the resume backup (O5) last, so that an epoch's backup comes after its log line."""
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
    return callbacks + recipe_callbacks(config, prepared, run_dir)  # T9 (or TerminateOnNaN) among them


def train(config: Config, prepared: Prepared, run_dir: Path, strategy=None) -> list[Verdict]:
    """One run. `strategy`: distribute.strategy_for(config), made before the data were loaded
    (multi_worker needs that); None makes it here."""
    strategy = strategy or strategy_for(config)
    settle_for(config, prepared)  # data.batch_size auto, as the run's train_config.yaml records it
    _refuse_to_overwrite(config, run_dir)
    precision = resolve_precision(config.train.precision, detect_hardware())
    seed_everything(config.seed, config.train.deterministic)
    keras.mixed_precision.set_global_policy(precision)
    out = worker_run_dir(run_dir, strategy)  # the chief writes the run folder, other workers a temporary one
    prepared.stats.save(out / RunFiles.STATS)
    record_git_commit(out)

    batch = global_batch_size(config, strategy)  # data.batch_size per replica
    epochs = planned_epochs(config, prepared.size("train"), batch)  # at least train.min_steps steps
    total_steps = planned_steps(config, prepared.size("train"), batch)
    with strategy.scope():
        rate = learning_rate(config, total_steps)  # the optimizer's, and the one O1 judges
        model = compile_model(build_model(config, prepared), config, learning_rate=rate,
                              jit_compile=jit_setting(config))
        backup = restore(model, run_dir / RunFiles.BACKUP)  # every worker reads the chief's backup when it can
    dump_config(config, out / RunFiles.TRAIN_CONFIG, header=AUTOS_HEADER,
                notes=decided_autos(config, prepared, model, precision=precision, strategy=strategy))
    if backup:
        print(f"resuming from the backup at step {backup.global_step} (epoch {backup.epoch + 1} of "
              f"{epochs}, restarted from its first batch)")
    train_ds, val_ds = train_datasets(config, prepared, batch, for_fit=True)
    callbacks = callbacks_for(config, out, prepared)
    if fine_tuning(config):
        callbacks.insert(0, Phase(1))  # before CSVLogger: history.csv's `phase` column
    resume_point = ResumePoint(out / RunFiles.BACKUP, every_steps=config.train.backup_every_steps, start=backup)
    callbacks.append(resume_point)
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
    if config.train.export:  # the best epoch, as `evaluate` scores it and `predict` serves it
        best = out / RunFiles.BEST_MODEL
        served = keras.models.load_model(best, compile=False) if best.exists() else model
        export_for_serving(served, prepared, out / RunFiles.EXPORT, config.data.source)
    watched = {v.id: v for v in [resume_point.verdict(), *recipe_verdicts(callbacks)]}
    verdicts = run_checks("train", TrainContext(config, total_steps, rate, _epoch_losses(out, history), watched))
    discard_worker_run_dir(out, run_dir)
    return verdicts


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


def _epoch_losses(run_dir: Path, history: keras.callbacks.History) -> list[float]:
    """Every epoch's training loss, those before a resume included (the CSV log holds them)."""
    rows = _history_rows(run_dir)
    return [float(row["loss"]) for row in rows] if rows else history.history.get("loss", [])


def _history_rows(run_dir: Path) -> list[dict]:
    path = run_dir / RunFiles.HISTORY
    if not path.exists():
        return []
    with path.open() as handle:
        return list(csv.DictReader(handle))
