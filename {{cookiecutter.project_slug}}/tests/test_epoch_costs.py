"""Nothing is built again each epoch: `train` makes its pipelines, traces its step functions
and opens its training iterator once, however many epochs it runs (a wide table paid seconds
an epoch when the iterator over its encoder was made again), and no stage on a table ends
with Keras' "Your input ran out of data" warning."""

import collections
import csv
import warnings

import numpy as np
import tensorflow as tf

from {{ cookiecutter.package_name }} import train as train_stage
from {{ cookiecutter.package_name }}.cli import main
from {{ cookiecutter.package_name }}.data import pipeline


def small_table(path):
    rng = np.random.default_rng(0)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["a", "b", "colour", "label"])
        for _ in range(150):
            a, b = rng.normal(size=2)
            writer.writerow([round(a, 4), round(b, 4), rng.choice(["red", "green"]), int(a + b > 0)])
    return path


def counted_train(folder, monkeypatch, epochs: int) -> collections.Counter:
    """What one `train` of `epochs` epochs built: pipelines, iterators over a tf.data dataset,
    traces of the train and test steps (Python runs a step function only while tracing it)."""
    counts = collections.Counter()
    real_split, real_iter, real_compile = pipeline.split_dataset, tf.data.Dataset.__iter__, train_stage.compile_model

    def split_dataset(*args, **kwargs):
        counts["pipelines"] += 1
        return real_split(*args, **kwargs)

    def iterate(dataset):
        counts["iterators"] += 1
        return real_iter(dataset)

    def compile_model(model, *args, **kwargs):
        compiled = real_compile(model, *args, **kwargs)
        for name in ("train_step", "test_step"):
            step = getattr(compiled, name)

            def traced(*inputs, _step=step, _name=name):
                counts[f"{_name} traces"] += 1
                return _step(*inputs)

            setattr(compiled, name, traced)
        return compiled

    monkeypatch.setattr(pipeline, "split_dataset", split_dataset)
    monkeypatch.setattr(tf.data.Dataset, "__iter__", iterate)
    monkeypatch.setattr(train_stage, "compile_model", compile_model)
    sets = ["data.source=csv", f"data.location={folder / 'table.csv'}", "task=binary", "data.batch_size=16",
            f"train.epochs={epochs}", "train.min_steps=0", "train.export=false"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(["train", "--run-dir", str(folder / f"run{epochs}"), *[p for s in sets for p in ("--set", s)]]) \
            in (0, 1)
    monkeypatch.undo()
    assert not [w for w in caught if "ran out of data" in str(w.message)]
    return counts


def test_more_epochs_build_nothing_more_but_keras_validation_iterator(tmp_path, monkeypatch):
    small_table(tmp_path / "table.csv")
    one, four = counted_train(tmp_path, monkeypatch, 1), counted_train(tmp_path, monkeypatch, 4)
    assert one["train_step traces"] >= 1 and one["pipelines"] >= 2, one  # the counters see what they count
    extra = four - one
    # Keras' evaluate() resets its iterator each epoch by design: the validation split's only
    # per-epoch cost, an iterator over examples held in memory (a table that fits).
    assert extra == collections.Counter({"iterators": 3}), (one, four)
