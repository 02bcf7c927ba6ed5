"""Every source streams the same (input, label) pairs; every bad input gives one clear message."""

import numpy as np
import pytest
import tensorflow_datasets as tfds
from PIL import Image

from {{ cookiecutter.package_name }}.config import load_config
from {{ cookiecutter.package_name }}.data import prepare
from {{ cookiecutter.package_name }}.data.loaders import load_examples
from {{ cookiecutter.package_name }}.data.streams import open_source
from {{ cookiecutter.package_name }}.errors import UserError


def config_for(task="classification", **data):
    return load_config(None, [f"task={task}", "model.builder=auto"] + [f"data.{k}={v}" for k, v in data.items()])


def write_images(root, classes=("cat", "dog"), per_class=12, size=(12, 10)):
    rng = np.random.default_rng(0)
    for name in classes:
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 255, (*size, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    return root


def test_image_folder(tmp_path):
    write_images(tmp_path / "img")
    prepared = prepare(config_for(source="image_folder", location=tmp_path / "img", image_size="[8, 8]",
                                  batch_size=4))
    assert prepared.input_shape == (8, 8, 3) and prepared.kind == "image"
    assert prepared.class_names == ["cat", "dog"]
    assert len(prepared.keys) == 24 and sorted(set(prepared.manifest.labels.tolist())) == [0, 1]
    x, y = prepared.sample("train")
    assert x.shape == (prepared.size("train"), 8, 8, 3) and x.dtype == np.float32 and 0 <= x.min() <= x.max() <= 255


def test_image_folder_converts_every_mode_to_the_configured_channels(tmp_path):
    """Grayscale, RGBA, palette and 16-bit PNGs, a JPEG, a BMP and a GIF in one folder."""
    rng = np.random.default_rng(0)
    for label in ("a", "b"):
        (tmp_path / "img" / label).mkdir(parents=True)
        for i in range(6):
            rgb = Image.fromarray(rng.integers(0, 255, (9, 7, 3), dtype=np.uint8))
            folder = tmp_path / "img" / label
            rgb.convert("L").save(folder / f"{i}_gray.png")
            rgb.convert("RGBA").save(folder / f"{i}_rgba.png")
            rgb.convert("P").save(folder / f"{i}_palette.png")
            Image.fromarray(rng.integers(0, 65535, (9, 7), dtype=np.uint16)).save(folder / f"{i}_16bit.png")
            rgb.save(folder / f"{i}.jpg")
            rgb.save(folder / f"{i}.bmp")
            rgb.save(folder / f"{i}.gif")
    for channels in (1, 3):
        prepared = prepare(config_for(source="image_folder", location=tmp_path / "img", image_size="[5, 5]",
                                      channels=channels, batch_size=4))
        x, _ = prepared.sample("train")
        assert len(prepared.keys) == 84 and x.shape[1:] == (5, 5, channels) and np.isfinite(x).all()


def test_image_folder_of_grayscale_images_gets_one_channel(tmp_path):
    rng = np.random.default_rng(0)
    for label in ("a", "b"):
        (tmp_path / "img" / label / "nested").mkdir(parents=True)
        for i in range(10):
            Image.fromarray(rng.integers(0, 255, (6, 6), dtype=np.uint8)).save(tmp_path / "img" / label / "nested" /
                                                                               f"{i} ü.png")
    prepared = prepare(config_for(source="image_folder", location=tmp_path / "img", image_size="[6, 6]",
                                  batch_size=4))
    assert prepared.input_shape == (6, 6, 1)
    assert "nested" in prepared.origin(0) and prepared.origin(0).endswith("ü.png")


def test_image_folder_with_an_empty_class(tmp_path):
    write_images(tmp_path / "img")
    (tmp_path / "img" / "bird").mkdir()
    with pytest.raises(UserError, match="bird"):
        open_source(config_for(source="image_folder", location=tmp_path / "img"))


def test_image_folder_with_unreadable_files_names_each(tmp_path):
    """A zero-byte file, a truncated JPEG and a text file named .png: found by the scan, named by path."""
    write_images(tmp_path / "img")
    cat = tmp_path / "img" / "cat"
    (cat / "broken.png").write_bytes(b"not a png")
    (cat / "empty.jpg").write_bytes(b"")
    whole = tmp_path / "whole.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(whole)
    (cat / "truncated.jpg").write_bytes(whole.read_bytes()[:400])
    with pytest.raises(UserError) as err:
        prepare(config_for(source="image_folder", location=tmp_path / "img"))
    message = str(err.value)
    assert message.startswith("3 invalid example(s) in image folder")
    assert f"{cat / 'broken.png'}: not a readable image" in message and f"{cat / 'empty.jpg'}: empty file" in message
    assert f"{cat / 'truncated.jpg'}: not a readable image" in message
    dropped = prepare(config_for(source="image_folder", location=tmp_path / "img", drop_invalid="true",
                                 batch_size=4))
    assert len(dropped.keys) == 24 and len(dropped.dropped) == 3


def test_missing_image_folder(tmp_path):
    with pytest.raises(UserError, match="nowhere"):
        open_source(config_for(source="image_folder", location=tmp_path / "nowhere"))


def write_csv(path, rows=100):
    return write_rows(path, "size,colour,label",  # size: 37 i mod rows, not in row order (that is an identifier)
                      [(37 * i % rows, "red" if i % 3 else "blue", "big" if i > rows // 2 else "small")
                       for i in range(rows)])


def write_rows(path, header, rows):
    path.write_text("\n".join([header] + [",".join(map(str, row)) for row in rows]) + "\n")
    return path


def test_csv_with_numeric_and_text_features(tmp_path):
    prepared = prepare(config_for(task="binary", source="csv", location=write_csv(tmp_path / "t.csv"), batch_size=4))
    assert prepared.input_shape == (4,)  # size + one-hot colour (any other value, blue, red)
    assert prepared.class_names == ["big", "small"]
    assert prepared.feature_names == ["size", "colour=<other>", "colour=blue", "colour=red"]
    x, y = prepared.sample("train")
    rows = prepared.manifest.positions[prepared.indices["train"]]
    assert np.array_equal(x[:, 0], 37 * rows % 100) and np.array_equal(x[:, 2], rows % 3 == 0)  # blue: i % 3 == 0
    assert np.array_equal(y, rows <= 50)  # "big" (i > 50) is class 0


def test_csv_rows_stream_in_blocks(tmp_path, monkeypatch):
    """A file of many blocks gives each row once, in order, with the vocabulary of train alone."""
    from {{ cookiecutter.package_name }}.data import csv_reading

    monkeypatch.setattr(csv_reading, "BLOCK_BYTES", 256)  # a block of ~20 rows
    monkeypatch.setattr(csv_reading, "BLOCK_ROWS", 0)
    rows = [(7919 * i % 600, "abc"[i % 3] if i % 25 else f"rare{i}", "yes" if i % 2 else "no") for i in range(600)]
    prepared = prepare(config_for(task="binary", source="csv", location=write_rows(tmp_path / "t.csv", "n,c,label",
                                                                                   rows), max_categories=3))
    for split in ("train", "val", "test"):
        x, _ = prepared.sample(split)
        assert np.array_equal(x[:, 0], 7919 * prepared.manifest.positions[prepared.indices[split]] % 600)
    assert prepared.feature_names == ["n", "c=<other>", "c=a", "c=b", "c=c"]  # the rare 4% share one bucket


def test_csv_semicolons_latin1_bom_and_quoted_newlines(tmp_path):
    rows = (f'{7 * i % 40};"Zoë\n{i % 2}";{"ja" if i % 2 else "nein"}\n' for i in range(40))
    text = "size;name;label\n" + "".join(rows)
    (tmp_path / "latin.csv").write_bytes(text.encode("latin-1"))
    (tmp_path / "bom.csv").write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    for name in ("latin.csv", "bom.csv"):
        prepared = prepare(config_for(task="binary", source="csv", location=tmp_path / name, batch_size=4))
        assert prepared.feature_names[0] == "size" and "name=Zoë\n0" in prepared.feature_names
        assert prepared.class_names == ["ja", "nein"]
        last = int(np.argmax(prepared.manifest.positions))
        assert prepared.origin(last) == f"{tmp_path / name}:{2 + 2 * 39}"  # each row takes two lines


def test_csv_ragged_rows_and_duplicate_columns_are_named(tmp_path):
    rows = [(7 * i % 40, "yes" if i % 2 else "no") for i in range(40)]
    path = write_rows(tmp_path / "t.csv", "size,label", rows)
    path.write_text(path.read_text() + "41,yes,surplus\n")
    with pytest.raises(UserError, match=r"1 invalid example\(s\) in CSV file .*a row with 3 cells where the header "
                                        r"has 2: '41,yes,surplus'"):
        prepare(config_for(task="binary", source="csv", location=path))
    assert len(prepare(config_for(task="binary", source="csv", location=path, drop_invalid="true",
                                  batch_size=4)).keys) == 40
    write_rows(tmp_path / "d.csv", "a,a,label", [(1, 2, "x")] * 20)
    with pytest.raises(UserError, match=r"duplicate column name\(s\) 'a'"):
        open_source(config_for(task="binary", source="csv", location=tmp_path / "d.csv"))
    (tmp_path / "h.csv").write_text("size,label\n")
    with pytest.raises(UserError, match=r"holds a header and no rows"):
        prepare(config_for(task="binary", source="csv", location=tmp_path / "h.csv"))


def test_csv_without_the_label_column(tmp_path):
    path = write_csv(tmp_path / "t.csv")
    with pytest.raises(UserError, match="target"):
        open_source(config_for(task="binary", source="csv", location=path, label_column="target"))


def test_npz_and_invalid_labels(tmp_path):
    x = np.random.default_rng(0).normal(size=(50, 4)).astype("float32")
    y = np.arange(50) % 2
    np.savez(tmp_path / "ok.npz", x=x, y=y)
    assert load_examples(config_for(task="binary", source="npz", location=tmp_path / "ok.npz")).x.shape == (50, 4)
    y_bad = y.copy()
    y_bad[7] = 5
    np.savez(tmp_path / "bad.npz", x=x, y=y_bad)
    with pytest.raises(UserError, match="example #7"):
        prepare(config_for(task="binary", source="npz", location=tmp_path / "bad.npz"))


def test_tfds_catalog_dataset_through_the_real_load_call():
    """tfds.load itself runs; mock_data stands in for the download no machine here can make."""
    with tfds.testing.mock_data(num_examples=80):
        prepared = prepare(config_for(source="tfds", location="mnist", image_size="[16, 16]", batch_size=8))
        x, y = prepared.sample("val")
    assert len(prepared.keys) + len(prepared.dropped) == 80 and prepared.input_shape == (16, 16, 1)
    assert x.shape == (prepared.size("val"), 16, 16, 1) and np.array_equal(y, prepared.labels("val"))
    assert prepared.class_names[:3] == ["0", "1", "2"]


def test_tfds_name_that_does_not_exist():
    with pytest.raises(UserError, match=r"tfds could not load 'no_such_dataset_xyz'"):
        prepare(config_for(source="tfds", location="no_such_dataset_xyz"))


def test_dataset_smaller_than_one_batch(tmp_path):
    """A batch set larger than the training split is refused with the key's name; auto fits it."""
    x = np.zeros((20, 3), "float32") + np.arange(20)[:, None]
    np.savez(tmp_path / "small.npz", x=x, y=np.arange(20) % 2)
    with pytest.raises(UserError, match="data.batch_size"):
        prepare(config_for(task="binary", source="npz", location=tmp_path / "small.npz", batch_size=32))
    fitted = prepare(config_for(task="binary", source="npz", location=tmp_path / "small.npz"))
    assert fitted.size("train") >= 8


# --- label sets that cannot fit the task, refused at load ------------------------------------


def test_image_folder_one_level_too_high(tmp_path):
    """data.location at a folder whose single sub-folder holds the class folders: every image one label."""
    write_images(tmp_path / "outer" / "photos")
    with pytest.raises(UserError) as err:
        open_source(config_for(source="image_folder", location=tmp_path / "outer"))
    message = str(err.value)
    assert f"image folder {tmp_path / 'outer'} holds a single class folder 'photos'" in message
    assert "point data.location at the folder that holds one sub-folder per class" in message
    assert f"(perhaps {tmp_path / 'outer' / 'photos'})" in message


def test_csv_with_a_single_label_value(tmp_path):
    path = write_rows(tmp_path / "t.csv", "size,label", [(i, "yes") for i in range(30)])
    with pytest.raises(UserError, match=r"label column 'label' holds a single value 'yes'; task=binary needs"):
        prepare(config_for(task="binary", source="csv", location=path))


def test_binary_with_three_labels(tmp_path):
    path = write_rows(tmp_path / "t.csv", "size,label", [(i, "abc"[i % 3]) for i in range(30)])
    with pytest.raises(UserError, match=r"task=binary needs exactly 2 distinct labels, found 3: 'a', 'b', 'c'; "
                                        r"set task=classification"):
        prepare(config_for(task="binary", source="csv", location=path))


def test_binary_lists_at_most_ten_labels(tmp_path):
    path = write_rows(tmp_path / "t.csv", "size,label", [(i, i % 12) for i in range(60)])
    with pytest.raises(UserError, match=r"found 12: '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', \.\.\.; "):
        prepare(config_for(task="binary", source="csv", location=path))


def test_regression_target_loaded_as_classification(tmp_path):
    targets = [round(100 + 1.7 * i, 1) for i in range(198)] + [100.0, 101.7]  # 198 distinct over 200
    path = write_rows(tmp_path / "t.csv", "age,label", [(i % 50, t) for i, t in enumerate(targets)])
    with pytest.raises(UserError, match=r"198 distinct labels over 200 examples: is this a regression target\? "
                                        r"set task=regression"):
        prepare(config_for(source="csv", location=path))
    assert len(prepare(config_for(task="regression", source="csv", location=path)).keys) == 200


def test_arrays_with_a_single_label(tmp_path):
    x = np.random.default_rng(0).normal(size=(40, 3)).astype("float32")
    np.savez(tmp_path / "one.npz", x=x, y=np.zeros(40, "int64"))
    with pytest.raises(UserError, match=r"every example has the same label \('0'\); task=classification needs"):
        load_examples(config_for(source="npz", location=tmp_path / "one.npz"))


def test_bundled_label_sets_are_far_from_the_thresholds():
    for task, source, classes in [("classification", "digits", 10), ("binary", "breast_cancer", 2)]:
        examples = load_examples(config_for(task=task, source=source))
        assert len(examples.class_names) == classes and classes < len(examples.y) / 50


# --- missing values in CSV -------------------------------------------------------------------

SPELLINGS = ["", "NA", "n/a", "nan", "NaN", "null", "None", " none "]


def test_csv_missing_numbers_are_imputed_with_the_train_median(tmp_path):
    """Every spelling of a missing cell: the numeric column stays numeric, the cell gets the
    median of the training rows and a "was missing" indicator; a missing category is its own."""
    rows = [(37 * i % 200, "red" if i % 2 else "NA", "big" if i % 2 else "small") for i in range(200)]
    for row, spelling in zip((3, 7, 11, 15, 19, 23, 27, 31), SPELLINGS, strict=True):
        rows[row] = (spelling, *rows[row][1:])
    path = write_rows(tmp_path / "t.csv", "size,colour,label", rows)
    prepared = prepare(config_for(task="binary", source="csv", location=path, batch_size=8))
    assert prepared.feature_names == ["size", "size missing", "colour=<other>", "colour=<missing>", "colour=red"]
    train = prepared.manifest.positions[prepared.indices["train"]]
    present = [37 * i % 200 for i in train if i not in (3, 7, 11, 15, 19, 23, 27, 31)]
    column = next(c for c in prepared.source.columns if c.name == "size")
    assert column.median == np.median(present) and column.role == "numeric" and column.missing_share > 0
    x, _ = prepared.take(prepared.indices["train"])
    gone = np.isin(train, (3, 7, 11, 15, 19, 23, 27, 31))
    assert np.all(x[gone, 0] == column.median) and np.all(x[gone, 1] == 1) and np.all(x[~gone, 1] == 0)
    assert len(prepared.keys) == 200 and not prepared.dropped
    dropping = prepare(config_for(task="binary", source="csv", location=path, missing="drop", drop_invalid="true",
                                  batch_size=8))
    assert len(dropping.keys) == 92 and dropping.dropped[0] == f"{path}:2: a missing cell (data.missing=drop)"


def test_csv_missing_labels_are_invalid_examples_not_a_class(tmp_path):
    rows = [(7 * i % 40, "big" if i % 2 else "small") for i in range(40)]
    rows[4] = (4, "NA")
    path = write_rows(tmp_path / "t.csv", "size,label", rows)
    with pytest.raises(UserError, match=r"t\.csv:6: the label cell \(label\) is missing"):
        prepare(config_for(task="binary", source="csv", location=path))


def test_csv_missing_regression_target_is_nan(tmp_path):
    rows = [(7 * i % 40, 1.5 * i) for i in range(40)]
    rows[2] = (2, "N/A")
    path = write_rows(tmp_path / "t.csv", "size,label", rows)
    with pytest.raises(UserError, match=r"t\.csv:4: target is NaN or Inf"):
        prepare(config_for(task="regression", source="csv", location=path))


def test_labels_numbered_from_one_and_one_hot_labels_are_read_as_class_ids_and_said(tmp_path):
    """Labels 1..K (R, MATLAB, survey codes) and one-hot rows are what users bring: read as class
    ids 0..K-1 and said in D5, instead of a phantom empty class 0 that D5 called an imbalance."""
    from {{ cookiecutter.package_name }}.checks.balance import check_balance

    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 4)).astype("float32")
    ids = np.arange(300) % 3
    read = {}
    for name, y in (("from_one", ids + 1), ("one_hot", np.eye(3)[ids]), ("plain", ids)):
        np.savez(tmp_path / f"{name}.npz", x=x, y=y)
        prepared = prepare(config_for(source="npz", location=str(tmp_path / f"{name}.npz")))
        assert np.array_equal(prepared.manifest.labels, ids[prepared.manifest.positions])
        balance = check_balance(prepared)
        assert balance.status == "pass", balance
        read[name] = (prepared.class_names, balance.measured.get("labels_read", ""))
    assert read["from_one"][0] == ["1", "2", "3"] and "no example has label 0" in read["from_one"][1]
    assert read["one_hot"][0] == ["0", "1", "2"] and "one-hot labels of 3 columns" in read["one_hot"][1]
    assert read["plain"] == (["0", "1", "2"], "")
    np.savez(tmp_path / "multi.npz", x=x, y=np.c_[ids == 0, ids > 0, ids > 1].astype(int))
    with pytest.raises(UserError, match="rows of several 1s \\(multi-label"):
        prepare(config_for(source="npz", location=str(tmp_path / "multi.npz")))
