"""Every verdict of a run, shown four ways: a terminal table (table.py), verdicts.json (which
each stage writes), one HTML page (page.py, style.css) and TensorBoard (tensorboard.py); the
report draws two plots of its own (plots.py)."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from ..errors import UserError
from ..rundir import RunFiles, write_whole
from ..verdicts import Verdict, read_verdicts
from .page import STAGES, collect_figures, html_page
from .table import ordered, terminal_table

__all__ = ["STAGES", "Report", "terminal_table", "write_report"]


class Report(NamedTuple):
    page: Path
    table: str
    verdicts: list[Verdict]
    tensorboard: Path


def write_report(run_dir: Path) -> Report:
    """report.html and the TensorBoard export from the verdicts the stages wrote."""
    verdicts = [v for v in read_verdicts(run_dir) if v.stage != "report"]
    if not verdicts:
        raise UserError(f"{run_dir} holds no verdicts (verdicts.json): run a stage (inspect, check, train, "
                        f"evaluate, tune) with --run-dir {run_dir} first")
    from .tensorboard import export_to_tensorboard  # TensorFlow: imported only when a report is written

    figures = collect_figures(verdicts, run_dir)
    page = run_dir / RunFiles.REPORT
    write_whole(page, html_page(verdicts, run_dir, figures))
    images = [(f.path, f.stage, f.caption) for f in figures if (run_dir / f.path).is_file()]
    board = export_to_tensorboard(run_dir, ordered(verdicts), images)
    return Report(page, terminal_table(verdicts), verdicts, board)
