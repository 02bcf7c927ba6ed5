"""T14: the same seed and config give the same numbers; an unseeded generator is caught."""

import keras
import numpy as np
import pytest

from {{ cookiecutter.package_name }}.checks.reproducibility import check_reproducibility
from {{ cookiecutter.package_name }}.config import with_values


def unseeded_init_model(input_shape, spec, config):
    """Planted: the first layer's weights come from a generator the seed does not reach."""
    inputs = keras.Input(input_shape)
    x = keras.layers.Flatten()(spec.normalization()(inputs))
    fan_in = int(np.prod(input_shape))
    kernel = np.random.default_rng().normal(0, fan_in**-0.5, (fan_in, 16)).astype("float32")
    x = keras.layers.Dense(16, activation="relu", kernel_initializer=keras.initializers.Constant(kernel))(x)
    return keras.Model(inputs, spec.head(x))


@pytest.mark.slow
def test_same_seed_same_numbers(small_config, prepared):
    verdict = check_reproducibility(small_config, prepared, steps=10)
    assert verdict.status == "pass", verdict.measured


@pytest.mark.slow
def test_an_unseeded_generator_is_caught(small_config, prepared):
    config = with_values(small_config, {"model.builder": "test_reproducibility:unseeded_init_model"})
    verdict = check_reproducibility(config, prepared, steps=10)
    assert verdict.status == "fail"
    assert verdict.measured["max_prediction_difference"] > 0
