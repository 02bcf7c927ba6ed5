"""The checkpoints a person uses: `best.keras` (the lowest val loss so far) and `last.keras`,
each written whole and then renamed into place, at most every `train.checkpoint_every_seconds`
and at the end of training.

Written by hand rather than with `keras.callbacks.ModelCheckpoint` because a `.keras` file
has a fixed cost in Keras' own bookkeeping however small the model, which ModelCheckpoint
pays every epoch, twice for best and last (figures: the template's BENCHMARKS.md), and it
writes in place (a kill during the write leaves a broken file). Resuming does not need these
files: the backup (resume.py) holds the whole training state and costs a few milliseconds.
Between writes the best weights wait in memory; `best.json` beside `best.keras` says which
epoch and val loss the file holds, so that a resumed run replaces it only with a better one.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

import keras

from .rundir import RunFiles, write_whole


def best_val_loss(run_dir: Path) -> float:
    """The val loss of the model `best.keras` holds (infinity when there is none yet)."""
    record = Path(run_dir) / RunFiles.BEST_RECORD
    return json.loads(record.read_text())["value"] if record.exists() else math.inf


class Checkpoints(keras.callbacks.Callback):
    """Writes `best.keras` and `last.keras` into `run_dir/checkpoints/` when `every_seconds`
    have passed since the last write (checked at each epoch's end; 0: every epoch) and when
    training ends, a NaN stop or an early stop included. Put it before EarlyStopping, so that
    `last.keras` holds the last epoch's weights, not the restored best.

    Args:
        run_dir: The run folder; the files go to its checkpoints/ (a resumed run starts from
            the best value recorded there).
        every_seconds: Seconds between two writes at most (`train.checkpoint_every_seconds`).
        monitor: The logged value that makes a model the best, lower is better.
    """

    def __init__(self, run_dir: Path, *, every_seconds: float, monitor: str = "val_loss"):
        super().__init__()
        self.run_dir, self.every_seconds, self.monitor = Path(run_dir), every_seconds, monitor
        self.best_value = best_val_loss(self.run_dir)  # a resumed run starts from the file's
        self.writes = 0
        self._best_weights, self._best_epoch, self._unwritten = None, None, False
        self._last_write = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is not None and value < self.best_value:  # a NaN is never better
            self.best_value, self._best_epoch = float(value), epoch
            self._best_weights = self.model.get_weights()  # about a millisecond: a copy in memory
        self._unwritten = True
        if time.monotonic() - self._last_write >= self.every_seconds:
            self._write()

    def on_train_end(self, logs=None):
        if self._unwritten:
            self._write()

    def _write(self) -> None:
        (self.run_dir / RunFiles.CHECKPOINTS).mkdir(parents=True, exist_ok=True)
        if self._best_weights is not None:
            current = self.model.get_weights()
            self.model.set_weights(self._best_weights)
            save_model_whole(self.model, self.run_dir / RunFiles.BEST_MODEL)
            self.model.set_weights(current)
            record = {"epoch": self._best_epoch, "monitor": self.monitor, "value": self.best_value}
            write_whole(self.run_dir / RunFiles.BEST_RECORD, json.dumps(record))
            self._best_weights = None
        save_model_whole(self.model, self.run_dir / RunFiles.LAST_MODEL)
        self.writes += 1
        self._unwritten = False
        self._last_write = time.monotonic()


def save_model_whole(model: keras.Model, path: Path) -> None:
    """A kill during the write leaves the previous file: write beside it, then rename (atomic)."""
    partial = path.with_name(f".{path.stem}.partial.keras")  # Keras wants the .keras suffix
    model.save(partial)
    os.replace(partial, path)
