"""data.split_by=time: train is the past, val the recent, test the latest, rows of one time together;
D1 judges the shares, not the drift; pinned cuts keep every earlier row where it was when later rows
arrive; a row without a time is refused (or dropped); the settings that cannot go together are
refused with one line."""

import csv
from pathlib import Path

import numpy as np
import pytest

from {{ cookiecutter.package_name }}.checks.split import check_split
from {{ cookiecutter.package_name }}.config import load_config, with_values
from {{ cookiecutter.package_name }}.cross_validation import fold_ids
from {{ cookiecutter.package_name }}.data import prepare
from {{ cookiecutter.package_name }}.errors import UserError


def write_rows(path: Path, rows: list[list]) -> Path:
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows([["when", "x", "colour", "label"], *rows])
    return path


def dated_rows(days: int, first_day: int = 0, seed: int = 0, drift: bool = True) -> list[list]:
    """Two rows a day, in a shuffled file order; the label's positive share grows over time (drift)."""
    rng = np.random.default_rng(seed)
    rows = []
    for day in range(first_day, first_day + days):
        for _ in range(2):
            x = rng.normal()
            trend = day / 400 if drift else 0.0
            rows.append([str(np.datetime64("2023-01-01") + day) + (" 08:30" if day % 3 else ""), f"{x:.3f}",
                         rng.choice(["red", "blue"]), "yes" if x + 2 * trend + rng.normal() > 1 else "no"])
    return [rows[i] for i in rng.permutation(len(rows))]


def time_config(path: Path, *extra: str):
    return load_config(None, ["task=binary", "data.source=csv", f"data.location={path}", "data.split_by=time",
                              "data.time_column=when", *extra])


def times_by_split(prepared) -> dict[str, np.ndarray]:
    rows = prepared.raw_rows(np.arange(len(prepared.manifest)))
    when = np.array([np.datetime64(r["when"].replace(" ", "T")) for r in rows], "datetime64[m]")
    return {name: when[prepared.indices[name]] for name in ("train", "val", "test")}


def test_train_is_the_past_val_the_recent_and_test_the_latest(tmp_path, capsys):
    path = write_rows(tmp_path / "dated.csv", dated_rows(300))
    prepared = prepare(time_config(path))
    assert "split by time ('when'): train before" in capsys.readouterr().err
    found = times_by_split(prepared)
    assert found["train"].max() < found["val"].min() and found["val"].max() < found["test"].min()
    shares = [prepared.size(name) / len(prepared.manifest) for name in ("train", "val", "test")]
    assert shares == pytest.approx([0.7, 0.2, 0.1], abs=0.02)
    d1 = check_split(prepared, (0.7, 0.2, 0.1))
    # The positive share drifts from train to test: the point of a time split, not a fault of it.
    drift = d1.measured["class_shares_per_split"]
    assert drift["test"]["yes"] > drift["train"]["yes"] + 0.1
    assert d1.status == "pass" and d1.measured["split_by"]["time_column"] == "when"


def test_pinned_cuts_keep_every_earlier_row_where_it_was_when_later_rows_arrive(tmp_path):
    first = dated_rows(300)
    pinned = ["data.time_cuts=[2023-08-01, 2023-10-01]"]
    before = prepare(time_config(write_rows(tmp_path / "before.csv", first), *pinned))
    later = dated_rows(60, first_day=300, seed=1)
    after = prepare(time_config(write_rows(tmp_path / "after.csv", first + later), *pinned))
    old = len(first)  # the first rows keep their lines: the later ones are appended
    assert np.array_equal(after.manifest.splits[:old], before.manifest.splits)
    assert np.all(after.manifest.splits[old:] == 2)  # the new, later rows land in test
    # Without pinned cuts the latest 10% are test again: the cuts move forward with the data, the new
    # rows land in the latest splits, and earlier test rows move back into val.
    moving = prepare(time_config(write_rows(tmp_path / "moving.csv", first + later)))
    assert np.all(moving.manifest.splits[old:] >= 1) and (moving.manifest.splits[:old] == 2).sum() < (
        before.manifest.splits == 2).sum()


def test_a_numeric_time_column_and_a_tie_at_the_cut(tmp_path):
    rows = [[str(2000 + i // 40), f"{i % 7}", "red", "yes" if i % 3 else "no"] for i in range(400)]  # 10 years
    prepared = prepare(time_config(write_rows(tmp_path / "years.csv", rows)))
    years = np.array([int(r[0]) for r in rows])[prepared.manifest.positions]
    assert years[prepared.indices["train"]].max() < years[prepared.indices["val"]].min()
    for year in np.unique(years):  # every row of a year in one split
        assert len(np.unique(prepared.manifest.splits[years == year])) == 1


def test_a_row_without_a_time_is_refused_or_dropped(tmp_path):
    rows = dated_rows(100)
    rows[7][0] = "last spring"
    path = write_rows(tmp_path / "gap.csv", rows)
    with pytest.raises(UserError, match=r"gap.csv:9: no time in 'when'"):
        prepare(time_config(path))
    dropped = prepare(time_config(path, "data.drop_invalid=true"))
    assert len(dropped.manifest) == len(rows) - 1


def test_settings_that_cannot_go_together_are_refused(tmp_path):
    with pytest.raises(UserError, match="needs data.time_column"):
        load_config(None, ["data.split_by=time"])
    with pytest.raises(UserError, match="choose one"):
        load_config(None, ["data.split_by=time", "data.time_column=when", "data.group_column=shop"])
    with pytest.raises(UserError, match="is for a CSV file with data.time_column"):
        prepare(load_config(None, ["data.split_by=time", "data.time_column=when"]))  # the bundled digits
    path = write_rows(tmp_path / "dated.csv", dated_rows(100))
    config = time_config(path, "train.folds=3")
    with pytest.raises(UserError, match="train.folds with data.split_by=time"):
        fold_ids(prepare(config), config.data.split, 3)
    with pytest.raises(UserError, match="no such column"):
        prepare(with_values(time_config(path), {"data.time_column": "date"}))


def drifting_rows(n: int = 800, seed: int = 0) -> list[list]:
    """A daily target that drifts upward (a slow walk) beside one honest feature, in file order."""
    rng = np.random.default_rng(seed)
    walk = np.cumsum(rng.normal(0.0, 0.15, n)) + np.linspace(0, 6, n)
    rows = []
    for day in range(n):
        x = rng.normal()
        rows.append([str(np.datetime64("2020-01-01") + day), f"{x:.3f}", rng.choice(["red", "blue"]),
                     f"{x + walk[day] + rng.normal(0, 0.3):.4f}"])
    return rows


def d14_on_rows_and_their_shuffled_twin(rows: list[list], task: str, tmp_path: Path):
    """D14's verdicts on the rows and on their twin: the same rows with their times permuted."""
    from {{ cookiecutter.package_name }}.checks.order_and_time import check_order_and_time

    twin = [list(r) for r in rows]
    for row, when in zip(twin, np.random.default_rng(1).permutation([r[0] for r in rows]), strict=True):
        row[0] = str(when)
    found = []
    for name, table in (("real", rows), ("twin", twin)):
        config = load_config(None, [f"task={task}", "data.source=csv",
                                    f"data.location={write_rows(tmp_path / f'{name}.csv', table)}",
                                    "data.time_column=when"])
        found.append(check_order_and_time(prepare(config), config, config.inspect, seed=0))
    return found


def test_d14_warns_on_drift_over_time_and_stays_quiet_on_its_shuffled_twin(tmp_path):
    real, quiet = d14_on_rows_and_their_shuffled_twin(drifting_rows(), "regression", tmp_path)
    assert real.status == "warn" and "data.split_by: time" in real.advice
    assert real.measured["interval"][0] > 1.2 and real.measured["label_trend"].startswith("Spearman +")
    assert quiet.status == "pass" and quiet.measured["interval"][0] < 1.2 < real.measured["interval"][0]


def autocorrelated_rows(n: int = 1200, seed: int = 0) -> list[list]:
    """A daily yes/no whose odds wander and come back (AR(1), no trend: the label's rank
    correlation with time is near 0), beside one honest feature: neighbours in time are alike."""
    rng = np.random.default_rng(seed)
    level = np.zeros(n)
    for day in range(1, n):
        level[day] = 0.97 * level[day - 1] + rng.normal(0.0, 0.5)
    rows = []
    for day in range(n):
        x = rng.normal()
        rows.append([str(np.datetime64("2020-01-01") + day), f"{x:.3f}", rng.choice(["red", "blue"]),
                     "yes" if level[day] + 0.5 * x + rng.normal(0, 0.5) > 0 else "no"])
    return rows


def test_d14_warns_on_a_label_whose_neighbours_in_time_are_alike_and_not_on_its_shuffled_twin(tmp_path):
    """No trend to see, only neighbours alike (cleanlab's non-iid case): a random split lets the
    reference read a row's label off its neighbours' days, a time split cannot. Over this
    generator's seeds 0-4 D14 warns on 4 (low ends 2.4 to 8.3) and passes every twin (low ends
    0.73 to 0.95); the miss is a walk whose latest tenth happens to be easy (D14 asks whether the
    future is harder than a random split says)."""
    real, quiet = d14_on_rows_and_their_shuffled_twin(autocorrelated_rows(), "binary", tmp_path)
    assert real.status == "warn" and "data.split_by: time" in real.advice, real.measured
    assert quiet.status == "pass", quiet.measured


def test_d14_needs_a_time_column_and_judges_by_the_low_end_of_the_interval(tmp_path):
    from {{ cookiecutter.package_name }}.checks.order_and_time import check_order_and_time, judge_order_and_time

    rows = [[f"{i}", f"{i % 7}", "red", "yes" if i % 3 else "no"] for i in range(300)]  # `when` read as a number
    path = write_rows(tmp_path / "n.csv", rows)
    config = load_config(None, ["task=binary", "data.source=csv", f"data.location={path}"])
    skipped = check_order_and_time(prepare(config), config, config.inspect, seed=0)
    assert skipped.status == "skip" and "data.time_column" in skipped.advice
    measured = {"time_column": "when"}
    assert judge_order_and_time(3.0, 1.1, 6.0, 1.2, measured).status == "pass"  # far above 1, but not surely
    assert judge_order_and_time(1.5, 1.25, 1.8, 1.2, measured).status == "warn"


def test_d11_names_a_date_recorded_after_the_rows_time(tmp_path):
    from {{ cookiecutter.package_name }}.checks.leakage import check_feature_leakage
    from {{ cookiecutter.package_name }}.data.time_split import time_column

    rng = np.random.default_rng(0)
    rows = []
    for _ in range(400):
        opened = np.datetime64("2021-01-01") + int(rng.integers(0, 700))
        closed = opened + int(rng.integers(1, 60))  # known after the outcome
        signed = opened - int(rng.integers(0, 30))  # known before
        x = rng.normal()
        rows.append([str(opened), str(closed), str(signed), f"{x:.3f}", "yes" if x + rng.normal() > 0 else "no"])
    path = tmp_path / "loans.csv"
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows([["opened", "closed", "signed", "x", "label"], *rows])
    config = load_config(None, ["task=binary", "data.source=csv", f"data.location={path}",
                                "data.time_column=opened"])
    prepared = prepare(config)
    found = check_feature_leakage(prepared, config.inspect, time_column(prepared, config))
    assert found.status == "warn" and "'closed'" in found.advice and "'signed'" not in found.advice
    shares = found.measured["dates_after_time_column"]
    assert shares["closed"] == 1.0 and shares["signed"] == 0.0
    # Without a time column named, three date columns leave none to read the others against.
    unnamed = load_config(None, ["task=binary", "data.source=csv", f"data.location={path}"])
    quiet = prepare(unnamed)
    assert check_feature_leakage(quiet, unnamed.inspect, time_column(quiet, unnamed)).status == "pass"


def test_d14_warns_when_the_earliest_rows_hold_one_class(tmp_path):
    from {{ cookiecutter.package_name }}.checks.order_and_time import check_order_and_time

    rng = np.random.default_rng(0)
    rows = [[str(np.datetime64("2020-01-01") + day), f"{rng.normal():.3f}", "red",
             "no" if day < 240 else rng.choice(["yes", "no"])] for day in range(300)]
    config = load_config(None, ["task=binary", "data.source=csv",
                                f"data.location={write_rows(tmp_path / 'late.csv', rows)}", "data.time_column=when"])
    found = check_order_and_time(prepare(config), config, config.inspect, seed=0)
    assert found.status == "warn" and "hold only the class 'no'" in found.advice
