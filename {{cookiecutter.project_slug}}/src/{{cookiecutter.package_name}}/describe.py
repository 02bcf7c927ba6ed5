"""A verdict's measured and expected values in words: short `key: value` lines that a person
reads at a glance, numbers to 3 significant figures, long lists cut with a count. The report
and the terminal table show these; the full record stays in verdicts.json (and one click
away on the page).
"""

from __future__ import annotations

import math
from typing import Any

SCALARS_SHOWN = 6  # numbers or names of a list shown before "(+N more)"
NESTED_SHOWN = 4  # entries of a nested record shown inline


def number(value: float | int) -> str:
    """3 significant figures; whole numbers as they are, with thousands separators."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if not math.isfinite(value):
        return str(value)
    if 100 <= abs(value) < 1e6 or (value == int(value) and abs(value) < 1e6):
        return f"{round(value):,}"  # 3 significant figures at least, without an exponent
    return f"{value:.3g}"


def scalar(value: Any) -> str:
    if isinstance(value, (int, float)):
        return number(value)
    if value is None:
        return "none"
    return str(value)


def inline(value: Any, depth: int = 0) -> str:
    """One value on one line. A short list of numbers or names (a shape, a few counts) whole,
    a longer one cut with a count; a record as k=v pairs (in brackets inside another record,
    only counted deeper down); a list of records as its count and its first record."""
    if isinstance(value, dict):
        if not value:
            return "none"
        if depth >= 2:
            return f"{len(value)} entries"
        items = [f"{words(k)}={inline(v, depth + 1)}" for k, v in list(value.items())[:NESTED_SHOWN]]
        more = len(value) - NESTED_SHOWN
        text = ", ".join(items) + (f" (+{more} more)" if more > 0 else "")
        return f"({text})" if depth else text
    if isinstance(value, (list, tuple)):
        if not value:
            return "none"
        if any(isinstance(v, (dict, list, tuple)) for v in value):
            return f"{len(value)} entries" if depth else f"{len(value)}, the first: {inline(value[0], 1)}"
        items = [scalar(v) for v in value[:SCALARS_SHOWN]]
        more = len(value) - SCALARS_SHOWN
        return ", ".join(items) + (f" (+{more} more)" if more > 0 else "")
    return scalar(value)


def words(key: Any) -> str:
    """A record's key as words: `model_val_loss` reads as "model val loss"."""
    return str(key).replace("_", " ")


def lines(value: Any) -> list[str]:
    """The value as `key: value` lines (a record), or one line (anything else)."""
    if value is None:
        return []
    if isinstance(value, dict):
        return [f"{words(key)}: {inline(item)}" for key, item in value.items()]
    return [inline(value)]


def one_line(value: Any, width: int) -> str:
    """The lines joined with "; ", cut to `width` characters: a terminal table's cell."""
    text = "; ".join(lines(value))
    return text if len(text) <= width else text[: width - 1] + "…"
