"""Tuning: bad searches are refused, NaN trials fail without stopping the search, a killed
search resumes without redoing trials, and a chief with two workers splits the trials."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.config import load_config, with_values
from {{ cookiecutter.package_name }}.errors import UserError
from {{ cookiecutter.package_name }}.tune import make_tuner, tune

PROJECT = Path(__file__).resolve().parents[1]
TINY = ["--config", str(PROJECT / "configs" / "debug.yaml"), "--set", "train.export=false"]


def test_objective_the_model_does_not_log(config, prepared, tmp_path):
    with pytest.raises(UserError, match="tune.objective"):
        make_tuner(with_values(config, {"tune.objective": "val_f1"}), prepared, tmp_path)


def test_impossible_search_space():
    with pytest.raises(UserError, match="tune.learning_rate"):
        load_config(None, ["tune.learning_rate=[0.1, 0.001]"])
    with pytest.raises(UserError, match="tune.hidden_units"):
        load_config(None, ["tune.hidden_units=[]"])
    with pytest.raises(UserError, match="tune.folds trains each fold's model whole"):
        load_config(None, ["tune.folds=3", "tune.algorithm=hyperband"])


def test_results_folder_from_a_different_search(config, prepared, tmp_path):
    make_tuner(config, prepared, tmp_path)
    with pytest.raises(UserError, match="different search"):
        make_tuner(with_values(config, {"tune.depth": [2, 4]}), prepared, tmp_path)


def non_finite_model(input_shape, spec, config):
    """Planted: a model whose activations overflow to Inf, so every trial's loss is NaN."""
    import keras

    inputs = keras.Input(input_shape)
    hidden = keras.layers.Dense(config.model.hidden_units)(keras.layers.Flatten()(inputs))
    overflow = keras.layers.Lambda(lambda t: t * 1e30 * 1e30)(hidden)
    return keras.Model(inputs, spec.head(overflow))


@pytest.mark.slow
def test_nan_trials_fail_with_their_reason_and_the_search_goes_on(small_config, prepared, tmp_path):
    config = with_values(small_config, {"tune.max_trials": 2, "tune.epochs": 1, "tune.hidden_units": [16],
                                        "model.builder": "test_tune:non_finite_model"})
    [verdict] = tune(config, prepared, tmp_path)
    table = verdict.measured["table"]
    assert len(table) == 2 and {row["status"] for row in table} == {"FAILED"}
    assert all("non-finite" in row["reason"] for row in table)
    assert verdict.status == "fail"


def _cli(*args: str, env: dict | None = None, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "{{ cookiecutter.package_name }}", *args], cwd=cwd,
                            env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def _completed(run_dir: Path) -> dict[str, float]:
    scores = {}
    for path in (run_dir / "tuner" / "search").glob("trial_*/trial.json"):
        trial = json.loads(path.read_text())
        if trial["status"] == "COMPLETED":
            scores[trial["trial_id"]] = trial["score"]
    return scores


@pytest.mark.slow
def test_a_killed_search_resumes_without_redoing_finished_trials(tmp_path):
    run_dir = tmp_path / "run"
    args = ["tune", *TINY, "--set", "tune.max_trials=4", "--set", "tune.epochs=2", "--run-dir", str(run_dir)]
    first = _cli(*args, cwd=tmp_path)
    deadline = time.time() + 240
    while len(_completed(run_dir)) < 2 and first.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    first.send_signal(signal.SIGKILL)
    first.wait()
    before = _completed(run_dir)
    assert 2 <= len(before) < 4, first.stdout.read()[-2000:]
    started = {p.name: p.stat().st_mtime_ns for p in (run_dir / "tuner" / "owners").iterdir()}

    second = _cli(*args, cwd=tmp_path)
    output, _ = second.communicate(timeout=300)
    assert second.returncode == 0, output[-3000:]
    after = _completed(run_dir)
    assert len(after) == 4
    assert {k: after[k] for k in before} == before  # finished trials kept their scores...
    for trial_id in before:  # ...and were not started again
        owner = run_dir / "tuner" / "owners" / f"{trial_id}.txt"
        assert owner.stat().st_mtime_ns == started[owner.name]


@pytest.mark.slow
def test_a_chief_and_two_workers_split_the_trials(tmp_path, free_ports):
    run_dir = tmp_path / "run"
    args = ["tune", *TINY, "--set", "tune.max_trials=6", "--set", "tune.epochs=3", "--run-dir", str(run_dir)]
    oracle = {"KERASTUNER_ORACLE_IP": "127.0.0.1", "KERASTUNER_ORACLE_PORT": str(free_ports(1)[0])}
    chief = _cli(*args, env={**oracle, "KERASTUNER_TUNER_ID": "chief"}, cwd=tmp_path)
    time.sleep(1)
    workers = [_cli(*args, env={**oracle, "KERASTUNER_TUNER_ID": f"tuner{i}"}, cwd=tmp_path) for i in range(2)]
    try:
        for process in workers:
            output, _ = process.communicate(timeout=400)
            assert process.returncode == 0, output[-3000:]
        output, _ = chief.communicate(timeout=120)
        assert chief.returncode == 0, output[-3000:]
    finally:
        for process in (chief, *workers):
            process.kill()
    owners = {p.stem: p.read_text() for p in (run_dir / "tuner" / "owners").iterdir()}
    assert len(_completed(run_dir)) == 6
    assert len(owners) == 6  # each trial started once: one owner file each, never rewritten by another
    assert set(owners.values()) == {"tuner0", "tuner1"}
    records = json.loads((run_dir / "verdicts.json").read_text())
    assert [r["id"] for r in records] == ["O3"]


def test_ensemble_averages_probabilities_not_logits():
    import numpy as np

    from {{ cookiecutter.package_name }}.tune import ensemble_outputs

    sure, unsure = np.log(0.9 / 0.1), 0.0  # binary logits: p = 0.9 and p = 0.5
    averaged = ensemble_outputs("binary", [np.array([[sure]]), np.array([[unsure]])])
    assert np.allclose(1 / (1 + np.exp(-averaged)), 0.7)
    logits = np.array([[2.0, 0.0, -1.0]])
    assert np.allclose(ensemble_outputs("classification", [logits, logits]), logits - np.log(np.exp(logits).sum()))


@pytest.mark.slow
def test_tune_folds_scores_a_trial_by_the_mean_of_its_folds(small_config, prepared, tmp_path):
    """tune.folds=2: each trial trains a model on each fold's training rows and scores the mean of
    the folds' best val losses, not the first fold's alone and not the val split's."""
    config = with_values(small_config, {"tune.max_trials": 1, "tune.epochs": 1, "tune.hidden_units": [16],
                                        "tune.folds": 2})
    [verdict] = tune(config, prepared, tmp_path)
    assert verdict.status == "pass" and len(verdict.measured["table"]) == 1, verdict.advice
    for row in verdict.measured["table"]:
        folds = json.loads((tmp_path / "trials" / row["trial"] / "folds.json").read_text())
        best = folds["best_per_fold"]
        assert folds["objective"] == "val_loss" and len(best) == 2 and best[0] != best[1]
        assert row["score"] == pytest.approx((best[0] + best[1]) / 2)


def test_evaluate_ensemble_reports_the_gain_over_the_best_trial(small_config, prepared, tmp_path):
    from {{ cookiecutter.package_name }}.evaluate import check_ensemble

    with pytest.raises(UserError, match="tune"):
        check_ensemble(prepared, tmp_path, 3, 64)
    config = with_values(small_config, {"tune.max_trials": 2, "tune.epochs": 1, "tune.hidden_units": [16, 32]})
    tune(config, prepared, tmp_path)
    verdict = check_ensemble(prepared, tmp_path, 2, 64)
    measured = verdict.measured
    assert verdict.id == "O4"
    assert measured["val_loss_gain"] == pytest.approx(measured["best_single_val"]["loss"]
                                                      - measured["ensemble_val"]["loss"])
    # Averaging probabilities never does worse than the members on average (the log loss is convex in
    # them): a property of the measurement that the check's own arithmetic cannot echo.
    assert measured["ensemble_val"]["loss"] <= measured["members_mean_val_loss"] + 1e-6
    assert verdict.status in ("pass", "warn")


def test_o4_warns_when_averaging_does_worse_than_the_best_single_trial():
    """judge_ensemble on planted scores: a gain passes, a loss warns with the reason."""
    from {{ cookiecutter.package_name }}.evaluate import judge_ensemble

    helped = judge_ensemble({"loss": 0.50}, {"loss": 0.45}, members_mean=0.55, members=3)
    hurt = judge_ensemble({"loss": 0.40}, {"loss": 0.44}, members_mean=0.60, members=3)
    assert helped.status == "pass" and helped.measured["val_loss_gain"] == pytest.approx(0.05)
    assert hurt.status == "warn" and "keep the best single model" in hurt.advice


def test_the_search_writes_its_state_files_whole(config, prepared, tmp_path):
    """KerasTuner rewrites oracle.json in place; a kill during that write left an empty file that no
    resume could read. make_tuner routes its writes through write_whole (beside, then renamed)."""
    import keras_tuner

    from {{ cookiecutter.package_name }}.tune import _save_json_whole

    tuner = make_tuner(with_values(config, {"tune.max_trials": 1}), prepared, tmp_path)
    assert keras_tuner.src.utils.save_json is _save_json_whole
    tuner.oracle.save()
    oracle = next((tmp_path / "tuner" / "search").glob("oracle.json"))
    assert "ongoing_trials" in json.loads(oracle.read_text())
    assert not list(oracle.parent.glob(".*partial"))
