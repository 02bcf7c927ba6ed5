"""D3's near-duplicate half: copies planted across splits (JPEG re-encoded and noised photos,
table rows with a little noise, rows exported twice under another ID) are counted with their
pairs, and each healthy twin stays quiet: honest photos, the bundled tables, tiny digits, and a
coarse column whose equal values carry labels no better than chance."""

import numpy as np
import pytest
import tensorflow as tf
from sklearn.datasets import load_breast_cancer, load_sample_images

from {{ cookiecutter.package_name }}.checks.duplicates import check_duplicates
from {{ cookiecutter.package_name }}.config import load_config
from {{ cookiecutter.package_name }}.data import prepare


def judged(tmp_path, x, y, task="binary", source="npz"):
    if source == "npz":
        np.savez(tmp_path / "d.npz", x=x, y=y)
        sets = ["data.source=npz", f"data.location={tmp_path / 'd.npz'}"]
    else:
        sets = ["data.source=csv", f"data.location={source}"]
    config = load_config(None, [f"task={task}", *sets])
    return check_duplicates(prepare(config), tmp_path)


def photo_crops() -> tuple[np.ndarray, np.ndarray]:
    """48 x 48 crops of scikit-learn's two sample photos (label: which photo), plain ones left out."""
    crops, labels = [], []
    for label, photo in enumerate(load_sample_images().images):
        for i in range(0, photo.shape[0] - 48, 40):
            for j in range(0, photo.shape[1] - 48, 40):
                crop = photo[i:i + 48, j:j + 48]
                if crop.mean(axis=-1).std() > 12:
                    crops.append(crop)
                    labels.append(label)
    return np.stack(crops).astype("float32"), np.array(labels)


def test_reencoded_and_noised_photos_across_splits_are_counted_and_drawn(tmp_path):
    x, y = photo_crops()
    healthy = judged(tmp_path, x, y)
    assert healthy.measured["near_duplicates"]["with_a_near_twin_in_train"] == {"val": 0, "test": 0}, healthy.advice
    assert healthy.status == "pass"
    rng = np.random.default_rng(0)
    picked = rng.choice(len(x), len(x) // 4, replace=False)
    copies = [tf.io.decode_jpeg(tf.io.encode_jpeg(x[i].astype("uint8"), quality=80)).numpy() for i in picked]
    copies = np.clip(np.stack(copies) + rng.normal(0, 2, (len(picked), *x.shape[1:])), 0, 255).astype("float32")
    verdict = judged(tmp_path, np.r_[x, copies], np.r_[y, y[picked]])
    near = verdict.measured["near_duplicates"]
    twins = near["with_a_near_twin_in_train"]["val"] + near["with_a_near_twin_in_train"]["test"]
    assert verdict.status == "warn" and "near-duplicate in train" in verdict.advice, near
    assert twins >= len(picked) // 5 and near["labels_agree"] == 1.0 and near["examples"]
    assert (tmp_path / "plots" / "D3_near_duplicates.png").is_file()


def test_table_rows_with_noise_or_a_new_id_across_splits_are_counted(tmp_path):
    bunch = load_breast_cancer()
    assert judged(tmp_path, bunch.data.astype("float32"), bunch.target).status == "pass"
    rng = np.random.default_rng(1)
    picked = rng.choice(len(bunch.target), 120, replace=False)
    noisy = bunch.data[picked] * (1 + rng.normal(0, 1e-4, (len(picked), bunch.data.shape[1])))
    verdict = judged(tmp_path, np.r_[bunch.data, noisy].astype("float32"), np.r_[bunch.target, bunch.target[picked]])
    assert verdict.status == "warn" and "1% of a standard deviation" in verdict.advice, verdict.measured
    header = "id," + ",".join(f"f{j}" for j in range(bunch.data.shape[1])) + ",label\n"
    rows = [[i, *bunch.data[i], bunch.target[i]] for i in range(len(bunch.target))]
    rows += [[10_000 + i, *bunch.data[i], bunch.target[i]] for i in picked]  # exported again, a new ID
    (tmp_path / "twice.csv").write_text(header + "".join(",".join(map(str, r)) + "\n" for r in rows))
    verdict = judged(tmp_path, None, None, source=tmp_path / "twice.csv")
    assert verdict.status == "warn", verdict.measured
    assert verdict.measured["near_duplicates"]["labels_agree"] == 1.0


@pytest.mark.parametrize("case", ["digits", "coarse", "dense"])
def test_look_alikes_that_are_not_copies_stay_quiet(tmp_path, case):
    """8 x 8 digits are too small to judge; a coarse column (5 values) under distinct IDs makes
    many rows equal by nature, but their labels agree only as often as chance says. Dense: few
    continuous columns (ISLR's Default: a balance of 0 for many, a student flag, an income),
    where honest rows share a 1%-of-a-standard-deviation cell by chance and, all with a balance
    of 0, all carry the same label: none is alone in the cell ten times wider, as a copy is."""
    if case == "dense":
        rng = np.random.default_rng(3)
        n = 6000
        balance = np.where(rng.random(n) < 0.4, 0.0, rng.lognormal(7, 0.5, n)).round(2)
        income = rng.normal(35_000, 13_000, n).round(2)
        student = (rng.random(n) < 0.3).astype(int)
        label = (rng.random(n) < 1 / (1 + np.exp(-(balance - 2500) / 300))).astype(int)
        rows = [f"{i},{s},{b},{m},{y}\n"
                for i, (s, b, m, y) in enumerate(zip(student, balance, income, label, strict=True))]
        (tmp_path / "dense.csv").write_text("id,student,balance,income,label\n" + "".join(rows))
        verdict = judged(tmp_path, None, None, source=tmp_path / "dense.csv")
        near = verdict.measured["near_duplicates"]
        assert sum(near["with_a_near_twin_in_train"].values()) < 20 and not near["counted"], near
    elif case == "digits":
        config = load_config(None, ["task=classification", "data.source=digits"])
        verdict = check_duplicates(prepare(config), tmp_path)
        assert verdict.measured["near_duplicates"]["examples_judged"] == 0
    else:
        rng = np.random.default_rng(2)
        rows = [f"{i},{rng.integers(0, 5)},{rng.integers(0, 2)}\n" for i in range(600)]
        (tmp_path / "coarse.csv").write_text("id,grade,label\n" + "".join(rows))
        verdict = judged(tmp_path, None, None, source=tmp_path / "coarse.csv")
        near = verdict.measured["near_duplicates"]
        assert near["with_a_near_twin_in_train"]["val"] > 0 and not near["counted"], near
    assert verdict.status == "pass", verdict.advice
