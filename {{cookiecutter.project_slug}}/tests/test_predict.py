"""`predict` round-trips: on the bundled table (a CSV of its feature columns), a CSV-trained
table (raw cells, encoded by the export) and the bundled digits (an .npz), and an image folder,
its probabilities equal those of the model `evaluate` scores on the same rows. Bad inputs stop
with one line and exit 2, and leave no predictions behind."""

import csv
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

from {{ cookiecutter.package_name }}.cli import main
from {{ cookiecutter.package_name }}.config import load_config
from {{ cookiecutter.package_name }}.data import prepare
from {{ cookiecutter.package_name }}.data.pipeline import evaluation_dataset
from {{ cookiecutter.package_name }}.verdicts import read_verdicts

TINY = ["train.epochs=2", "train.min_steps=0", "model.hidden_units=8", "model.filters=4", "model.depth=1",
        "data.image_size=[16,16]"]


def trained(run: str, *sets: str) -> tuple[Path, object]:
    """A run folder trained briefly with `sets`, and its data as the run prepared it."""
    arguments = [part for s in (*TINY, *sets) for part in ("--set", s)]
    assert main(["train", "--run-dir", run, *arguments]) in (0, 1)
    config = load_config(None, [*TINY, *sets])
    return Path(run), prepare(config, Path(run))


def evaluated(run_dir: Path, prepared, split: str) -> np.ndarray:
    """The outputs of the model `evaluate` scores (best.keras) on a split, in the split's order."""
    model = keras.models.load_model(run_dir / "checkpoints" / "best.keras")
    return model.predict(evaluation_dataset(prepared, split), verbose=0)


def probabilities(path: Path) -> tuple[list[dict], np.ndarray]:
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    columns = [name for name in rows[0] if name.startswith("p_")]
    return rows, np.array([[float(row[name]) for name in columns] for row in rows])


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def test_the_bundled_table_from_a_csv_of_its_features(in_tmp, capsys):
    from sklearn.datasets import load_breast_cancer

    run_dir, prepared = trained("runs/bc", "task=binary", "data.source=breast_cancer")
    test = prepared.indices["test"]
    x, y = prepared.take(test)
    bunch = load_breast_cancer()
    with open("new.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["patient", *bunch.feature_names])
        writer.writerows([[f"p{i}", *row] for i, row in enumerate(x)])
    assert main(["predict", "--run", str(run_dir), "new.csv"]) == 0
    assert "predictions:" in capsys.readouterr().out
    rows, probs = probabilities(run_dir / "predictions.csv")
    positive = 1 / (1 + np.exp(-evaluated(run_dir, prepared, "test")[:, 0]))
    np.testing.assert_allclose(probs[:, 1], positive, rtol=1e-4, atol=1e-5)
    assert [row["prediction"] for row in rows] == [bunch.target_names[int(p > 0.5)] for p in positive]
    assert rows[0]["line"] == "2" and len(rows) == len(y)
    # A column the model needs, missing: one line, exit 2, nothing written.
    (run_dir / "predictions.csv").unlink()
    with open("short.csv", "w") as handle:
        handle.write("mean radius\n1.0\n")
    assert main(["predict", "--run", str(run_dir), "short.csv"]) == 2
    assert "lacks the column(s) 'mean texture'" in capsys.readouterr().err
    assert not (run_dir / "predictions.csv").exists()
    # The same rows as an .npz of arrays: P1 and P2 judge them as they judge the CSV's rows.
    np.savez("new.npz", x=x)
    assert main(["predict", "--run", str(run_dir), "--out", "arrays.csv", "new.npz"]) == 0
    judged = {v.id: v for v in read_verdicts(run_dir) if v.stage == "predict"}
    assert (judged["P1"].status, judged["P2"].status, judged["P3"].status) == ("pass", "pass", "skip")
    rows, probs = probabilities(Path("arrays.csv"))
    np.testing.assert_allclose(probs[:, 1], positive, rtol=1e-4, atol=1e-5)
    assert all(float(row["ood_score"]) >= 0 for row in rows) and rows[0]["index"] == "0"
    shifted = x.copy()
    shifted[:, 3] *= 1000  # mean area in other units
    np.savez("shifted.npz", x=shifted)
    assert main(["predict", "--run", str(run_dir), "--out", "shifted.csv", "shifted.npz"]) == 0
    judged = {v.id: v for v in read_verdicts(run_dir) if v.stage == "predict"}
    found = {(f["column"], f["what"]) for f in judged["P1"].measured["columns_off"]}
    assert judged["P1"].status == "warn" and found == {(bunch.feature_names[3], "distribution shift")}, found
    assert judged["P2"].status == "warn" and judged["P2"].measured["share"] > 0.5


def test_a_csv_trained_table_serves_raw_cells_and_refuses_text_in_a_number(in_tmp, capsys):
    rng = np.random.default_rng(0)
    rows = [[f"id{i}", round(float(v), 3), rng.choice(["red", "green", "blue"]), "yes" if v > 0 else "no"]
            for i, v in enumerate(rng.normal(size=300))]
    with open("table.csv", "w", newline="") as handle:
        csv.writer(handle).writerows([["key", "size", "colour", "label"], *rows])
    run_dir, prepared = trained("runs/t", "task=binary", "data.source=csv", "data.location=table.csv")
    assert main(["predict", "--run", str(run_dir), "--out", "out.csv", "table.csv"]) == 0
    predicted, probs = probabilities(Path("out.csv"))
    assert list(predicted[0])[:3] == ["line", "key", "prediction"] and predicted[0]["key"] == "id0"
    test_lines = prepared.manifest.positions[prepared.indices["test"]]
    positive = 1 / (1 + np.exp(-evaluated(run_dir, prepared, "test")[:, 0]))
    np.testing.assert_allclose(probs[test_lines, 1], positive, rtol=1e-4, atol=1e-5)
    # One odd cell is read as missing, as the training reader reads it, and said; a semicolon
    # file is read as the training reader would read it.
    rows[5][1] = "big"
    with open("odd.csv", "w", newline="") as handle:
        csv.writer(handle, delimiter=";").writerows([["key", "size", "colour", "label"], *rows])
    assert main(["predict", "--run", str(run_dir), "--out", "odd_out.csv", "odd.csv"]) == 0
    assert "1 cell(s) of column 'size' are not numbers (first 'big' at line 7)" in capsys.readouterr().err
    assert len(probabilities(Path("odd_out.csv"))[0]) == len(rows)
    # A column of text where the model learnt numbers: one line, exit 2, nothing written.
    for row in rows:
        row[1] = rng.choice(["small", "big"])
    with open("bad.csv", "w", newline="") as handle:
        csv.writer(handle).writerows([["key", "size", "colour", "label"], *rows])
    assert main(["predict", "--run", str(run_dir), "--out", "bad_out.csv", "bad.csv"]) == 2
    assert "column 'size' holds text (300 of 300 cells" in capsys.readouterr().err
    assert not Path("bad_out.csv").exists()


def test_the_bundled_digits_from_an_npz_and_the_wrong_channels(in_tmp, capsys):
    run_dir, prepared = trained("runs/d", "data.source=digits")
    x, _ = prepared.take(prepared.indices["test"])
    np.savez("digits.npz", x=x)
    assert main(["predict", "--run", str(run_dir), "digits.npz"]) == 0
    rows, probs = probabilities(run_dir / "predictions.csv")
    np.testing.assert_allclose(probs, softmax(evaluated(run_dir, prepared, "test")), rtol=1e-4, atol=1e-5)
    assert rows[0]["index"] == "0"
    # P2 on images: measured in the model's last hidden layer; the test split is near, noise is far.
    judged = {v.id: v for v in read_verdicts(run_dir) if v.stage == "predict"}
    assert judged["P2"].status == "pass" and judged["P1"].status == "skip" and judged["P3"].status == "skip"
    noise = np.random.default_rng(0).uniform(0, 16, x.shape).astype("float32")  # digits' pixels run 0..16
    np.savez("noise.npz", x=noise)
    assert main(["predict", "--run", str(run_dir), "--out", "noise.csv", "noise.npz"]) == 0
    far = {v.id: v for v in read_verdicts(run_dir) if v.stage == "predict"}["P2"]
    near = np.array([float(row["ood_score"]) for row in rows])
    scores = np.array([float(row["ood_score"]) for row in probabilities(Path("noise.csv"))[0]])
    assert far.status == "warn" and far.measured["share"] > 0.5 and np.median(scores) > 1 > np.median(near)
    np.savez("rgb.npz", x=np.repeat(x, 3, axis=-1))
    assert main(["predict", "--run", str(run_dir), "--out", "rgb.csv", "rgb.npz"]) == 2
    assert "3 channel(s); the model was trained on 1" in capsys.readouterr().err
    Path("photos").mkdir()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save("photos/a.png")
    assert main(["predict", "--run", str(run_dir), "--out", "photos.csv", "photos"]) == 2
    assert "trained on arrays" in capsys.readouterr().err
    assert not Path("rgb.csv").exists() and not Path("photos.csv").exists()


@pytest.fixture()
def image_folder(in_tmp) -> Path:
    rng = np.random.default_rng(1)
    for label in ("cat", "dog"):
        (in_tmp / "images" / label).mkdir(parents=True)
        for i in range(20):
            pixels = rng.integers(0, 120, (20, 18, 3), dtype=np.uint8)
            pixels[:, :, 0 if label == "cat" else 2] += 100
            Image.fromarray(pixels).save(in_tmp / "images" / label / f"{i}.png")
    return in_tmp / "images"


def test_an_image_folder_and_an_unreadable_image(image_folder, capsys):
    run_dir, prepared = trained("runs/i", "data.source=image_folder", f"data.location={image_folder}",
                                "data.batch_size=8")
    assert main(["predict", "--run", str(run_dir), str(image_folder)]) == 0
    rows, probs = probabilities(run_dir / "predictions.csv")
    files = [row["file"] for row in rows]
    assert len(files) == 40 and files[0] == "cat/0.png"
    test = prepared.indices["test"]
    origins = [str(Path(prepared.origin(int(r))).relative_to(image_folder)) for r in test]
    np.testing.assert_allclose(probs[[files.index(o) for o in origins]],
                               softmax(evaluated(run_dir, prepared, "test")), rtol=1e-4, atol=1e-5)
    p1 = {v.id: v for v in read_verdicts(run_dir) if v.stage == "predict"}["P1"]
    assert p1.status == "pass"  # the training folder itself, against its own profile
    # P1 on image files: brighter, grayscale copies of the test images, each named.
    new = image_folder.parent / "new"
    new.mkdir()
    for o in origins:
        with Image.open(image_folder / o) as image:
            brighter = np.clip(np.asarray(image, np.int16) + 110, 0, 255).astype(np.uint8)
            Image.fromarray(brighter).convert("L").save(new / o.replace("/", "_"))
    assert main(["predict", "--run", str(run_dir), "--out", "new.csv", str(new)]) == 0
    p1 = {v.id: v for v in read_verdicts(run_dir) if v.stage == "predict"}["P1"]
    named = {f["column"]: f for f in p1.measured["columns_off"]}
    assert p1.status == "warn" and {"brightness", "mode"} <= set(named), named
    assert set(named["brightness"]["rows"]) <= {o.replace("/", "_") for o in origins}
    assert main(["predict", "--run", str(run_dir), "--out", "one.csv", str(image_folder / "dog" / "3.png")]) == 0
    assert probabilities(Path("one.csv"))[0][0]["file"] == "3.png"
    (image_folder / "dog" / "broken.png").write_bytes(b"not an image at all")
    assert main(["predict", "--run", str(run_dir), "--out", "all.csv", str(image_folder)]) == 2
    assert "broken.png is not a readable image" in capsys.readouterr().err
    assert not Path("all.csv").exists()


CUSTOM_LAYER_BUILDER = '''
import keras


@keras.saving.register_keras_serializable(package="mine")
class Halve(keras.layers.Layer):
    def call(self, x):
        return x / 2


def build(input_shape, spec, config):
    inputs = keras.Input(input_shape)
    x = keras.layers.Dense(8, activation="relu", kernel_initializer="he_normal")(Halve()(spec.normalization()(inputs)))
    return keras.Model(inputs, spec.head(x))
'''


def test_a_builder_with_its_own_layer_is_read_back_by_evaluate_and_predict(in_tmp, monkeypatch):
    """evaluate loads best.keras in a new process, where the user's module was never imported:
    it imports the builder first, so that the layer it registers can be read back."""
    (in_tmp / "my_layers.py").write_text(CUSTOM_LAYER_BUILDER)
    monkeypatch.syspath_prepend(str(in_tmp))
    sets = ["task=binary", "data.source=breast_cancer", "model.builder=my_layers:build"]
    run_dir, prepared = trained("runs/c", *sets)
    import sys

    sys.modules.pop("my_layers", None)  # as a new process finds it: not imported, its layer not registered
    keras.saving.get_custom_objects().pop("mine>Halve")
    arguments = [part for s in (*TINY, *sets) for part in ("--set", s)]
    assert main(["evaluate", "--run-dir", str(run_dir), *arguments]) in (0, 1)
    assert (run_dir / "evaluation.json").exists()
