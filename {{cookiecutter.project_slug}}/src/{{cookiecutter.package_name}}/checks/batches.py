"""D8 and D9: the batches `fit` gets are shuffled, and still pair each input with its label."""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from collections.abc import Iterator

import numpy as np
import tensorflow as tf

from ..config import InspectConfig
from ..data import Prepared
from ..registry import registers
from ..verdicts import Verdict, verdict
from .context import Context
from .visualise import label_text


def _one_epoch(dataset: tf.data.Dataset, n_examples: int, batches: int | None = None
               ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The (inputs, labels) batches of one pass, at most `batches` of them; a repeating
    dataset is cut after n_examples."""
    endless = int(dataset.cardinality()) == int(tf.data.INFINITE_CARDINALITY)
    seen = 0
    for count, batch in enumerate(dataset.as_numpy_iterator(), start=1):
        yield np.asarray(batch[0]), np.asarray(batch[1])
        seen += len(batch[1])
        if (endless and seen >= n_examples) or (batches is not None and count >= batches):
            return


def _label_groups(prepared: Prepared, labels: np.ndarray) -> np.ndarray:
    """Class ids; for regression the train target decile, as the split stratifies (D1)."""
    labels = labels.reshape(len(labels))
    if prepared.task != "regression":
        return labels.astype("int64")
    edges = np.quantile(prepared.labels("train"), np.linspace(0, 1, 11)[1:-1])
    return np.searchsorted(edges, labels, side="right")


def check_shuffled_batches(dataset: tf.data.Dataset, prepared: Prepared, settings: InspectConfig) -> Verdict:
    """D8: the batches `fit` gets mix the labels as a shuffle would (RECIPE notes).

    One epoch of `dataset`; with p_c the label shares and B a batch's size: fail when
    batches hold fewer distinct labels on average than `shuffle_unique_fraction` of
    sum_c 1 - (1 - p_c)^B; or when single-label batches come more often than a shuffle
    makes them with chance `single_label_chance` (k of them: bound (sum_b sum_c p_c^B)^k / k!);
    or when neighbours share a label more often than 2 sum_c p_c^2 + `adjacent_same_margin`.
    Warn when the second epoch starts with the first epoch's batch (no reshuffle).
    Regression targets are grouped by train decile, so sorted targets are caught too.

    Args:
        dataset: The training batches as `fit` gets them; a repeating dataset is cut after one
            epoch of the training split.
        prepared: The run's data: the training split's size, and its targets' deciles for
            regression.
        settings: The `inspect` settings: `batches` (the most batches looked at),
            `shuffle_unique_fraction`, `single_label_chance` and `adjacent_same_margin`.

    Returns:
        The D8 verdict: fail on any of the three tests above, warn when the next pass starts with
        the same labels (the first 256) as the first pass did, pass otherwise. Skip when the
        batches looked at hold a single label: nothing to mix.
    """
    n_train = prepared.size("train")
    groups, raw = [], []
    for _, y in _one_epoch(dataset, n_train, settings.batches):
        raw.append(y.reshape(len(y)))
        groups.append(_label_groups(prepared, y))
    stream = np.concatenate(groups) if groups else np.zeros(0, "int64")
    _, counts = np.unique(stream, return_counts=True)
    if len(counts) < 2:
        return verdict("D8", "skip", advice="the training split holds a single label: nothing to mix")
    p = counts / counts.sum()
    sizes = np.array([len(g) for g in groups])
    unique = np.array([len(np.unique(g)) for g in groups])
    expected_unique = np.array([np.sum(1 - (1 - p) ** b) for b in sizes])
    mean_unique, mean_expected = float(unique.mean()), float(expected_unique.mean())
    single = int(((unique == 1) & (sizes > 1)).sum())
    chance_single = float(sum(np.sum(p ** b) for b in sizes if b > 1))
    # log of the bound on P(at least `single` single-label batches) under a true shuffle
    log_bound = single * math.log(max(chance_single, 1e-300)) - math.lgamma(single + 1)
    adjacent = float(np.mean(stream[1:] == stream[:-1]))
    adjacent_limit = float(2 * np.sum(p ** 2) + settings.adjacent_same_margin)
    reshuffled = _reshuffled(dataset, np.concatenate(raw), n_train)
    measured = {"batches_looked_at": len(groups), "mean_labels_per_batch": round(mean_unique, 2),
                "expected_labels_per_batch": round(mean_expected, 2), "single_label_batches": single,
                "adjacent_same_label_rate": round(adjacent, 3), "reshuffled_each_epoch": reshuffled}
    expected = {"mean_labels_per_batch": f">= {settings.shuffle_unique_fraction * mean_expected:.2f}",
                "adjacent_same_label_rate": f"<= {adjacent_limit:.3f}", "reshuffled_each_epoch": True}
    problems = []
    if mean_unique < settings.shuffle_unique_fraction * mean_expected:
        problems.append(f"batches hold {mean_unique:.2f} labels on average where a shuffle gives {mean_expected:.2f}")
    if single and log_bound < math.log(settings.single_label_chance):
        problems.append(f"{single} of {len(groups)} batches hold a single label")
    if adjacent > adjacent_limit:
        problems.append(f"neighbouring examples share their label {round(100 * adjacent)} percent of the time")
    if problems:
        return verdict("D8", "fail", measured=measured, expected=expected,
                       advice="The training batches are not shuffled: " + "; ".join(problems) + ". Shuffle the "
                       "training data before batching, with a buffer as large as the split (data.shuffle_buffer).")
    if not reshuffled:
        return verdict("D8", "warn", measured=measured, expected=expected,
                       advice="The second epoch starts with the same batch as the first: reshuffle each epoch "
                       "(shuffle(..., reshuffle_each_iteration=True)).")
    return verdict("D8", "pass", measured=measured, expected=expected)


def _reshuffled(dataset: tf.data.Dataset, first_epoch: np.ndarray, n_train: int, length: int = 256) -> bool:
    """Whether the next pass starts with other labels than `first_epoch` did. Labels, not
    inputs, so that augmentation cannot hide a repeated order; 256 of them, so that a true
    reshuffle repeats them by chance with odds of about (sum_c p_c^2)^256."""
    length = min(length, len(first_epoch))
    second = []
    for _, y in _one_epoch(dataset, n_train):
        second.append(y.reshape(len(y)))
        if sum(len(s) for s in second) >= length:
            break
    return not np.array_equal(first_epoch[:length], np.concatenate(second)[:length])


def _fingerprint(inputs: np.ndarray) -> bytes:
    return hashlib.blake2b(np.ascontiguousarray(inputs, dtype="float32").tobytes(), digest_size=16).digest()


def _label_key(label) -> bytes:
    return np.asarray(label, dtype="float64").reshape(-1).tobytes()


def check_pairs_intact(dataset: tf.data.Dataset, prepared: Prepared, batches: int = 200) -> Verdict:
    """D9: the batches of `dataset` still pair each input with its label.

    The (input, label) pairs the first `batches` batches of `dataset` yield are pairs of
    the training split: each input's fingerprint (its bytes) is looked up, with its label, in
    one plain pass over the split. Memory holds the fingerprints of those batches only, never
    the split. Catches a shuffle or a map applied to one side only (zipping separately
    shuffled inputs and labels).

    Args:
        dataset: The training batches. Give it the pipeline without augmentation, which changes
            inputs by design.
        prepared: The run's data; its training split is streamed once, in order, to look the
            fingerprints up.
        batches: How many batches of `dataset` are looked at.

    Returns:
        The D9 verdict: fail when an input comes out with another label than it went in with;
        warn when inputs come out changed (their labels cannot be checked) or when a whole epoch
        gave another number of examples than the training split holds; pass otherwise.
    """
    n_train = prepared.size("train")
    came_out: dict[bytes, list[tuple[bytes, object]]] = defaultdict(list)
    seen = taken = 0
    for inputs_batch, labels_batch in _one_epoch(dataset, n_train, batches):
        taken += 1
        for inputs, label in zip(inputs_batch, labels_batch, strict=True):
            came_out[_fingerprint(inputs)].append((_label_key(label), label))
            seen += 1
    whole_epoch = taken < batches or seen >= n_train
    went_in: dict[bytes, set[bytes]] = defaultdict(set)
    first_row: dict[bytes, int] = {}
    rows = prepared.indices["train"]
    offset = 0
    for inputs_batch, labels_batch in prepared.stream("train").batch(256).as_numpy_iterator():
        for i, (inputs, label) in enumerate(zip(inputs_batch, labels_batch, strict=True)):
            key = _fingerprint(inputs)
            if key in came_out:
                went_in[key].add(_label_key(label))
                first_row.setdefault(key, int(rows[offset + i]))
        offset += len(labels_batch)
    unknown = sum(len(v) for k, v in came_out.items() if k not in went_in)
    changed = [(k, label) for k, v in came_out.items() if k in went_in for lk, label in v if lk not in went_in[k]]
    measured = {"pairs_seen": seen, "batches_looked_at": taken, "training_examples": n_train,
                "label_changed": len(changed), "input_unknown": unknown}
    expected = {"label_changed": 0, "input_unknown": 0}
    if changed:
        key, label_out = changed[0]
        row = first_row[key]
        measured["first_changed"] = {"example": prepared.origin(row),
                                     "label_in": label_text(prepared, prepared.manifest.labels[row]),
                                     "label_out": label_text(prepared, label_out)}
        return verdict("D9", "fail", measured=measured, expected=expected,
                       advice=f"{len(changed)} of {seen} inputs left the pipeline with another label than they went "
                       "in with: a shuffle or map touches inputs or labels alone. Shuffle (input, label) pairs "
                       "together.")
    short_epoch = whole_epoch and seen != n_train
    if unknown or short_epoch:
        expected["pairs_seen"] = n_train
        return verdict("D9", "warn", measured=measured, expected=expected,
                       advice=f"{unknown} input(s) came out changed (their labels cannot be checked: preprocess "
                       f"inside the model)" + (f" and one epoch gave {seen} of {n_train} examples (a repeat, a "
                                               "take or drop_remainder in the pipeline)" if short_epoch else "")
                       + ".")
    return verdict("D9", "pass", measured=measured, expected=expected)


@registers("inspect", "D8")
def _d8(c: Context) -> Verdict:
    return check_shuffled_batches(c.train_batches, c.prepared, c.config.inspect)


@registers("inspect", "D9")
def _d9(c: Context) -> Verdict:
    verdict = check_pairs_intact(c.plain_batches, c.prepared, c.config.inspect.batches)
    if c.config.data.augment:
        verdict.measured["augmentation"] = "off for this check: it changes inputs by design"
    return verdict
