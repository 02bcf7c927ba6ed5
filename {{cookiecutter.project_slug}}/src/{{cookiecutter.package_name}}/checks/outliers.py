"""D6: the training examples furthest from the bulk, by robust z-scores."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from ..config import InspectConfig
from ..data import Prepared
from ..plots import new_figure, save_figure
from ..registry import registers
from ..verdicts import Verdict, verdict
from .context import Context
from .leakage import feature_groups
from .visualise import image_grid, short_origin

# D6: a non-negative feature whose quartiles lean right (Bowley skewness above this) is
# judged on a log scale: sizes, counts and measurement errors have long tails, and on their
# raw scale every large value would look like an outlier.
LONG_TAIL_SKEW = 0.0
MAD_TO_STD = 1.4826  # the MAD of a normal distribution times this is its standard deviation


def robust_z(values: np.ndarray) -> np.ndarray:
    """Per column, (value - median) / (1.4826 MAD): a z-score the outliers cannot inflate.
    A column whose MAD is 0 (more than half its values equal: an indicator, a one-hot
    column) gets z = 0, because a distance from the median means nothing there. NaN (a cell
    that was missing, `observed_values`) is left out of both and gets z = 0."""
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a column missing in every sampled row: all NaN
        median = np.nanmedian(values, axis=0)
        scale = MAD_TO_STD * np.nanmedian(np.abs(values - median), axis=0)
        z = np.where(scale > 0, (values - median) / np.where(scale > 0, scale, 1.0), 0.0)
    return np.nan_to_num(z, nan=0.0)


def observed_values(values: np.ndarray, names: list[str], flagged: list[str]) -> np.ndarray:
    """The features with NaN where their column's cell was missing (its `<column> missing` flag
    is 1): the encoder put the train median there (a date's parts: 0), and a pile of medians
    shrinks the MAD until ordinary values look extreme (Stat2Data's Titanic, 42% of ages
    missing: 70-year-olds at robust z 14.5), where a date's year 0 would be 2,000 years out.

    Args:
        values: The sampled rows' features, one column per name.
        names: The features' names (a numeric column's value is its name, a date's parts
            `<column>.<part>`, the flag `<column> missing`).
        flagged: The columns that have such a flag (numeric ones with missing cells, dates).

    Returns:
        A copy of `values`, NaN where a cell was missing.
    """
    values = values.copy()
    position = {name: j for j, name in enumerate(names)}
    for column in flagged:
        if f"{column} missing" not in position:
            continue
        missing = values[:, position[f"{column} missing"]] > 0.5
        for j, name in enumerate(names):
            if name == column or name.startswith(column + "."):  # the value, or a date's parts
                values[missing, j] = np.nan
    return values


def long_tailed(values: np.ndarray) -> np.ndarray:
    """Columns that are non-negative with a median above 0 and quartiles that lean right (NaN,
    a missing cell, left out)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        q1, q2, q3 = np.nanquantile(values, [0.25, 0.5, 0.75], axis=0)
        low = np.nanmin(values, axis=0)
    skew = (q3 + q1 - 2 * q2) / np.where(q3 > q1, q3 - q1, 1.0)
    return (low >= 0) & (q2 > 0) & (skew > LONG_TAIL_SKEW)


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
    text = [j for column in prepared.source.columns if column.used and column.role == "text"
            for j in feature_groups(prepared)[column.name]]
    if text:  # a word's TF-IDF grows with the text's length: a long review is far out by nature, not an error
        keep = np.setdiff1d(np.arange(values.shape[1]), text)
        values, names = values[:, keep], [names[j] for j in keep]
    if not values.shape[1]:
        return np.zeros((len(rows), 1)), ["(text columns only: not judged)"]
    flagged = [c.name for c in prepared.source.columns or () if c.used
               and (c.role == "datetime" or (c.role == "numeric" and c.indicator))]
    values = observed_values(values, names, flagged)
    tail = long_tailed(values)
    values[:, tail] = np.log1p(values[:, tail] / np.nanmedian(values[:, tail], axis=0))
    return robust_z(values), [f"log {n}" if t else n for n, t in zip(names, tail, strict=True)]


def check_outliers(prepared: Prepared, run_dir: Path, settings: InspectConfig) -> Verdict:
    """D6: the training examples furthest from the bulk, listed and drawn.

    Why that default (10): Gaussian data of these sizes never goes past about 5; valid
    long-tailed features reach 6 to 9 even on their log scale; the bugs worth a warning land
    far beyond: a sentinel such as -999 or 99999, a value 1000x off, an image on another scale
    (0..255 among 0..16), a blank image (BENCHMARKS.md, "Check notes: D6").

    Args:
        prepared: The run's data; a seeded sample of at most `inspect.sample` training examples
            is scored.
        run_dir: The run folder the plot is saved in.
        settings: The `inspect` settings: `sample`, `outlier_z` and `outliers_shown`.

    Returns:
        The D6 verdict, with the plot: warn beyond `inspect.outlier_z` robust standard
        deviations, pass otherwise.
    """
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


@registers("inspect", "D6")
def _d6(c: Context) -> Verdict:
    return check_outliers(c.prepared, c.run_dir, c.config.inspect)
