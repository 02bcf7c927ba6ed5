"""P1 and P3: new rows at `predict`, checked against the training rows before their predictions go out.

`train` saves a profile of the training rows' columns in the export's predict.json
(`training_profile`, from a seeded sample of at most PROFILE_ROWS training rows): per numeric
column its deciles, the share of training rows in each decile bin and its share of missing cells;
per categorical column the levels seen and the share of sampled rows whose level was seen once
(Good-Turing's estimate of how often a row brings a level never seen). At `predict`:

- P1 judges each column of the new rows: a distribution shift by the population stability index
  over the training deciles (PSI; units x1000 put every row in the top bin), missing cells far
  above training's share, levels never seen in training far above Good-Turing's share. Each bar
  is a significance level over the new rows' count as well as an effect size, so that a few dozen
  healthy rows (the test split fed through `predict`) stay quiet: PSI counts only beyond both 0.25
  (the usual "major shift") and the 99.9th percentile of chi-square over n, which is what PSI
  measures on n rows from the training distribution.
- P3 counts the cells read as missing because they were not numbers in a numeric column, and
  predictions.csv names them on their row (`unread_cells`): those predictions came from an
  imputed value. It warns when a column holds more of them than its training rows did.

Predictions are written either way; `predict --strict` turns a P1 warning into a failure (exit 1).
Images and text columns are not profiled yet (P1 says so).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from ..data import Prepared
from ..data.columns import MISSING, NUMBER
from ..registry import registers
from ..verdicts import Verdict, verdict

PROFILE_ROWS = 5_000
PSI_MAJOR = 0.25  # the usual bar of a major shift (below 0.1: none, 0.1-0.25: some)
SIGNIFICANCE = 1e-3  # how surprising a count must be under the training rows' own shares
MISSING_MARGIN = 0.05  # the new missing share must also pass training's by this much
SHOWN = 5  # rows named per finding


def training_profile(prepared: Prepared, seed: int = 0) -> dict:
    """What P1 compares new rows with: {column: {"kind": "numeric", "edges", "shares",
    "missing_share"} or {"kind": "categorical", "levels", "unseen_share", "missing_share"}},
    from a seeded sample of training rows; {} for images and arrays of unnamed features."""
    rows = prepared.raw_rows(prepared.sample_rows("train", PROFILE_ROWS, seed))
    if not rows:
        return {}
    columns = getattr(prepared.source, "columns", None)
    roles = ({c.name: c.role for c in columns if c.used} if columns else
             {name: "numeric" for name in rows[0]})
    profile = {}
    for name, role in roles.items():
        cells = [row.get(name, "") for row in rows]
        missing = np.array([c.strip().lower() in MISSING for c in cells])
        if role == "numeric":
            numbers = _numbers(cells)
            if np.isfinite(numbers).sum() < 20:
                continue
            known = numbers[np.isfinite(numbers)]
            edges = np.unique(np.quantile(known, np.linspace(0.1, 0.9, 9)))
            counts = np.bincount(np.searchsorted(edges, known, side="right"), minlength=len(edges) + 1)
            profile[name] = {"kind": "numeric", "edges": edges.tolist(), "shares": (counts / counts.sum()).tolist(),
                             "low": float(known.min()), "high": float(known.max()),
                             "missing_share": float(missing.mean()),
                             "unread_share": float((~missing & ~np.isfinite(numbers)).mean())}
        elif role == "categorical":
            levels, counts = np.unique([c.strip() for c, m in zip(cells, missing, strict=True) if not m],
                                       return_counts=True)
            if len(levels) == 0:
                continue
            profile[name] = {"kind": "categorical", "levels": levels.tolist(),
                             "unseen_share": float((counts == 1).sum() / counts.sum()),
                             "missing_share": float(missing.mean())}
    return profile


def _numbers(cells: list[str]) -> np.ndarray:
    number = re.compile(NUMBER)
    return np.array([float(c) if number.fullmatch(c) else np.nan for c in cells], np.float64)


def psi(edges: list[float], expected: list[float], values: np.ndarray) -> float:
    """The population stability index of `values` over the training bins: sum (a - e) ln(a / e),
    each share smoothed by half a row so that an empty bin is finite."""
    counts = np.bincount(np.searchsorted(np.asarray(edges), values, side="right"), minlength=len(expected))
    actual = (counts + 0.5) / (counts.sum() + 0.5 * len(expected))
    wanted = np.maximum(np.asarray(expected), 1e-4)
    return float(np.sum((actual - wanted) * np.log(actual / wanted)))


def psi_bar(bins: int, rows: int) -> float:
    """The PSI that `rows` rows drawn from the training distribution stay below with probability
    1 - SIGNIFICANCE (n PSI is about chi-square with bins - 1 degrees of freedom), or PSI_MAJOR."""
    from scipy.stats import chi2

    return max(PSI_MAJOR, float(chi2.isf(SIGNIFICANCE, max(bins - 1, 1))) / max(rows, 1))


def _surprising(count: int, rows: int, share: float) -> bool:
    from scipy.stats import binom

    return count > 0 and float(binom.sf(count - 1, rows, min(max(share, 1.0 / PROFILE_ROWS), 1.0))) < SIGNIFICANCE


def compare_columns(profile: dict, cells: dict[str, list[str]], lines: list[int]) -> list[dict]:
    """Every column of the new rows that strays from the training rows, worst first.

    Args:
        profile: `training_profile`'s record, from predict.json.
        cells: Column -> the new rows' cells, as the CSV spells them.
        lines: Each new row's CSV line, for naming rows.

    Returns:
        One finding per column and kind: {"column", "what", "measured", "rows"}.
    """
    found = []
    for name, known in profile.items():
        if name not in cells or not cells[name]:
            continue
        column = cells[name]
        rows = len(column)
        missing = np.array([c.strip().lower() in MISSING for c in column])
        if missing.mean() > known["missing_share"] + MISSING_MARGIN and _surprising(
                int(missing.sum()), rows, known["missing_share"]):
            found.append({"column": name, "what": "missing cells", "measured": f"{missing.mean():.0%} of the rows, "
                          f"training {known['missing_share']:.0%}", "rows": _lines(missing, lines)})
        if known["kind"] == "numeric":
            values = _numbers(column)
            filled = np.isfinite(values)
            if filled.sum() == 0:
                continue
            shift = psi(known["edges"], known["shares"], values[filled])
            if shift > psi_bar(len(known["shares"]), int(filled.sum())):
                outside = filled & ((values < known["low"]) | (values > known["high"]))
                found.append({"column": name, "what": "distribution shift", "measured": f"PSI {shift:.2f}; "
                              f"median {np.median(values[filled]):.4g}, training's {_median(known):.4g}; "
                              f"{outside.mean():.0%} outside training's range {known['low']:.4g}..{known['high']:.4g}",
                              "rows": _lines(outside if outside.any() else filled, lines), "psi": shift})
        else:
            seen = set(known["levels"])
            new = np.array([not m and c.strip() not in seen for c, m in zip(column, missing, strict=True)])
            if new.sum() >= 3 and _surprising(int(new.sum()), rows, known["unseen_share"]):
                levels = sorted({column[i].strip() for i in np.flatnonzero(new)})
                found.append({"column": name, "what": "levels never seen in training",
                              "measured": f"{new.mean():.0%} of the rows ({', '.join(map(repr, levels[:5]))}"
                              f"{' ...' if len(levels) > 5 else ''}), expected about {known['unseen_share']:.1%}",
                              "rows": _lines(new, lines)})
    return found


def _lines(flags: np.ndarray, lines: list[int]) -> list[int]:
    return [lines[i] for i in np.flatnonzero(flags)[:SHOWN]]


def _median(known: dict) -> float:
    edges = known["edges"]
    return float(edges[len(edges) // 2]) if edges else float("nan")


@dataclass
class PredictContext:
    """What `predict` read: the export's description and the new rows, for P1 and P3.

    Args:
        described: predict.json (serving.py), with the training profile.
        cells: Column -> the new rows' cells as text (CSV inputs); empty for images and arrays.
        lines: Each new row's CSV line.
        unread: Column -> the lines whose cell in that numeric column was not a number.
        strict: `predict --strict`: a P1 warning fails.
    """

    described: dict
    cells: dict[str, list[str]]
    lines: list[int]
    unread: dict[str, list[int]]
    strict: bool = False
    earlier: list = field(default_factory=list)


def judge_new_columns(found: list[dict], rows: int, strict: bool) -> Verdict:
    """P1's decision: warn (fail with --strict) when any column strays, naming each and its rows."""
    measured = {"rows": rows, "columns_off": [{k: v for k, v in f.items() if k != "psi"} for f in found]}
    expected = {"each column": f"PSI below max({PSI_MAJOR}, chi-square's 99.9th percentile / rows); missing and "
                "never-seen shares within chance of training's"}
    if not found:
        return verdict("P1", "pass", measured=measured, expected=expected)
    first = found[0]
    return verdict("P1", "fail" if strict else "warn", measured=measured, expected=expected,
                   advice=f"{len(found)} column finding(s); first: {first['column']!r}, {first['what']} "
                   f"({first['measured']}; rows at lines {first['rows']}). The model never saw rows like these: "
                   "another unit, a changed export or a new population; check the source before trusting these "
                   "predictions.")


@registers("predict", "P1")
def _p1(c: PredictContext) -> Verdict:
    profile = c.described.get("profile")
    if profile is None or not c.cells:
        return verdict("P1", "skip", advice="no profile of the training rows to compare with: images, arrays and "
                       "exports written before P1 are not checked yet")
    return judge_new_columns(compare_columns(profile, c.cells, c.lines), len(c.lines), c.strict)


def judge_unread_cells(unread: dict[str, list[int]], rows: int, profile: dict) -> Verdict:
    """P3's decision: the rows whose numeric cells held text were imputed (predictions.csv names
    them either way); warn when a column holds more such cells than its training rows did, beyond
    chance (a column whose training rows had some, a zip code spelt 98117-1234 now and then, passes
    with the count).

    Args:
        unread: Column -> the lines whose cell was read as missing.
        rows: The new rows.
        profile: The training profile (its `unread_share` per numeric column).

    Returns:
        The P3 verdict.
    """
    lines = sorted({line for found in unread.values() for line in found})
    measured = {"rows_with_unread_cells": len(lines), "cells": {k: len(v) for k, v in unread.items() if v},
                "first_lines": lines[:SHOWN]}
    expected = "no more text in a numeric column than its training rows held, beyond chance"
    more = [name for name, found in unread.items() if found and _surprising(
        len(found), rows, profile.get(name, {}).get("unread_share", 0.0))]
    if not more:
        return verdict("P3", "pass", measured=measured, expected=expected)
    return verdict("P3", "warn", measured=measured, expected=expected,
                   advice=f"{len(lines)} row(s) hold text in a numeric column ({', '.join(map(repr, more))}, more than "
                   f"in training; first at lines {lines[:SHOWN]}): their cells were imputed as in training, and "
                   "predictions.csv names them in `unread_cells`.")


@registers("predict", "P3")
def _p3(c: PredictContext) -> Verdict:
    if not c.cells:
        return verdict("P3", "skip", advice="no table cells: images and arrays are read whole or refused")
    return judge_unread_cells(c.unread, len(c.lines), c.described.get("profile") or {})
