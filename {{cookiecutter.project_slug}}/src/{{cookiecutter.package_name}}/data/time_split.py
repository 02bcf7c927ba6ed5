"""data.split_by=time: train on the past, validate on the recent, test on the latest.

The hash split puts neighbours in time into train and test alike, so the test score says how the
model does on last week's rows, not next month's: for records over time (loans, flights, sales,
visits) that is the most common way an evaluation flatters. With `data.split_by: time` and
`data.time_column`, the rows before the 70th percentile of the column's times are train, those
up to the 90th val, the rest test (data.split's fractions). The cut is by value, so rows of one
time are never parted, and a split holds whole times.

The cut times are the data's quantiles (printed, and kept in the run's manifest) unless
`data.time_cuts` pins them: with pinned cuts, rows added later land by their own time (newer
ones in test) and no earlier row moves; with quantile cuts, new rows move the cuts forward, and
an earlier test row can become a val or training row, as the newest rows take its place.
"""

from __future__ import annotations

import numpy as np

from ..errors import UserError
from .columns import NUMBER

# ISO 8601 dates, with a time and a zone or not; the zone is dropped (times are compared as written).
# Stricter than columns.DATE (an hour needs its minutes): pyarrow's cast to a timestamp refuses
# "2024-05-31 13", and one such cell would fail the whole column's cast.
ISO_DATE = r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?"
_ZONE = r"(Z|[+-]\d{2}:?\d{2})$"


def parse_times(column) -> tuple[np.ndarray, str]:
    """A column of cells as times: float64 seconds since 1970 for ISO dates, the numbers
    themselves for a numeric column (a year, a day number, a Unix time); NaN where a cell is
    neither.

    Args:
        column: A pyarrow string array (the CSV's cells as text).

    Returns:
        (times, kind): kind is "number" when most filled cells are numbers, else "datetime".
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    cells = pc.utf8_trim_whitespace(column)
    numbers = np.asarray(pc.match_substring_regex(cells, f"^{NUMBER}$").to_numpy(zero_copy_only=False), bool)
    filled = np.asarray(pc.greater(pc.utf8_length(cells), 0).to_numpy(zero_copy_only=False), bool)
    if numbers.sum() >= 0.5 * max(filled.sum(), 1):
        kept = pc.if_else(pa.array(numbers, pa.bool_()), cells, None)
        return np.asarray(pc.cast(kept, pa.float64()).to_numpy(zero_copy_only=False), np.float64), "number"
    bare = pc.replace_substring(pc.replace_substring_regex(cells, _ZONE, ""), "T", " ")
    dates = np.asarray(pc.match_substring_regex(bare, ISO_DATE + "$").to_numpy(zero_copy_only=False), bool)
    kept = pc.if_else(pa.array(dates, pa.bool_()), bare, None)
    stamps = pc.cast(pc.cast(kept, pa.timestamp("us")), pa.int64())
    return np.asarray(stamps.to_numpy(zero_copy_only=False), np.float64) / 1e6, "datetime"


def parse_cut(value: str | float, kind: str) -> float:
    """One of data.time_cuts as a time of the column's kind."""
    import pyarrow as pa

    times, found = parse_times(pa.array([str(value)], pa.string()))
    if found != kind or not np.isfinite(times[0]):
        raise UserError(f"data.time_cuts: {value!r} is not a time like the column's ({kind}: "
                        f"{'a number' if kind == 'number' else 'an ISO date, 2024-05-31 or 2024-05-31 13:45'})")
    return float(times[0])


def time_cuts(times: np.ndarray, fractions, pinned: list | None, kind: str, column: str) -> list[float]:
    """The two cut times: pinned (data.time_cuts), or the times at data.split's cumulative
    fractions of the rows, so that train holds the earliest 70% (rows of the cut's own time go
    to the later split)."""
    known = times[np.isfinite(times)]
    if len(np.unique(known)) < 3:
        raise UserError(f"data.time_column {column!r} holds {len(np.unique(known))} distinct time(s): a split by time "
                        "needs at least 3 (train, val and test each need a time of their own)")
    if pinned:
        cuts = [parse_cut(value, kind) for value in pinned]
        if cuts[0] >= cuts[1]:
            raise UserError(f"data.time_cuts {pinned}: the first cut (val from) must come before the second (test "
                            "from)")
        return cuts
    bounds = np.cumsum(fractions)[:2]
    return [float(np.quantile(known, bound, method="higher")) for bound in bounds]


def splits_by_time(times: np.ndarray, cuts: list[float]) -> np.ndarray:
    """Each row's split (0 train, 1 val, 2 test) by its time; rows without one count as train
    here and are refused or dropped as invalid by the scan."""
    return np.searchsorted(np.asarray(cuts), np.nan_to_num(times, nan=-np.inf), side="right").astype(np.int8)


def time_words(value: float, kind: str) -> str:
    """A time as a person reads it."""
    if kind == "number":
        return f"{value:g}"
    return str(np.datetime64(int(value * 1e6), "us")).replace("T", " ").removesuffix(":00.000000").removesuffix(
        " 00:00")


def time_column(prepared, config) -> str | None:
    """The column of each row's time, for D14 and D11: data.time_column, else the table's one
    datetime column (D10's role); None for other sources, or with several date columns."""
    if config.data.time_column:
        return config.data.time_column
    columns = prepared.source.columns
    dated = [c.name for c in columns if c.role == "datetime"]
    return dated[0] if len(dated) == 1 else None
