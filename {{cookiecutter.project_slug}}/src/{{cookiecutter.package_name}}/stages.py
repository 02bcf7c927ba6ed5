"""The stages of a run, in the order a run goes through them: written once, read by the
command line (its help) and by the report (its sections, and the stages a folder lacks).
The checks each stage gives verdicts on are recipe.py's."""

from __future__ import annotations

from typing import NamedTuple


class Stage(NamedTuple):
    name: str
    section: str  # the report's heading for the stage's verdicts and plots; "" for `report` itself
    help: str  # one line for `--help`: what the stage is for


ALL = (
    Stage("inspect", "1. Become one with the data: inspect",
          "look at the data before any model: split, statistics, duplicates, invalid examples, the batches "
          "the model gets, columns, leakage, label issues"),
    Stage("check", "2. Skeleton and baselines: check",
          "the model, the baselines and short runs of training, before real training (T10 with --lr-find)"),
    Stage("train", "3. Overfit, then regularise: train",
          "train the model with checkpoints, resume, TensorBoard and CSV logs, export for serving; callbacks "
          "watch the run"),
    Stage("evaluate", "4. Evaluate: evaluate",
          "score the trained model on the whole val split and on the test split, once, and look at its errors"),
    Stage("tune", "5. Tune: tune", "KerasTuner random search over the space in the config's `tune:` section"),
    Stage("report", "", "gather every verdict of a run into a terminal table, report.html (plots embedded) and "
          "TensorBoard"),
    Stage("predict", "", "predict new data (a CSV, an image folder or file, an .npz) with the run's exported "
          "model and its training preprocessing, into predictions.csv, checking the new rows against the "
          "training rows (P1-P3; --strict fails on P1)"),
)
HELP = {stage.name: stage.help for stage in ALL}
SECTIONS = {stage.name: stage.section for stage in ALL if stage.section}  # the stages that write verdicts
