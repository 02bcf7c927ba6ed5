"""D1 and D2: the split, and the statistics that only its training part may give."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..data import SPLITS, Prepared
from ..data.split import strata
from ..registry import registers
from ..verdicts import Verdict, verdict
from .context import Context


def split_by_row(prepared: Prepared) -> bool:
    """Whether the manifest was split by row number (data.split_by=row), not by content."""
    return prepared.manifest.header.get("split_by") == "row"


def check_split(prepared: Prepared, fractions: tuple[float, float, float], sigmas: float = 3.0) -> Verdict:
    """D1: the realised share of each split, over all examples and per class, against data.split.

    Regression is judged per target decile instead of per class. The hash-bucket split is exact
    only in expectation: a group of n examples puts Binomial(n, f) of them into a split of share
    f, so a share is judged by its distance from f in standard deviations, sqrt(f (1 - f) / n);
    warn beyond `sigmas` (inspect.split_sigmas). Split by data.group_column, whole groups move,
    and the standard deviation grows by the square root of the design effect sum(m^2) / sum(m) of
    the group sizes m. An empty split never gets here: `prepare` refuses it.

    Every class (or decile) and every split is a share tested, 33 of them for ten classes, and
    one of 33 honest shares lies beyond 3 standard deviations 8.5% of the time
    (BENCHMARKS.md, "Check notes: D1"). `sigmas` is therefore the level for the whole family of shares: each
    one is judged at the Bonferroni-corrected distance (`family_sigmas`: 3.94 for 33 shares).

    Args:
        prepared: The run's data; its manifest's splits, labels and groups are counted, no input
            is read.
        fractions: The train, val and test shares asked for (data.split).
        sigmas: The level for the whole family of shares (inspect.split_sigmas).

    Returns:
        The D1 verdict: warn when a share lies further from data.split than the
        Bonferroni-corrected distance, pass otherwise.
    """
    if prepared.manifest.facts.time_split:
        return check_time_split(prepared, fractions)
    splits = prepared.manifest.splits
    n = len(splits)
    grouped_by = prepared.manifest.facts.groups  # data.group_column
    spread = math.sqrt(grouped_by["design_effect"]) if grouped_by else 1.0
    sizes = {name: int(np.sum(splits == i)) for i, name in enumerate(SPLITS)}
    groups = strata(prepared.manifest.labels, prepared.task)
    names = (prepared.class_names if prepared.task != "regression" else [f"decile {g + 1}" for g in range(10)])
    shares, worst = {}, []
    for group in np.unique(groups):
        members = splits[groups == group]
        label = names[int(group)] if int(group) < len(names) else str(group)
        shares[label] = {name: round(float(np.mean(members == i)), 3) for i, name in enumerate(SPLITS)}
        worst += [(_sigmas_off(members == i, f) / spread, label, name)
                  for i, (name, f) in enumerate(zip(SPLITS, fractions, strict=True))]
    worst += [(_sigmas_off(splits == i, f) / spread, "all examples", name)
              for i, (name, f) in enumerate(zip(SPLITS, fractions, strict=True))]
    off, group, split = max(worst)
    limit = family_sigmas(sigmas, len(worst))
    measured = {"examples": sizes, "shares": {k: round(v / n, 3) for k, v in sizes.items()},
                "largest_deviation": {"group": group, "split": split, "sigmas": round(float(off), 2)}}
    if len(shares) <= 20:
        measured["shares_per_class"] = shares
    if grouped_by:
        measured["split_by"] = {"group_column": grouped_by["column"], "groups": grouped_by["count"],
                                "design_effect": round(grouped_by["design_effect"], 2)}
    expected = {"shares": dict(zip(SPLITS, fractions, strict=True)),
                "deviation": f"<= {limit:.2f} standard deviations ({sigmas:g} for the {len(worst)} shares together)"}
    if off > limit:
        return verdict("D1", "warn", measured=measured, expected=expected,
                       advice=f"The {split} share of {group} is {off:.1f} standard deviations from data.split: "
                       "more than chance puts there. Large groups of exact duplicates (D3) move together; "
                       "otherwise a seed that happens to be unlucky for a small class: look at D3 first."
                       + ("" if split_by_row(prepared) else
                          " A table whose few coarse columns repeat across different records (the same answers "
                          "from different people) splits them as separate records with data.split_by=row."))
    return verdict("D1", "pass", measured=measured, expected=expected)


# data.split_by=time: a split's share may stray this far from data.split (the rows of the cut's
# own time all go to the later split, so a time shared by many rows moves the share).
TIME_SHARE_TOLERANCE = 0.05


def check_time_split(prepared: Prepared, fractions: tuple[float, float, float]) -> Verdict:
    """D1 for data.split_by=time: the shares are set by the cut times, not drawn, so no binomial
    distance applies, and class shares that differ between splits are the drift a time split is
    there to show (D14), not a fault of the split. Each split's share of the rows is judged
    against data.split (warn when rows of one time crowd the cut); the class shares per split
    are reported.

    Args:
        prepared: The run's data, split by time.
        fractions: The train, val and test shares asked for.

    Returns:
        The D1 verdict: warn when a split's share is more than TIME_SHARE_TOLERANCE from data.split.
    """
    splits, facts = prepared.manifest.splits, prepared.manifest.facts.time_split
    n = len(splits)
    shares = {name: round(float(np.mean(splits == i)), 3) for i, name in enumerate(SPLITS)}
    measured = {"split_by": {"time_column": facts["column"], "val_from": facts["words"][0],
                             "test_from": facts["words"][1], "cuts": "pinned (data.time_cuts)" if facts["pinned"]
                             else "the times at data.split's fractions of the rows"},
                "examples": {name: int(np.sum(splits == i)) for i, name in enumerate(SPLITS)}, "shares": shares}
    if prepared.task != "regression" and prepared.num_classes <= 20:
        labels = prepared.manifest.labels
        measured["class_shares_per_split"] = {
            name: {prepared.class_names[c]: round(float(np.mean(labels[splits == i] == c)), 3)
                   for c in range(prepared.num_classes)} for i, name in enumerate(SPLITS) if np.any(splits == i)}
    expected = {"shares": dict(zip(SPLITS, fractions, strict=True)), "tolerance": TIME_SHARE_TOLERANCE}
    off = {name: shares[name] - f for name, f in zip(SPLITS, fractions, strict=True)}
    worst = max(off, key=lambda name: abs(off[name]))
    if abs(off[worst]) > TIME_SHARE_TOLERANCE and not facts["pinned"]:
        return verdict("D1", "warn", measured=measured, expected=expected,
                       advice=f"The {worst} split holds {shares[worst]:.0%} of the {n:,} rows, not "
                       f"{dict(zip(SPLITS, fractions, strict=True))[worst]:.0%}: many rows share the times at the cuts "
                       f"({facts['words'][0]}, {facts['words'][1]}) and go to the later split together. Pin the cuts "
                       "with data.time_cuts, or use a finer time column.")
    return verdict("D1", "pass", measured=measured, expected=expected)


def family_sigmas(sigmas: float, tests: int) -> float:
    """The distance each of `tests` shares must keep so that all of them together stray beyond
    it as rarely as one share strays beyond `sigmas` (two-sided normal, Bonferroni)."""
    from scipy.stats import norm

    alpha = 2 * norm.sf(sigmas)
    return float(norm.isf(alpha / (2 * max(tests, 1))))


def _sigmas_off(inside: np.ndarray, fraction: float) -> float:
    n = len(inside)
    return abs(float(inside.sum()) - fraction * n) / max(np.sqrt(fraction * (1 - fraction) * n), 1e-12)


# D2 recomputes the saved input statistics from a seeded sample of training examples: at most
# this many examples, and this many input values (500 photos at 224 x 224 x 3: 75 million)...
STATS_SAMPLE_EXAMPLES = 20_000
STATS_SAMPLE_VALUES = 50_000_000
STATS_SAMPLE_LEAST = 500
# ...and fails a feature whose saved mean lies further from the sample's than this many standard
# errors, for all features together (each at the Bonferroni distance, as D1 judges its shares): a
# mean from the same rows is off by sampling alone, one from other rows by far more.
STATS_SIGMAS = 5.0
# Float rounding allowed between the saved float64 sums and the recomputed ones, relative to the
# feature's scale (its standard deviation, or its size when that is larger: a year column).
STATS_ROUNDING = 1e-5


@dataclass
class TrainStatsMeasurement:
    """The saved statistics (stats.json) against the same statistics recomputed from the
    training split alone, and against those of every split together."""

    saved_examples: int
    train_examples: int
    labels_match: bool  # class counts, or target mean and std, equal the training labels'
    labels_match_every_split: bool  # ... equal those of train, val and test together instead
    inputs_compared: int  # training examples the inputs' means were recomputed from
    largest_mean_offset: float  # in standard errors of the sample mean (0 when it is the whole split)
    worst_feature: str
    offset_limit: float


def measure_train_stats(prepared: Prepared, seed: int = 0) -> TrainStatsMeasurement:
    """D2's numbers: the saved statistics against those recomputed from the training split.

    The labels' statistics are recounted exactly from the manifest, the inputs' per-feature
    means recomputed from a seeded sample of training examples (every one when the split is
    small), with the sample's standard error (finite-population corrected, so that a sample
    that is the whole split must match to rounding).

    Args:
        prepared: The run's data: its saved statistics, its manifest's labels and its training split.
        seed: The seed of the sample of training examples.

    Returns:
        A TrainStatsMeasurement: the saved and the actual count of training examples, whether
        the saved label statistics are train's (or, instead, those of every split together),
        how many training examples the inputs' means were recomputed from, the largest offset of
        a saved mean in standard errors with its feature, and the limit for it (`family_sigmas`
        of STATS_SIGMAS, 5, over the features).
    """
    stats, n_train = prepared.stats, prepared.size("train")
    train_labels, all_labels = prepared.labels("train"), prepared.manifest.labels
    labels_match = _label_stats_equal(stats, train_labels, prepared)
    every_split = not labels_match and _label_stats_equal(stats, all_labels, prepared)
    per_example = int(np.prod(prepared.input_shape)) or 1
    wanted = max(STATS_SAMPLE_LEAST, min(STATS_SAMPLE_EXAMPLES, STATS_SAMPLE_VALUES // per_example))
    rows = prepared.sample_rows("train", wanted, seed)
    count, total, squares = 0, 0.0, 0.0
    for x, _ in prepared.stream("train", rows).batch(256).as_numpy_iterator():
        channels = x.reshape(len(x), -1, x.shape[-1]).astype("float64").mean(axis=1)  # per example and feature
        count += len(channels)
        total = total + channels.sum(axis=0)
        squares = squares + (channels ** 2).sum(axis=0)
    mean = total / max(count, 1)
    saved_mean, saved_std = np.asarray(stats.mean, "float64"), np.asarray(stats.std, "float64")
    if count and saved_mean.shape != np.shape(mean):  # statistics of other inputs altogether
        return TrainStatsMeasurement(int(stats.n_train), n_train, labels_match, every_split, count, math.inf,
                                     f"{saved_mean.size} saved means for {np.size(mean)} input features",
                                     family_sigmas(STATS_SIGMAS, np.size(mean)))
    # The larger of the sample's spread and the saved one: a rare level is often absent from the
    # sample, whose spread is then 0 and every offset infinite (BENCHMARKS.md, "Check notes: D2").
    spread = np.maximum(np.sqrt(np.maximum(squares / max(count, 1) - mean ** 2, 0.0)), saved_std)
    share_left = max(0.0, 1.0 - count / max(n_train, 1))  # the finite-population correction
    error = spread / np.sqrt(max(count, 1)) * np.sqrt(share_left)
    rounding = STATS_ROUNDING * np.maximum(saved_std, np.abs(saved_mean)) + 1e-12
    offsets = np.abs(mean - saved_mean) / (error + rounding) if count else np.zeros(1)
    worst = int(np.argmax(offsets))
    names = prepared.feature_names if len(prepared.feature_names) == len(offsets) else []
    return TrainStatsMeasurement(
        saved_examples=int(stats.n_train), train_examples=n_train, labels_match=labels_match,
        labels_match_every_split=every_split, inputs_compared=count,
        largest_mean_offset=float(offsets[worst]) if count else 0.0,
        worst_feature=names[worst] if names else f"feature {worst}",
        offset_limit=family_sigmas(STATS_SIGMAS, len(offsets)))


def _label_stats_equal(stats, labels: np.ndarray, prepared: Prepared) -> bool:
    if prepared.task == "regression":
        y = np.asarray(labels, "float64")
        return (len(y) > 0 and stats.target_mean is not None
                and math.isclose(stats.target_mean, float(y.mean()), rel_tol=1e-6, abs_tol=1e-9)
                and math.isclose(stats.target_std, float(y.std()), rel_tol=1e-6, abs_tol=1e-9))
    counts = np.bincount(np.asarray(labels, "int64"), minlength=prepared.num_classes).tolist()
    return stats.class_counts == counts


def judge_train_stats(found: TrainStatsMeasurement) -> Verdict:
    """D2: whether the saved statistics are those of the training split.

    Args:
        found: What measure_train_stats measured.

    Returns:
        The D2 verdict: fail when the saved statistics are not those of the training split:
        another count of examples, other label statistics (those of every split together: val
        and test rows entered them), or an input mean that the training examples cannot give.
        Pass otherwise.
    """
    measured = {"examples_in_stats": found.saved_examples, "training_examples": found.train_examples,
                "label_statistics_match_train": found.labels_match,
                "inputs_recomputed_from": found.inputs_compared,
                "largest_input_mean_offset": {"feature": found.worst_feature,
                                              "standard_errors": round(found.largest_mean_offset, 2)}}
    expected = {"examples_in_stats": found.train_examples, "label_statistics_match_train": True,
                "largest_input_mean_offset": f"<= {found.offset_limit:.2f} standard errors"}
    problems = []
    if found.saved_examples != found.train_examples:
        problems.append(f"they count {found.saved_examples} examples where the training split holds "
                        f"{found.train_examples}")
    if not found.labels_match:
        problems.append("their label statistics (class counts, or the target's mean and std) are "
                        + ("those of train, val and test together: val and test rows entered them"
                           if found.labels_match_every_split else "not those of the training labels"))
    if math.isinf(found.largest_mean_offset):
        problems.append(f"they hold {found.worst_feature}")
    elif found.largest_mean_offset > found.offset_limit:
        problems.append(f"the saved mean of {found.worst_feature} lies {found.largest_mean_offset:.1f} standard "
                        f"errors from that of {found.inputs_compared} training examples")
    if problems:
        return verdict("D2", "fail", measured=measured, expected=expected,
                       advice="The saved statistics (stats.json) are not the training split's: " + "; ".join(problems)
                       + ". Compute them from the training rows alone. A run folder's saved statistics are reused "
                       "while the source's fingerprint and the split settings match: if the data changed in a way "
                       "the fingerprint missed, start a new run folder.")
    return verdict("D2", "pass", measured=measured, expected=expected)


def check_train_stats(prepared: Prepared) -> Verdict:
    """D2: the statistics saved with the run are those of the training split alone.

    The saved statistics (stats.json, the model's Normalization layer) are recomputed here
    independently of `prepare`'s pass. Tables also list the encoder's training medians and
    vocabulary sizes.

    Args:
        prepared: The run's data: its saved statistics, its training split, and for tables its
            source's columns.

    Returns:
        The D2 verdict of `judge_train_stats`: fail when the saved statistics are not the
        training split's, pass otherwise.
    """
    result = judge_train_stats(measure_train_stats(prepared))
    columns = [c for c in prepared.source.columns if c.used]
    if columns:  # tables: the encoder's medians and vocabularies were counted on the training rows only
        result.measured["train_medians"] = {c.name: c.median for c in columns if c.role == "numeric"}
        result.measured["train_vocabulary_sizes"] = {c.name: len(c.vocabulary) for c in columns
                                                     if c.role == "categorical"}
    return result


@registers("inspect", "D1")
def _d1(c: Context) -> Verdict:
    return check_split(c.prepared, c.config.data.split, c.config.inspect.split_sigmas)


@registers("inspect", "D2")
def _d2(c: Context) -> Verdict:
    return check_train_stats(c.prepared)
