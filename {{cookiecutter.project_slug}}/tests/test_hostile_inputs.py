"""No traceback, whatever the data: a corpus of degenerate and hostile inputs, each run through
every stage that reads data (`inspect`, `check`, a one-epoch `train`, `evaluate`), in process.

For every kind: the exit status is 0, 1 or 2; nothing on stderr is a traceback; an exit 2
prints one `error:` line that names what went wrong (and where, when a kind says what to
expect); the run folder holds no half-written file and every JSON file in it parses.
Budgets are tiny: the point is that each stage ends with a verdict or a message.
"""

from __future__ import annotations

import csv
import json
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from {{ cookiecutter.package_name }}.cli import main

STAGES = ("inspect", "check", "train", "evaluate")
TINY = ["train.epochs=1", "train.min_steps=0", "train.export=false", "model.hidden_units=8", "model.filters=4",
        "model.depth=1", "check.overfit_steps=5", "check.baseline_steps=4", "check.loss_trend_steps=4",
        "check.loss_trend_window=1", "check.weight_steps=1", "check.capacity_examples=32", "data.image_size=[16,16]",
        "inspect.sample=200", "inspect.batches=4", "inspect.label_sample=200"]

# User code the corpus plugs in through data.source and model.builder.
HOSTILE_CODE = '''
import numpy as np
import keras


def raises(config):
    raise RuntimeError("the database is down")


def returns_none(config):
    return None


def different_lengths(config):
    return np.zeros((50, 3), "float32"), np.zeros(40, "int64")


def generator(config):
    return ((np.zeros(3, "float32"), 0) for _ in range(10))


def no_input_shape(input_shape, spec, config):
    return keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(spec.units)])


def two_outputs(input_shape, spec, config):
    inputs = keras.Input(input_shape)
    flat = keras.layers.Flatten()(inputs)
    return keras.Model(inputs, [keras.layers.Dense(spec.units)(flat), keras.layers.Dense(1)(flat)])


def wrong_width(input_shape, spec, config):
    inputs = keras.Input(input_shape)
    return keras.Model(inputs, keras.layers.Dense(spec.units + 3)(keras.layers.Flatten()(inputs)))


def builder_raises(input_shape, spec, config):
    raise ValueError("no such layer size")
'''


def rng():
    return np.random.default_rng(0)


def npz(tmp: Path, x, y, *extra: str, task: str = "classification") -> list[str]:
    np.savez(tmp / "data.npz", x=x, y=y)
    return [f"task={task}", "data.source=npz", f"data.location={tmp / 'data.npz'}", *extra]


def table(n=300, features=4, seed=0):
    """Features with signal: the label is the sign of their sum, with noise."""
    generator = np.random.default_rng(seed)
    x = generator.normal(size=(n, features)).astype("float32")
    return x, (x.sum(axis=1) + generator.normal(0, 1, n) > 0).astype("int64")


def write_csv(tmp: Path, header, rows, name="data.csv", encoding="utf-8", delimiter=",") -> Path:
    path = tmp / name
    with path.open("w", newline="", encoding=encoding) as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def csv_rows(n=200, seed=0):
    generator = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        a, b = generator.normal(size=2)
        colour = generator.choice(["red", "grün", "blue"])
        rows.append([f"{a:.3f}", f"{b:.3f}", colour, "yes" if a + b + generator.normal(0, 1) > 0 else "no"])
    return rows


def csv_source(path: Path, *extra: str) -> list[str]:
    return ["task=binary", "data.source=csv", f"data.location={path}", "data.label_column=label", *extra]


def images(tmp: Path, per_class=30, size=(12, 12), mode="RGB", classes=("cat", "dog")) -> Path:
    root = tmp / "images"
    generator = rng()
    for index, name in enumerate(classes):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pixels = generator.integers(0, 80, (*size, 3), dtype=np.uint8) + np.uint8(120 * index)
            Image.fromarray(pixels).convert(mode).save(root / name / f"{i}.png")
    return root


def folder(root: Path, *extra: str) -> list[str]:
    return ["task=binary", "data.source=image_folder", f"data.location={root}", *extra]


# --- the corpus: kind -> a function of a fresh folder that writes the data and returns the --set values

def all_identical(tmp):
    return npz(tmp, np.ones((200, 4), "float32"), np.arange(200) % 2, task="binary")


def duplicated_three_times(tmp):
    x, y = table(100)
    return npz(tmp, np.repeat(x, 3, axis=0), np.repeat(y, 3), task="binary")


def one_example_per_class(tmp):
    return npz(tmp, rng().normal(size=(10, 4)), np.arange(10))


def a_class_with_one_example(tmp):
    x, y = table(300)
    y = y.copy()
    y[0] = 2
    return npz(tmp, x, y)


def a_split_left_empty(tmp):
    x, y = table(6)
    return npz(tmp, x, y, task="binary")


def two_classes_as_classification(tmp):
    x, y = table(300)
    return npz(tmp, x, y)


def ten_thousand_to_three(tmp):
    generator = rng()
    x = generator.normal(size=(10_003, 4)).astype("float32")
    y = np.r_[np.zeros(10_000, "int64"), np.ones(3, "int64")]
    x[-3:] += 5
    return npz(tmp, x, y, task="binary")


def huge_values(tmp):
    x, y = table(300)
    x[:, 0] = np.where(y > 0, 1e30, -1e30)
    return npz(tmp, x, y, task="binary")


def denormal_values(tmp):
    x, y = table(300)
    x[:, 1] = 1e-40 * (y + 1)
    return npz(tmp, x, y, task="binary")


def uint8_images(tmp):
    generator = rng()
    y = np.arange(300) % 2
    x = (generator.integers(0, 100, (300, 8, 8, 1)) + 100 * y[:, None, None, None]).astype(np.uint8)
    return npz(tmp, x, y, task="binary")


def int64_features(tmp):
    x, y = table(300)
    return npz(tmp, (x * 1000).astype(np.int64), y, task="binary")


def a_constant_feature(tmp):
    x, y = table(300)
    x[:, 2] = 7.0
    return npz(tmp, x, y, task="binary")


def a_feature_with_one_value(tmp):
    rows = csv_rows()
    for i, row in enumerate(rows):
        row[1] = "" if i else "1.5"
    return csv_source(write_csv(tmp, ["a", "b", "colour", "label"], rows))


def nan_and_inf_targets(tmp):
    x, _ = table(300)
    target = x.sum(axis=1)
    target[[3, 5]] = [np.nan, np.inf]
    return npz(tmp, x, target, task="regression")


def labels_as_strings_of_numbers(tmp):
    x, y = table(300)
    return npz(tmp, x, y.astype(str), task="binary")


def negative_class_ids(tmp):
    x, y = table(300)
    return npz(tmp, x, np.where(y > 0, 1, -1), task="binary")


def one_hot_labels(tmp):
    x, y = table(300)
    return npz(tmp, x, np.eye(2)[y], task="binary")


def a_zero_byte_image(tmp):
    root = images(tmp)
    (root / "cat" / "empty.png").write_bytes(b"")
    return folder(root)


def a_truncated_jpeg(tmp):
    root = images(tmp)
    Image.fromarray(rng().integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(root / "dog" / "cut.jpg")
    data = (root / "dog" / "cut.jpg").read_bytes()
    (root / "dog" / "cut.jpg").write_bytes(data[: len(data) // 2])
    return folder(root)


def text_named_png(tmp):
    root = images(tmp)
    (root / "cat" / "notes.png").write_text("not an image at all")
    return folder(root)


def rgba_palette_and_16_bit(tmp):
    root = images(tmp)
    pixels = rng().integers(0, 255, (12, 12, 3), dtype=np.uint8)
    Image.fromarray(pixels).convert("RGBA").save(root / "cat" / "rgba.png")
    Image.fromarray(pixels).convert("P").save(root / "cat" / "palette.png")
    Image.fromarray(pixels[..., 0].astype(np.uint16) * 250).save(root / "dog" / "deep.png")
    return folder(root)


def tiny_and_huge_images(tmp):
    root = images(tmp)
    Image.new("RGB", (1, 1), (200, 10, 10)).save(root / "cat" / "one_pixel.png")
    Image.new("RGB", (4000, 4000), (10, 200, 10)).save(root / "dog" / "huge.png")
    return folder(root)


def nested_sub_folder(tmp):
    root = images(tmp)
    (root / "cat" / "more").mkdir()
    Image.fromarray(rng().integers(0, 255, (12, 12, 3), dtype=np.uint8)).save(root / "cat" / "more" / "x.png")
    return folder(root)


def names_with_spaces_and_accents(tmp):
    root = images(tmp, classes=("chat noir", "chien été"))
    for path in list((root / "chat noir").iterdir())[:5]:
        path.rename(path.with_name(f"photo {path.stem} ñ.png"))
    return folder(root)


def semicolons(tmp):
    return csv_source(write_csv(tmp, ["a", "b", "colour", "label"], csv_rows(), delimiter=";"))


def utf8_with_bom(tmp):
    return csv_source(write_csv(tmp, ["a", "b", "colour", "label"], csv_rows(), encoding="utf-8-sig"))


def latin1(tmp):
    return csv_source(write_csv(tmp, ["a", "b", "colour", "label"], csv_rows(), encoding="latin-1"))


def quoted_newlines(tmp):
    rows = [[a, b, f"{colour}\nsecond line", label] for a, b, colour, label in csv_rows()]
    return csv_source(write_csv(tmp, ["a", "b", "colour", "label"], rows))


def duplicate_column_names(tmp):
    return csv_source(write_csv(tmp, ["a", "a", "colour", "label"], csv_rows()))


def header_only(tmp):
    return csv_source(write_csv(tmp, ["a", "b", "colour", "label"], []))


def ragged_rows(tmp):
    rows = csv_rows()
    rows[10] = rows[10] + ["extra"]
    rows[20] = rows[20][:2]
    return csv_source(write_csv(tmp, ["a", "b", "colour", "label"], rows))


def label_column_all_missing(tmp):
    rows = [row[:3] + [""] for row in csv_rows()]
    return csv_source(write_csv(tmp, ["a", "b", "colour", "label"], rows))


def tfds_name_that_does_not_exist(tmp):
    return ["task=classification", "data.source=tfds", "data.location=no_such_dataset_anywhere"]


def loader_that_raises(tmp):
    return ["task=binary", "data.source=hostile_code:raises"]


def loader_returning_none(tmp):
    return ["task=binary", "data.source=hostile_code:returns_none"]


def loader_with_different_lengths(tmp):
    return ["task=binary", "data.source=hostile_code:different_lengths"]


def loader_returning_a_generator(tmp):
    return ["task=binary", "data.source=hostile_code:generator"]


def sequential_without_input_shape(tmp):
    return [*npz(tmp, *table(300), task="binary"), "model.builder=hostile_code:no_input_shape"]


def model_with_two_outputs(tmp):
    return [*npz(tmp, *table(300), task="binary"), "model.builder=hostile_code:two_outputs"]


def output_width_mismatch(tmp):
    return [*npz(tmp, *table(300), task="binary"), "model.builder=hostile_code:wrong_width"]


def builder_that_raises(tmp):
    return [*npz(tmp, *table(300), task="binary"), "model.builder=hostile_code:builder_raises"]


CORPUS = [all_identical, duplicated_three_times, one_example_per_class, a_class_with_one_example, a_split_left_empty,
          two_classes_as_classification, ten_thousand_to_three, huge_values, denormal_values, uint8_images,
          int64_features, a_constant_feature, a_feature_with_one_value, nan_and_inf_targets,
          labels_as_strings_of_numbers, negative_class_ids, one_hot_labels, a_zero_byte_image, a_truncated_jpeg,
          text_named_png, rgba_palette_and_16_bit, tiny_and_huge_images, nested_sub_folder,
          names_with_spaces_and_accents, semicolons, utf8_with_bom, latin1, quoted_newlines, duplicate_column_names,
          header_only, ragged_rows, label_column_all_missing, tfds_name_that_does_not_exist, loader_that_raises,
          loader_returning_none, loader_with_different_lengths, loader_returning_a_generator,
          sequential_without_input_shape, model_with_two_outputs, output_width_mismatch, builder_that_raises]


# Files that differ only in how they spell healthy data (a CSV's delimiter, encoding or quoted
# newlines; an image's mode, size, folder depth or file name; labels as strings of numbers or
# one-hot rows): reading them is what they test, and once read every stage gets the same tensors
# (class ids 0 and 1) through the same pipeline. They skip `check`, whose training runs are the
# same for every input and cost about 10 s a kind (inspect, train and evaluate still read them).
SPELLINGS = {semicolons, utf8_with_bom, latin1, quoted_newlines, rgba_palette_and_16_bit, tiny_and_huge_images,
             nested_sub_folder, names_with_spaces_and_accents, labels_as_strings_of_numbers, one_hot_labels}


@pytest.fixture(scope="module")
def hostile_code(tmp_path_factory):
    folder = tmp_path_factory.mktemp("code")
    (folder / "hostile_code.py").write_text(textwrap.dedent(HOSTILE_CODE))
    sys.path.insert(0, str(folder))
    yield
    sys.path.remove(str(folder))
    sys.modules.pop("hostile_code", None)


def test_the_corpus_holds_at_least_thirty_kinds():
    assert len(CORPUS) >= 30 and len({kind.__name__ for kind in CORPUS}) == len(CORPUS)


@pytest.mark.slow
@pytest.mark.parametrize("kind", CORPUS, ids=lambda kind: kind.__name__)
def test_every_stage_ends_with_a_verdict_or_one_clear_line(kind, hostile_code, tmp_path, monkeypatch, capfd):
    monkeypatch.chdir(tmp_path)
    settings = kind(tmp_path)
    arguments = [f"--set={value}" for value in TINY + settings]
    for stage in [s for s in STAGES if not (kind in SPELLINGS and s == "check")]:
        code = main([stage, "--run-dir", "runs/corpus", *arguments])
        out, err = capfd.readouterr()
        assert code in (0, 1, 2), f"{stage}: exit {code}"
        assert "Traceback" not in err and "Traceback" not in out, f"{stage}:\n{err[-3000:]}"
        if code == 2:
            errors = [line for line in err.splitlines() if line.startswith("error: ")]
            assert len(errors) == 1 and len(errors[0]) > 30, f"{stage}: {err[-2000:]}"
    run = tmp_path / "runs" / "corpus"
    half_written = [p for p in run.rglob("*.partial")] if run.exists() else []
    assert not half_written, half_written
    for record in run.rglob("*.json") if run.exists() else []:
        json.loads(record.read_text())
