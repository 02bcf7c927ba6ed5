"""The default answers generate a project that installs, passes its own tests, and runs
every recipe stage on its bundled data. The stages run as a user runs them: the console
script, in the project folder, one process each."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
RUN = "runs/t"
# Tiny budgets: every stage does its real work, in seconds.
STAGES = [
    ("inspect", []),
    ("check", []),
    ("train", ["--set", "train.epochs=2", "--set", "train.min_steps=0"]),
    ("evaluate", []),
    ("tune", ["--set", "tune.max_trials=2", "--set", "tune.epochs=1"]),
    ("report", []),
]


@pytest.fixture(scope="module")
def installed(cookies_session):
    """Generate with the default answers and `pip install -e .[dev]` into this environment."""
    result = cookies_session.bake()
    assert result.exit_code == 0, result.exception
    project = Path(result.project_path)
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-build-isolation", "-e", f"{project}[dev]"]
    subprocess.run(pip, check=True)
    yield project
    subprocess.run([sys.executable, "-m", "pip", "uninstall", "-q", "-y", "recipe-net"], check=False)


def run(args: list[str], cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def test_its_own_test_suite_passes(installed):
    # As `make test` runs it, two pytest-xdist workers: 568-627 s on 2 cores (997 s in one process;
    # the hostile-input corpus is about a quarter); a CI machine that runs something beside it
    # has taken longer, so the bound is generous.
    done = run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2"], installed, timeout=1500)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert " passed" in done.stdout


def test_every_stage_runs_on_the_bundled_data(installed):
    script = shutil.which("recipe-net", path=str(BIN))
    assert script, "the console script was not installed"
    for stage, extra in STAGES:
        done = run([script, stage, "--run-dir", RUN, *extra], installed)
        assert done.returncode == 0, f"{stage}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    run_dir = installed / RUN
    records = json.loads((run_dir / "verdicts.json").read_text())
    ids = {r["id"] for r in records}
    assert {"D1", "D2", "D3", "D4", "D5", "M1", "M2", "M3", "B1", "T1", "T3", "T13", "O3"} <= ids
    assert [r for r in records if r["status"] == "fail"] == []
    for path in ["checkpoints/best.keras", "checkpoints/last.keras", "export/saved_model.pb", "history.csv",
                 "stats.json", "train_config.yaml", "evaluation.json", "best_config.yaml", "report.html"]:
        assert (run_dir / path).exists(), path
    page = (run_dir / "report.html").read_text()
    assert all(f">{i}<" in page for i in ids)
    # Every file a stage wrote is one the run folder's layout names (rundir.RunFiles), none half-written.
    named = run([sys.executable, "-c", "from recipe_net.rundir import RUN_FILES; print(*RUN_FILES)"], installed)
    unnamed = sorted(p.name for p in run_dir.iterdir() if p.name not in named.stdout.split())
    assert unnamed == [], f"not named in RunFiles: {unnamed}"
    assert list(run_dir.rglob("*.partial")) == []
    # predict, as `make demo` runs it: 20 test examples written by scripts/new_data.py as new data.
    new_data = run([sys.executable, "scripts/new_data.py", RUN], installed)
    assert new_data.returncode == 0, new_data.stderr[-3000:]
    done = run([script, "predict", "--run", RUN, new_data.stdout.strip().splitlines()[-1]], installed)
    assert done.returncode == 0, done.stderr[-3000:]
    predicted = (run_dir / "predictions.csv").read_text().splitlines()
    assert predicted[0].startswith("index,prediction,p_0,") and len(predicted) == 21, predicted[:3]
    unnamed = sorted(p.name for p in run_dir.iterdir() if p.name not in named.stdout.split())
    assert unnamed == [], f"not named in RunFiles: {unnamed}"
    # tune wrote the best hyperparameters as a config that train takes as it is.
    done = run([script, "train", "--config", f"{RUN}/best_config.yaml", "--set", "train.epochs=1",
                "--set", "train.min_steps=0", "--set", "train.export=false", "--run-dir", "runs/best"], installed)
    assert done.returncode == 0, done.stderr[-3000:]


def test_the_default_model_beats_the_simple_model_out_of_the_box(installed):
    """M4 as amended: `check`, `train` and `evaluate` with every default, as `make demo` runs them.
    The default CNN of turn 1 ended at 76% test accuracy on the digits with B3 warning; the goal
    is 97% (measured: 97.6%); 96% leaves room for a machine's last-digit differences."""
    script = shutil.which("recipe-net", path=str(BIN))
    for stage in ("check", "train", "evaluate"):
        done = run([script, stage, "--run-dir", "runs/defaults"], installed)
        assert done.returncode == 0, f"{stage}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    scores = json.loads((installed / "runs/defaults/evaluation.json").read_text())["scores"]
    assert scores["test"]["accuracy"] >= 0.96, scores
    records = json.loads((installed / "runs/defaults/verdicts.json").read_text())
    statuses = {(r["id"], r["stage"]): r["status"] for r in records}
    assert statuses[("B3", "evaluate")] == "pass" and statuses[("B1", "evaluate")] == "pass"
    assert statuses[("B2", "check")] == "pass"
    # The error analysis stays quiet on the bundled digits: every class predicted, calibrated,
    # no label issues in val and test; the worst predictions are shown, judged by nobody (info).
    assert [statuses[(i, "evaluate")] for i in ("E1", "E3", "D12")] == ["pass"] * 3
    assert statuses[("E2", "evaluate")] == "info" and statuses[("B1", "check")] == "info"


def test_python_dash_m_is_the_same_cli(installed):
    done = run([sys.executable, "-m", "recipe_net", "train", "--help"], installed)
    assert done.returncode == 0
    assert "--run-dir" in done.stdout and "--set" in done.stdout and "--config" in done.stdout

