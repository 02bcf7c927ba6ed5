"""The bootstrap intervals that `evaluate` and the report give with every test score: right on
cases whose answer is known in advance (a perfect model, a coin, two identical models), the
same losses as keras computes, and an interval that covers the truth as often as it says."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from {{ cookiecutter.package_name }}.bootstrap import (
    Comparison,
    bootstrap_scores,
    comparison_words,
    paired_difference,
    row_losses,
)
from {{ cookiecutter.package_name }}.models import score_predictions
from {{ cookiecutter.package_name }}.report.page import headline
from {{ cookiecutter.package_name }}.verdicts import Verdict

RNG = np.random.default_rng(0)


def test_a_perfect_model_has_no_uncertainty_left():
    labels = RNG.integers(0, 3, 200)
    logits = np.where(np.eye(3)[labels] == 1, 30.0, -30.0)
    found = bootstrap_scores("classification", labels, logits, seed=0)
    assert found["accuracy"].low == found["accuracy"].high == 1.0
    assert 0 <= found["loss"].low <= found["loss"].high < 1e-10
    assert found["loss"].rows == 200


def test_a_coin_is_half_right_within_the_width_chance_allows():
    """A coin on 400 rows: accuracy about 0.5, AUC about 0.5, and the accuracy interval as wide as a
    binomial's (2 x 1.96 x sqrt(0.25 / 400) = 0.098), within a fifth."""
    labels = RNG.integers(0, 2, 400)
    coin = RNG.normal(size=400)  # logits unrelated to the labels
    found = bootstrap_scores("binary", labels, coin, seed=1)
    assert found["accuracy"].low < 0.5 < found["accuracy"].high
    assert found["auc"].low < 0.5 < found["auc"].high
    assert found["accuracy"].width == pytest.approx(2 * 1.96 * np.sqrt(0.25 / 400), rel=0.2)


def test_two_identical_models_are_level_with_a_zero_interval():
    labels = RNG.integers(0, 2, 150)
    outputs = RNG.normal(size=150)
    losses = row_losses("binary", labels, outputs)
    same = paired_difference(losses, losses.copy(), seed=0)
    assert (same.difference, same.low, same.high) == (0.0, 0.0, 0.0)
    assert same.outcome == "level"
    assert comparison_words("gradient boosting", same).startswith("level with gradient boosting")


def test_a_paired_difference_says_better_only_beyond_chance():
    labels = RNG.integers(0, 2, 300)
    good = np.where(labels == 1, 3.0, -3.0) + RNG.normal(size=300)
    coin = RNG.normal(size=300)
    better = paired_difference(row_losses("binary", labels, good), row_losses("binary", labels, coin), seed=0)
    assert better.outcome == "better" and better.high < 0
    assert paired_difference(row_losses("binary", labels, coin), row_losses("binary", labels, good),
                             seed=0).outcome == "worse"
    # Two models a hair apart on few rows: the interval straddles zero.
    close = paired_difference(row_losses("binary", labels[:20], good[:20]),
                              row_losses("binary", labels[:20], good[:20] + RNG.normal(scale=0.1, size=20)), seed=0)
    assert close.outcome == "level" and close.low < 0 < close.high


@pytest.mark.parametrize("task", ["classification", "binary", "regression"])
def test_row_losses_average_to_the_loss_keras_computes(task):
    n = 64
    if task == "classification":
        labels, outputs = RNG.integers(0, 4, n), RNG.normal(size=(n, 4)) * 3
    elif task == "binary":
        labels, outputs = RNG.integers(0, 2, n), RNG.normal(size=n) * 5
    else:
        labels, outputs = RNG.normal(size=n) * 10, RNG.normal(size=n) * 10
    keras_scores = score_predictions(task, labels, outputs)
    assert row_losses(task, labels, outputs).mean() == pytest.approx(keras_scores["loss"], rel=1e-4)
    found = bootstrap_scores(task, labels, outputs, seed=0)
    for metric in ("accuracy", "mae"):
        if metric in keras_scores:
            assert found[metric].value == pytest.approx(keras_scores[metric], rel=1e-5)


def test_auc_with_ties_matches_scikit_learn():
    labels = RNG.integers(0, 2, 300)
    scores = np.round(labels + RNG.normal(size=300), 1)  # rounded: many ties
    found = bootstrap_scores("binary", labels, scores, seed=0)
    assert found["auc"].value == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)


def test_the_interval_covers_the_true_accuracy_about_95_times_in_100():
    """200 test splits of 150 rows from a model that is right with probability 0.8: the 95%
    percentile interval should hold 0.8 in about 190 of them (binomial sd about 3)."""
    rng = np.random.default_rng(5)
    covered = 0
    for trial in range(200):
        labels = rng.integers(0, 2, 150)
        right = rng.random(150) < 0.8
        logits = np.where(labels == right, 2.0, -2.0)
        accuracy = bootstrap_scores("binary", labels, logits, seed=trial, resamples=400)["accuracy"]
        covered += accuracy.low <= 0.8 <= accuracy.high
    assert 178 <= covered <= 198, covered


def test_the_headline_says_better_only_when_the_interval_excludes_zero():
    t13 = Verdict("T13", "Full-set evaluation", "pass", {
        "scores": {"test": {"loss": 0.3, "accuracy": 0.9}}, "examples_scored": {"test": 180},
        "test_intervals": {"loss": [0.25, 0.36], "accuracy": [0.85, 0.94]}}, stage="evaluate")
    evaluation = {"test_compared_with": {
        "priors": Comparison(-0.4, -0.5, -0.3, 180).as_record(),
        "boosting": Comparison(0.01, -0.02, 0.04, 180).as_record()}}
    boosting = {"test": {"loss": 0.29, "accuracy": 0.9}, "training_examples": 20_000,
                "capped_by": "check.reference_rows (20,000)"}
    b3 = Verdict("B3", "Simple model", "pass", {"references": {"boosting": boosting}}, stage="check")
    page = headline([t13, b3], evaluation)
    assert "loss 0.3 (0.25 to 0.36), accuracy 0.9 (0.85 to 0.94)" in page
    assert "better than the priors (B1)" in page
    assert "level with gradient boosting (B3)" in page and "better than gradient boosting" not in page
    assert "A small test split" in page and "180 rows" in page
    assert "gradient boosting (B3): loss 0.29, accuracy 0.9 (fitted on 20,000 training rows, capped by " in page
