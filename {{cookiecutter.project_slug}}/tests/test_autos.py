"""train_config.yaml says what each `auto` became: the lines agree with the model train saved and
with the documented rules, a setting given as a value gets no line, and the file still loads
as the config the run used (a resume compares it)."""

import re

import keras
import numpy as np

from {{ cookiecutter.package_name }}.config import load_config
from {{ cookiecutter.package_name }}.data import prepare
from {{ cookiecutter.package_name }}.data.batching import settled
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

    ran = settled(config, prepared)  # the config train ran with: the batch decided, the rate scaled with it
    assert load_config(written) == ran  # the comments change nothing a resume compares
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


def test_a_config_without_autos_gets_no_comment_block(tmp_path):
    sets = ["task=binary", "data.source=npz", f"data.location={_wide_table(tmp_path, columns=20)}",
            "train.epochs=1", "train.min_steps=1", "data.batch_size=16", "data.cache=off",
            "model.builder=mlp", "train.precision=float32", "train.jit_compile=off", "train.distribute=none"]
    config = load_config(None, sets)
    run_dir = tmp_path / "run"
    train(config, prepare(config, run_dir), run_dir)
    assert "# What each auto setting" not in (run_dir / RunFiles.TRAIN_CONFIG).read_text()
