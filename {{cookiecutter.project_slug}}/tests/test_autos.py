"""`resolve` decides every `auto` once, and train_config.yaml says what each became: the file
holds the decided config (the machine's settings as given), the lines agree with the model train
saved and with the documented rules, a setting given as a value gets no line, and the file loads
as the config a resume compares."""

import re

import keras
import numpy as np
import pytest

from {{ cookiecutter.package_name }}.config import load_config
from {{ cookiecutter.package_name }}.data import prepare
from {{ cookiecutter.package_name }}.errors import UserError
from {{ cookiecutter.package_name }}.resolve import resolve
from {{ cookiecutter.package_name }}.rundir import RunFiles
from {{ cookiecutter.package_name }}.table_model import WIDE_L1
from {{ cookiecutter.package_name }}.train import train


def _wide_table(folder, rows: int = 120, columns: int = 300):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(rows, columns)).astype("float32")
    path = folder / "wide.npz"
    np.savez(path, x=x, y=(x[:, :5].sum(axis=1) > 0).astype(int))
    return path


def _decided(path) -> dict[str, str]:
    """setting -> what the comment block says it became."""
    text = path.read_text()
    block = text[text.index("# What each auto setting"):].splitlines()[1:]
    return dict(re.match(r"#\s+([\w.]+): (.*)", line).groups() for line in block)


def test_train_config_records_every_auto_as_the_saved_model_holds_it(tmp_path):
    sets = ["task=binary", "data.source=npz", f"data.location={_wide_table(tmp_path)}", "train.epochs=1",
            "train.min_steps=1", "model.tabular_dropout=0.1"]
    config = load_config(None, sets)
    run_dir = tmp_path / "run"
    prepared = prepare(config, run_dir)
    train(config, prepared, run_dir)
    written = run_dir / RunFiles.TRAIN_CONFIG
    decided = _decided(written)
    saved = keras.models.load_model(run_dir / RunFiles.LAST_MODEL, compile=False)
    first = saved.get_layer("dense_0")

    resolved = resolve(config, prepared)
    ran = resolved.config  # the config train ran with: the batch decided, the rate scaled with it, ...
    assert load_config(written) == resolved.written  # the comments change nothing a resume compares
    assert ran.model.tabular_l1 == WIDE_L1 and ran.model.builder == "tabular" and ran.train.folds == 1
    assert decided["data.batch_size"].startswith(f"auto -> {ran.data.batch_size} ")
    assert decided["model.builder"].startswith("auto -> tabular")
    # 300 numeric columns outnumber the ~84 training rows: the wide-table rule, binary's strength.
    assert decided["model.tabular_l1"].startswith(f"auto -> {WIDE_L1:.3g} (300 numeric columns outnumber")
    assert float(first.kernel_regularizer.l1) == np.float32(WIDE_L1)
    assert decided["model.tabular_units"].startswith(f"256 -> {first.units} ") and first.units < 256
    assert saved.count_params() <= config.check.max_params_per_example * prepared.size("train")
    assert "model.tabular_dropout" not in decided  # given as a value: nothing was decided
    assert decided["train.precision"].startswith("auto -> float32")  # CPU only
    assert decided["train.distribute"].startswith("auto -> none")
    assert decided["train.jit_compile"].startswith("auto -> off")  # Keras' choice on a CPU
    # Decided on the data: written as decided; by the machine: written as given, decided again on resume.
    on_file = load_config(written)
    assert on_file.model.tabular_l1 == WIDE_L1 and on_file.data.cache == ran.data.cache != "auto"
    assert on_file.train.precision == on_file.train.distribute == "auto" != ran.train.precision


def test_resolve_leaves_no_auto_but_keras_own_xla_choice(tmp_path):
    """Every setting a stage reads is a value after `resolve`, on a table and on images (Keras
    decides train.jit_compile when it compiles; an npz table reads no delimiter, encoding or
    channels, digits no delimiter or encoding); a setting given as a value is kept, and a second
    resolve finds nothing left to decide."""
    table = load_config(None, ["task=binary", "data.source=npz", f"data.location={_wide_table(tmp_path)}",
                               "model.log_target=auto", "train.folds=auto", "model.tabular_dropout=0.1"])
    images = load_config(None, ["task=classification", "data.source=digits", "data.cache=memory"])
    unread = {"data.delimiter", "data.encoding"}
    for config, never_read in ((table, unread | {"data.channels"}), (images, unread)):
        prepared = prepare(config)
        resolved = resolve(config, prepared)
        left = {f"{section}.{name}" for section, fields in resolved.config.model_dump().items()
                if isinstance(fields, dict) for name, value in fields.items() if value == "auto"}
        assert left == {"train.jit_compile"} | never_read, left
        assert resolve(resolved.config, prepared).notes == {}
    assert resolve(table, prepare(table)).config.model.tabular_dropout == 0.1  # given: kept, no note
    assert "model.tabular_dropout" not in resolve(table, prepare(table)).notes
    decided = resolve(images, prepare(images))
    assert decided.config.data.cache == "memory" and "data.cache" not in decided.notes
    assert decided.config.model.builder == "cnn" and decided.notes["model.builder"] == "auto -> cnn (images)"
    assert decided.config.data.channels == 1 and decided.notes["data.channels"] == "auto -> 1 (the images' own)"
    assert "model.tabular_l1" not in decided.notes  # decided, but not said where no table model reads it


def test_a_config_without_autos_gets_no_comment_block(tmp_path):
    sets = ["task=binary", "data.source=npz", f"data.location={_wide_table(tmp_path, columns=20)}",
            "train.epochs=1", "train.min_steps=1", "data.batch_size=16", "data.cache=off",
            "model.builder=mlp", "train.precision=float32", "train.jit_compile=off", "train.distribute=none"]
    config = load_config(None, sets)
    run_dir = tmp_path / "run"
    train(config, prepare(config, run_dir), run_dir)
    assert "# What each auto setting" not in (run_dir / RunFiles.TRAIN_CONFIG).read_text()


class MultiWorkerMirroredStrategy:
    """Stands for tf.distribute's strategy of that name, which needs a cluster: resolve reads
    only its class name and replicas."""

    num_replicas_in_sync = 4


def test_folds_run_on_one_machine_under_a_strategy_of_several(tmp_path):
    """train.folds: auto gives one split when several machines train (the folds loop runs on
    one), and a number of folds set by hand is refused there with what to do."""
    sets = ["task=binary", "data.source=npz", f"data.location={_wide_table(tmp_path, columns=20)}"]
    config = load_config(None, [*sets, "train.folds=auto"])
    prepared = prepare(config)
    alone = resolve(config, prepared)
    assert alone.config.train.folds == 5 and alone.config.train.distribute == "none"  # 120 rows: a bag
    several = resolve(config, prepared, MultiWorkerMirroredStrategy())
    assert several.config.train.folds == 1 and several.notes["train.folds"].startswith("auto -> 1 (several machines")
    assert several.config.train.distribute == "multi_worker" and "4 replicas" in several.notes["train.distribute"]
    with pytest.raises(UserError, match="train.folds runs on one machine"):
        resolve(load_config(None, [*sets, "train.folds=3"]), prepared, MultiWorkerMirroredStrategy())
