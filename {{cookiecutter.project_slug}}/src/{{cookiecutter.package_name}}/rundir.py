"""Run folders: `runs/<timestamp>-<name>/` holds everything one run made."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from .errors import UserError

RUNS_ROOT = Path("runs")


def new_run_dir_path(name: str, root: Path = RUNS_ROOT) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = root / f"{stamp}-{name}"
    suffix = 1
    while path.exists():
        suffix += 1
        path = root / f"{stamp}-{name}-{suffix}"
    return path


def latest_run_dir(root: Path = RUNS_ROOT, containing: str = "verdicts.json") -> Path:
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


def write_whole(path: Path, text: str) -> None:
    """Write beside `path`, then rename over it (atomic): a reader, or a run killed during the
    write, sees the old file or the new one, never half of one."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)


def record_git_commit(run_dir: Path) -> None:
    """Provenance: the commit of the code a run trained with, when it runs inside a git checkout."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return
    if commit.returncode == 0:
        (run_dir / "git_commit.txt").write_text(commit.stdout)
