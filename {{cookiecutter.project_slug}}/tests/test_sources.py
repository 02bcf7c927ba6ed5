"""Every source ends in the same Examples; every bad input gives one clear message."""

import numpy as np
import pytest
import tensorflow_datasets as tfds
from PIL import Image

from {{ cookiecutter.package_name }}.config import load_config
from {{ cookiecutter.package_name }}.data import prepare
from {{ cookiecutter.package_name }}.data.sources import load_examples
from {{ cookiecutter.package_name }}.errors import UserError


def config_for(task="classification", **data):
    return load_config(None, [f"task={task}", "model.builder=auto"] + [f"data.{k}={v}" for k, v in data.items()])


def write_images(root, classes=("cat", "dog"), per_class=6, size=(12, 10)):
    rng = np.random.default_rng(0)
    for name in classes:
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 255, (*size, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    return root


def test_image_folder(tmp_path):
    write_images(tmp_path / "img")
    examples = load_examples(config_for(source="image_folder", location=tmp_path / "img", image_size="[8, 8]"))
    assert examples.x.shape == (12, 8, 8, 3) and examples.kind == "image"
    assert examples.class_names == ["cat", "dog"]
    assert sorted(set(examples.y.tolist())) == [0, 1]


def test_image_folder_with_an_empty_class(tmp_path):
    write_images(tmp_path / "img")
    (tmp_path / "img" / "bird").mkdir()
    with pytest.raises(UserError, match="bird"):
        load_examples(config_for(source="image_folder", location=tmp_path / "img"))


def test_image_folder_with_an_unreadable_file(tmp_path):
    write_images(tmp_path / "img")
    (tmp_path / "img" / "cat" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(UserError, match="broken.png"):
        load_examples(config_for(source="image_folder", location=tmp_path / "img"))
    dropped = load_examples(config_for(source="image_folder", location=tmp_path / "img", drop_invalid="true"))
    assert len(dropped.y) == 12


def test_missing_image_folder(tmp_path):
    with pytest.raises(UserError, match="nowhere"):
        load_examples(config_for(source="image_folder", location=tmp_path / "nowhere"))


def write_csv(path, rows=40):
    lines = ["size,colour,label"] + [f"{i},{'red' if i % 3 else 'blue'},{'big' if i > rows // 2 else 'small'}"
                                     for i in range(rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_csv_with_numeric_and_text_features(tmp_path):
    examples = load_examples(config_for(task="binary", source="csv", location=write_csv(tmp_path / "t.csv")))
    assert examples.x.shape == (40, 3)  # size + one-hot colour (blue, red)
    assert examples.class_names == ["big", "small"]
    assert examples.feature_names == ["size", "colour=blue", "colour=red"]


def test_csv_without_the_label_column(tmp_path):
    path = write_csv(tmp_path / "t.csv")
    with pytest.raises(UserError, match="target"):
        load_examples(config_for(task="binary", source="csv", location=path, label_column="target"))


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
        examples = load_examples(config_for(source="tfds", location="mnist", image_size="[16, 16]"))
    assert examples.x.shape == (80, 16, 16, 1)
    assert examples.class_names[:3] == ["0", "1", "2"]


def test_dataset_smaller_than_one_batch(tmp_path):
    x = np.zeros((20, 3), "float32") + np.arange(20)[:, None]
    np.savez(tmp_path / "small.npz", x=x, y=np.arange(20) % 2)
    with pytest.raises(UserError, match="batch"):
        prepare(config_for(task="binary", source="npz", location=tmp_path / "small.npz"))
