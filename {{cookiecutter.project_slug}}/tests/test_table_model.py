"""model.builder=tabular, the default for tables: its layers do what they say (shapes, the
clip's bound, a round trip through a saved file), the model it builds on the bundled table starts
healthy and memorises a batch (M1-M3, T1), and it narrows on few rows so that M4 passes."""

import math

import keras
import numpy as np
import pytest

from {{ cookiecutter.package_name }}.checks.model import check_loss_at_init, check_loss_input, check_output_bias, output_offset
from {{ cookiecutter.package_name }}.checks.training import check_overfit_one_batch
from {{ cookiecutter.package_name }}.config import load_config, with_values
from {{ cookiecutter.package_name }}.data import prepare
from {{ cookiecutter.package_name }}.data.stats import compute_train_stats, piecewise_bins, stream_train_stats
from {{ cookiecutter.package_name }}.models import build_model, compile_model, output_bias
from {{ cookiecutter.package_name }}.table_model import (
    LINEAR_PATH_GAIN,
    EnsembleInputs,
    MemberMean,
    PeriodicEmbedding,
    PiecewiseLinearEncoding,
    SmoothClip,
)


def test_smooth_clip_is_the_identity_near_zero_and_never_passes_its_limit():
    x = np.array([[-1e6, -50.0, -0.01, 0.0, 0.01, 3.0, 50.0, 1e6]], "float32")
    y = keras.ops.convert_to_numpy(SmoothClip()(x))
    assert np.all(np.abs(y) <= 3.0) and np.allclose(y[0, 2:5], x[0, 2:5], atol=1e-5)  # 1e6: 3.0 in float32
    assert np.all(np.diff(y[0]) >= 0)  # order kept
    assert y[0, -2] > 2.9 and y[0, 5] == pytest.approx(3 / np.sqrt(2), rel=1e-5)


def test_periodic_embedding_keeps_each_value_and_adds_its_waves(tmp_path):
    layer = PeriodicEmbedding(frequencies=16, dims=3)
    x = np.random.default_rng(0).normal(size=(5, 7)).astype("float32")
    y = keras.ops.convert_to_numpy(layer(x))
    assert y.shape == (5, 7 * 4) and np.array_equal(y[:, :7], x)
    assert not np.allclose(y[0, 7:], y[1, 7:])  # different rows, different embeddings
    inputs = keras.Input((7,))
    model = keras.Model(inputs, PeriodicEmbedding(name="p")(SmoothClip(name="c")(inputs)))
    model.save(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


def test_bins_follow_the_training_quantiles_and_skip_repeats():
    """48 bins for a continuous feature, one for a 0/1 column, none for a constant; the same
    edges whether the statistics are computed in memory or streamed (a small table is read whole);
    300 continuous columns get 12 bins each, 3,600 in all, within the budget of 4,096."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    x = np.stack([rng.lognormal(size=900), rng.integers(0, 2, 900), np.full(900, 7.0)], axis=1).astype("float32")
    edges = piecewise_bins(x)
    assert [len(e) for e in edges] == [49, 2, 1] and edges[1] == [0.0, 1.0] and edges[2] == [7.0]
    assert edges[0][0] == x[:, 0].min() and edges[0][-1] == x[:, 0].max()
    y = rng.integers(0, 2, 900)
    streamed = stream_train_stats(tf.data.Dataset.from_tensor_slices((x, y)), y, "binary", 2)
    assert streamed.bin_edges == compute_train_stats(x, y, "binary", 2).bin_edges == edges
    assert {len(e) for e in piecewise_bins(rng.normal(size=(500, 300)), budget=4096)} == {13}


def test_piecewise_encoding_places_each_value_inside_its_bins(tmp_path):
    """Bins [0, 1) and [1, 3) of one feature: 0 below a bin, 1 above, the position inside it
    between; a single 0/1 bin passes its value on."""
    layer = PiecewiseLinearEncoding(features=[0, 0, 1], lefts=[0.0, 1.0, 0.0], widths=[1.0, 2.0, 1.0])
    x = np.array([[-5.0, 0.0], [0.5, 1.0], [2.0, 0.0], [10.0, 1.0]], "float32")
    got = keras.ops.convert_to_numpy(layer(x))
    np.testing.assert_allclose(got, [[0, 0, 0], [0.5, 0, 1], [1, 0.5, 0], [1, 1, 1]], rtol=1e-6)
    inputs = keras.Input((2,))
    model = keras.Model(inputs, layer(inputs))
    model.save(tmp_path / "m.keras")
    np.testing.assert_allclose(keras.models.load_model(tmp_path / "m.keras").predict(x, verbose=0), got, rtol=1e-6)


@pytest.mark.slow
def test_the_tabular_model_starts_healthy_and_memorises_a_batch(tmp_path):
    config = load_config(None, ["task=binary", "data.source=breast_cancer", "model.builder=tabular"])
    prepared = prepare(config)
    model = build_model(config, prepared)
    assert model.get_layer("periodic_embedding").output.shape[-1] == 30 * 4
    assert check_loss_input(model, prepared).status == "pass"
    assert check_loss_at_init(model, prepared, output_offset(model), 0.5).status == "pass"
    assert check_overfit_one_batch(model, prepared, config, tmp_path).status == "pass"
    plain = build_model(with_values(config, {"model.numeric_embedding": "off"}), prepared)
    assert "periodic_embedding" not in [layer.name for layer in plain.layers]
    piecewise = with_values(config, {"model.numeric_embedding": "piecewise"})
    model = build_model(piecewise, prepared)
    bins = sum(len(edges) - 1 for edges in prepared.stats.bin_edges)
    assert model.get_layer("piecewise_linear").output.shape[-1] == bins > 30 * 40
    assert check_loss_at_init(model, prepared, output_offset(model), 0.5).status == "pass"
    assert check_overfit_one_batch(model, prepared, piecewise, tmp_path).status == "pass"


def test_the_table_model_narrows_on_few_rows_so_that_m4_passes(tmp_path):
    """Size by rows: 300 columns for 105 training rows would put 3,000 weights on each row at
    256 units; the model halves its width until it holds at most check.max_params_per_example
    a training example, and M4, which judges that, passes."""
    from {{ cookiecutter.package_name }}.checks.architecture import check_architecture

    rng = np.random.default_rng(0)
    np.savez(tmp_path / "wide.npz", x=rng.normal(size=(150, 300)).astype("float32"), y=rng.integers(0, 2, 150))
    config = load_config(None, ["task=binary", "data.source=npz", f"data.location={tmp_path / 'wide.npz'}"])
    prepared = prepare(config)
    model = build_model(config, prepared)
    assert model.name == "tabular" and model.get_layer("dense_0").units < config.model.tabular_units
    assert model.count_params() <= config.check.max_params_per_example * prepared.size("train")
    assert check_architecture(model, prepared, config).status == "pass"
    wider = with_values(config, {"check.max_params_per_example": 1e9})
    assert build_model(wider, prepared).get_layer("dense_0").units == config.model.tabular_units


@pytest.mark.slow
def test_a_wide_short_table_gets_an_l1_first_layer_and_stays_healthy(tmp_path):
    """model.tabular_l1 auto: 0.003 on the first hidden layer's kernel where the encoded features
    outnumber the training rows (300 columns, about 105 rows), on no other layer; M1 and T1 pass
    on it (T1 memorises with the penalty off, as with dropout); a saved model keeps it; a narrow
    table gets none unless it is set, and a negative strength is refused with the key's name."""
    from {{ cookiecutter.package_name }}.errors import UserError

    rng = np.random.default_rng(1)
    x = rng.normal(size=(150, 300)).astype("float32")
    np.savez(tmp_path / "wide.npz", x=x, y=(x[:, :5].sum(axis=1) > 0).astype(int))
    config = load_config(None, ["task=binary", "data.source=npz", f"data.location={tmp_path / 'wide.npz'}"])
    prepared = prepare(config)
    model = build_model(config, prepared)
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    penalties = {layer.name: layer.kernel_regularizer for layer in dense}
    assert float(penalties.pop("dense_0").l1) == pytest.approx(0.003)
    lasso = math.sqrt(2 * math.log(300) / prepared.size("train"))  # the universal threshold, linear_path_l1's unit
    assert float(penalties.pop("linear_path").l1) == pytest.approx(0.1 * lasso * LINEAR_PATH_GAIN, rel=1e-5)
    assert set(penalties.values()) == {None}
    assert check_loss_at_init(model, prepared, output_offset(model), 0.5).status == "pass"
    assert check_output_bias(model, output_bias("binary", prepared)).status == "pass"  # M2 looks past the path
    model.save(tmp_path / "wide.keras")
    again = keras.models.load_model(tmp_path / "wide.keras")
    assert float(again.get_layer("dense_0").kernel_regularizer.l1) == pytest.approx(0.003) and again.losses
    verdict = check_overfit_one_batch(model, prepared, config, tmp_path)
    assert verdict.status == "pass" and verdict.measured["weight_penalties_turned_off"] == 2, verdict.measured
    narrow = small_table_model(tmp_path, "binary")
    assert narrow.get_layer("dense_0").kernel_regularizer is None
    assert "linear_path" not in {layer.name for layer in narrow.layers}
    chosen = small_table_model(tmp_path, "regression", "model.tabular_l1=0.01")
    assert float(chosen.get_layer("dense_0").kernel_regularizer.l1) == pytest.approx(0.01)
    target = 50.0 * x[:, 0]  # regression: the loss is in the target's units, so auto scales by its variance
    np.savez(tmp_path / "priced.npz", x=x, y=target)
    config = load_config(None, ["task=regression", "data.source=npz", f"data.location={tmp_path / 'priced.npz'}"])
    prepared = prepare(config)
    l1 = float(build_model(config, prepared).get_layer("dense_0").kernel_regularizer.l1)
    assert l1 == pytest.approx(0.003 * prepared.stats.target_std ** 2, rel=1e-4) and l1 > 1.0
    with pytest.raises(UserError, match="tabular_l1"):
        load_config(None, ["model.tabular_l1=-1"])


def test_a_wide_tables_linear_path_selects_the_columns_that_carry_the_label(tmp_path):
    """The linear path's penalty does what a lasso's does: on 600 columns, 5 of which set the
    label (with noise), about 210 training rows, after 350 steps the 5 hold the path's largest
    coefficients and most of the other 595 sit at zero (without the penalty, none would)."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(300, 600)).astype("float32")
    np.savez(tmp_path / "wide.npz", x=x, y=(x[:, :5].sum(axis=1) + rng.normal(size=300) > 0).astype(int))
    config = load_config(None, ["task=binary", "data.source=npz", f"data.location={tmp_path / 'wide.npz'}"])
    prepared = prepare(config)
    x_train, y_train = prepared.sample("train", 10_000)
    keras.utils.set_random_seed(0)
    model = compile_model(build_model(config, prepared), config)
    path = model.get_layer("linear_path")
    assert not np.any(keras.ops.convert_to_numpy(path.kernel))  # zero at the start: M1 and M2 see the head alone
    model.fit(x_train, y_train, batch_size=32, epochs=50, verbose=0)
    size = np.abs(keras.ops.convert_to_numpy(path.kernel)).ravel()
    assert set(range(5)) <= set(np.argsort(-size)[:10].tolist()), np.argsort(-size)[:10]
    assert np.mean(size[5:] > 1e-3) < 0.25, np.mean(size[5:] > 1e-3)


def test_a_bag_of_words_wider_than_its_rows_gets_no_l1(tmp_path):
    """Free text makes a table as wide (2,096 movie reviews: 2,000 words and pairs for 1,477
    training rows), but each word is in few rows and the penalty took every weight: log loss
    0.469 to 0.693. auto counts numeric columns only; the same rows with 200 numeric columns
    get it."""
    rng = np.random.default_rng(3)
    words = [f"w{i}" for i in range(300)]
    rows = [[" ".join(rng.choice(words, 6)), round(float(rng.normal()), 3), int(rng.random() < 0.5)] for _ in range(80)]
    path = tmp_path / "reviews.csv"
    path.write_text("review,x,label\n" + "".join(f"{t},{x},{y}\n" for t, x, y in rows))
    config = load_config(None, ["task=binary", "data.source=csv", f"data.location={path}"])
    prepared = prepare(config)
    assert {c.name: c.role for c in prepared.source.columns}["review"] == "text"
    assert prepared.input_shape[0] > prepared.size("train")
    assert build_model(config, prepared).get_layer("dense_0").kernel_regularizer is None
    numbers = rng.normal(size=(80, 200)).round(3)
    path = tmp_path / "numbers.csv"
    path.write_text(",".join(f"x{j}" for j in range(200)) + ",label\n"
                    + "".join(",".join(map(str, r)) + f",{int(r[0] > 0)}\n" for r in numbers))
    config = load_config(None, ["task=binary", "data.source=csv", f"data.location={path}"])
    assert build_model(config, prepare(config)).get_layer("dense_0").kernel_regularizer is not None


def test_the_table_model_refuses_images():
    from {{ cookiecutter.package_name }}.errors import UserError

    config = load_config(None, ["task=classification", "data.source=digits", "model.builder=tabular"])
    with pytest.raises(UserError, match="'tabular' needs a table, but the data is image"):
        build_model(config, prepare(config))


def small_table_model(tmp_path, task: str, *sets: str) -> keras.Model:
    """The table model built on 300 rows of 6 normal features: a binary label or a linear target."""
    x = np.random.default_rng(0).normal(size=(300, 6)).astype("float32")
    y = x[:, 0] * 2.0 + 1.0 if task == "regression" else (x[:, 0] > 0).astype(int)
    np.savez(tmp_path / f"{task}.npz", x=x, y=y)
    config = load_config(None, [f"task={task}", "data.source=npz", f"data.location={tmp_path / task}.npz", *sets])
    return build_model(config, prepare(config))


def test_the_table_models_dropout_is_for_classes_unless_set(tmp_path):
    """model.tabular_dropout auto: RealMLP's 0.15 for classes, none for regression (BENCHMARKS.md:
    it held diamonds' price at 648 RMSE where 0 reached 544); a number applies to both, and a
    value that is neither is refused with the key's name."""
    from {{ cookiecutter.package_name }}.errors import UserError

    def rates(task: str, *sets: str) -> list[float]:
        model = small_table_model(tmp_path, task, *sets)
        return [layer.rate for layer in model.layers if isinstance(layer, keras.layers.Dropout)]

    assert rates("binary") == [0.15] * 3
    assert rates("regression") == []
    assert rates("regression", "model.tabular_dropout=0.1") == pytest.approx([0.1] * 3)
    for bad in ("1.5", "sometimes"):
        with pytest.raises(UserError, match="tabular_dropout"):
            load_config(None, [f"model.tabular_dropout={bad}"])


def test_the_numeric_embedding_follows_the_task_unless_set(tmp_path):
    """model.numeric_embedding auto: piecewise-linear bins for regression, periodic waves for
    classes (BENCHMARKS.md); a bare `off` (YAML's false) leaves both out."""
    def embeddings(task: str, *sets: str) -> list[str]:
        model = small_table_model(tmp_path, task, *sets)
        return [layer.name for layer in model.layers if layer.name in ("periodic_embedding", "piecewise_linear")]

    assert embeddings("binary") == ["periodic_embedding"]
    assert embeddings("regression") == ["piecewise_linear"]
    assert embeddings("binary", "model.numeric_embedding=piecewise") == ["piecewise_linear"]
    assert embeddings("regression", "model.numeric_embedding=off") == []
    from {{ cookiecutter.package_name }}.table_model import numeric_embedding

    assert numeric_embedding("auto", "regression", binned=False) == "periodic"  # a spec without bins


@pytest.mark.parametrize("task", ["classification", "binary", "regression"])
def test_the_ensembles_training_loss_is_the_mean_of_its_members_losses(task):
    """TabM trains each member on its own loss; MemberMean gives one output whose compiled loss
    plus the loss it adds in training is exactly that mean, and adds nothing at inference."""
    rng = np.random.default_rng(0)
    outputs = 3 if task == "classification" else 1
    z = rng.normal(size=(6, 4, outputs)).astype("float32")
    y = rng.integers(0, outputs if task == "classification" else 2, 6)
    loss = {"classification": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            "binary": keras.losses.BinaryCrossentropy(from_logits=True),
            "regression": keras.losses.MeanSquaredError()}[task]
    labels = y if task == "classification" else y[:, None].astype("float32")
    members = np.mean([float(loss(labels, z[:, k])) for k in range(4)])
    layer = MemberMean(task)
    combined = layer(z, training=True)
    assert combined.shape == (6, outputs) and len(layer.losses) == 1
    assert float(loss(labels, combined)) + float(layer.losses[0]) == pytest.approx(members, rel=1e-5)
    layer(z, training=False)
    assert layer.losses == []


def test_an_ensemble_table_model_starts_healthy_and_saves(tmp_path):
    """model.tabular_members=4: four members behind one output, the signs of each member's
    inputs random, a head each, and M1-M3 and T1 pass on it as on one model; the saved file
    predicts the same, and so does a regression ensemble on a log scale."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 6)).astype("float32")
    np.savez(tmp_path / "t.npz", x=x, y=(x[:, 0] > 0).astype(int) + (x[:, 1] > 0).astype(int))
    config = load_config(None, ["task=classification", "data.source=npz", f"data.location={tmp_path / 't.npz'}",
                                "model.tabular_members=4"])
    prepared = prepare(config)
    model = build_model(config, prepared)
    adapter = keras.ops.convert_to_numpy(model.get_layer("ensemble_inputs").adapter)
    assert adapter.shape[0] == 4 and set(np.unique(adapter)) == {-1.0, 1.0}
    assert model.get_layer("output").output.shape[1:] == (4, 3) and model.output.shape[1:] == (3,)
    assert model.get_layer("output").kernel.shape == (4, model.get_layer("dense_2").units, 3)  # a head a member
    from {{ cookiecutter.package_name }}.checks.model import check_output_bias

    assert check_loss_input(model, prepared).status == "pass"
    assert check_output_bias(model, output_offset(model)).status == "pass"
    assert check_loss_at_init(model, prepared, output_offset(model), 0.5).status == "pass"
    assert check_overfit_one_batch(model, prepared, config, tmp_path).status == "pass"
    model.save(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(again.predict(x[:8], verbose=0), model.predict(x[:8], verbose=0), rtol=1e-5)
    assert isinstance(again.get_layer("ensemble_inputs"), EnsembleInputs)
    np.savez(tmp_path / "r.npz", x=x, y=np.exp(x[:, 0]) * 100.0)
    config = load_config(None, ["task=regression", "data.source=npz", f"data.location={tmp_path / 'r.npz'}",
                                "model.tabular_members=4", "model.log_target=on"])
    prepared = prepare(config)
    model = build_model(config, prepared)
    assert check_output_bias(model, output_offset(model)).status == "pass"
    assert check_loss_at_init(model, prepared, output_offset(model), 0.5).status == "pass"
    model.save(tmp_path / "r.keras")
    np.testing.assert_allclose(keras.models.load_model(tmp_path / "r.keras").predict(x[:8], verbose=0),
                               model.predict(x[:8], verbose=0), rtol=1e-5)
