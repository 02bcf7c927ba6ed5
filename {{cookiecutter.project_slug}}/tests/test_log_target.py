"""model.log_target=auto: a positive, long-tailed target is predicted on a log scale and comes
back in its own units (the first prediction is the train mean, a saved model reads back the
same), the models start healthy on it (M1-M3) and memorise a batch (T1); a symmetric target
keeps the plain head, and `on` refuses a target that log(1 + y) cannot hold."""

import keras
import numpy as np
import pytest

from {{ cookiecutter.package_name }}.checks.model import check_loss_at_init, check_loss_input, check_output_bias, output_offset
from {{ cookiecutter.package_name }}.checks.training import check_overfit_one_batch
from {{ cookiecutter.package_name }}.config import load_config, with_values
from {{ cookiecutter.package_name }}.data import prepare
from {{ cookiecutter.package_name }}.errors import UserError
from {{ cookiecutter.package_name }}.models import LogLink, build_model, model_spec


@pytest.fixture(scope="module")
def prices(tmp_path_factory):
    """600 house prices, log-normal: log(price) is linear in the first two features."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(600, 5)).astype("float32")
    y = np.exp(11 + 0.8 * x[:, 0] - 0.4 * x[:, 1] + 0.3 * rng.normal(size=600))
    path = tmp_path_factory.mktemp("prices") / "prices.npz"
    np.savez(path, x=x, y=y)
    config = load_config(None, ["task=regression", "data.source=npz", f"data.location={path}", "model.log_target=auto"])
    return config, prepare(config)


def test_a_skewed_target_is_predicted_on_a_log_scale_in_its_own_units(prices, tmp_path):
    config, prepared = prices
    assert prepared.stats.target_skewed
    model = build_model(config, prepared)
    assert isinstance(model.layers[-1], LogLink)
    x = prepared.sample("val", 64, 0)[0]
    model.get_layer("output_standard").kernel.assign(np.zeros(model.get_layer("output_standard").kernel.shape))
    np.testing.assert_allclose(model.predict(x, verbose=0), prepared.stats.target_mean, rtol=1e-5)
    model.get_layer("output_standard").bias.assign([1.0])  # one std up on the log scale: a factor, not a sum
    factor = np.exp(prepared.stats.target_log_std)
    np.testing.assert_allclose(model.predict(x, verbose=0), (1 + prepared.stats.target_mean) * factor - 1, rtol=1e-4)
    model.save(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    spec = model_spec(config, prepared)
    assert check_output_bias(build_model(config, prepared), spec.output_bias).status == "pass"


def test_the_cap_keeps_a_wild_prediction_finite():
    link = LogLink(ceiling=5.0)
    y = keras.ops.convert_to_numpy(link(np.array([[-3.0], [0.0], [1.0], [1e4]], "float32")))
    np.testing.assert_allclose(y[:, 0], np.expm1([-3.0, 0.0, 1.0, 5.0]), rtol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("builder", ["mlp", "tabular"])
def test_a_model_on_a_log_scale_starts_healthy_and_memorises_a_batch(prices, builder, tmp_path):
    config, prepared = prices
    config = with_values(config, {"model.builder": builder})
    model = build_model(config, prepared)
    assert check_loss_input(model, prepared).status == "pass"
    assert check_loss_at_init(model, prepared, output_offset(model), 0.5).status == "pass"
    assert check_overfit_one_batch(model, prepared, config, tmp_path).status == "pass"


def test_a_symmetric_target_keeps_the_plain_head_and_off_turns_the_log_scale_off(prices, tmp_path):
    config, prepared = prices
    assert not isinstance(build_model(with_values(config, {"model.log_target": "off"}), prepared).layers[-1], LogLink)
    logged = tmp_path / "logged.npz"
    data = np.load(config.data.location)
    np.savez(logged, x=data["x"], y=np.log(data["y"]))  # log prices: symmetric
    plain = load_config(None, ["task=regression", "data.source=npz", f"data.location={logged}",
                               "model.log_target=auto"])
    plain_prepared = prepare(plain)
    assert not plain_prepared.stats.target_skewed
    assert not isinstance(build_model(plain, plain_prepared).layers[-1], LogLink)


def test_on_refuses_a_target_below_minus_one(tmp_path):
    rng = np.random.default_rng(2)
    path = tmp_path / "negative.npz"
    np.savez(path, x=rng.normal(size=(200, 3)).astype("float32"), y=rng.normal(size=200) * 10)
    config = load_config(None, ["task=regression", "data.source=npz", f"data.location={path}",
                                "model.log_target=on"])
    with pytest.raises(UserError, match="model.log_target: on needs a target above -1"):
        build_model(config, prepare(config))
