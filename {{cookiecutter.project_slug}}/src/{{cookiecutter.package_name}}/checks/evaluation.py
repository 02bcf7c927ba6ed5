"""T13: every val and test example scored, and the test split scored once."""

from __future__ import annotations

from ..data import Prepared
from ..registry import registers
from ..verdicts import Verdict, verdict
from .context import EvaluateContext


def judge_full_set(prepared: Prepared, seen: dict[str, int], test_scored_at: list[str],
                   scores: dict[str, dict[str, float]], intervals: dict[str, dict] | None = None) -> Verdict:
    """T13: every val and test example was scored, and the test split was scored once only.

    Args:
        prepared: The run's data: the size of each split.
        seen: How many examples of each split were scored, by split name.
        test_scored_at: Every time the test split was scored in this run folder, this time included.
        scores: Each split's scores, by split name.
        intervals: The bootstrap intervals of each split's scores, by split name; only the test
            split's are kept. None gives none.

    Returns:
        The T13 verdict: fail when a split's scored examples differ from its size, warn when the
        test split has been scored other than once, pass otherwise. The record carries the test
        scores' bootstrap intervals, which the report's headline shows.
    """
    sizes = {split: len(prepared.indices[split]) for split in seen}
    complete = seen == sizes
    once = len(test_scored_at) == 1
    if not complete:
        status, advice = "fail", "Some examples were not scored: look for drop_remainder, steps= or repeat()."
    elif not once:
        status = "warn"
        advice = (f"The test split has now been scored {len(test_scored_at)} times; choosing a model "
                  "by its test score turns the test set into a validation set.")
    else:
        status, advice = "pass", ""
    test_intervals = {name: r["interval"] for name, r in (intervals or {}).get("test", {}).items()}
    return verdict("T13", status,
                   measured={"examples_scored": seen, "scores": scores, "test_scored_times": len(test_scored_at),
                             "test_intervals": test_intervals},
                   expected={"examples_scored": sizes, "test_scored_times": 1}, advice=advice)


@registers("evaluate", "T13")
def _t13(c: EvaluateContext) -> Verdict:
    return judge_full_set(c.prepared, c.seen, c.test_scored_at, c.scores, c.intervals)
