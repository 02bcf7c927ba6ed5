"""Run folders: `runs/<timestamp>-<name>/` holds everything one run made. `RunFiles` names
every file and folder the stages write there, once; `write_whole` and `writing_whole` write
each so that a reader, or a run killed during the write, never sees half of one."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from .errors import UserError

RUNS_ROOT = Path("runs")


class RunFiles:
    """The names of what a run folder holds, relative to it, and which stage writes each."""

    VERDICTS = "verdicts.json"  # every stage: its verdicts, beside the other stages' (verdicts.py)
    PLOTS = "plots"  # every check that draws: <ID>_<what>.png
    DATA = "data"  # every stage: the scan's manifest (data/manifest.py) and, for data.cache=disk, cache/
    TRAIN_CONFIG = "train_config.yaml"  # train: the config it ran with; evaluate reads it
    STATS = "stats.json"  # train: the train-only statistics the model was built with (D2)
    GIT_COMMIT = "git_commit.txt"  # train: the commit of the code, inside a git checkout
    HISTORY = "history.csv"  # train: the epochs' losses and metrics (Keras' CSVLogger)
    CHECKPOINTS = "checkpoints"  # train (checkpoints.py):
    BEST_MODEL = "checkpoints/best.keras"  # the epoch with the lowest val loss; evaluate scores it
    BEST_RECORD = "checkpoints/best.json"  # that epoch and its val loss, for a resumed run
    LAST_MODEL = "checkpoints/last.keras"  # the last epoch
    BACKUP = "backup"  # train: the resume state while a run is going (resume.py); gone when it ends
    EXPORT = "export"  # train: the SavedModel for serving (serving.py)
    FOLDS = "folds"  # train with train.folds > 1: one run folder per fold, 1..k (cross_validation.py)
    CROSS_VALIDATION = "cross_validation.json"  # train.folds > 1: the out-of-fold score, its interval, each fold's
    OUT_OF_FOLD = "out_of_fold.npz"  # train.folds > 1: each train and val row's output from the fold that held it out
    TENSORBOARD = "tensorboard"  # train: train/, validation/, recipe/ (T6-T12); report: report/
    FIRST_LAYER_INITIAL = "first_layer_initial.npy"  # train (T12): the first layer's starting kernel
    NAN_BATCH = "nan_batch.npz"  # train (T9): the batch whose step went non-finite
    REFERENCE_OUTPUTS = "references.npz"  # check (B3): each reference's val and test outputs, row by row
    EVALUATION = "evaluation.json"  # evaluate: the full-set scores with intervals, each time test was scored (T13)
    WORST_PREDICTIONS = "worst_predictions.csv"  # evaluate (E2)
    TUNE_CONFIG = "tune_config.yaml"  # tune: the config the search ran with; evaluate --ensemble reads it
    TUNER = "tuner"  # tune: KerasTuner's own state, for resuming and distributing the search
    TRIALS = "trials"  # tune: one folder per trial, with that trial's recipe verdicts and plots
    TRIALS_TABLE = "trials.csv"  # tune (O3)
    BEST_CONFIG = "best_config.yaml"  # tune: the best trial's config, for `train --config`
    REPORT = "report.html"  # report
    PREDICTIONS = "predictions.csv"  # predict, unless --out says elsewhere
    NEW_DATA = "new_data"  # scripts/new_data.py: test examples written as new data, for `make demo`


# The entries of a run folder's top level. Inside data/, backup/ and tuner/ the modules that own
# them name their files (data/manifest.py, resume.py, tune.py).
RUN_FILES = tuple(dict.fromkeys(value.split("/")[0] for name, value in vars(RunFiles).items() if name.isupper()))


def new_run_dir_path(name: str, root: Path = RUNS_ROOT) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = root / f"{stamp}-{name}"
    suffix = 1
    while path.exists():
        suffix += 1
        path = root / f"{stamp}-{name}-{suffix}"
    return path


def latest_run_dir(root: Path = RUNS_ROOT, containing: str = RunFiles.VERDICTS) -> Path:
    """The newest run folder holding `containing`: what `evaluate` and `report` use by default."""
    found = root.glob(f"*/{containing}") if root.is_dir() else []
    candidates = sorted({root / p.relative_to(root).parts[0] for p in found})
    if not candidates:
        raise UserError(f"no run folder under {root}/ holds {containing}; pass --run-dir")
    return candidates[-1]


@contextlib.contextmanager
def open_run_dir(path: Path) -> Iterator[Path]:
    """Create the run folder; if this call created it and the stage stops on a user mistake,
    remove it again, so that a mistake leaves nothing half-written. Any other failure keeps
    the folder: it may hold hours of checkpoints."""
    if path.exists() and not path.is_dir():
        raise UserError(f"--run-dir {path} is a file, not a folder: choose a folder (it is created if missing)")
    created = not path.exists()
    try:
        path.mkdir(parents=True, exist_ok=True)
        # A probe of its own: the workers of a distributed search open the same folder at once.
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-"):
            pass
    except OSError as err:
        raise UserError(f"cannot write the run folder {path}: {err.strerror}") from None
    try:
        yield path
    except UserError:
        if created:
            shutil.rmtree(path, ignore_errors=True)
        raise


@contextlib.contextmanager
def writing_whole(path: Path) -> Iterator[Path]:
    """A file beside `path` to write; renamed over `path` (atomic) when the block ends without
    an error, removed when it fails. A reader, or a run killed during the write, sees the old
    file or the new one, never half of one. Named by process: the workers of a distributed run
    write the same folder. For numpy, write through a handle (`partial.open("wb")`): np.save
    and np.savez add their own suffix to a path."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        yield partial
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


@contextlib.contextmanager
def writing_whole_folder(path: Path) -> Iterator[Path]:
    """`writing_whole` for a folder (a SavedModel): written beside `path`, then swapped in by
    two renames, so that `path` is the old folder, the new one, or for an instant none, never
    half of one."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    old = path.with_name(f".{path.name}.{os.getpid()}.old")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        yield partial
        if path.exists():
            path.replace(old)
        partial.replace(path)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def write_whole(path: Path, text: str) -> None:
    with writing_whole(path) as partial:
        partial.write_text(text, encoding="utf-8")


def record_git_commit(run_dir: Path) -> None:
    """Provenance: the commit of the code a run trained with, when it runs inside a git checkout."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return
    if commit.returncode == 0:
        write_whole(run_dir / RunFiles.GIT_COMMIT, commit.stdout)
