import numpy as np

from {{ cookiecutter.package_name }}.data.split import content_keys, split_indices, strata
from {{ cookiecutter.package_name }}.data.stats import compute_train_stats


def _split_of(keys, groups):
    indices = split_indices(keys, groups)
    return {keys[i]: name for name, idx in indices.items() for i in idx}


def test_split_sizes_match_the_proportions(prepared):
    n = len(prepared.keys)
    for name, fraction in zip(("train", "val", "test"), (0.7, 0.2, 0.1), strict=True):
        assert abs(len(prepared.indices[name]) - fraction * n) <= 1


def test_split_ignores_the_order_of_the_source(prepared):
    """D1: the same example lands in the same split whatever order the source yields."""
    x, y = prepared.examples.x, prepared.examples.y
    keys = content_keys(x, seed=42)
    before = _split_of(keys, strata(y, prepared.task))
    order = np.random.default_rng(0).permutation(len(y))
    after = _split_of([keys[i] for i in order], strata(y[order], prepared.task))
    assert before == after


def test_split_changes_with_the_seed(prepared):
    x, y = prepared.examples.x, prepared.examples.y
    a = split_indices(content_keys(x, 1), strata(y, prepared.task))["val"]
    b = split_indices(content_keys(x, 2), strata(y, prepared.task))["val"]
    assert set(a.tolist()) != set(b.tolist())


def test_duplicates_stay_in_one_split():
    x = np.arange(40, dtype="float32").reshape(20, 2)
    x = np.concatenate([x, x[:5]])  # five exact copies
    keys = content_keys(x, seed=0)
    indices = split_indices(keys, np.zeros(len(x), int))
    where = {i: name for name, idx in indices.items() for i in idx.tolist()}
    for copy, original in zip(range(20, 25), range(5), strict=True):
        assert where[copy] == where[original]


def test_statistics_ignore_shifted_val_and_test(prepared):
    """D2: shifting val and test by a large amount does not move the statistics."""
    x = prepared.examples.x.copy()
    y = prepared.examples.y
    stats = compute_train_stats(x[prepared.indices["train"]], y[prepared.indices["train"]],
                                prepared.task, prepared.num_classes)
    held_out = np.concatenate([prepared.indices["val"], prepared.indices["test"]])
    x[held_out] += 1000.0
    shifted = compute_train_stats(x[prepared.indices["train"]], y[prepared.indices["train"]],
                                  prepared.task, prepared.num_classes)
    assert np.allclose(stats.mean, shifted.mean) and np.allclose(stats.std, shifted.std)
    assert np.allclose(stats.mean, prepared.stats.mean)
