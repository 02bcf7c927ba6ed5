"""The report for TensorBoard, where Keras users look first: `<run>/tensorboard/report`.

Beside Keras' own logs (`train`, `validation`) and the recipe callbacks' scalars (`recipe`),
this run holds the verdicts as a text table (Text tab), the count of each status as scalars,
and every plot of the report as an image (Images tab), tagged `<stage>/<plot>`.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..rundir import RunFiles
from ..verdicts import STATUSES, Verdict

LOG_DIR = Path(RunFiles.TENSORBOARD) / "report"
CELL = 120  # characters of measured/expected kept in a table cell; verdicts.json has the rest


def _cell(value) -> str:
    """One Markdown table cell: no line breaks, pipes escaped, long records cut."""
    text = value if isinstance(value, str) else json.dumps(value)
    text = text if len(text) <= CELL else text[: CELL - 1] + "…"
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def markdown_table(verdicts: list[Verdict]) -> str:
    """The verdicts as a Markdown table, the form TensorBoard's Text tab renders as a table."""
    lines = ["| status | id | stage | check | measured | expected | advice |", "|---|---|---|---|---|---|---|"]
    lines += [f"| **{v.status.upper()}** | {_cell(v.id)} | {_cell(v.stage)} | {_cell(v.title)} | {_cell(v.measured)} "
              f"| {_cell(v.expected)} | {_cell(v.advice)} |" for v in verdicts]
    return "\n".join(lines)


def image_tag(path: str, stage: str) -> str:
    """`plots/T10_lr_range.png` of `check` -> `check/T10_lr_range`: TensorBoard groups by the prefix."""
    return f"{stage}/{Path(path).stem}"


def export_to_tensorboard(run_dir: Path, verdicts: list[Verdict], images: list[tuple[str, str, str]]) -> Path:
    """Write the verdicts (text, status counts) and `images` ((path in the run folder, stage,
    caption), PNG files) as one step of a fresh event file; returns the log folder.

    The folder belongs to the report alone: earlier event files are removed, so that a report
    written again replaces the old one instead of showing both."""
    import tensorflow as tf  # TensorBoard's writer; only this stage of the report needs it

    log_dir = run_dir / LOG_DIR
    log_dir.mkdir(parents=True, exist_ok=True)
    for old in log_dir.glob("events.out.tfevents.*"):
        old.unlink()
    writer = tf.summary.create_file_writer(str(log_dir))
    with writer.as_default(step=0):
        tf.summary.text("verdicts", markdown_table(verdicts),
                        description="Every verdict of the run, failures first (verdicts.json holds them in full)")
        for status in STATUSES:
            tf.summary.scalar(f"verdicts/{status}", sum(v.status == status for v in verdicts),
                              description=f"number of {status} verdicts")
        for path, stage, caption in images:
            pixels = tf.io.decode_png((run_dir / path).read_bytes(), channels=3)
            tf.summary.image(image_tag(path, stage), pixels[tf.newaxis], description=caption)
    writer.close()  # flushes
    return log_dir
