"""Did a change to the model help? Two generated projects, before and after it, each through
`train` and `evaluate` with every default on the same tables and the same seeded splits; per
split, the test score after over the score before (log loss for classes, RMSE for regression;
below 1: the change helped), and per table the geometric mean of those ratios with a 95% t
interval (on the log ratios). Pairing by split removes most of the split-to-split noise that
swamps two separate means on small test splits.

    python benchmarks/paired_projects.py --before PATH --after PATH --only "seattlepets species,..."
                                         [--tables heldout|dev|media] [--seeds 3] [--work DIR]

`--before` is usually the template at the last commit (`git archive HEAD | tar -x -C DIR` and
cookiecutter it), `--after` the working tree's. No references are fitted: tables.py puts the
model beside them.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
from pathlib import Path

import numpy as np

from common import machine, run_stage

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--before", type=Path, required=True)
parser.add_argument("--after", type=Path, required=True)
parser.add_argument("--tables", choices=("heldout", "dev", "media"), default="heldout",
                    help="media: heldout_media.py's tables with a text column (held out)")
parser.add_argument("--only", required=True, help="comma-separated table names")
parser.add_argument("--seeds", type=int, default=3)
parser.add_argument("--work", type=Path, default=Path(__file__).resolve().parents[1] / "build" / "tables")
args = parser.parse_args()


def test_score(run_dir: Path, task: str) -> float:
    loss = json.loads((run_dir / "evaluation.json").read_text())["scores"]["test"]["loss"]
    return math.sqrt(loss) if task == "regression" else loss


def geometric_interval(ratios: list[float]) -> tuple[float, float, float]:
    """The geometric mean of the ratios and its 95% t interval (on their logs)."""
    from scipy import stats

    logs = np.log(np.asarray(ratios, float))
    if len(logs) < 2:
        return float(np.exp(logs.mean())), float("nan"), float("nan")
    half = stats.t.ppf(0.975, len(logs) - 1) * logs.std(ddof=1) / math.sqrt(len(logs))
    return tuple(float(np.exp(v)) for v in (logs.mean(), logs.mean() - half, logs.mean() + half))


if args.tables == "dev":
    from dev_tables import dev_tables

    tables = dev_tables(args.work)
else:  # held out: the tables, or the text tables among the media (a label column; images have none)
    from heldout_media import MEDIA
    from heldout_tables import HELDOUT

    held_out = HELDOUT if args.tables == "heldout" else {n: m for n, m in MEDIA.items() if m[1] is not None}
    tables = {n: (lambda make=make: make(args.work), label, task, why)
              for n, (make, label, task, why) in held_out.items()}
print(f"machine: {machine()}; before {args.before}, after {args.after}; seeds 1-{args.seeds}")
print("| table | seed | before | after | after / before | train s before, after |")
print("| --- | --- | --- | --- | --- | --- |")
summary = []
for table in [n.strip() for n in args.only.split(",") if n.strip()]:
    make_path, label, task, _ = tables[table]
    path = make_path()
    slug = "".join(c if c.isalnum() else "_" for c in table.lower())
    ratios = []
    for seed in range(1, args.seeds + 1):
        sets = [f"task={task}", "data.source=csv", f"data.location={path}", f"data.label_column={label}",
                "data.drop_invalid=true", f"seed={seed}"]
        scores, seconds = [], []
        for arm, project in (("before", args.before), ("after", args.after)):
            run_dir = args.work / "paired" / f"{slug}_seed{seed}_{arm}"
            subprocess.run(["rm", "-rf", str(run_dir)], check=True)
            seconds.append(run_stage(project, "train", run_dir, sets))
            run_stage(project, "evaluate", run_dir, sets)
            scores.append(test_score(run_dir, task))
        ratios.append(scores[1] / scores[0])
        print(f"| {table} | {seed} | {scores[0]:.4g} | {scores[1]:.4g} | {ratios[-1]:.3f} | "
              f"{seconds[0]:.0f}, {seconds[1]:.0f} |", flush=True)
    summary.append((table, *geometric_interval(ratios)))
print("\n| table | after / before, geometric mean (95% interval) |\n| --- | --- |")
for table, mean, low, high in summary:
    print(f"| {table} | {mean:.3f} ({low:.3f} to {high:.3f}) |")
