"""A run folder in a bucket (`--run-dir s3://team-runs/loans/first`): the stage works in a local
copy of it, and the bucket receives every file whole.

Why a local copy: Keras' saves, TensorBoard's writer, KerasTuner, the plots and every file this
project writes go through the local file system and its atomic rename (rundir.writing_whole), and
TensorFlow's own file layer no longer reaches s3://. So a stage first pulls the run folder from
the bucket into a fresh temporary folder, works there as in any run folder, and pushes what
changed: at the end of the stage, and during `train` and `tune` at the end of every epoch, after
the checkpoint and the resume backup are written (`PushEachEpoch`), so that a machine lost in the
middle of a run loses at most an epoch and any machine resumes from the bucket. An object appears
whole or not at all (a PUT, or a multipart upload completed at its end); a file removed from the
folder (the backup of a finished run) is removed from the bucket, so that the bucket holds what
the folder holds. A fresh copy per stage means nothing stale from an earlier run on this machine;
it costs a download of the run folder (checkpoints and the export: megabytes) per stage.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import keras

from .errors import UserError
from .storage import Location, delete, download, locate, upload

MARK = ".bucket"  # in the local copy: the URL of the run folder it stands for
# Written beside their file and renamed (rundir.writing_whole): never sent half-written.
SKIPPED_SUFFIXES = (".partial", ".old")

_PUSHED: dict[Path, dict[str, tuple[int, int]]] = {}  # local copy -> what the bucket holds, by stamp


@contextlib.contextmanager
def run_dir_in_bucket(url: str) -> Iterator[Path]:
    """The local copy of the run folder at `url`: pulled before the stage, pushed after it,
    removed at the end. A failed stage pushes too: every file it finished is whole."""
    remote = locate(url)
    if remote.is_file():
        raise UserError(f"--run-dir {url} is a file, not a folder: choose a folder (it is created if missing)")
    local = Path(tempfile.mkdtemp(prefix="run-"))
    try:
        _PUSHED[local] = _pull(remote, local)
        (local / MARK).write_text(url)
        try:
            yield local
        except UserError:
            if _PUSHED[local]:  # as rundir.open_run_dir: a mistake leaves a new run folder unwritten
                push(local)
            raise
        except BaseException:
            push(local)
            raise
        push(local)
    finally:
        _PUSHED.pop(local, None)
        shutil.rmtree(local, ignore_errors=True)


def in_bucket(path: Path) -> Path | None:
    """The local copy that `path` (a run folder, or a fold's folder inside one) belongs to,
    when its run folder lives in a bucket; None otherwise."""
    for folder in (path, *path.parents):
        if (folder / MARK).is_file():
            return folder
    return None


def push(local: Path) -> None:
    """Sends every file of the local copy that is new or changed since the last push, oldest
    first, and then removes from the bucket the files removed here.

    Oldest first, because a file that names another is written after it: the resume backup's
    pointer (`backup/latest.json`) after the weights it names. Sent in that order, a machine
    lost in the middle of a push leaves a bucket whose pointer names a file that is there (the
    old one, removed only after the new pointer is sent), never one still on its way."""
    if local not in _PUSHED:
        return
    remote = locate((local / MARK).read_text())
    now = _stamps(local)
    pushed = _PUSHED[local]
    for name, stamp in now.items():
        if pushed.get(name) != stamp:
            upload(local / name, remote.child(name))
    for name in set(pushed) - set(now):
        delete(remote.child(name))
    _PUSHED[local] = now


class PushEachEpoch(keras.callbacks.Callback):
    """Pushes a run folder in a bucket at the end of every epoch; last among the callbacks, so
    that the epoch's checkpoint, log line and resume backup go with it."""

    def __init__(self, local: Path):
        super().__init__()
        self.local = local

    def on_epoch_end(self, epoch, logs=None):
        push(self.local)


def _pull(remote: Location, local: Path) -> dict[str, tuple[int, int]]:
    found = remote.files() if remote.is_dir() else []
    for name, _, _ in found:
        download(remote.child(name), local / name)
    return _stamps(local)


def _stamps(local: Path) -> dict[str, tuple[int, int]]:
    """(size, mtime_ns) of every file below `local` that the bucket should hold, in the order
    they were last written."""
    found = {}
    for folder, _, files in os.walk(local):
        for name in files:
            if name == MARK or name.endswith(SKIPPED_SUFFIXES) or name.startswith(".write-test-"):
                continue
            path = Path(folder) / name
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue  # replaced or removed while we looked: the next push sends it
            found[path.relative_to(local).as_posix()] = (stat.st_size, stat.st_mtime_ns)
    return dict(sorted(found.items(), key=lambda item: item[1][1]))
