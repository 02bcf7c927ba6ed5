"""What the scan learns of each column from the training rows' cells, one block at a time.

Counts of its values (up to COUNT_CAP distinct), of missing and numeric cells, whether it only
rises or only falls in file order (an identifier written in order), and a bounded, deterministic
sample of the training rows (thin) whose values columns.py reads to decide the column's role
(D10). Training rows only (D2), except the order test, which needs every row.
"""

from __future__ import annotations

import numpy as np

from .columns import MISSING_TOKEN, ColumnFacts
from .csv_reading import missing_cells, number_cells, pa_bool

SAMPLE_ROWS = 50_000  # training rows kept to judge the shape of each column's values...
SAMPLE_CELLS = 5_000_000  # ...and at most this many cells: 500 rows of a 10,000-column file
COUNT_CAP = 20_000  # distinct values counted per column; past it the column is high-cardinality


def observe(facts: ColumnFacts, column, train: np.ndarray, lines: np.ndarray) -> None:
    """Add one block's cells of a column to what the scan knows of it (training rows only,
    except the row-order test, which needs every row)."""
    import pyarrow.compute as pc

    missing = missing_cells(column)
    number = number_cells(column) & ~missing
    facts.rows += int(train.sum())
    facts.missing += int((missing & train).sum())
    facts.numbers += int((number & train).sum())
    text_cells = np.flatnonzero(train & ~missing & ~number)
    if len(facts.text_lines) < 5 and len(text_cells):
        facts.text_lines += lines[text_cells[:5 - len(facts.text_lines)]].tolist()
    if facts.monotone:
        values = np.asarray(pc.cast(pc.if_else(pa_bool(number), pc.utf8_trim_whitespace(column), None),
                                    "float64").to_numpy(zero_copy_only=False), np.float64)
        if np.isnan(values).any():
            facts.monotone = False
        else:
            series = values if facts.last is None else np.r_[facts.last, values]
            steps = np.sign(np.diff(series))
            directions = set(np.unique(steps).tolist()) | ({facts.direction} if facts.direction else set())
            if 0 in directions or len(directions) > 1:
                facts.monotone = False
            elif directions:
                facts.direction = int(directions.pop())
            facts.last = float(values[-1]) if len(values) else facts.last
    if not facts.overflowed:
        cells = pc.if_else(pa_bool(missing), MISSING_TOKEN, pc.utf8_trim_whitespace(column)).filter(pa_bool(train))
        for value, count in zip(*value_counts(cells), strict=True):
            facts.counts[value] = facts.counts.get(value, 0) + count
        if len(facts.counts) > COUNT_CAP:
            facts.overflowed = True
            facts.counts = dict(sorted(facts.counts.items(), key=lambda item: -item[1])[:COUNT_CAP])


def thin(sampled: list, thinning: int, limit: int) -> tuple[list, int]:
    """Keep the sample of training rows under `limit`: rows whose key has `thinning` low
    zero bits, one more bit each time it grows past the bound (a deterministic sample that does
    not depend on the file's order)."""
    while sum(len(keys) for keys, _ in sampled) > limit:
        thinning += 1
        mask = np.uint64((1 << thinning) - 1)
        sampled = [(keys[(keys & mask) == 0], block.filter(pa_bool((keys & mask) == 0))) for keys, block in sampled]
    return sampled, thinning


def sample_values(sampled: list, name: str) -> list[str]:
    """The stripped, non-missing cells of one column in the sampled training rows."""
    import pyarrow.compute as pc

    values = []
    for _, block in sampled:
        column = block.column(name)
        values += pc.utf8_trim_whitespace(column).filter(pa_bool(~missing_cells(column))).to_pylist()
    return values


def value_counts(column) -> tuple[list[str], list[int]]:
    import pyarrow.compute as pc

    counted = pc.value_counts(column)
    return counted.field("values").to_pylist(), counted.field("counts").to_pylist()
