"""O5: a training run killed at any moment (SIGKILL included) resumes from its last backup.

Written by hand rather than with `keras.callbacks.BackupAndRestore` for three reasons that a
killed run meets (Keras 3.15): its weights file is rewritten in place, so a kill during the
write leaves a broken file (its `double_checkpoint` keeps one spare copy, not atomicity); a
backup taken in the steps is not taken again at the epoch's end, so a kill between the end of
an epoch and the next backup redoes that whole epoch and logs it twice; and it tells fit
where to start through a private attribute. Here every backup is a new file, and one small
JSON pointer, replaced atomically after the file is complete, says which file is current.

A backup is every variable of the model (weights, batch-norm statistics, dropout's seed
state) and of the optimizer (Adam's moments, its step count, the loss scale), in order, in one
NumPy archive, a tenth of what `model.save_weights` costs in Keras' bookkeeping (figures:
the template's BENCHMARKS.md), which matters when a backup closes every epoch of a small
dataset.
The order is the model's own, the same in every process that builds it from the same config
(a backup from another config is refused before it is read; a count or shape that does not
match is refused here). What a backup does not hold: the position in the epoch's batches. A
run resumed mid-epoch starts that epoch's batches again from the first, with the weights of
its last backup: it loses no step of work beyond `train.backup_every_steps`, but it sees up to
one epoch of examples twice and in a new order.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from .errors import UserError
from .registry import registers
from .rundir import write_whole
from .train_context import TrainContext
from .verdicts import Verdict, verdict

POINTER = "latest.json"
WARN_ABOVE_SECONDS = 15 * 60  # more than this much training lost to a kill is worth a warning


@dataclass(frozen=True)
class Backup:
    """Where a resumed run starts: the epoch to run next and the optimizer steps behind it."""

    epoch: int
    step_in_epoch: int
    global_step: int
    weights: Path


def latest_backup(folder: Path) -> Backup | None:
    pointer = folder / POINTER
    if not pointer.exists():
        return None
    record = json.loads(pointer.read_text())
    return Backup(record["epoch"], record["step_in_epoch"], record["global_step"], folder / record["weights"])


def training_state(model: keras.Model) -> list:
    """Every variable a resumed run needs, in an order that is the same in every process."""
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)  # its variables must exist to be saved or loaded
    return [*model.variables, *model.optimizer.variables]


def restore(model: keras.Model, folder: Path) -> Backup | None:
    """Loads the latest backup into a compiled `model` (weights and optimizer state)."""
    backup = latest_backup(folder)
    if backup is None:
        return None
    variables = training_state(model)
    with np.load(backup.weights) as archive:
        values = [archive[f"v{index}"] for index in range(len(archive.files))]
    shapes = [tuple(variable.shape) for variable in variables]
    if [value.shape for value in values] != shapes:
        raise UserError(f"the backup {backup.weights} does not fit this model ({len(values)} saved variables, "
                        f"{len(variables)} in the model, or shapes differ): it was made by another model; "
                        "choose a new --run-dir")
    for variable, value in zip(variables, values, strict=True):
        variable.assign(value)
    return backup


class ResumePoint(keras.callbacks.Callback):
    """Backs up weights and optimizer before the first step, every `every_steps` optimizer
    steps and at each epoch's end, keeps only the latest, and removes the folder when `fit` returns (a finished run has
    nothing to resume; an early stop or a NaN stop is finished too). Put it last among the
    callbacks, so that the epoch-end backup comes after the checkpoints and the CSV log line
    of that epoch are written.

    Args:
        folder: Where the backup lives (`<run>/backup`).
        every_steps: Optimizer steps between two backups (`train.backup_every_steps`).
        start: The backup this run resumed from (`restore`), so that steps and epochs go on
            counting from it; None for a fresh run.
    """

    def __init__(self, folder: Path, *, every_steps: int, start: Backup | None = None):
        super().__init__()
        self.folder, self.every_steps = Path(folder), every_steps
        self.global_step = start.global_step if start else 0
        self.epoch = start.epoch if start else 0
        self.resumed_from = start.global_step if start else None
        self.saves, self.seconds_between_saves, self._last_save = 0, [], time.perf_counter()

    def on_train_begin(self, logs=None):
        """A first backup before the first step: from now until the run ends there is always
        one, so a run killed at any moment, even before its first interval, resumes instead of
        being taken for a finished run (whose last.keras it may already have written)."""
        if self.resumed_from is None:
            self._save(self.epoch, 0)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self.global_step += 1
        last_of_epoch = batch + 1 == self.params.get("steps")  # the epoch-end backup follows at once
        if self.global_step % self.every_steps == 0 and not last_of_epoch:
            self._save(self.epoch, batch + 1)

    def on_epoch_end(self, epoch, logs=None):
        self._save(epoch + 1, 0)

    def on_train_end(self, logs=None):
        shutil.rmtree(self.folder, ignore_errors=True)  # not reached when the process dies

    def verdict(self) -> Verdict:
        """O5. How much work a kill would have cost: the longest time between two backups of
        this run. Warn above 15 minutes (lower train.backup_every_steps)."""
        longest = max(self.seconds_between_saves, default=0.0)
        measured = {"backups": self.saves, "every_steps": self.every_steps,
                    "longest_seconds_between_backups": round(longest, 1),
                    "resumed_from_step": self.resumed_from if self.resumed_from is not None else "no"}
        expected = f"a backup at least every {WARN_ABOVE_SECONDS // 60} minutes of training"
        if longest > WARN_ABOVE_SECONDS:
            return verdict("O5", "warn", measured, expected,
                           advice=f"A kill would lose up to {longest / 60:.0f} minutes of training: lower "
                           f"train.backup_every_steps (now {self.every_steps}).")
        return verdict("O5", "pass", measured, expected)

    def _save(self, epoch: int, step_in_epoch: int) -> None:
        now = time.perf_counter()
        self.seconds_between_saves.append(now - self._last_save)
        self.saves += 1
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"step-{self.global_step:09d}.npz"
        with (self.folder / name).open("wb") as handle:
            np.savez(handle, **{f"v{index}": variable.numpy()
                                for index, variable in enumerate(training_state(self.model))})
        record = {"epoch": epoch, "step_in_epoch": step_in_epoch, "global_step": self.global_step, "weights": name}
        write_whole(self.folder / POINTER, json.dumps(record))  # names a complete file, or the old one
        for old in self.folder.glob("step-*.npz"):
            if old.name != name:
                old.unlink(missing_ok=True)
        self._last_save = time.perf_counter()  # the save's own time is not training time


@registers("train", "O5")
def _o5(c: TrainContext) -> Verdict:
    return c.watched_verdict("O5", "the resume backup")
