"""D checks: become one with the data. Each function returns verdicts, nothing else."""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import tensorflow as tf

from ..config import InspectConfig
from ..data import SPLITS, Prepared
from ..data.split import strata
from ..plots import new_figure, save_figure
from ..verdicts import Verdict, verdict
from .leakage import feature_groups
from .near_duplicates import near_duplicates_across_splits
from .visualise import image_grid, label_text, short_origin

# D5: warn when the most frequent class outnumbers the rarest by more than this.
IMBALANCE_WARN_RATIO = 10.0


def split_by_row(prepared: Prepared) -> bool:
    """Whether the manifest was split by row number (data.split_by=row), not by content."""
    return prepared.manifest.header.get("split_by") == "row"


def check_split(prepared: Prepared, fractions: tuple[float, float, float], sigmas: float = 3.0) -> Verdict:
    """D1: the realised share of each split, over all examples and per class (regression: per
    target decile), against data.split. The hash-bucket split is exact only in expectation:
    a group of n examples puts Binomial(n, f) of them into a split of share f, so a share is
    judged by its distance from f in standard deviations, sqrt(f (1 - f) / n); warn beyond
    `sigmas` (inspect.split_sigmas). Split by data.group_column, whole groups move, and the
    standard deviation grows by the square root of the design effect sum(m^2) / sum(m) of the
    group sizes m. An empty split never gets here: `prepare` refuses it.

    Every class (or decile) and every split is a share tested, 33 of them for ten classes, and
    one of 33 honest shares lies beyond 3 standard deviations 8.5% of the time (Boston's target
    deciles warned at 3.1). `sigmas` is therefore the level for the whole family of shares: each
    one is judged at the Bonferroni-corrected distance (`family_sigmas`: 3.94 for 33 shares)."""
    splits = prepared.manifest.splits
    n = len(splits)
    grouped_by = prepared.manifest.header.get("facts", {}).get("groups")  # data.group_column
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


def family_sigmas(sigmas: float, tests: int) -> float:
    """The distance each of `tests` shares must keep so that all of them together stray beyond
    it as rarely as one share strays beyond `sigmas` (two-sided normal, Bonferroni)."""
    from scipy.stats import norm

    alpha = 2 * norm.sf(sigmas)
    return float(norm.isf(alpha / (2 * max(tests, 1))))


def _sigmas_off(inside: np.ndarray, fraction: float) -> float:
    n = len(inside)
    return abs(float(inside.sum()) - fraction * n) / max(np.sqrt(fraction * (1 - fraction) * n), 1e-12)


def check_duplicates(prepared: Prepared, run_dir: Path | None = None) -> Verdict:
    """D3 from the content keys: the same content with different labels (conflicting labels:
    fail for images and arrays, where it is a labelling mistake; warn for table rows, whose
    coarse columns repeat by nature and then carry noise no model removes), the same content in
    two splits (fail; the hash split keeps copies together, so this means two keys collided or
    the split was made elsewhere; a warn with data.split_by=row, which splits rows by number),
    copies inside a split (warn). Then near-duplicates across
    splits (near_duplicates.py): a warn, below the exact fails, with the pairs drawn for images."""
    keys, labels, splits = prepared.manifest.keys, prepared.manifest.labels, prepared.manifest.splits
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    counts = np.diff(np.r_[starts, len(keys)])
    groups = [order[s:s + c] for s, c in zip(starts[counts > 1], counts[counts > 1], strict=True)]
    conflicts = [g for g in groups if len(np.unique(labels[g])) > 1]
    leaks = [g for g in groups if len(np.unique(splits[g])) > 1]
    measured = {"duplicate_groups": len(groups), "duplicated_examples": int(sum(len(g) for g in groups)),
                "conflicting_label_groups": len(conflicts), "across_splits": len(leaks)}
    shown = conflicts or leaks or groups
    measured["examples"] = [[f"{SPLITS[splits[r]]}:{prepared.origin(int(r))} ({label_text(prepared, labels[r])})"
                             for r in g[:4]] for g in shown[:5]]
    expected = {"duplicate_groups": 0, "conflicting_label_groups": 0, "across_splits": 0,
                "val_and_test_with_a_near_twin_in_train": 0}
    near = near_duplicates_across_splits(prepared)
    measured |= {"near_duplicates": {
        "examples_judged": near["judged"], "with_a_near_twin_in_train": near["twinned"],
        "labels_agree": round(near["labels_agree"], 3),
        "labels_agree_by_chance": round(near["labels_agree_by_chance"], 3), "counted": near["copies"],
        "examples": [[f"{SPLITS[splits[r]]}:{prepared.origin(int(r))} ({label_text(prepared, labels[r])})"
                      for r in pair] for pair in near["pairs"][:5]]}}
    drawn = _plot_near_pairs(prepared, near["pairs"], run_dir) if near["copies"] and run_dir else None
    plots = [drawn] if drawn else []
    if groups and len(groups) == 1 and len(groups[0]) == len(keys):
        return verdict("D3", "fail", measured=measured, expected=expected,
                       advice="Every example holds the same input: the source reads one file or row over and over, "
                       "or the inputs were lost before they were saved.")
    if conflicts and prepared.kind == "tabular":
        status, advice = "warn", (f"{len(conflicts)} row(s) appear with different labels (listed): either a "
                                  "labelling mistake, or columns too coarse to tell those examples apart"
                                  + ("." if split_by_row(prepared) else
                                     " (then data.split_by=row splits such rows as the separate records they "
                                     "are)."))
    elif conflicts:
        status, advice = "fail", (f"{len(conflicts)} input(s) appear with different labels (listed): at most one "
                                  "label can be right; fix or remove them before trusting any score.")
    elif leaks and split_by_row(prepared):
        status, advice = "warn", (f"{len(leaks)} input(s) are in two splits, as data.split_by=row splits rows "
                                  "by their number: right for records that only look alike (a table of coarse "
                                  "columns), wrong for copies of one record, which val and test would then "
                                  "score as if unseen.")
    elif leaks:
        status, advice = "fail", "The same example is in two splits: remove the copies before trusting val or test."
    elif near["copies"]:
        twins = near["twinned"]
        kind = "images (8 x 8 thumbnails at a cosine >= 0.99)" if prepared.kind == "image" else "rows (equal to " \
            "1% of a standard deviation in every column the model uses)"
        status, advice = "warn", (
            f"{twins['val']} val and {twins['test']} test example(s) have a near-duplicate in train: {kind}, "
            f"whose labels agree in {near['labels_agree']:.0%} of {len(near['pairs'])} pair(s) (by chance: "
            f"{near['labels_agree_by_chance']:.0%}); listed{' and drawn' if plots else ''}. A re-encoded or "
            "lightly changed copy inflates val and test as an exact one does: remove the copies, or keep "
            "each group in one split with data.group_column.")
    elif groups:
        status, advice = "warn", "Exact duplicates inside a split weigh those examples double: remove them."
    else:
        status, advice = "pass", ""
    return verdict("D3", status, measured=measured, expected=expected, advice=advice, plots=plots)


def _plot_near_pairs(prepared: Prepared, pairs: list[tuple[int, int]], run_dir: Path) -> str | None:
    """Up to 8 near-duplicate pairs across splits, side by side (images only)."""
    if prepared.kind != "image":
        return None
    rows = [r for pair in pairs[:8] for r in pair]
    images, _ = prepared.take(np.asarray(rows))
    titles = [f"{SPLITS[prepared.manifest.splits[r]]} {short_origin(prepared.origin(r))}" for r in rows]
    fig = image_grid(images, titles, *prepared.stats.pixel_range, "D3 near-duplicates across splits, in pairs")
    return save_figure(fig, run_dir, "D3_near_duplicates")


def check_invalid(prepared: Prepared) -> Verdict:
    """D4: invalid examples stop `prepare` unless data.drop_invalid; this reports the drops."""
    dropped = prepared.dropped
    count = prepared.manifest.header.get("dropped_count", len(dropped))
    measured = {"dropped": count, "examples": dropped[:10]}
    columns = getattr(prepared.source, "columns", None) or []
    imputed = {c.name: round(c.missing_share * prepared.size("train")) for c in columns
               if c.used and c.missing_share > 0}
    if imputed:
        measured["imputed_train_cells"] = imputed  # data.missing=impute: train median, or its own category
    return verdict(
        "D4", "warn" if count else "pass",
        measured=measured, expected={"dropped": 0},
        advice=f"{count} invalid example(s) were dropped (data.drop_invalid=true); fix them at the source."
        if count else "",
    )


def check_columns(prepared: Prepared) -> Verdict:
    """D10: every column of a table with its role, why, and its share of missing training cells.
    Warn when a numeric column held text cells (read as missing) or when columns were left out
    as identifiers, constants or free text: each is a choice a person should see once."""
    columns = getattr(prepared.source, "columns", None)
    if not columns:
        return verdict("D10", "skip", advice=f"{prepared.kind} data from {prepared.source.where}: no "
                       "table columns to decide roles for (they come as arrays or images)")
    listing = [{"column": c.name, "role": c.role, "why": c.why, "missing": c.missing_share} for c in columns]
    left_out = [c for c in columns if not c.used]
    text_in_numbers = [c for c in columns if c.role == "numeric" and "text cell" in c.why]
    facts = prepared.manifest.header.get("facts", {})
    groups = facts.get("group_candidates", [])
    if facts.get("groups"):  # data.group_column: shown once, like every other choice
        listing.insert(0, {"column": facts["groups"]["column"], "role": "group",
                           "why": f"data.group_column: {facts['groups']['count']} groups, each kept in one split; "
                           "not a feature"})
    measured = {"columns": listing, "used": sum(c.used for c in columns), "left_out": [c.name for c in left_out]}
    if groups:
        measured["repeating_keys"] = groups
    expected = "every column's role decided on the training split; override in data.columns"
    if text_in_numbers or left_out or groups:
        notes = [f"{c.name or '(unnamed)'!r}: {c.role} ({c.why})" for c in [*text_in_numbers, *left_out]]
        advice = ("Look at these columns, and set data.columns={name: role} where the choice is wrong: "
                  + "; ".join(notes) + "." if notes else "")
        if groups:
            advice += (f" {', '.join(map(repr, groups))} is named like a key and repeats across rows: if the rows "
                       f"of one value belong together (one patient's visits, one customer's orders), set "
                       f"data.group_column={groups[0]}, so that they share a split and val measures unseen ones.")
        return verdict("D10", "warn", measured=measured, expected=expected, advice=advice.strip())
    return verdict("D10", "pass", measured=measured, expected=expected)


def check_balance(prepared: Prepared) -> Verdict:
    """D5: label histogram per split; warn above IMBALANCE_WARN_RATIO max/min."""
    if prepared.task == "regression":
        return verdict("D5", "skip", advice="regression: no classes to balance")
    classes = prepared.num_classes
    histogram = {name: np.bincount(prepared.labels(name), minlength=classes).tolist() for name in SPLITS}
    train = np.asarray(histogram["train"])
    ratio = float(train.max() / max(train.min(), 1))
    ok = ratio <= IMBALANCE_WARN_RATIO and train.min() > 0
    measured = {"max_min_ratio": round(ratio, 2), "histogram": histogram}
    read = prepared.manifest.header.get("facts", {}).get("labels_read")
    if read:  # one-hot or 1..K labels, converted at load: said once, here
        measured["labels_read"] = read
    return verdict(
        "D5", "pass" if ok else "warn",
        measured=measured,
        expected=f"max/min <= {IMBALANCE_WARN_RATIO:g}",
        advice="" if ok else "Classes are imbalanced: use class weights, keep the output bias from the "
        "priors (model.init_output_bias), and judge by per-class metrics.",
    )


def check_train_stats(prepared: Prepared) -> Verdict:
    """D2: the statistics were computed on the training split alone."""
    n_train = len(prepared.indices["train"])
    ok = prepared.stats.n_train == n_train
    measured = {"examples_in_stats": prepared.stats.n_train}
    columns = [c for c in getattr(prepared.source, "columns", None) or [] if c.used]
    if columns:  # tables: the encoder's medians and vocabularies were counted on the training rows only
        measured["train_medians"] = {c.name: c.median for c in columns if c.role == "numeric"}
        measured["train_vocabulary_sizes"] = {c.name: len(c.vocabulary) for c in columns if c.role == "categorical"}
    return verdict("D2", "pass" if ok else "fail",
                   measured=measured, expected={"train_examples": n_train},
                   advice="" if ok else "Statistics must come from the training split alone.")


# D6: a non-negative feature whose quartiles lean right (Bowley skewness above this) is
# judged on a log scale: sizes, counts and measurement errors have long tails, and on their
# raw scale every large value would look like an outlier.
LONG_TAIL_SKEW = 0.0
MAD_TO_STD = 1.4826  # the MAD of a normal distribution times this is its standard deviation


def robust_z(values: np.ndarray) -> np.ndarray:
    """Per column, (value - median) / (1.4826 MAD): a z-score the outliers cannot inflate.
    A column whose MAD is 0 (more than half its values equal: an indicator, a one-hot
    column) gets z = 0, because a distance from the median means nothing there."""
    median = np.median(values, axis=0)
    scale = MAD_TO_STD * np.median(np.abs(values - median), axis=0)
    return np.where(scale > 0, (values - median) / np.where(scale > 0, scale, 1.0), 0.0)


def long_tailed(values: np.ndarray) -> np.ndarray:
    """Columns that are non-negative with a median above 0 and quartiles that lean right."""
    q1, q2, q3 = np.quantile(values, [0.25, 0.5, 0.75], axis=0)
    skew = (q3 + q1 - 2 * q2) / np.where(q3 > q1, q3 - q1, 1.0)
    return (values.min(axis=0) >= 0) & (q2 > 0) & (skew > LONG_TAIL_SKEW)


def image_moments(prepared: Prepared, rows: np.ndarray) -> tuple[np.ndarray, tuple[float, float]]:
    """Each image's pixel mean and standard deviation, streamed batch by batch (a sample of
    10,000 photos at 224x224 would be 6 GB as one array), and the 0.5 and 99.5 percentiles of
    the first batch's pixels: the range the plot shows images on."""
    moments, shown_range = [], (0.0, 1.0)
    for x, _ in prepared.stream("train", rows).batch(256).as_numpy_iterator():
        flat = x.reshape(len(x), -1).astype("float64")
        if not moments:
            shown_range = tuple(float(v) for v in np.percentile(flat, [0.5, 99.5]))
        moments.append(np.stack([flat.mean(axis=1), flat.std(axis=1)], axis=1))
    return np.concatenate(moments), shown_range


def outlier_scores(prepared: Prepared, rows: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """D6: robust z of each sampled training example (manifest `rows`), one column per thing
    measured: each feature of a table (a long-tailed one as log(1 + x / median); the features
    of a text column left out), or the mean and the standard deviation of an image's pixels."""
    if prepared.kind == "image":
        return robust_z(image_moments(prepared, rows)[0]), ["mean", "std"]
    values = prepared.take(rows)[0].reshape(len(rows), -1).astype("float64")
    names = prepared.feature_names
    if len(names) != values.shape[1]:
        names = [f"feature {j}" for j in range(values.shape[1])]
    text = [j for column in getattr(prepared.source, "columns", None) or [] if column.used and column.role == "text"
            for j in feature_groups(prepared)[column.name]]
    if text:  # a word's TF-IDF grows with the text's length: a long review is far out by nature, not an error
        keep = np.setdiff1d(np.arange(values.shape[1]), text)
        values, names = values[:, keep], [names[j] for j in keep]
    if not values.shape[1]:
        return np.zeros((len(rows), 1)), ["(text columns only: not judged)"]
    tail = long_tailed(values)
    values[:, tail] = np.log1p(values[:, tail] / np.median(values[:, tail], axis=0))
    return robust_z(values), [f"log {n}" if t else n for n, t in zip(names, tail, strict=True)]


def check_outliers(prepared: Prepared, run_dir: Path, settings: InspectConfig) -> Verdict:
    """D6: the training examples furthest from the bulk, listed and drawn; warn beyond
    `inspect.outlier_z` robust standard deviations.

    Why that default (10): Gaussian data of these sizes never goes past about 5; valid
    long-tailed features reach 6 to 9 even on their log scale (breast_cancer's largest
    `area error`, 22 times its median, is 8.2); the bugs worth a warning land far beyond:
    a sentinel such as -999 or 99999, a value 1000x off (on breast_cancer: caught in 30 of
    30 features; 100x in 26, 10x in 13), an image on another scale (0..255 among 0..16), a
    blank image (digits: std z = -16)."""
    rows = prepared.sample_rows("train", settings.sample, seed=0)
    z, names = outlier_scores(prepared, rows)
    threshold = settings.outlier_z
    column = np.abs(z).argmax(axis=1)
    signed = z[np.arange(len(z)), column]
    order = np.argsort(-np.abs(signed), kind="stable")[: settings.outliers_shown]
    listing = [{"example": prepared.origin(int(rows[i])), "z": round(float(signed[i]), 1), "by": names[column[i]]}
               for i in order]
    flagged = int((np.abs(signed) > threshold).sum())
    plot = _plot_outliers(prepared, rows, z, names, order, listing, threshold, run_dir)
    measured = {"outliers": flagged, "largest_abs_z": round(float(np.abs(signed).max(initial=0.0)), 1),
                "most_extreme": listing, "examples_looked_at": len(rows), "training_examples": prepared.size("train")}
    logged = [n for n in names if n.startswith("log ")]
    if logged:
        measured["features_on_log_scale"] = len(logged)
    advice = "" if not flagged else (
        f"{flagged} training example(s) lie beyond |z| = {threshold:g} (listed, and drawn in {plot}): look at "
        "them. Fix or drop data errors (units, sentinels such as -999, images on another scale); keep rare "
        "cases that are real.")
    return verdict("D6", "warn" if flagged else "pass", measured=measured,
                   expected=f"|robust z| <= {threshold:g} (inspect.outlier_z)", advice=advice, plots=[plot])


def _plot_outliers(prepared, rows, z, names, order, listing, threshold, run_dir) -> str:
    if prepared.kind == "image":
        low, high = image_moments(prepared, rows[:256])[1]
        titles = [f"{short_origin(item['example'])}\n{item['by']} z={item['z']:g}" for item in listing]
        fig = image_grid(prepared.take(rows[order])[0], titles, low, high,
                         f"D6: the most extreme training images (robust z of pixel mean / std; warn beyond "
                         f"{threshold:g}); shown on the training range {low:.3g}..{high:.3g}")
        return save_figure(fig, run_dir, "D6_outliers")
    peak = np.abs(z).max(axis=0)
    shown = np.argsort(-peak, kind="stable")[:60]
    fig, ax = new_figure(7, 1.0 + 0.16 * len(shown))
    ax.barh(range(len(shown)), peak[shown], color=["tab:red" if peak[j] > threshold else "tab:blue" for j in shown])
    ax.axvline(threshold, linestyle="--", color="black", label=f"inspect.outlier_z = {threshold:g}")
    ax.set_yticks(range(len(shown)), [names[j] for j in shown], fontsize=6)
    ax.invert_yaxis()
    ax.set_xlabel("largest |robust z| in the training split")
    ax.set_title("D6: how far each feature's most extreme training value lies", fontsize=9)
    ax.legend(fontsize=7)
    return save_figure(fig, run_dir, "D6_outliers")


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
    Regression targets are grouped by train decile, so sorted targets are caught too."""
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
    """D9: the (input, label) pairs the first `batches` batches of `dataset` yield are pairs of
    the training split: each input's fingerprint (its bytes) is looked up, with its label, in
    one plain pass over the split. Memory holds the fingerprints of those batches only, never
    the split. Catches a shuffle or a map applied to one side only (zipping separately
    shuffled inputs and labels). Give it the pipeline without augmentation, which changes
    inputs by design."""
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
