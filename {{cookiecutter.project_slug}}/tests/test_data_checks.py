"""D6-D9 and augmentation: each check fires on data built with its very defect and stays
quiet on the bundled data."""

import dataclasses

import numpy as np
import tensorflow as tf

from {{ cookiecutter.package_name }}.checks.batches import check_pairs_intact, check_shuffled_batches
from {{ cookiecutter.package_name }}.checks.context import Context
from {{ cookiecutter.package_name }}.checks.outliers import check_outliers
from {{ cookiecutter.package_name }}.checks.visualise import check_batch_view
from {{ cookiecutter.package_name }}.config import with_values
from {{ cookiecutter.package_name }}.data import Prepared
from {{ cookiecutter.package_name }}.data.augment import augment_batches
from {{ cookiecutter.package_name }}.data.loaders import Examples
from {{ cookiecutter.package_name }}.data.manifest import Manifest
from {{ cookiecutter.package_name }}.data.pipeline import make_dataset, train_datasets
from {{ cookiecutter.package_name }}.data.stats import compute_train_stats
from {{ cookiecutter.package_name }}.data.streams import ArraySource
from {{ cookiecutter.package_name }}.registry import run_checks


def _with_inputs(prepared, x):
    """The same manifest (keys, splits) over other inputs: a defect planted after the scan."""
    examples = dataclasses.replace(prepared.source.examples, x=x)
    return dataclasses.replace(prepared, source=ArraySource(examples, prepared.task, "planted"))


def _table(x):
    """A Prepared holding `x` as its training split (labels all 0: D6 looks at inputs only)."""
    y = np.zeros(len(x), "int64")
    source = ArraySource(Examples(x.astype("float32"), y, "tabular", ["0", "1"], feature_names=["a", "b"]),
                         "classification", "a table")
    n = len(x)
    manifest = Manifest(np.arange(n), np.arange(n, dtype=np.uint64), np.zeros(n, np.int8), y,
                        np.zeros(n, np.int64), None, {"facts": {"seen": n}})
    indices = {"train": np.arange(n), "val": np.arange(0), "test": np.arange(0)}
    return Prepared(source, manifest, indices, compute_train_stats(x, y, "classification", 2), "classification")


def _fingerprints(dataset):
    return {x.tobytes() for batch_x, _ in dataset.as_numpy_iterator() for x in batch_x}


def _first_batch(dataset):
    return next(iter(dataset.take(1).as_numpy_iterator()))


# D6 outliers

def test_d6_passes_on_the_bundled_data(prepared, config, tmp_path):
    verdict = check_outliers(prepared, tmp_path, config.inspect)
    assert verdict.status == "pass", verdict.measured
    assert len(verdict.measured["most_extreme"]) == config.inspect.outliers_shown
    assert (tmp_path / verdict.plots[0]).exists()


def test_d6_warns_on_a_planted_outlier_and_lists_it_first(prepared, config, tmp_path):
    """Planted bug: one training image on another scale (x16), or a -999 sentinel in a table."""
    planted_row = int(prepared.indices["train"][3])
    planted = int(prepared.manifest.positions[planted_row])
    x = prepared.source.examples.x.copy()
    if prepared.kind == "image":
        x[planted] = x[planted] * 16.0
    else:
        x[planted, 0] = -999.0
    verdict = check_outliers(_with_inputs(prepared, x), tmp_path, config.inspect)
    assert verdict.status == "warn"
    assert verdict.measured["outliers"] == 1
    assert verdict.measured["most_extreme"][0]["example"] == prepared.origin(planted_row)
    assert abs(verdict.measured["most_extreme"][0]["z"]) > config.inspect.outlier_z


def test_d6_judges_long_tails_on_a_log_scale_and_ignores_indicators(config, tmp_path):
    """A lognormal feature and a 5% indicator are healthy; a 99999 sentinel in the long tail is not."""
    rng = np.random.default_rng(0)
    x = np.stack([rng.lognormal(0.0, 1.0, 500), (rng.random(500) < 0.05).astype(float)], axis=1)
    assert check_outliers(_table(x), tmp_path, config.inspect).status == "pass"
    x[7, 0] = 99999.0
    verdict = check_outliers(_table(x), tmp_path, config.inspect)
    assert verdict.status == "warn"
    worst = verdict.measured["most_extreme"][0]
    assert (worst["example"], worst["by"]) == ("example #7", "log a")


# D7 the batch just before the net

def test_d7_draws_the_training_batch(prepared, config, tmp_path):
    verdict = check_batch_view(train_datasets(config, prepared)[0], prepared, tmp_path)
    assert verdict.status == "pass"
    assert verdict.measured["batch_shape"] == [config.data.batch_size, *prepared.input_shape]
    assert (tmp_path / "plots" / "D7_batch.png").exists()


def test_d7_fails_on_a_non_finite_batch(prepared, tmp_path):
    """Planted bug: a NaN that reaches the model."""
    x, y = prepared.head("train", 16)
    x = x.copy()
    x[2].flat[0] = np.nan
    verdict = check_batch_view(make_dataset(x, y[:16], 8, training=False, seed=0), prepared, tmp_path)
    assert verdict.status == "fail"
    assert verdict.measured["non_finite_values"] == 1
    assert (tmp_path / verdict.plots[0]).exists()


# D8 shuffled batches

def test_d8_passes_on_the_training_pipeline(prepared, config):
    verdict = check_shuffled_batches(train_datasets(config, prepared)[0], prepared, config.inspect)
    assert verdict.status == "pass", verdict.measured
    assert verdict.measured["reshuffled_each_epoch"] is True


def test_d8_fails_on_sorted_unshuffled_labels(prepared, config):
    """Planted bug: a source sorted by label, batched without a shuffle."""
    x, y = prepared.sample("train")
    order = np.argsort(y, kind="stable")
    dataset = make_dataset(x[order], y[order], config.data.batch_size, training=False, seed=0)
    verdict = check_shuffled_batches(dataset, prepared, config.inspect)
    assert verdict.status == "fail", verdict.measured
    assert "not shuffled" in verdict.advice


def test_d8_warns_when_epochs_repeat_one_order(prepared, config):
    """Planted bug: shuffled once, never again (reshuffle_each_iteration=False)."""
    x, y = prepared.sample("train")
    dataset = (tf.data.Dataset.from_tensor_slices((x, y))
               .shuffle(len(y), seed=0, reshuffle_each_iteration=False).batch(config.data.batch_size))
    verdict = check_shuffled_batches(dataset, prepared, config.inspect)
    assert verdict.status == "warn", verdict.measured
    assert verdict.measured["reshuffled_each_epoch"] is False


# D9 inputs still match labels

def test_d9_passes_on_the_training_pipeline(prepared, config):
    verdict = check_pairs_intact(train_datasets(config, prepared)[0], prepared)
    assert verdict.status == "pass", verdict.measured
    assert verdict.measured["pairs_seen"] == len(prepared.indices["train"])


def test_d9_fails_when_inputs_and_labels_are_shuffled_apart(prepared, config):
    """Planted bug: inputs and labels shuffled separately, then zipped."""
    x, y = prepared.sample("train")
    inputs = tf.data.Dataset.from_tensor_slices(x).shuffle(len(x), seed=1)
    labels = tf.data.Dataset.from_tensor_slices(y).shuffle(len(y), seed=2)
    verdict = check_pairs_intact(tf.data.Dataset.zip((inputs, labels)).batch(config.data.batch_size), prepared)
    assert verdict.status == "fail"
    assert verdict.measured["label_changed"] > len(y) // 4
    assert verdict.measured["first_changed"]["label_in"] != verdict.measured["first_changed"]["label_out"]


def test_d9_warns_when_an_epoch_loses_examples(prepared):
    """Planted bug: drop_remainder throws away the last partial batch every epoch."""
    x, y = prepared.sample("train")
    batch = 32 if len(y) % 32 else 31
    verdict = check_pairs_intact(tf.data.Dataset.from_tensor_slices((x, y)).batch(batch, drop_remainder=True),
                                 prepared)
    assert verdict.status == "warn"
    assert verdict.measured["pairs_seen"] < len(y)


# The stage

def test_inspect_runs_every_d_check_without_a_failure(prepared, config, tmp_path):
    verdicts = run_checks("inspect", Context(config, prepared, tmp_path))
    assert [v.id for v in verdicts] == [f"D{i}" for i in range(1, 15)]
    assert "fail" not in {v.status for v in verdicts}, [(v.id, v.measured) for v in verdicts]


# Augmentation (O2)

def _images(n=64, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 16, (n, 8, 8, 1)).astype("float32"), rng.integers(0, 3, n)


def test_augmentation_is_off_by_default(prepared, config):
    assert config.data.augment is False
    x, _ = prepared.sample("train")
    assert _fingerprints(train_datasets(config, prepared)[0]) == {row.tobytes() for row in x}


def test_augmentation_changes_training_images_only(prepared, config):
    x, y = _images()
    changed = make_dataset(x, y, 16, training=True, seed=0, augment=True)
    assert not _fingerprints(changed) & {row.tobytes() for row in x}
    for batch_x, _ in changed.as_numpy_iterator():
        assert batch_x.shape[1:] == x.shape[1:] and batch_x.min() >= 0 and batch_x.max() <= 16
    evaluation = make_dataset(x, y, 16, training=False, seed=0, augment=True)
    assert np.array_equal(np.concatenate([b for b, _ in evaluation.as_numpy_iterator()]), x)
    # the project's own data: val is never augmented; train is (images), or is left alone (tables)
    train, val = train_datasets(with_values(config, {"data.augment": True}), prepared)
    assert np.array_equal(np.concatenate([b for b, _ in val.as_numpy_iterator()]), prepared.sample("val")[0])
    train_inputs = {row.tobytes() for row in prepared.sample("train")[0]}
    if prepared.kind == "image":
        assert len(_fingerprints(train) & train_inputs) < len(train_inputs) // 2
    else:
        assert _fingerprints(train) == train_inputs


def test_augmentation_repeats_with_the_seed_and_changes_each_epoch():
    x, y = _images()
    first = make_dataset(x, y, 16, training=True, seed=3, augment=True)
    again = make_dataset(x, y, 16, training=True, seed=3, augment=True)
    assert np.array_equal(_first_batch(first)[0], _first_batch(again)[0])
    # the same images in the same order on every pass: only the augmentation differs
    fixed_order = augment_batches(make_dataset(x, y, 16, training=False, seed=3), seed=3, value_range=(0.0, 16.0))
    assert not np.array_equal(_first_batch(fixed_order)[0], _first_batch(fixed_order)[0])


def test_the_photo_preset_mirrors_zooms_and_colours_within_the_value_range(config, monkeypatch):
    """data.augment: photo on RGB photos: flip, zoom, shifts, brightness, contrast, saturation,
    each image changed, shapes and the 0..255 range kept, the same with the same seed; D7's
    batch is the augmented one."""
    from sklearn.datasets import load_sample_images

    from {{ cookiecutter.package_name }}.data import augment
    from {{ cookiecutter.package_name }}.data.augment import image_augmenter

    presets = []
    monkeypatch.setattr(augment, "image_augmenter", lambda *a: presets.append(a[3:]) or image_augmenter(*a))
    layers = [type(layer).__name__ for layer in image_augmenter(0, (0.0, 255.0), preset="photo", channels=3).layers]
    assert layers == ["RandomFlip", "RandomZoom", "RandomTranslation", "RandomSaturation", "RandomBrightness",
                      "RandomContrast"]
    photos = np.stack([p[:64, :64] for p in load_sample_images().images] * 8).astype("float32")
    labels = np.arange(len(photos)) % 2
    runs = [make_dataset(photos, labels, 16, training=True, seed=5, augment="photo") for _ in range(2)]
    batches = [_first_batch(run)[0] for run in runs]
    assert np.array_equal(*batches) and batches[0].shape == (16, 64, 64, 3)
    assert batches[0].min() >= 0 and batches[0].max() <= 255
    assert not _fingerprints(runs[0]) & {row.tobytes() for row in photos}
    assert presets and set(presets) == {("photo", 3)}
    assert with_values(config, {"data.augment": "photo"}).data.augment == "photo"
