"""O5: a real training process killed with SIGKILL in the middle of a run, then started again
with the same run folder, continues from its last backup and ends with every epoch logged
once; a run folder made by another config is refused, its checkpoints untouched."""

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.cli import main

pytestmark = pytest.mark.slow
EPOCHS = 6
# digits: 1257 training examples in batches of 32 make 40 steps an epoch; a backup every 15, and
# the .keras checkpoints every epoch, as in a long run whose epochs outlast checkpoint_every_seconds.
SETTINGS = ["--set", f"train.epochs={EPOCHS}", "--set", "train.min_steps=0",
            "--set", "train.backup_every_steps=15",
            "--set", "train.checkpoint_every_seconds=0", "--set", "model.builder=mlp",
            "--set", "model.hidden_units=32", "--set", "train.export=false", "--set", "data.source=digits",
            "--set", "task=classification", "--set", "monitor.activation_health=false"]


ENV = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "3"}


def train_command(run_dir: Path) -> list[str]:
    return [sys.executable, "-m", "{{ cookiecutter.package_name }}", "train", "--run-dir", str(run_dir), *SETTINGS]


def history(run_dir: Path) -> list[dict]:
    with (run_dir / "history.csv").open() as handle:
        return list(csv.DictReader(handle))


def kill_after_a_backup_in_epoch(run_dir: Path, epoch: int) -> dict:
    """Starts training, waits until a backup from inside `epoch` exists, then SIGKILLs it."""
    process = subprocess.Popen(train_command(run_dir), env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    pointer = run_dir / "backup" / "latest.json"
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline and process.poll() is None:
            if pointer.exists():
                record = json.loads(pointer.read_text())
                if record["epoch"] >= epoch and record["step_in_epoch"] > 0:
                    process.send_signal(signal.SIGKILL)
                    process.wait(30)
                    return record
            time.sleep(0.05)
        pytest.fail(f"training ended or hung before a backup inside epoch {epoch}: {process.stderr.read()[-2000:]}")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def killed_run(tmp_path_factory) -> tuple[Path, dict]:
    """One training process killed inside epoch 2, shared: each test works on its own copy."""
    run_dir = tmp_path_factory.mktemp("killed") / "run"
    return run_dir, kill_after_a_backup_in_epoch(run_dir, epoch=2)


def copy_of(killed_run, tmp_path: Path) -> Path:
    return Path(shutil.copytree(killed_run[0], tmp_path / "run"))  # copy2: modification times kept


def test_sigkill_then_resume_continues_from_the_last_backup(killed_run, tmp_path, capsys):
    run_dir, killed_at = copy_of(killed_run, tmp_path), killed_run[1]
    before = history(run_dir)
    assert len(before) == killed_at["epoch"]  # the epochs that ended before the kill, each logged once
    assert killed_at["global_step"] % 15 == 0  # a backup inside an epoch comes every 15 steps

    resumed = subprocess.run(train_command(run_dir), env=ENV, capture_output=True, text=True, timeout=300)
    assert resumed.returncode in (0, 1), resumed.stderr[-3000:]
    assert f"resuming from the backup at step {killed_at['global_step']}" in resumed.stdout
    after = history(run_dir)
    assert [int(row["epoch"]) for row in after] == list(range(EPOCHS))  # every epoch once, none redone
    # Continued, not restarted: the first resumed epoch trains from where the killed run was.
    first_resumed = float(after[killed_at["epoch"]]["loss"])
    assert first_resumed < float(after[0]["loss"])
    assert not (run_dir / "backup").exists()  # a finished run leaves nothing to resume
    o5 = next(v for v in json.loads((run_dir / "verdicts.json").read_text()) if v["id"] == "O5")
    assert o5["status"] == "pass" and o5["measured"]["resumed_from_step"] == killed_at["global_step"]
    assert (run_dir / "checkpoints" / "best.keras").is_file()
    best = json.loads((run_dir / "checkpoints" / "best.json").read_text())  # the best of all epochs, kill or not
    assert best["value"] == pytest.approx(min(float(row["val_loss"]) for row in after), rel=1e-5)
    # Training again into the finished run's folder would overwrite its checkpoints: refused.
    assert main(["train", "--run-dir", str(run_dir), *SETTINGS]) == 2
    assert "holds a finished training run" in capsys.readouterr().err


def test_a_run_folder_made_by_another_config_is_refused_and_left_alone(killed_run, tmp_path, capsys):
    run_dir = copy_of(killed_run, tmp_path)
    checkpoint = run_dir / "checkpoints" / "last.keras"
    stamp = checkpoint.stat().st_mtime_ns
    code = main(["train", "--run-dir", str(run_dir), *SETTINGS, "--set", "train.learning_rate=0.01"])
    assert code == 2
    assert "different config" in capsys.readouterr().err
    assert checkpoint.stat().st_mtime_ns == stamp


def test_o5_warns_when_a_kill_would_lose_more_than_15_minutes(tmp_path):
    from {{ cookiecutter.package_name }}.resume import ResumePoint

    point = ResumePoint(tmp_path / "backup", every_steps=5000)
    point.seconds_between_saves = [60.0, 1500.0]
    verdict = point.verdict()
    assert verdict.status == "warn" and "lower train.backup_every_steps" in verdict.advice
    point.seconds_between_saves = [60.0, 80.0]
    assert point.verdict().status == "pass"
