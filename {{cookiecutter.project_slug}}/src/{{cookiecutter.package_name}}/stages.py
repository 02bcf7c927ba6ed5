"""The stages of a run, in the order a run goes through them: written once, read by the
command line (its help) and by the report (its sections, and the stages a folder lacks)."""

from __future__ import annotations

from typing import NamedTuple


class Stage(NamedTuple):
    name: str
    section: str  # the report's heading for the stage's verdicts and plots; "" for `report` itself
    help: str  # one line for `--help`: what the stage runs


ALL = (
    Stage("inspect", "1. Become one with the data: inspect",
          "D1-D12: split, train-only statistics, duplicates and conflicting labels, invalid examples, "
          "balance, outliers, the batch the model sees, shuffling, input-label pairing, columns, leakage through "
          "a feature, label issues"),
    Stage("check", "2. Skeleton and baselines: check",
          "M1-M4, B1-B4, T1-T5 before real training: loss at init, output bias and loss, model size and "
          "initialisers, baselines, overfit one batch, batch independence, loss goes down, inference mode, every "
          "weight learns, reproducibility; T10 learning-rate range test with --lr-find"),
    Stage("train", "3. Overfit, then regularise: train",
          "train the model with checkpoints, resume, TensorBoard and CSV logs, export for serving"),
    Stage("evaluate", "4. Evaluate: evaluate",
          "T13 score the trained model on the whole val split and on the test split, once; E1-E3 confusion, "
          "worst predictions, calibration on val; D12 label issues in val and test"),
    Stage("tune", "5. Tune: tune", "KerasTuner random search over the space in the config's `tune:` section"),
    Stage("report", "", "gather every verdict of a run into a terminal table, report.html (plots embedded) and "
          "TensorBoard"),
)
HELP = {stage.name: stage.help for stage in ALL}
SECTIONS = {stage.name: stage.section for stage in ALL if stage.section}  # the stages that write verdicts
