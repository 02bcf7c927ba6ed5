"""The terminal table of a stage's or a run's verdicts: failures on top, each cell in words
(describe.py) cut to a width a terminal holds, then the advice of every verdict that has one."""

from __future__ import annotations

from ..describe import one_line
from ..verdicts import STATUSES, Verdict

TERMINAL_CELL = 48  # characters of measured/expected in a terminal table's cell


def ordered(verdicts: list[Verdict]) -> list[Verdict]:
    """Failures on top, then warnings, passes, infos, skips; stable within a status."""
    return sorted(verdicts, key=lambda v: STATUSES.index(v.status))


def terminal_table(verdicts: list[Verdict]) -> str:
    rows = [("status", "id", "stage", "title", "measured", "expected")]
    rows += [(v.status.upper(), v.id, v.stage, v.title, one_line(v.measured, TERMINAL_CELL),
              one_line(v.expected, TERMINAL_CELL)) for v in ordered(verdicts)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    # A skip's advice is its reason: without it a skip reads as "null null" and hides a clue.
    # A pass speaks only when part of it was not judged (T3's capacity skipped).
    advice = [f"  {v.id} ({v.status}): {v.advice}" for v in ordered(verdicts) if v.advice]
    return "\n".join(lines + ([""] + ["advice:"] + advice if advice else []) + ["", counts_line(verdicts)])


def counts_line(verdicts: list[Verdict]) -> str:
    return ", ".join(f"{sum(v.status == s for v in verdicts)} {s}" for s in STATUSES)
