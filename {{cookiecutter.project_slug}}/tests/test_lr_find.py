"""T10, the learning-rate range test: sensible suggestions on the healthy bundled digits, a
fail when nothing can learn, a warn when the configured rate sits past the blow-up, and the
model left as it was found."""

import numpy as np
import pytest

from {{ cookiecutter.package_name }}.checks.lr_find import centred_average, check_lr_range, suggestions
from {{ cookiecutter.package_name }}.config import with_values
from {{ cookiecutter.package_name }}.data import prepare
from {{ cookiecutter.package_name }}.models import build_model

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def digits_config(config):
    return with_values(config, {"task": "classification", "data.source": "digits", "model.builder": "mlp",
                                "model.hidden_units": 32, "model.depth": 1, "check.lr_find_steps": 150})


@pytest.fixture(scope="module")
def digits(digits_config):
    return prepare(digits_config)


def test_suggestions_on_a_textbook_curve():
    """Flat, a steep fall between 1e-4 and 1e-2, a floor, then a blow-up past 1: the valley
    lies on the fall, and the divergence rate where the loss climbs back above the start."""
    rates = np.geomspace(1e-7, 10, 200)
    log_rate = np.log10(rates)
    loss = 2.3 - 2.0 / (1 + np.exp(-3 * (log_rate + 3))) + np.where(log_rate > 0, 20 * log_rate**2, 0)
    found, diverged = suggestions(rates, centred_average(loss, 21), start=float(loss[:21].mean()))
    assert 1e-4 < found["valley"] < 1e-2
    assert 1e-4 < found["steepest"] < 1e-2
    assert 0.2 < diverged < 2


def test_healthy_digits_suggest_a_usable_rate_and_restore_the_model(digits_config, digits, tmp_path):
    model = build_model(digits_config, digits)
    before = [w.copy() for w in model.get_weights()]
    verdict = check_lr_range(model, digits, digits_config, tmp_path)
    assert verdict.status == "pass", verdict.advice  # the default rate (3e-4) lies below the blow-up
    measured = verdict.measured
    assert 1e-4 <= measured["suggested"] <= 1e-1, measured
    assert measured["divergence_rate"] != "not reached" and measured["divergence_rate"] > measured["suggested"]
    assert measured["drop"] > 0.5, measured  # digits are easy: the loss more than halves
    assert (tmp_path / verdict.plots[0]).is_file()
    for old, new in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)


def test_fails_when_no_rate_makes_the_loss_fall(digits_config, digits, tmp_path):
    """Planted: the hidden layer multiplies its input by zero. With the bias at the log priors
    the loss starts at its best input-free value, and no rate can lower it."""
    config = with_values(digits_config, {"model.builder": "test_planted_bugs:build_output_ignores_input"})
    verdict = check_lr_range(build_model(config, digits), digits, config, tmp_path)
    assert verdict.status == "fail", verdict.measured
    assert "nothing learns" in verdict.advice


def test_warns_when_the_configured_rate_is_past_the_blow_up(digits_config, digits, tmp_path):
    config = with_values(digits_config, {"train.learning_rate": 3.0})
    verdict = check_lr_range(build_model(config, digits), digits, config, tmp_path)
    assert verdict.status == "warn", verdict.measured
    assert "above the divergence rate" in verdict.advice
