"""D checks: become one with the data. Each function returns verdicts, nothing else."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from ..data import SPLITS, Prepared
from ..verdicts import Verdict

# D5: warn when the most frequent class outnumbers the rarest by more than this.
IMBALANCE_WARN_RATIO = 10.0


def check_split(prepared: Prepared, fractions: tuple[float, float, float]) -> Verdict:
    """D1: sizes within one example of the proportions (exact duplicates kept together may
    shift them by the size of their group)."""
    n = len(prepared.keys)
    sizes = {name: len(prepared.indices[name]) for name in SPLITS}
    wanted = {name: f * n for name, f in zip(SPLITS, fractions, strict=True)}
    off = {name: abs(sizes[name] - wanted[name]) for name in SPLITS}
    duplicates = n - len(set(prepared.keys))
    ok = all(v <= 1 + duplicates for v in off.values())
    return Verdict(
        "D1", "Deterministic 70/20/10 split", "pass" if ok else "fail",
        measured=sizes, expected={k: round(v, 1) for k, v in wanted.items()},
        advice="" if ok else "The split drifted from its proportions: check data.split and the source.",
    )


def check_duplicates(prepared: Prepared) -> Verdict:
    """D3: the same content twice inside a split (warn) or in two splits (fail)."""
    where: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for name in SPLITS:
        for index in prepared.indices[name]:
            where[prepared.keys[index]].append((name, int(index)))
    groups = [places for places in where.values() if len(places) > 1]
    leaks = [g for g in groups if len({split for split, _ in g}) > 1]
    origin = prepared.examples.origin
    listing = [[f"{split}:{origin(i)}" for split, i in g] for g in (leaks or groups)[:5]]
    if leaks:
        status, advice = "fail", "The same example is in two splits: remove the copies before trusting val or test."
    elif groups:
        status, advice = "warn", "Exact duplicates inside a split weigh those examples double: remove them."
    else:
        status, advice = "pass", ""
    return Verdict("D3", "Duplicates and leakage", status,
                   measured={"duplicate_groups": len(groups), "across_splits": len(leaks), "examples": listing},
                   expected={"duplicate_groups": 0, "across_splits": 0}, advice=advice)


def check_invalid(prepared: Prepared) -> Verdict:
    """D4: invalid examples stop `prepare` unless data.drop_invalid; this reports the drops."""
    dropped = prepared.dropped
    return Verdict(
        "D4", "Corrupt and invalid examples", "warn" if dropped else "pass",
        measured={"dropped": len(dropped), "examples": dropped[:10]}, expected={"dropped": 0},
        advice=f"{len(dropped)} invalid example(s) were dropped (data.drop_invalid=true); fix them at the source."
        if dropped else "",
    )


def check_balance(prepared: Prepared) -> Verdict:
    """D5: label histogram per split; warn above IMBALANCE_WARN_RATIO max/min."""
    if prepared.task == "regression":
        return Verdict("D5", "Class balance", "skip", advice="regression: no classes to balance")
    classes = prepared.num_classes
    histogram = {name: np.bincount(prepared.split(name)[1], minlength=classes).tolist() for name in SPLITS}
    train = np.asarray(histogram["train"])
    ratio = float(train.max() / max(train.min(), 1))
    ok = ratio <= IMBALANCE_WARN_RATIO and train.min() > 0
    return Verdict(
        "D5", "Class balance", "pass" if ok else "warn",
        measured={"max_min_ratio": round(ratio, 2), "histogram": histogram},
        expected=f"max/min <= {IMBALANCE_WARN_RATIO:g}",
        advice="" if ok else "Classes are imbalanced: use class weights, keep the output bias from the "
        "priors (model.init_output_bias), and judge by per-class metrics.",
    )


def check_train_stats(prepared: Prepared) -> Verdict:
    """D2: the statistics were computed on the training split alone."""
    n_train = len(prepared.indices["train"])
    ok = prepared.stats.n_train == n_train
    return Verdict("D2", "Train-only statistics", "pass" if ok else "fail",
                   measured={"examples_in_stats": prepared.stats.n_train}, expected={"train_examples": n_train},
                   advice="" if ok else "Statistics must come from the training split alone.")


def inspect_data(prepared: Prepared, fractions: tuple[float, float, float]) -> list[Verdict]:
    return [check_split(prepared, fractions), check_train_stats(prepared), check_duplicates(prepared),
            check_invalid(prepared), check_balance(prepared)]
