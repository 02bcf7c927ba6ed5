"""Every verdict of a run, shown three ways: a terminal table, verdicts.json, one HTML page.

The HTML page is self-contained (plots embedded as data URIs), so it can be mailed or
attached to a CI run and still show everything.
"""

from __future__ import annotations

import base64
import csv
import html
import json
from pathlib import Path

from .plots import new_figure, save_figure
from .verdicts import STATUSES, Verdict, read_verdicts

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
table { border-collapse: collapse; width: 100%; }
td, th { border-bottom: 1px solid #ddd; padding: .4rem; vertical-align: top; text-align: left; }
tr.fail { background: #ffebee; } tr.warn { background: #fff3e0; }
code { font-size: .8rem; white-space: pre-wrap; word-break: break-word; }
figure { display: inline-block; margin: .5rem; } img { max-width: 560px; }
"""
COLOURS = {"fail": "#c62828", "warn": "#ef6c00", "pass": "#2e7d32", "skip": "#757575"}


def ordered(verdicts: list[Verdict]) -> list[Verdict]:
    """Failures on top, then warnings, passes, skips; stable within a status."""
    return sorted(verdicts, key=lambda v: STATUSES.index(v.status))


def _short(value, width: int = 48) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def terminal_table(verdicts: list[Verdict]) -> str:
    rows = [("status", "id", "stage", "title", "measured", "expected")]
    rows += [(v.status.upper(), v.id, v.stage, v.title, _short(v.measured), _short(v.expected))
             for v in ordered(verdicts)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    advice = [f"  {v.id}: {v.advice}" for v in ordered(verdicts) if v.status in ("fail", "warn") and v.advice]
    counts = ", ".join(f"{sum(v.status == s for v in verdicts)} {s}" for s in STATUSES)
    return "\n".join(lines + ([""] + ["advice:"] + advice if advice else []) + ["", counts])


def loss_curves(run_dir: Path) -> str | None:
    """Train and full-val loss per epoch, from the CSV log that `train` writes."""
    history = run_dir / "history.csv"
    if not history.exists():
        return None
    with history.open() as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        return None
    fig, ax = new_figure()
    epochs = [int(r["epoch"]) + 1 for r in rows]
    for key in ("loss", "val_loss"):
        if key in rows[0]:
            ax.plot(epochs, [float(r[key]) for r in rows], marker="o", label=key)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title("Loss: train (running mean over the epoch) and val (whole split)")
    ax.legend()
    return save_figure(fig, run_dir, "loss_curves")


def _embed(run_dir: Path, relative: str) -> str:
    data = base64.b64encode((run_dir / relative).read_bytes()).decode()
    name = html.escape(relative)
    return f'<figure><img alt="{name}" src="data:image/png;base64,{data}"><figcaption>{name}</figcaption></figure>'


def html_page(verdicts: list[Verdict], run_dir: Path, extra_plots: list[str]) -> str:
    rows = []
    for v in ordered(verdicts):
        plots = "".join(_embed(run_dir, p) for p in v.plots if (run_dir / p).exists())
        rows.append(
            f'<tr class="{v.status}"><td><b style="color:{COLOURS[v.status]}">{v.status.upper()}</b></td>'
            f"<td>{html.escape(v.id)}</td><td>{html.escape(v.stage)}</td><td>{html.escape(v.title)}</td>"
            f"<td><code>{html.escape(_short(v.measured, 300))}</code></td>"
            f"<td><code>{html.escape(_short(v.expected, 300))}</code></td>"
            f"<td>{html.escape(v.advice)}{plots}</td></tr>"
        )
    counts = " · ".join(
        f'<span style="color:{COLOURS[s]}">{sum(v.status == s for v in verdicts)} {s}</span>' for s in STATUSES
    )
    figures = "".join(_embed(run_dir, p) for p in extra_plots)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Recipe report: {html.escape(run_dir.name)}</title>
<style>{STYLE}</style></head><body>
<h1>Recipe report: {html.escape(run_dir.name)}</h1>
<p>{counts}</p>
<table><thead><tr><th>status</th><th>id</th><th>stage</th><th>check</th><th>measured</th><th>expected</th>
<th>advice and plots</th></tr></thead><tbody>
{"".join(rows)}
</tbody></table>
<h2>Plots</h2>
{figures}
</body></html>
"""


def write_report(run_dir: Path) -> tuple[Path, str, list[Verdict]]:
    verdicts = [v for v in read_verdicts(run_dir) if v.stage != "report"]
    curves = loss_curves(run_dir)
    page = run_dir / "report.html"
    page.write_text(html_page(verdicts, run_dir, [curves] if curves else []))
    return page, terminal_table(verdicts), verdicts
