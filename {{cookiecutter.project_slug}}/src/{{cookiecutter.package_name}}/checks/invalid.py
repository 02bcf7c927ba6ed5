"""D4: corrupt and invalid examples, as the scan found them."""

from __future__ import annotations

from ..data import Prepared
from ..registry import registers
from ..verdicts import Verdict, verdict
from .context import Context


def check_invalid(prepared: Prepared) -> Verdict:
    """D4: invalid examples stop `prepare` unless data.drop_invalid; this reports the drops.

    Args:
        prepared: The run's data; its manifest's header holds the dropped examples, and its
            source's columns the missing training cells that were imputed.

    Returns:
        The D4 verdict: warn when any example was dropped, pass otherwise.
    """
    dropped = prepared.dropped
    count = prepared.manifest.header.get("dropped_count", len(dropped))
    measured = {"dropped": count, "examples": dropped[:10]}
    columns = prepared.source.columns
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


@registers("inspect", "D4")
def _d4(c: Context) -> Verdict:
    return check_invalid(c.prepared)
