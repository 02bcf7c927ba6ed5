"""Verdict records (RECIPE.md): what every check returns and every stage writes.

A check is a pure function that returns verdicts; the CLI, the callbacks and the
report only gather and show them. Checks build them with `verdict`, which takes the title
from the recipe's list (recipe.py), so that a title is written once.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from .recipe import entry
from .rundir import RunFiles, write_whole

Status = Literal["pass", "warn", "fail", "info", "skip"]
# Worst first: the order the report shows them in. `pass` means a judgement was made and held;
# `info` is a measurement to look at that judges nothing (a floor to beat, the worst predictions),
# so that a green PASS always means something was checked; `skip` says why nothing was measured.
STATUSES = ("fail", "warn", "pass", "info", "skip")


@dataclass
class Verdict:
    id: str
    title: str
    status: Status
    measured: Any = None
    expected: Any = None
    advice: str = ""
    plots: list[str] = field(default_factory=list)
    stage: str = ""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"verdict {self.id}: unknown status {self.status!r}")
        if self.status == "skip" and not self.advice:
            raise ValueError(f"verdict {self.id}: a skip must say why (advice)")


def verdict(check_id: str, status: Status, measured: Any = None, expected: Any = None, advice: str = "", *,
            plots: list[str] | None = None, stage: str | None = None, title: str | None = None) -> Verdict:
    """The verdict of recipe check `check_id`, titled as recipe.py declares it (`stage` picks the
    entry when two stages judge the ID; `title` only where the title names a number)."""
    return Verdict(check_id, title or entry(check_id, stage).title, status, measured, expected, advice,
                   plots or [], stage or "")


def _plain(value: Any) -> Any:
    """JSON-safe copy: numpy scalars to Python numbers, NaN/Inf to strings."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def write_verdicts(run_dir: Path, stage: str, verdicts: list[Verdict]) -> Path:
    """Replace this stage's records in `<run_dir>/verdicts.json`, keep the other stages'."""
    path = run_dir / RunFiles.VERDICTS
    kept = [r for r in read_verdicts(run_dir) if r.stage != stage]
    for verdict in verdicts:
        verdict.stage = stage
    records = [_plain(asdict(v)) for v in kept + verdicts]
    write_whole(path, json.dumps(records, indent=2))
    return path


def read_verdicts(run_dir: Path) -> list[Verdict]:
    path = run_dir / RunFiles.VERDICTS
    if not path.exists():
        return []
    return [Verdict(**record) for record in json.loads(path.read_text())]


def any_failed(verdicts: list[Verdict]) -> bool:
    return any(v.status == "fail" for v in verdicts)
