"""D13: target sanity. A regression target is read whole from the manifest (no input is read):

- sentinels: one value repeated in many rows and far from the rest (99999, -999, 9..9, a -1 among
  non-negative values): an export's "unknown", or a cap, which MSE then fits as if it were a price
  (BENCHMARKS.md, "Check notes: D13");
- far values: robust z beyond `inspect.outlier_z` on the scale the target lives on (log for a
  positive, long-tailed one), listed with their rows but not judged (a mansion is a real price);
- skew: a positive target whose skewness passes 1 and whose log is far more symmetric (prices,
  counts, durations): MSE on the raw scale is ruled by its largest values, and a log scale
  serves it (RMSLE, or a model trained on log(1 + y); BENCHMARKS.md, "Check notes: D13").

Labels of classes are D5's: numbered 1..K or one-hot, they are read as class ids there.
"""

from __future__ import annotations

import numpy as np

from ..config import InspectConfig
from ..data import Prepared
from ..data.stats import SKEW_LOG_SHARE, SKEW_RAW, skewness
from ..registry import registers
from ..verdicts import Verdict, verdict
from .context import Context
from .outliers import robust_z

SENTINEL_SHARE = 0.002  # a value repeated in this share of the rows (and SENTINEL_ROWS) may be a code...
SENTINEL_ROWS = 3
SENTINEL_IQRS = 3.0  # ...when it lies this many interquartile ranges beyond the quartiles of the others
SHOWN = 8


def nines(value: float) -> bool:
    """99, 999, 9999.9, -999: the digits of a code for 'unknown'."""
    digits = f"{abs(value):.10g}".replace(".", "")
    return len(digits) >= 2 and set(digits) == {"9"}


def sentinels(y: np.ndarray) -> list[tuple[float, int]]:
    """(value, rows) of each repeated value that looks like a code rather than a measurement."""
    values, counts = np.unique(y, return_counts=True)
    found = []
    for value, count in zip(values, counts, strict=True):
        if count < max(SENTINEL_ROWS, SENTINEL_SHARE * len(y)):
            continue
        others = y[y != value]
        if len(others) < 10:
            continue
        q1, q3 = np.quantile(others, [0.25, 0.75])
        # Most of the others one value (a count that is mostly 0): their quartiles meet, and with
        # no spread every other value is "far". Fair's affairs (0, 1, 2, 3, 7, 12; 451 of 601 at 0)
        # had 1, 2, 3, 7 and 12 all called codes; their standard deviation is the spread then.
        spread = max(q3 - q1 if q3 > q1 else float(np.std(others)), 1e-12)
        far = value > q3 + SENTINEL_IQRS * spread or value < q1 - SENTINEL_IQRS * spread
        minus_one = value == -1 and others.min() >= 0  # "unknown" among counts, ages, prices
        if (far and (nines(value) or count >= 0.01 * len(y))) or minus_one:
            found.append((float(value), int(count)))
    return found


def check_target(prepared: Prepared, settings: InspectConfig) -> Verdict:
    """D13: a regression target's sentinels, far values and skew (module docstring).

    Args:
        prepared: The run's data; the target of every split is read from its manifest, no input
            is read.
        settings: The `inspect` settings; `outlier_z` is the robust z beyond which a value is far.

    Returns:
        The D13 verdict: warn when the target holds sentinels, or is positive and long-tailed;
        far values are listed but not judged. Pass otherwise; skip for classes, whose labels are
        D5's.
    """
    if prepared.task != "regression":
        return verdict("D13", "skip", advice="classes: labels numbered 1..K or one-hot are read as class ids and "
                       "said in D5; a label set that cannot fit the task is refused at load")
    rows = np.concatenate([prepared.indices[s] for s in ("train", "val", "test")])
    y = prepared.manifest.labels[rows].astype("float64")
    codes = sentinels(y)
    coded = np.isin(y, [v for v, _ in codes])
    rest = y[~coded]
    positive = len(rest) > 0 and rest.min() > 0
    raw_skew = skewness(rest) if len(rest) else 0.0
    log_skew = skewness(np.log1p(rest)) if positive else raw_skew
    skewed = positive and raw_skew > SKEW_RAW and abs(log_skew) < SKEW_LOG_SHARE * raw_skew
    scale = np.log1p(rest) if skewed else rest
    z = np.zeros(len(y))
    z[~coded] = robust_z(scale[:, None])[:, 0] if len(rest) else 0.0
    far = np.flatnonzero(np.abs(z) > settings.outlier_z)
    far = far[np.argsort(-np.abs(z[far]))]
    measured = {"rows": len(y), "median": round(float(np.median(y)), 6), "min": float(y.min()), "max": float(y.max()),
                "skewness": round(raw_skew, 3), "skewness_of_log": round(log_skew, 3) if positive else None,
                "sentinels": [{"value": v, "rows": c, "first_at": [prepared.origin(int(r)) for r in
                                                                 rows[y == v][:3]]} for v, c in codes],
                "far_values": len(far), "farthest": [{"value": float(y[i]), "robust_z": round(float(z[i]), 1),
                                                      "origin": prepared.origin(int(rows[i]))} for i in far[:SHOWN]]}
    expected = (f"no value repeated in >= {SENTINEL_SHARE:.1%} of rows far beyond the others (99999, -999, -1); "
                "a positive long-tailed target on a log scale")
    advice = []
    if codes:
        listed = ", ".join(f"{v:g} ({c} rows)" for v, c in codes)
        advice.append(f"The target holds {listed}: repeated far from every other value, it reads as a code for "
                      "'unknown' or a cap (censored values, as Boston's medv of 50), which the model would learn as "
                      "real values; drop those rows (mark the cells missing: a missing target makes a row invalid, "
                      "D4), fix the export, or keep them knowingly")
    if skewed:
        advice.append(f"The target is positive and long-tailed (skewness {raw_skew:.2f}, {log_skew:.2f} on a log "
                      "scale): MSE on this scale is ruled by its largest values. model.log_target: auto has the "
                      "built-in models predict it on a log scale (a log link, the loss still in its units); if "
                      "relative errors are what matter, judge on log(1 + y) too (RMSLE)")
    return verdict("D13", "warn" if advice else "pass", measured=measured, expected=expected,
                   advice="; ".join(advice) + ("." if advice else ""))


@registers("inspect", "D13")
def _d13(c: Context) -> Verdict:
    return check_target(c.prepared, c.config.inspect)
