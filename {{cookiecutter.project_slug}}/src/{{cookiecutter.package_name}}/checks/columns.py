"""D10: every column of a table, with the role it was given and why."""

from __future__ import annotations

from ..data import Prepared
from ..registry import registers
from ..verdicts import Verdict, verdict
from .context import Context


def check_columns(prepared: Prepared) -> Verdict:
    """D10: every column of a table with its role, why, and its share of missing training cells.

    Args:
        prepared: The run's data; its source's columns and its manifest's facts (the group
            column, the key-like columns that repeat) are listed.

    Returns:
        The D10 verdict. Warn when a numeric column held text cells (read as missing) or when
        columns were left out as identifiers, constants or free text: each is a choice a person
        should see once. Warn too when a column is named like a key and repeats across rows (a
        candidate for data.group_column). Pass otherwise; skip for arrays and images, which have
        no table columns.
    """
    columns = prepared.source.columns
    if not columns:
        return verdict("D10", "skip", advice=f"{prepared.kind} data from {prepared.source.where}: no "
                       "table columns to decide roles for (they come as arrays or images)")
    listing = [{"column": c.name, "role": c.role, "why": c.why, "missing": c.missing_share} for c in columns]
    left_out = [c for c in columns if not c.used]
    text_in_numbers = [c for c in columns if c.role == "numeric" and "text cell" in c.why]
    facts = prepared.manifest.facts
    groups = facts.group_candidates
    if facts.groups:  # data.group_column: shown once, like every other choice
        listing.insert(0, {"column": facts.groups["column"], "role": "group",
                           "why": f"data.group_column: {facts.groups['count']} groups, each kept in one split; "
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


@registers("inspect", "D10")
def _d10(c: Context) -> Verdict:
    return check_columns(c.prepared)
