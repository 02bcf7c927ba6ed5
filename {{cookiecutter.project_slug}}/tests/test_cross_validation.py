"""train.folds: the folds are disjoint and never hold a test row; the bag's output is the mean of
its members' probabilities (or values); the cross-validated score is the score of the out-of-fold
outputs; `evaluate` scores val out of fold; `predict` on the bag's export equals what `evaluate`
scores; a training process killed between folds is resumed fold by fold."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest

from {{ cookiecutter.package_name }}.cli import main
from {{ cookiecutter.package_name }}.config import load_config, with_values
from {{ cookiecutter.package_name }}.cross_validation import bag_model, fold_ids, fold_prepared
from {{ cookiecutter.package_name }}.data import prepare
from {{ cookiecutter.package_name }}.data.pipeline import evaluation_dataset
from {{ cookiecutter.package_name }}.models import score_predictions

TINY = ["task=binary", "data.source=breast_cancer", "train.epochs=2", "train.min_steps=0", "model.hidden_units=8",
        "train.checkpoint_every_seconds=0", "train.folds=3"]
ENV = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "3"}


def test_folds_are_disjoint_cover_train_and_val_and_never_hold_test(config):
    config = with_values(config, {"train.folds": 5})
    prepared = prepare(config)
    folds = fold_ids(prepared, config.data.split, 5)
    pooled = np.sort(np.concatenate([prepared.indices["train"], prepared.indices["val"]]))
    assert np.all(folds[prepared.indices["test"]] == -1)
    assert np.array_equal(np.flatnonzero(folds >= 0), pooled)
    sizes = np.bincount(folds[pooled], minlength=5)
    assert sizes.min() > 0.6 * len(pooled) / 5  # equal runs of buckets: about a fifth each
    held_out_once = []
    for fold in range(5):
        held_out = fold_prepared(prepared, folds, fold, config, 5)
        train, val = held_out.indices["train"], held_out.indices["val"]
        assert not np.intersect1d(train, val).size
        assert np.array_equal(np.sort(np.concatenate([train, val])), pooled)
        assert np.array_equal(held_out.indices["test"], prepared.indices["test"])
        # Statistics from the fold's own training rows: its class shares, not the 70% split's.
        shares = np.bincount(prepared.manifest.labels[train], minlength=prepared.num_classes) / len(train)
        np.testing.assert_allclose(held_out.stats.priors, shares, atol=1e-6)
        held_out_once.append(val)
    assert np.array_equal(np.sort(np.concatenate(held_out_once)), pooled)  # every pooled row held out once


def test_folds_auto_bags_small_tables_only(config, prepared, tmp_path):
    from {{ cookiecutter.package_name }}.cross_validation import AUTO_FOLDS, AUTO_MAX_ROWS, folds_for

    auto = with_values(config, {"train.folds": "auto"})
    assert folds_for(auto, prepared)[0] == 1  # the bundled digits are images: one split
    table = with_values(auto, {"data.source": "breast_cancer", "task": "binary"})
    small = prepare(table)
    chosen, why = folds_for(table, small)
    assert chosen == AUTO_FOLDS and f"{small.size('train') + small.size('val'):,} train and val rows" in why
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(int(AUTO_MAX_ROWS / 0.85), 3)), rng.integers(0, 2, int(AUTO_MAX_ROWS / 0.85))
    np.savez(tmp_path / "big.npz", x=x.astype("float32"), y=y)
    big = with_values(auto, {"data.source": "npz", "data.location": str(tmp_path / "big.npz"), "task": "binary"})
    assert folds_for(big, prepare(big))[0] == 1
    assert folds_for(with_values(table, {"train.folds": 3}), small) == (3, "set")


@pytest.mark.parametrize("task, units", [("classification", 3), ("binary", 1), ("regression", 1)])
def test_the_bag_outputs_the_mean_of_its_members(task, units, tmp_path):
    rng = np.random.default_rng(0)
    members = []
    for seed in range(3):
        inputs = keras.Input((4,))
        hidden = keras.layers.Dense(8, activation="relu", kernel_initializer=keras.initializers.RandomNormal(
            seed=seed))(inputs)
        members.append(keras.Model(inputs, keras.layers.Dense(units, kernel_initializer=keras.initializers.
                                                              RandomNormal(stddev=2.0, seed=seed + 10))(hidden)))
    x = rng.normal(size=(64, 4)).astype("float32")
    each = np.stack([m.predict(x, verbose=0).astype("float64") for m in members])
    bag_model(members, task).save(tmp_path / "bag.keras")
    bagged = keras.models.load_model(tmp_path / "bag.keras").predict(x, verbose=0).astype("float64")
    if task == "classification":
        def softmax(z):
            e = np.exp(z - z.max(axis=-1, keepdims=True))
            return e / e.sum(axis=-1, keepdims=True)

        np.testing.assert_allclose(softmax(bagged), softmax(each).mean(axis=0), atol=1e-5)
    elif task == "binary":
        np.testing.assert_allclose(1 / (1 + np.exp(-bagged)), (1 / (1 + np.exp(-each))).mean(axis=0), atol=1e-5)
    else:
        np.testing.assert_allclose(bagged, each.mean(axis=0), rtol=1e-5, atol=1e-5)
    assert not np.allclose(each[0], each[1])  # members that differ, so the mean is a real test


def _kill_after_fold(run_dir: Path, fold: int) -> None:
    """Starts `train` with TINY, and SIGKILLs it as soon as fold `fold` has finished."""
    command = [sys.executable, "-m", "{{ cookiecutter.package_name }}", "train", "--run-dir", str(run_dir),
               *[part for s in TINY for part in ("--set", s)]]
    process = subprocess.Popen(command, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    finished = run_dir / "folds" / str(fold) / "fold_rows.npz"
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline and process.poll() is None:
            if finished.exists():
                process.send_signal(signal.SIGKILL)
                process.wait(30)
                return
            time.sleep(0.02)
        pytest.fail(f"training ended or hung before fold {fold} finished: {process.stderr.read()[-2000:]}")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.slow
def test_folds_killed_resumed_scored_out_of_fold_bagged_and_served(in_tmp, capsys):
    from sklearn.datasets import load_breast_cancer

    run_dir = Path("runs/cv")
    _kill_after_fold(run_dir, 2)
    assert not (run_dir / "folds" / "3" / "fold_rows.npz").exists() and not (run_dir / "export").exists()
    kept = {i: (run_dir / "folds" / str(i) / "fold_rows.npz").stat().st_mtime_ns for i in (1, 2)}
    capsys.readouterr()
    assert main(["train", "--run-dir", str(run_dir), *[p for s in TINY for p in ("--set", s)]]) in (0, 1)
    printed = capsys.readouterr().out
    assert "fold 1 of 3: finished before, kept" in printed and "fold 2 of 3: finished before, kept" in printed
    assert "fold 3 of 3: trains on" in printed
    assert kept == {i: (run_dir / "folds" / str(i) / "fold_rows.npz").stat().st_mtime_ns for i in (1, 2)}

    prepared = prepare(load_config(None, TINY), run_dir)
    pooled = np.sort(np.concatenate([prepared.indices["train"], prepared.indices["val"]]))
    with np.load(run_dir / "out_of_fold.npz") as saved:
        rows, outputs = saved["rows"], saved["outputs"]
    assert np.array_equal(rows, pooled)  # each train and val row once, no test row
    record = json.loads((run_dir / "cross_validation.json").read_text())
    labels = prepared.manifest.labels[rows]
    assert record["scores"] == pytest.approx(score_predictions("binary", labels, outputs), rel=1e-5)
    assert record["folds"] == 3 and len(record["each_fold"]) == 3

    # The bag is the mean of its members' probabilities, as saved and as `evaluate` loads it.
    bag = keras.models.load_model(run_dir / "checkpoints" / "best.keras")
    members = [keras.models.load_model(run_dir / "folds" / str(i) / "checkpoints" / "best.keras") for i in (1, 2, 3)]
    test_inputs = evaluation_dataset(prepared, "test")
    bagged = bag.predict(test_inputs, verbose=0)[:, 0]
    each = np.stack([m.predict(test_inputs, verbose=0)[:, 0] for m in members])
    np.testing.assert_allclose(1 / (1 + np.exp(-bagged)), (1 / (1 + np.exp(-each))).mean(axis=0), atol=1e-5)

    # `evaluate` scores val out of fold (the bag trained on every val row), and says so.
    assert main(["evaluate", "--run-dir", str(run_dir)]) in (0, 1)
    assert "3-fold cross-validation, out of fold" in capsys.readouterr().out
    evaluation = json.loads((run_dir / "evaluation.json").read_text())
    in_val = np.isin(rows, prepared.indices["val"])
    assert evaluation["scores"]["val"]["loss"] == pytest.approx(
        score_predictions("binary", labels[in_val], outputs[in_val])["loss"], rel=1e-5)
    assert evaluation["cross_validation"] == record
    assert main(["report", "--run-dir", str(run_dir)]) == 0
    assert "3-fold cross-validation, out of fold" in (run_dir / "report.html").read_text()

    # `predict` serves the bag: the same probabilities as the model `evaluate` scored.
    x, _ = prepared.take(prepared.indices["test"])
    bunch = load_breast_cancer()
    with open("new.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(list(bunch.feature_names))
        writer.writerows(x.tolist())
    assert main(["predict", "--run", str(run_dir), "new.csv"]) == 0
    with (run_dir / "predictions.csv").open(newline="") as handle:
        served = np.array([float(row["p_" + bunch.target_names[1]]) for row in csv.DictReader(handle)])
    np.testing.assert_allclose(served, 1 / (1 + np.exp(-bagged)), rtol=1e-4, atol=1e-5)
