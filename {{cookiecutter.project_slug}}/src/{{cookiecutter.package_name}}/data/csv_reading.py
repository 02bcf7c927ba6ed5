"""How a CSV file becomes blocks of text cells, and what a cell holds.

pyarrow reads the file in blocks sized for its width (block_bytes), after the delimiter and the
encoding are settled (sniff); every cell stays text, and the vectorised tests below say which
cells are missing and which are numbers, never a Python `float()` per cell. Shared by the scan
(tables.py, column_profile.py) and by `predict` reading new rows.
"""

from __future__ import annotations

import csv

import numpy as np

from ..storage import Location
from .columns import MISSING, NUMBER

BLOCK_BYTES = 4 << 20  # 4 MiB of text per block at least: tens of thousands of narrow rows
# ...and room for BLOCK_ROWS rows of a wide file, up to MAX_BLOCK_BYTES. The scan's cost is a few
# pyarrow calls per column per block: 4 MiB held 48 rows of a 10,000-column file, so the calls,
# columns x blocks, grew with the square of the width (inspect 118 s at 10,000 columns).
BLOCK_ROWS = 2048
MAX_BLOCK_BYTES = 64 << 20


def sniff(location: Location, delimiter: str, encoding: str) -> tuple[str, str]:
    """The delimiter (comma, semicolon, tab or pipe) and the encoding (UTF-8, else Latin-1)
    when the config says auto: from the first 64 KiB, as csv.Sniffer reads them."""
    head = location.head(1 << 16)
    if encoding == "auto":
        try:
            head.decode("utf-8")
            encoding = "utf-8"
        except UnicodeDecodeError as err:
            # A multi-byte character cut at the end of the sample is still UTF-8.
            encoding = "utf-8" if err.start >= len(head) - 3 else "latin-1"
    if delimiter == "auto":
        text = head.decode(encoding, errors="replace").lstrip("\ufeff")
        first = text.splitlines()[0] if text.strip() else ""
        try:
            delimiter = csv.Sniffer().sniff(text[:1 << 14], delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = max(",;\t|", key=first.count) if first else ","
    return delimiter, encoding


def block_bytes(location: Location) -> int:
    """Bytes of text per block: BLOCK_BYTES, or BLOCK_ROWS of the first lines' mean length when
    that is more (a wide file), at most MAX_BLOCK_BYTES."""
    head = location.head(1 << 20)
    row_bytes = len(head) / max(head.count(b"\n"), 1)
    return int(max(BLOCK_BYTES, min(BLOCK_ROWS * row_bytes, MAX_BLOCK_BYTES)))


def pa_bool(values: np.ndarray):
    import pyarrow as pa

    return pa.array(values, pa.bool_())


def pa_strings(values: list[str]):
    import pyarrow as pa

    return pa.array(values, pa.string())


def missing_cells(column) -> np.ndarray:
    import pyarrow.compute as pc

    lowered = pc.utf8_lower(pc.utf8_trim_whitespace(column))
    return np.asarray(pc.is_in(lowered, value_set=pa_strings(list(MISSING))).to_numpy(zero_copy_only=False))


def number_cells(column) -> np.ndarray:
    import pyarrow.compute as pc

    return np.asarray(pc.match_substring_regex(column, f"^{NUMBER}$").to_numpy(zero_copy_only=False))


def pa_ints(values: np.ndarray):
    import pyarrow as pa

    return pa.array(values, pa.int64())


def number_or_nan(text) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return float("nan")
