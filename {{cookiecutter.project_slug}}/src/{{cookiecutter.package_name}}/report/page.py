"""report.html: one self-contained page (plots embedded as data URIs, so it can be mailed or
attached to a CI run and still show everything): the verdicts first, failures on top, then
every plot, grouped by the recipe stage that made it and captioned with its verdict ids.
The stylesheet is style.css beside this module."""

from __future__ import annotations

import base64
import html
import json
import mimetypes
import re
import struct
import time
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

from ..bootstrap import BASELINE_NAMES, Comparison, comparison_words
from ..cross_validation import cross_validation_line
from ..describe import lines
from ..rundir import RunFiles
from ..stages import SECTIONS
from ..verdicts import STATUSES, Verdict
from .plots import REPORT_PLOTS, baselines_against_model, loss_curves
from .table import ordered

STAGES = SECTIONS  # the recipe stages in run order -> the page's section titles (stages.py)
OTHER = "other"  # plots in plots/ that no verdict of the folder refers to
# Plots a stage makes only when asked: named when the stage ran without them.
COLOURS = {"fail": "#c62828", "warn": "#ef6c00", "pass": "#2e7d32", "info": "#1565c0", "skip": "#757575"}
CELL_LINES = 6  # `key: value` lines of measured/expected shown in a page's cell; the record one click away
WIDE_PX = 700  # figures wider than this take a whole row of the page
STYLE = files(__package__).joinpath("style.css").read_text()


@dataclass
class Figure:
    """One plot file of the run folder and the verdicts that refer to it."""

    path: str  # relative to the run folder, as verdicts record it
    stage: str
    verdicts: list[Verdict] = field(default_factory=list)
    note: str = ""  # what the plot shows, for those the report draws itself

    @property
    def anchor(self) -> str:
        return "fig-" + re.sub(r"[^A-Za-z0-9_-]", "-", self.path)

    @property
    def status(self) -> str:
        """The worst status of its verdicts: the frame of the figure shows it."""
        statuses = [v.status for v in self.verdicts]
        return next((s for s in STATUSES if s in statuses), "skip")

    @property
    def caption(self) -> str:
        """Plain text: verdict ids and titles, then the file; TensorBoard shows it too."""
        named = "; ".join(f"{v.id} {v.title} ({v.status})" for v in self.verdicts)
        return " — ".join(part for part in (named, self.note, self.path) if part)


def _stage_rank(stage: str) -> int:
    return list(STAGES).index(stage) if stage in STAGES else len(STAGES) + (stage == OTHER)


def collect_figures(verdicts: list[Verdict], run_dir: Path) -> list[Figure]:
    """Every plot of the run: the report's own two (drawn afresh), each verdict's, and any
    other PNG left in plots/; grouped by stage, in the order the stages wrote their verdicts."""
    for stale in REPORT_PLOTS:  # drawn again below, or gone when their sources are
        (run_dir / stale).unlink(missing_ok=True)
    figures: dict[str, Figure] = {}
    curves = loss_curves(run_dir)
    if curves:
        figures[curves] = Figure(curves, "train", [v for v in verdicts if (v.stage, v.id) == ("train", "T3")],
                                 "train and val loss per epoch, from history.csv")
    baselines = baselines_against_model(verdicts, run_dir)
    if baselines:
        path, sources = baselines
        compared = [v for v in verdicts if (v.stage, v.id) in sources]
        stage = "evaluate" if any(v.stage == "evaluate" for v in compared) else "check"
        figures[path] = Figure(path, stage, compared, "each baseline's numbers beside the trained model's")
    for verdict in verdicts:
        for path in verdict.plots:
            figures.setdefault(path, Figure(path, verdict.stage)).verdicts.append(verdict)
    folder = run_dir / RunFiles.PLOTS
    for png in sorted(folder.glob("*.png")) if folder.is_dir() else []:
        figures.setdefault(f"plots/{png.name}", Figure(
            f"plots/{png.name}", OTHER, note="no verdict in verdicts.json refers to it: an earlier run of a stage "
            "left it"))
    position = {id(v): i for i, v in enumerate(verdicts)}
    made_by_report = set(REPORT_PLOTS)
    return sorted(figures.values(), key=lambda f: (
        _stage_rank(f.stage), f.path not in made_by_report, min((position[id(v)] for v in f.verdicts), default=0)))


def _status_badge(status: str) -> str:
    return f'<span class="badge" style="background:{COLOURS[status]}">{status.upper()}</span>'


def _value_cell(value) -> str:
    """The value in words (describe.py: `key: value` lines, 3 significant figures), and for a
    record the whole of it, as verdicts.json holds it, one click away."""
    if value is None:  # nothing recorded (a skip): an empty cell, not `null`
        return ""
    shown = lines(value)
    more = len(shown) - CELL_LINES
    text = "<br>".join(html.escape(line) for line in shown[:CELL_LINES])
    if more > 0:
        text += f'<br><span class="more">(+{more} more)</span>'
    if isinstance(value, str):
        return f'<div class="words">{text}</div>'
    full = html.escape(json.dumps(value, indent=1))
    return f'<div class="words">{text}</div><details><summary>full record</summary><pre>{full}</pre></details>'


def _verdict_row(verdict: Verdict, figures: list[Figure]) -> str:
    links = "<br>".join(f'<a href="#{f.anchor}">{html.escape(Path(f.path).name)}</a>'
                        for f in figures if any(v is verdict for v in f.verdicts))
    advice = "<br>".join(part for part in (html.escape(verdict.advice), links) if part)
    return (
        f'<tr class="verdict {verdict.status}" data-id="{html.escape(verdict.id)}" '
        f'data-stage="{html.escape(verdict.stage)}" data-status="{verdict.status}">'
        f"<td>{_status_badge(verdict.status)}</td><td class=\"id\">{html.escape(verdict.id)}</td>"
        f"<td>{html.escape(verdict.stage)}</td><td>{html.escape(verdict.title)}</td>"
        f"<td>{_value_cell(verdict.measured)}</td><td>{_value_cell(verdict.expected)}</td>"
        f"<td>{advice}</td></tr>"
    )


def _png_width(data: bytes) -> int:
    """The width from a PNG's header (0 for anything else): wide plots get a row of their own."""
    return struct.unpack(">I", data[16:20])[0] if data[:8] == b"\x89PNG\r\n\x1a\n" else 0


def _figure(figure: Figure, run_dir: Path) -> str:
    names = " ".join(f'{_status_badge(v.status)} <b>{html.escape(v.id)}</b> {html.escape(v.title)}<br>'
                     for v in figure.verdicts)
    caption = (f"<figcaption>{names}{html.escape(figure.note)}{'<br>' if figure.note else ''}"
               f'<span class="path">{html.escape(figure.path)}</span></figcaption>')
    file = run_dir / figure.path
    if not file.is_file():
        return (f'<figure id="{figure.anchor}" class="{figure.status}"><p class="missing">The plot file is missing: '
                f"{html.escape(figure.path)}</p>{caption}</figure>")
    data = file.read_bytes()
    mime = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    wide = " wide" if _png_width(data) > WIDE_PX else ""
    return (f'<figure id="{figure.anchor}" class="{figure.status}{wide}">'
            f'<img alt="{html.escape(figure.caption)}" data-path="{html.escape(figure.path)}" '
            f'src="data:{mime};base64,{base64.b64encode(data).decode()}">{caption}</figure>')


def _plot_sections(figures: list[Figure], run_dir: Path) -> str:
    sections = []
    for stage in sorted({f.stage for f in figures}, key=_stage_rank):
        title = STAGES.get(stage, "Other plots in plots/" if stage == OTHER else stage)
        body = "".join(_figure(f, run_dir) for f in figures if f.stage == stage)
        sections.append(f'<section id="plots-{html.escape(stage)}"><h3>{html.escape(title)}</h3>'
                        f'<div class="figures">{body}</div></section>')
    return "".join(sections) or "<p>No stage of this run made a plot.</p>"


def _not_run(verdicts: list[Verdict]) -> list[str]:
    ran = {v.stage for v in verdicts}
    notes = [f"<code>{stage}</code>" for stage in STAGES if stage not in ran]
    return [f"stages not run in this folder: {', '.join(notes)}"] if notes else []


def _measured(verdicts: list[Verdict], stage: str, check_id: str, *keys):
    record = next((v.measured for v in verdicts if (v.stage, v.id) == (stage, check_id)), None)
    for key in keys:
        if not isinstance(record, dict) or key not in record:
            return None
        record = record[key]
    return record


SMALL_TEST = 1000  # test rows below which the headline says in words how far the score could move


def _with_interval(value: float, interval) -> str:
    return f"{value:.4g} ({interval[0]:.4g} to {interval[1]:.4g})" if interval else f"{value:.4g}"


def headline(verdicts: list[Verdict], evaluation: dict | None = None) -> str:
    """The page's first lines once `evaluate` ran: the trained model's test scores with their 95%
    intervals beside the priors' (B1), the linear model's and gradient boosting's (B3) on the same
    test rows; then, from evaluation.json, the model against each of them by a paired interval:
    "better than" only when the interval excludes zero, otherwise "level with" (or "worse than")."""
    model = _measured(verdicts, "evaluate", "T13", "scores", "test")
    if not model:
        return ""
    intervals = _measured(verdicts, "evaluate", "T13", "test_intervals") or {}
    rows = (_measured(verdicts, "evaluate", "T13", "examples_scored") or {}).get("test")
    metric = next((key for key in model if key != "loss"), None)
    references = _measured(verdicts, "check", "B3", "references") or {}
    named = {"priors": "priors (B1)", "linear": "linear model (B3)", "boosting": "gradient boosting (B3)"}
    capped = {named.get(name, name): f" (fitted on {found['training_examples']:,} training rows, capped by "
              f"{found['capped_by']})" for name, found in references.items() if found.get("capped_by")}
    scored = [("trained model", model), (named["priors"], _measured(verdicts, "check", "B1", "test")),
              *[(named.get(name, name), found.get("test")) for name, found in references.items()]]
    cells = []
    for label, scores in scored:
        if not scores or "loss" not in scores:
            continue
        mine = label == "trained model"
        loss = _with_interval(scores["loss"], intervals.get("loss") if mine else None)
        extra = (f", {metric} {_with_interval(scores[metric], intervals.get(metric) if mine else None)}"
                 if metric and metric in scores else "")
        text = f"{html.escape(label)}: loss {loss}{extra}{html.escape(capped.get(label, ''))}"
        cells.append(f"<strong>{text}</strong>" if mine else text)
    size = f" ({rows:,} rows; the trained model's 95% bootstrap intervals in parentheses)" if rows else ""
    said = [f"Test split{size}: {' · '.join(cells)}"]
    for name, found in (evaluation or {}).get("test_compared_with", {}).items():
        comparison = Comparison(found["difference"], *found["interval"], found["rows"])
        said.append("The trained model is " + html.escape(comparison_words(BASELINE_NAMES.get(name, name), comparison))
                    + ".")
    if (evaluation or {}).get("cross_validation"):  # train.folds: the score of every train and val row
        said.append(html.escape(cross_validation_line(evaluation["cross_validation"])) + ".")
    if rows and rows < SMALL_TEST and "loss" in intervals:
        low, high = intervals["loss"]
        said.append(f"A small test split: on another {rows:,} rows like these the model's loss could lie anywhere "
                     f"from {low:.4g} to {high:.4g}; read the comparisons by their intervals, not their sign.")
    return '<div class="headline">' + "".join(f"<p>{line}</p>" for line in said) + "</div>"


def _evaluation(run_dir: Path) -> dict | None:
    path = run_dir / RunFiles.EVALUATION
    return json.loads(path.read_text()) if path.is_file() else None


def html_page(verdicts: list[Verdict], run_dir: Path, figures: list[Figure]) -> str:
    rows = "".join(_verdict_row(v, figures) for v in ordered(verdicts))
    stages = sorted({f.stage for f in figures}, key=_stage_rank)
    contents = " · ".join([f'<a href="#verdicts">verdicts ({len(verdicts)})</a>'] + [
        f'<a href="#plots-{html.escape(s)}">{html.escape(s)} plots</a>' for s in stages])
    counts = "".join(f'<span class="count" style="color:{COLOURS[s]}">{sum(v.status == s for v in verdicts)} {s}</span>'
                     for s in STATUSES)
    notes = "".join(f'<p class="meta">{note}</p>' for note in _not_run(verdicts))
    name = html.escape(run_dir.resolve().name)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Recipe report: {name}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
{STYLE}</style></head><body>
<h1>Recipe report: {name}</h1>
{headline(verdicts, _evaluation(run_dir))}
<p class="meta">Run folder <code>{html.escape(str(run_dir.resolve()))}</code>, reported
{time.strftime("%Y-%m-%d %H:%M:%S")}. Every record in full: <code>verdicts.json</code> beside this page.
The same verdicts and plots in TensorBoard: <code>tensorboard --logdir {html.escape(str(run_dir))}/tensorboard</code>
(Text and Images tabs, run <code>report</code>).</p>
<p id="counts">{counts}</p>
{notes}
<p class="meta">{contents}</p>
<h2 id="verdicts">Verdicts, failures first</h2>
<table><colgroup><col style="width:6%"><col style="width:4%"><col style="width:6%"><col style="width:12%">
<col style="width:26%"><col style="width:20%"><col style="width:26%"></colgroup>
<thead><tr><th>status</th><th>id</th><th>stage</th><th>check</th><th>measured</th><th>expected</th>
<th>advice and plots</th></tr></thead><tbody>
{rows}
</tbody></table>
<h2 id="plots">Plots, by recipe stage</h2>
{_plot_sections(figures, run_dir)}
</body></html>
"""
