"""T6-T12, the checks that watch training: each fires on a planted bug and stays quiet on the
healthy bundled project. Small models on small arrays, a few dozen steps each."""

import keras
import matplotlib.image
import numpy as np
import pytest

from {{ cookiecutter.package_name }}.callbacks import (
    ActivationHealth,
    FirstLayerWeights,
    GradientHealth,
    NonFiniteGuard,
    PredictionDynamics,
    UpdateRatio,
    recipe_callbacks,
    recipe_verdicts,
)
from {{ cookiecutter.package_name }}.callbacks.first_layer import mosaic, plot_first_layer
from {{ cookiecutter.package_name }}.callbacks.gradients import judge_gradients
from {{ cookiecutter.package_name }}.callbacks.predictions import judge_predictions
from {{ cookiecutter.package_name }}.callbacks.updates import fitting_measurements, judge_update_ratios
from {{ cookiecutter.package_name }}.config import with_values
from {{ cookiecutter.package_name }}.data.pipeline import train_datasets
from {{ cookiecutter.package_name }}.models import build_model, compile_model
from {{ cookiecutter.package_name }}.train import callbacks_for

pytestmark = pytest.mark.slow
FEATURES, CLASSES = 10, 3


def blobs(n: int = 512, seed: int = 0):
    """A learnable three-class problem: the label is the argmax of a fixed projection."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, FEATURES)).astype("float32")
    y = (x @ rng.normal(size=(FEATURES, CLASSES))).argmax(axis=1)
    return x, y


def fit(model, callbacks, optimizer=None, epochs: int = 1, n: int = 512, x=None, y=None, jit: bool = False):
    if x is None:
        x, y = blobs(n)
    model.compile(optimizer or keras.optimizers.Adam(1e-3),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=jit)
    model.fit(x, y, batch_size=32, epochs=epochs, verbose=0, callbacks=callbacks, shuffle=False)
    return {v.id: v for v in recipe_verdicts(callbacks)}


def mlp(*hidden: keras.layers.Layer) -> keras.Model:
    inputs = keras.Input((FEATURES,))
    x = inputs
    for layer in hidden:
        x = layer(x)
    return keras.Model(inputs, keras.layers.Dense(CLASSES, name="logits")(x))


def test_healthy_project_passes_every_check(small_config, prepared, tmp_path):
    """The bundled data and model, with the intervals shortened to fit a test's budget."""
    config = with_values(small_config, {
        "train.learning_rate": 1e-3, "monitor.gradient_every_steps": 20, "monitor.activation_every_steps": 40,
        "monitor.update_every_steps": 10, "monitor.prediction_warmup_steps": 20})
    model = compile_model(build_model(config, prepared), config, jit_compile=False)
    train_ds, _ = train_datasets(config, prepared)
    callbacks = recipe_callbacks(config, prepared, tmp_path)
    model.fit(train_ds, epochs=3, callbacks=callbacks, verbose=0)
    verdicts = {v.id: v for v in recipe_verdicts(callbacks)}
    assert set(verdicts) == {"T4", "T6", "T7", "T8", "T9", "T11", "T12"}
    for verdict in verdicts.values():
        assert verdict.status == "pass", (verdict.id, verdict.measured, verdict.advice)
        assert all((tmp_path / plot).is_file() for plot in verdict.plots)
    assert (tmp_path / "plots" / "T11_prediction_dynamics.png").is_file()
    assert (tmp_path / "plots" / "T12_first_layer.png").is_file()
    assert "train_step" not in vars(model)  # T9's recording wrapper is gone after fit


def test_t9_replaces_terminate_on_nan_and_can_be_switched_off(small_config, prepared, tmp_path):
    kinds = [type(c).__name__ for c in callbacks_for(small_config, tmp_path, prepared)]
    assert "NonFiniteGuard" in kinds and "TerminateOnNaN" not in kinds
    off = with_values(small_config, {"monitor.nan_diagnosis": False, "monitor.gradient_health": False})
    kinds = [type(c).__name__ for c in callbacks_for(off, tmp_path, prepared)]
    assert "TerminateOnNaN" in kinds and "NonFiniteGuard" not in kinds and "GradientHealth" not in kinds


@pytest.mark.parametrize("jit", [False, True], ids=["eager-graph", "xla"])
def test_t9_names_the_layer_that_overflows_and_saves_its_batch(tmp_path, jit):
    """Planted bug: an exp that overflows on one example (row 100, in the fourth batch)."""
    x, y = blobs(256)
    x[100, 0] = 1e4
    guard = NonFiniteGuard(batch_size=32, run_dir=tmp_path)
    model = mlp(keras.layers.Dense(8, activation="relu", kernel_initializer="ones", name="hidden"),
                keras.layers.Lambda(keras.ops.exp, name="overflowing_exp"))
    verdict = fit(model, [guard], x=x, y=y, jit=jit)["T9"]
    assert verdict.status == "fail"
    assert verdict.measured["origin"] == "overflowing_exp" and verdict.measured["step"] == 4
    assert "overflowing_exp" in verdict.advice
    batch = np.load(tmp_path / "nan_batch.npz")
    assert batch["x"].shape == (32, FEATURES) and batch["x"].max() == 1e4
    np.testing.assert_array_equal(batch["y"], y[96:128])


def test_learning_rate_far_too_high_fails_t9_and_t8(tmp_path):
    """Planted bug: SGD at 1e6. The weights blow up within a few steps and the loss goes NaN."""
    guard, ratio = NonFiniteGuard(batch_size=32, run_dir=tmp_path), UpdateRatio(every_steps=1)
    model = mlp(keras.layers.Dense(32, activation="relu", name="hidden_0"),
                keras.layers.Dense(32, activation="relu", name="hidden_1"))
    verdicts = fit(model, [ratio, guard], optimizer=keras.optimizers.SGD(1e6), epochs=2)
    assert verdicts["T9"].status == "fail"
    assert verdicts["T9"].measured["origin"] in {layer.name for layer in model.layers}
    assert (tmp_path / "nan_batch.npz").is_file()
    assert verdicts["T8"].status == "fail" and verdicts["T8"].measured["median_ratio"] > 0.1
    assert model.stop_training


def test_t9_stays_quiet_when_mixed_precision_skips_overflowing_steps(tmp_path):
    """float16 gradients overflow under a huge loss scale: the optimizer skips those steps on
    purpose and the loss stays finite. Not a NaN."""
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = mlp(keras.layers.Dense(16, activation="relu"))
        optimizer = keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam(1e-3), initial_scale=2.0**40)
        verdict = fit(model, [NonFiniteGuard(batch_size=32, run_dir=tmp_path)], optimizer=optimizer, n=256)["T9"]
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert float(optimizer.dynamic_scale) < 2.0**40  # steps were skipped
    assert verdict.status == "pass", verdict.advice


def test_t6_warns_on_vanishing_gradients_in_a_deep_sigmoid_stack():
    """Planted bug: eight sigmoid layers with tiny initial weights; the first layers get nothing."""
    x, y = blobs(64)
    tiny = keras.initializers.RandomNormal(stddev=1e-3, seed=0)
    model = mlp(*[keras.layers.Dense(32, activation="sigmoid", kernel_initializer=tiny, name=f"sigmoid_{i}")
                  for i in range(8)])
    verdict = fit(model, [GradientHealth(x[:32], y[:32], every_steps=2)], x=x, y=y)["T6"]
    assert verdict.status == "warn"
    assert "sigmoid_0" in verdict.measured["vanishing"] and "logits" not in verdict.measured["vanishing"]


def test_t6_warns_on_exploding_gradients_and_suggests_a_clip_norm():
    """Planted bug: initial weights 30x too large in a linear stack."""
    x, y = blobs(64)
    huge = keras.initializers.RandomNormal(stddev=30.0, seed=0)
    model = mlp(*[keras.layers.Dense(32, kernel_initializer=huge, name=f"linear_{i}") for i in range(3)])
    verdict = fit(model, [GradientHealth(x[:32], y[:32], every_steps=1)], x=x, y=y,
                  optimizer=keras.optimizers.Adam(1e-4))["T6"]
    assert verdict.status == "warn" and verdict.measured["exploding"]
    assert "train.clip_norm" in verdict.advice


def test_t6_judges_clipping_share_and_scales_by_the_loss_unit():
    layers, steps = ["a", "b"], [0, 10, 20, 30]
    norms = np.array([[1.0, 2.0], [1.0, 2.0], [1.0, 3.0], [2.0, 3.0]])
    assert judge_gradients(steps, layers, norms, 1e-7, 1e3, None).status == "pass"
    aggressive = judge_gradients(steps, layers, norms, 1e-7, 1e3, clip_norm=1.0)
    assert aggressive.status == "warn" and aggressive.measured["clipped_share"] == 1.0
    assert judge_gradients(steps, layers, norms, 1e-7, 1e3, clip_norm=10.0).status == "pass"
    # MSE on a target in thousands of units: large raw norms, healthy per unit of the prior's loss.
    assert judge_gradients(steps, layers, norms * 1e4, 1e-7, 1e3, None).status == "warn"
    assert judge_gradients(steps, layers, norms * 1e4, 1e-7, 1e3, None, loss_unit=6000.0).status == "pass"


def test_t7_warns_on_dead_relus():
    """Planted bug: a bias of -10 keeps every unit of the hidden layer below zero."""
    x, y = blobs(1000)
    model = mlp(keras.layers.Dense(32, activation="relu", bias_initializer=keras.initializers.Constant(-10.0),
                                   name="dead"), keras.layers.Dense(16, activation="relu", name="alive"))
    verdict = fit(model, [ActivationHealth(x, every_steps=10)], x=x, y=y)["T7"]
    assert verdict.status == "warn"
    assert verdict.measured["dead_relu_share"]["dead"] == 1.0
    assert "dead" in verdict.advice


def test_t7_warns_on_a_spread_out_normalisation_output():
    """Planted bug: batch norm whose scale starts at 10: its output spread is 10, not 1."""
    x, y = blobs(512)
    model = mlp(keras.layers.Dense(16, name="hidden"),
                keras.layers.BatchNormalization(gamma_initializer=keras.initializers.Constant(10.0), name="bn"))
    verdict = fit(model, [ActivationHealth(x, every_steps=100)], x=x, y=y)["T7"]
    assert verdict.status == "warn"
    assert verdict.measured["std_after_normalisation"]["bn"] > 2.0


def test_t8_leaves_a_layer_an_l1_penalty_holds_near_zero_to_its_penalty():
    """The table model's first layer on a wide table carries L1 (model.tabular_l1): its weights sit
    near zero, so each step is large beside them (0.012 against the others' 0.001 on the wide
    benchmark table). Here 200 inputs, 10 informative, under L1: the layer runs over 10x the
    median, and T8 passes it; judged without knowing the penalty, the same ratios warn."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(512, 200)).astype("float32")
    y = (x[:, :10] @ rng.normal(size=(10, CLASSES))).argmax(axis=1)
    inputs = keras.Input((200,))
    hidden = keras.layers.Dense(32, activation="relu", kernel_regularizer=keras.regularizers.L1(0.3),
                                name="sparse")(inputs)
    hidden = keras.layers.Dense(32, activation="relu", name="next")(hidden)
    monitor = UpdateRatio(every_steps=5)
    verdicts = fit(keras.Model(inputs, keras.layers.Dense(CLASSES, name="logits")(hidden)), [monitor], epochs=8,
                   x=x, y=y)
    per_layer = verdicts["T8"].measured["per_layer"]
    assert per_layer["sparse"] > 10 * np.median(list(per_layer.values())), per_layer
    assert verdicts["T8"].status == "pass", verdicts["T8"].advice
    unaware = judge_update_ratios(monitor.layers, np.array(monitor.ratios), (1e-4, 1e-2), (1e-5, 1e-1), 10.0,
                                  head="logits")
    assert unaware.status == "warn" and "sparse" in unaware.advice


def bright_squares(n: int = 384, size: int = 32, seed: int = 0):
    """Grayscale images of noise with a bright 6x6 square; the class is which third it sits in."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 0.3, size=(n, size, size, 1)).astype("float32")
    y = rng.integers(0, CLASSES, n)
    for image, label, row in zip(x, y, rng.integers(0, size - 6, n), strict=True):
        column = label * (size // CLASSES) + rng.integers(0, size // CLASSES - 6)
        image[row:row + 6, column:column + 6] += 2.0
    return x, y


def grayscale_convnet(first_scale: float = 1.0) -> keras.Model:
    """Two 3x3 conv-ReLU blocks on one channel, then a dense layer on the flattened 8x8x32
    features: fan-ins 9, 144, 2,048 and 64. `first_scale` multiplies the first layer's He scale."""
    he_first = keras.initializers.VarianceScaling(2.0 * first_scale**2, "fan_in", "truncated_normal", seed=1)
    inputs = keras.Input((32, 32, 1))
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu", kernel_initializer=he_first,
                            name="conv_0")(inputs)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(32, 3, padding="same", activation="relu", kernel_initializer="he_normal",
                            name="conv_1")(x)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Dense(64, activation="relu", kernel_initializer="he_normal", name="dense")(
        keras.layers.Flatten()(x))
    return keras.Model(inputs, keras.layers.Dense(CLASSES, name="logits")(x))


@pytest.mark.parametrize("seed", [0, 1])
def test_t8_judges_each_layer_of_a_grayscale_convnet_against_its_fan_in(seed):
    """Under Adam a layer's ratio grows as sqrt(fan_in) by construction (He: rms(W) = sqrt(2 /
    fan_in)): a healthy convnet's first layer on one grayscale channel (fan-in 9) sits far below
    its dense layer (fan-in 2,048). Judged over sqrt(fan_in / 2), the healthy net passes; its
    first layer initialised at 30x He's scale (a planted bug: a ratio 30x lower) is still named."""
    x, y = bright_squares(seed=seed)
    keras.utils.set_random_seed(seed)
    healthy = fit(grayscale_convnet(), [UpdateRatio(every_steps=10)], epochs=3, x=x, y=y)["T8"]
    assert healthy.measured["fan_in"] == {"conv_0": 9, "conv_1": 144, "dense": 2048, "logits": 64}
    per_layer = healthy.measured["per_layer"]
    assert per_layer["dense"] > 5 * per_layer["conv_0"], per_layer  # the raw ratios are far apart
    assert healthy.status == "pass", healthy.advice
    keras.utils.set_random_seed(seed)
    planted = fit(grayscale_convnet(first_scale=30.0), [UpdateRatio(every_steps=10)], epochs=3, x=x, y=y)["T8"]
    assert planted.status == "warn" and "conv_0" in planted.advice, planted.measured


def test_t8_records_each_kernel_of_a_layer_that_holds_two():
    """A SeparableConv2D holds a depthwise and a pointwise kernel: T8 measures both, so its record
    names both, each with its own fan-in, where a record keyed by the layer kept one."""
    x, y = bright_squares(n=64)
    keras.utils.set_random_seed(0)
    inputs = keras.Input((32, 32, 1))
    hidden = keras.layers.SeparableConv2D(8, 3, activation="relu", name="separable")(inputs)
    hidden = keras.layers.GlobalAveragePooling2D()(hidden)
    model = keras.Model(inputs, keras.layers.Dense(CLASSES, name="logits")(hidden))
    found = fit(model, [UpdateRatio(every_steps=2)], x=x, y=y)["T8"]
    assert found.measured["fan_in"] == {"separable/depthwise_kernel": 9, "separable/pointwise_kernel": 1,
                                        "logits": 8}, found.measured
    assert set(found.measured["per_layer"]) == set(found.measured["fan_in"])


def test_t8_judges_the_rate_while_the_model_learns_not_once_it_fits_its_batches():
    """Trained on long after it fits its 96 images (training loss 1.7 to below 1e-4 at the
    default Adam 3e-4), a healthy convnet's steps shrink with its gradients: over every
    measurement the median ratio falls below the band ("raise the learning rate": wrong). T8
    judges the measurements taken while the training loss was above 1% of its first value, and
    passes; at a rate 30x too low (planted) the loss stays up, every measurement counts, and it
    warns."""
    x, y = bright_squares(n=96)
    keras.utils.set_random_seed(0)
    monitor = UpdateRatio(every_steps=10)
    healthy = fit(grayscale_convnet(), [monitor], optimizer=keras.optimizers.Adam(3e-4), epochs=150, x=x, y=y)["T8"]
    assert healthy.status == "pass" and healthy.measured["not_judged_fitted"] > 30, healthy.measured
    everything = judge_update_ratios(monitor.layers, np.array(monitor.ratios), (1e-4, 1e-2), (1e-5, 1e-1), 10.0,
                                     head="logits", fan_ins=list(healthy.measured["fan_in"].values()))
    assert everything.status == "warn" and "too low" in everything.advice
    keras.utils.set_random_seed(0)
    slow = fit(grayscale_convnet(), [UpdateRatio(every_steps=10)], optimizer=keras.optimizers.Adam(1e-5), epochs=20,
               x=x, y=y)["T8"]
    assert slow.status == "warn" and "too low" in slow.advice and "not_judged_fitted" not in slow.measured, slow


def test_t8_keeps_the_first_measurement_and_any_non_finite_loss():
    judged = fitting_measurements([0.01, 2.0, 0.5, 0.02, 0.001, float("nan")], first_loss=2.3)
    assert judged.tolist() == [True, True, True, False, False, True]
    assert fitting_measurements([0.001, 0.001], first_loss=None).all()


def test_learning_rate_zero_stalls_t11_t8_and_t12(tmp_path):
    """Planted bug: a learning rate of 0. Nothing moves: T8 ratio 0, T11 stall, T12 initial noise."""
    x, y = blobs(512)
    callbacks = [UpdateRatio(every_steps=5),
                 PredictionDynamics(x[:16], y[:16], task="classification", per_epoch=4, warmup_steps=10),
                 FirstLayerWeights(run_dir=tmp_path)]
    verdicts = fit(mlp(keras.layers.Dense(16, activation="relu", name="first")), callbacks,
                   optimizer=keras.optimizers.Adam(0.0), epochs=3, x=x, y=y)
    assert verdicts["T8"].status == "fail" and verdicts["T8"].measured["median_ratio"] == 0
    assert verdicts["T11"].status == "warn" and "stalled" in verdicts["T11"].advice
    assert verdicts["T12"].status == "warn" and verdicts["T12"].measured["relative_change"] == 0
    assert (tmp_path / "plots" / "T12_first_layer.png").is_file()


def test_t12_names_a_first_layer_frozen_by_mistake(tmp_path):
    x, y = blobs(512)
    frozen = keras.layers.Dense(16, activation="relu", name="first")
    frozen.trainable = False
    verdicts = fit(mlp(frozen, keras.layers.Dense(16, activation="relu")), [FirstLayerWeights(run_dir=tmp_path)],
                   epochs=2, x=x, y=y)
    assert verdicts["T12"].status == "warn" and "frozen" in verdicts["T12"].advice


def test_t12_tiles_are_enlarged_with_thin_gaps_and_the_figure_fits_them(tmp_path):
    """3x3 filters were once drawn one pixel apart across an 11-inch strip: mostly gap and margin."""
    filters = np.arange(18.0).reshape(2, 3, 3)
    sheet = mosaic(filters, columns=2, zoom=4, gap=1)
    assert sheet.shape == (1 + 12 + 1, 1 + 12 + 1 + 12 + 1)
    assert np.isnan(sheet[0]).all() and np.isnan(sheet[:, 13]).all()  # border and gap
    tile = sheet[1:13, 1:13]
    assert tile.min() == 0 and tile.max() == 1 and (tile[:4, :4] == 0).all()  # own range, each weight 4x4
    kernel = np.random.default_rng(0).normal(size=(3, 3, 1, 32))
    plot = plot_first_layer("conv_0", kernel, kernel * 1.5, (8, 8, 1), tmp_path)
    height, width = matplotlib.image.imread(tmp_path / plot).shape[:2]
    assert width < 1000 and height < 400  # two 8x4 grids of half-inch tiles, not an 11-inch strip


def test_t11_warns_on_collapse_to_one_class():
    """Planted bug: the inputs are multiplied by 0, so every example gets the same prediction."""
    x, y = blobs(256)
    model = mlp(keras.layers.Lambda(lambda t: t * 0.0, name="cut"))
    callback = PredictionDynamics(x[:16], y[:16], task="classification", per_epoch=4, warmup_steps=0)
    verdict = fit(model, [callback], x=x, y=y, epochs=2)["T11"]
    assert verdict.status == "warn" and "collapsed" in verdict.advice


def test_t11_judges_thrash_and_stays_quiet_on_steady_change():
    rng = np.random.default_rng(0)
    y = np.arange(16) % 3
    steps = list(range(0, 200, 10))
    steady = np.cumsum(rng.normal(0, 0.05, (len(steps), 16, 3)), axis=0)
    assert judge_predictions(steps, steady, y, "classification", 50, 1e-4, 0.5, 3).status == "pass"
    flipping = np.where((np.arange(len(steps)) % 2 == 0)[:, None, None], 20.0, -20.0) * np.eye(3)[y][None]
    verdict = judge_predictions(steps, flipping, y, "classification", 50, 1e-4, 0.5, 3)
    assert verdict.status == "warn" and "thrash" in verdict.advice
