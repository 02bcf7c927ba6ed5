import keras
import pytest

from {{ cookiecutter.package_name }}.checks.model import check_loss_at_init, check_loss_input, output_offset
from {{ cookiecutter.package_name }}.checks.training import check_overfit_one_batch
from {{ cookiecutter.package_name }}.models import build_model, model_spec


def test_healthy_model_passes_m1_m3(small_config, prepared):
    model = build_model(small_config, prepared)
    assert check_loss_input(model, prepared).status == "pass"
    assert check_loss_at_init(model, prepared, output_offset(model), 0.5).status == "pass"


def test_m3_catches_a_squashed_output(small_config, prepared):
    """Planted bug: a softmax (sigmoid) before a from_logits loss; a sigmoid on a regression."""
    spec = model_spec(small_config, prepared)
    inputs = keras.Input(spec.input_shape)
    x = keras.layers.Flatten()(inputs)
    outputs = keras.layers.Dense(spec.units, activation="softmax" if spec.units > 1 else "sigmoid")(x)
    verdict = check_loss_input(keras.Model(inputs, outputs), prepared)
    assert verdict.status == "fail"
    assert ("linear" if small_config.task == "regression" else "logits") in verdict.advice


@pytest.mark.slow
def test_t1_overfits_a_healthy_model(small_config, prepared, tmp_path):
    verdict = check_overfit_one_batch(build_model(small_config, prepared), prepared, small_config, tmp_path)
    assert verdict.status == "pass", verdict.measured
    assert (tmp_path / verdict.plots[0]).exists()


@pytest.mark.slow
def test_t1_fails_when_the_output_ignores_the_inputs(small_config, prepared, tmp_path):
    """Planted bug: a branch cut off; the output sees only a constant, so nothing can be memorised."""
    spec = model_spec(small_config, prepared)
    inputs = keras.Input(spec.input_shape)
    cut = keras.layers.Lambda(lambda t: t[:, :1] * 0.0)(keras.layers.Flatten()(inputs))
    model = keras.Model(inputs, spec.head(keras.layers.Dense(4)(cut)))
    verdict = check_overfit_one_batch(model, prepared, small_config, tmp_path)
    assert verdict.status == "fail"
