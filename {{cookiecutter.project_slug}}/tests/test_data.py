import json
import subprocess
import sys

import numpy as np
import pytest

from {{ cookiecutter.package_name }}.checks.data import check_split
from {{ cookiecutter.package_name }}.config import load_config, with_values
from {{ cookiecutter.package_name }}.data import prepare
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
    from {{ cookiecutter.package_name }}.checks.data import family_sigmas

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
