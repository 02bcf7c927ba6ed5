"""P1 and P3 at `predict`: the test split fed through `predict` stays quiet; a column in other units,
a category never seen in training, ten times training's missing cells, a text column in another
language (each P1, with the column and rows named) and text in a numeric column (P3, named on its
row) are flagged; the predictions are written either way, and --strict makes a P1 warning fail."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from {{ cookiecutter.package_name }}.checks.new_data import compare_columns, psi, psi_bar, training_profile
from {{ cookiecutter.package_name }}.cli import main
from {{ cookiecutter.package_name }}.config import load_config
from {{ cookiecutter.package_name }}.data import prepare

TINY = ["train.epochs=2", "train.min_steps=0", "model.hidden_units=8"]
HEADER = ["key", "size", "colour", "label"]


def table_rows(n: int, seed: int = 0) -> list[list[str]]:
    """A size (3% missing), a colour of three levels, a label that follows both."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        size = rng.lognormal(3, 0.5)
        colour = rng.choice(["red", "green", "blue"])
        label = "yes" if size + 10 * (colour == "red") + rng.normal(0, 5) > 25 else "no"
        rows.append([f"id{i}", "" if rng.random() < 0.03 else f"{size:.3f}", colour, label])
    return rows


def write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows([HEADER, *rows])
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One CSV-trained table, shared: (run folder, the file's rows, the test rows' positions)."""
    folder = tmp_path_factory.mktemp("new_data")
    rows = table_rows(1200)
    sets = ["task=binary", "data.source=csv", f"data.location={write(folder / 'table.csv', rows)}", *TINY]
    run_dir = folder / "run"
    assert main(["train", "--run-dir", str(run_dir), *[p for s in sets for p in ("--set", s)]]) in (0, 1)
    prepared = prepare(load_config(None, sets), run_dir)
    return run_dir, rows, prepared.manifest.positions[prepared.indices["test"]]


def predicted(run_dir: Path, path: Path, *extra: str) -> tuple[int, dict, list[dict]]:
    out = path.with_suffix(".out.csv")
    code = main(["predict", "--run", str(run_dir), "--out", str(out), *extra, str(path)])
    verdicts = {v["id"]: v for v in json.loads((run_dir / "verdicts.json").read_text()) if v["stage"] == "predict"}
    with out.open(newline="") as handle:
        return code, verdicts, list(csv.DictReader(handle))


def test_the_test_split_through_predict_stays_quiet(trained, tmp_path):
    run_dir, rows, test = trained
    code, verdicts, written = predicted(run_dir, write(tmp_path / "test.csv", [rows[i] for i in test]))
    assert code == 0 and verdicts["P1"]["status"] == "pass" and verdicts["P3"]["status"] == "pass"
    assert len(written) == len(test) and all(row["unread_cells"] == "" for row in written)


@pytest.mark.parametrize("planted, column, what", [
    ("units", "size", "distribution shift"),
    ("new_level", "colour", "levels never seen in training"),
    ("missing", "size", "missing cells"),
])
def test_p1_names_the_column_and_rows_and_strict_fails(trained, tmp_path, planted, column, what):
    run_dir, _, _ = trained
    new = table_rows(200, seed=7)
    for i, row in enumerate(new):
        if planted == "units" and row[1]:
            row[1] = f"{float(row[1]) * 1000:.1f}"
        elif planted == "new_level" and i % 4 == 0:
            row[2] = "purple"
        elif planted == "missing" and i % 3 == 0:
            row[1] = ""
    path = write(tmp_path / f"{planted}.csv", new)
    code, verdicts, written = predicted(run_dir, path)
    p1 = verdicts["P1"]
    assert code == 0 and p1["status"] == "warn" and len(written) == len(new)  # written either way
    found = {(f["column"], f["what"]): f for f in p1["measured"]["columns_off"]}
    assert (column, what) in found, found
    lines = found[(column, what)]["rows"]
    assert lines and all(2 <= line <= len(new) + 1 for line in lines)
    if planted == "new_level":
        assert all(new[line - 2][2] == "purple" for line in lines)
    if planted == "missing":
        assert all(new[line - 2][1] == "" for line in lines)
    code, verdicts, _ = predicted(run_dir, path, "--strict")
    assert code == 1 and verdicts["P1"]["status"] == "fail"


def test_p3_names_the_cells_read_as_missing_on_their_rows(trained, tmp_path):
    run_dir, rows, test = trained
    new = [list(rows[i]) for i in test]
    new[3][1] = "large"  # one cell: named on its row, and no more than chance allows (training had none of 5,000)
    code, verdicts, written = predicted(run_dir, write(tmp_path / "one.csv", new))
    assert code == 0 and verdicts["P3"]["status"] == "pass" and verdicts["P3"]["measured"]["first_lines"] == [5]
    assert [row["unread_cells"] for row in written] == ["size" if i == 3 else "" for i in range(len(new))]
    odd = [3, 10, 20, 30]
    for i in odd:
        new[i][1] = "large"
    code, verdicts, written = predicted(run_dir, write(tmp_path / "odd.csv", new))
    assert code == 0 and verdicts["P3"]["status"] == "warn" and "'size'" in verdicts["P3"]["advice"]
    assert verdicts["P3"]["measured"]["first_lines"] == [i + 2 for i in odd]
    assert [row["unread_cells"] for row in written] == ["size" if i in odd else "" for i in range(len(new))]


def test_psi_is_small_on_rows_like_training_and_its_bar_follows_their_number():
    rng = np.random.default_rng(0)
    training = rng.normal(size=5000)
    edges = np.quantile(training, np.linspace(0.1, 0.9, 9))
    shares = np.bincount(np.searchsorted(edges, training, side="right"), minlength=10) / 5000
    same = [psi(edges, shares, rng.normal(size=n)) for n in (30, 300, 3000)]
    assert all(value < psi_bar(10, n) for value, n in zip(same, (30, 300, 3000), strict=True))
    assert psi(edges, shares, rng.normal(1.0, 1.0, 300)) > psi_bar(10, 300)  # a shift of one std
    assert psi_bar(10, 30) > psi_bar(10, 3000) == 0.25
    profile = {"x": {"kind": "numeric", "edges": edges.tolist(), "shares": shares.tolist(), "low": -4.0,
                     "high": 4.0, "missing_share": 0.0}}
    assert compare_columns(profile, {"x": [f"{v:.3f}" for v in rng.normal(size=40)]}, list(range(2, 42))) == []


def test_a_zero_one_column_times_1000_is_caught_beyond_training_range():
    """Deciles of a 0/1 column are two bins: x1000 stays in the top one, but beyond training's range."""
    rng = np.random.default_rng(0)
    training = rng.integers(0, 2, 5000).astype(float)
    edges = np.unique(np.quantile(training, np.linspace(0.1, 0.9, 9)))
    shares = np.bincount(np.searchsorted(edges, training, side="right"), minlength=len(edges) + 1) / 5000
    profile = {"flag": {"kind": "numeric", "edges": edges.tolist(), "shares": shares.tolist(), "low": 0.0,
                        "high": 1.0, "values": 5000, "missing_share": 0.0}}
    new = rng.integers(0, 2, 24) * 1000
    found = compare_columns(profile, {"flag": [str(v) for v in new]}, list(range(2, 26)))
    assert [f["what"] for f in found] == ["distribution shift"] and "outside training's range" in found[0]["measured"]
    assert compare_columns(profile, {"flag": [str(v) for v in rng.integers(0, 2, 24)]}, list(range(2, 26))) == []


def test_a_csv_read_in_many_blocks_gives_one_row_per_row_and_a_ragged_row_leaves_nothing(trained, tmp_path,
                                                                                          monkeypatch, capsys):
    from {{ cookiecutter.package_name }} import predict as predict_module

    run_dir, _, _ = trained
    monkeypatch.setattr(predict_module, "block_bytes", lambda path: 1 << 14)  # 16 KiB blocks: about 30 here
    new = table_rows(20_000, seed=3)
    new[15_000][1] = "large"
    code, verdicts, written = predicted(run_dir, write(tmp_path / "many.csv", new))
    assert code == 0 and [int(row["line"]) for row in written] == list(range(2, len(new) + 2))
    assert [row["key"] for row in written] == [row[0] for row in new]
    assert [i for i, row in enumerate(written) if row["unread_cells"]] == [15_000]
    assert verdicts["P1"]["status"] == "pass" and verdicts["P3"]["measured"]["first_lines"] == [15_002]
    with (tmp_path / "ragged.csv").open("w") as handle:
        handle.write("key,size,colour,label\n" + "".join(f"id{i},{i % 40}.5,red,no\n" for i in range(3000))
                     + "id,1.0,red\n")
    out = tmp_path / "ragged.out.csv"
    assert main(["predict", "--run", str(run_dir), "--out", str(out), str(tmp_path / "ragged.csv")]) == 2
    assert "Expected 4 columns, got 3: id,1.0,red" in capsys.readouterr().err and not out.exists()


def test_p2_scores_rows_far_from_training_and_stays_quiet_on_the_test_split(trained, tmp_path):
    run_dir, rows, test = trained
    code, verdicts, written = predicted(run_dir, write(tmp_path / "near.csv", [rows[i] for i in test]))
    assert verdicts["P2"]["status"] == "pass" and all(row["ood_score"] for row in written)
    near = np.array([float(row["ood_score"]) for row in written])
    far = [list(rows[i]) for i in test]
    for row in far[::2]:  # half the rows with a size no training row came near
        row[1] = "5000.0"
    code, verdicts, written = predicted(run_dir, write(tmp_path / "far.csv", far))
    scores = np.array([float(row["ood_score"]) for row in written])
    assert verdicts["P2"]["status"] == "warn" and verdicts["P2"]["measured"]["share"] > 0.4
    assert scores[::2].min() > 1 > np.median(near) and np.median(scores[1::2]) == pytest.approx(np.median(near[1::2]))
    assert {f["line"] for f in verdicts["P2"]["measured"]["farthest"]} <= set(range(2, len(far) + 2, 2))


def reviews(n: int, seed: int = 0, language: str = "en") -> list[list[str]]:
    """Rows of a free-text review (ten words from a few dozen, one of them the label's) and a
    label; `language="de"` writes the same reviews in German words the vocabulary never held."""
    rng = np.random.default_rng(seed)
    words = {"en": (["the", "it", "was", "a", "product", "box", "arrived", "today", "and", "my", "kids", "for",
                     "price", "seller", "after", "week", "works", "again"], ["great", "lovely"], ["awful", "broken"]),
             "de": (["der", "es", "war", "ein", "produkt", "karton", "kam", "heute", "und", "meine", "kinder", "fur",
                     "preis", "verkaufer", "nach", "woche", "geht", "wieder"], ["toll", "schon"],
                    ["schlecht", "kaputt"])}
    filler, good, bad = words[language]
    rows = []
    for i in range(n):
        label = int(rng.random() < 0.5)
        cell = [*rng.choice(filler, 9), rng.choice(good if label else bad)]
        rng.shuffle(cell)
        rows.append([f"r{seed}-{i}", " ".join(cell), "yes" if label else "no"])
    return rows


def test_p1_reads_a_text_column_s_words_quiet_on_its_test_rows_and_warns_on_another_language(tmp_path):
    path = tmp_path / "reviews.csv"
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows([["key", "review", "label"], *reviews(600)])
    prepared = prepare(load_config(None, ["task=binary", "data.source=csv", f"data.location={path}",
                                          "data.text_max_tokens=12"]))  # a vocabulary short of the words used
    known = training_profile(prepared)["review"]
    assert known["kind"] == "text" and 0.1 < known["unknown_share"] < 0.6, known  # val's share, far from 0
    test = [row["review"] for row in prepared.raw_rows(prepared.indices["test"])]
    lines = list(range(2, len(test) + 2))
    assert compare_columns({"review": known}, {"review": test}, lines) == []
    same = [row[1] for row in reviews(400, seed=5)]
    assert compare_columns({"review": known}, {"review": same}, list(range(2, 402))) == []
    german = [row[1] for row in reviews(400, seed=5, language="de")]
    mixed = german[:40] + same[40:]  # one row in ten: the margin's 10 points on average, not beyond it
    assert compare_columns({"review": known}, {"review": mixed}, list(range(2, 402))) == []
    found = compare_columns({"review": known}, {"review": german[:60] + same[60:120]}, list(range(2, 122)))
    assert [(f["column"], f["what"]) for f in found] == [("review", "words outside the vocabulary")]
    assert found[0]["rows"] == list(range(2, 7))  # the first German rows, by line
