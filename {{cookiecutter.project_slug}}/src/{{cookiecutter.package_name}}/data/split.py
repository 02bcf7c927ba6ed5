"""D1: a deterministic, content-keyed, stratified train/val/test split.

Each example gets a key: SHA-256 of the seed and its canonical bytes (dtype, shape,
values). Within each stratum (class, or target decile for regression) examples are
ordered by key, so their rank does not depend on the order the source yields them in,
nor on the machine. Each example's quantile within its stratum orders the whole set,
and the first 70% go to train, the next 20% to val, the rest to test: every stratum is
spread evenly, and the split sizes are exact to within one example.

Exact duplicates share a key; they are kept in one split (the split of the first
copy), so that a duplicate never leaks from train into val or test.
"""

from __future__ import annotations

import hashlib

import numpy as np

SPLITS = ("train", "val", "test")


def content_keys(x: np.ndarray, seed: int) -> list[str]:
    """One hex digest per example, from the seed and the example's canonical bytes."""
    salt = f"{seed}:{x.dtype.str}:{x.shape[1:]}:".encode()
    contiguous = np.ascontiguousarray(x)
    return [hashlib.sha256(salt + row.tobytes()).hexdigest() for row in contiguous]


def strata(y: np.ndarray, task: str, bins: int = 10) -> np.ndarray:
    if task != "regression":
        return np.asarray(y)
    edges = np.quantile(y, np.linspace(0, 1, bins + 1)[1:-1])
    return np.searchsorted(edges, y, side="right")


def split_indices(keys: list[str], groups: np.ndarray, fractions=(0.7, 0.2, 0.1)) -> dict[str, np.ndarray]:
    """Indices of each split; a pure function of the keys, the groups and the fractions."""
    n = len(keys)
    keys_arr = np.asarray(keys)
    quantile = np.empty(n)
    for group in np.unique(groups):
        members = np.flatnonzero(groups == group)
        ranked = members[np.argsort(keys_arr[members], kind="stable")]
        quantile[ranked] = (np.arange(len(ranked)) + 0.5) / len(ranked)
    order = np.lexsort((keys_arr, quantile))  # by quantile, ties broken by key
    bounds = np.round(np.cumsum(fractions)[:2] * n).astype(int)
    assignment = np.empty(n, dtype=int)
    assignment[order] = np.searchsorted(bounds, np.arange(n), side="right")
    # Duplicates follow their first copy in key order.
    first_split: dict[str, int] = {}
    for index in order:
        assignment[index] = first_split.setdefault(keys[index], assignment[index])
    # Each split in key order too, so that even its order ignores the source's order.
    return {name: order[assignment[order] == i] for i, name in enumerate(SPLITS)}
