"""P1-P3 on real tables: their test split fed through `predict` must stay quiet, and the same rows
with the first numeric column in other units (x1000) must be flagged.

For each public table (tables.py's dev set and the held-out set; those above --max-rows are
left out, as training them costs minutes): a short `train` (P1 does not depend on the model's
quality: the profile is of the training rows), then `predict` on the test split's own CSV lines,
then on the same lines with one numeric column multiplied by 1000. Prints each table's P1 and P3
status and the columns P1 named.

    python benchmarks/predict_audit.py --project /abs/path/to/project [--max-rows 60000]
"""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
from common import project_from_args
from public_tables import PublicTables


def more(parser):
    parser.add_argument("--max-rows", type=int, default=60_000)
    parser.add_argument("--work", type=Path, default=Path(__file__).resolve().parents[1] / "build" / "predict_audit")
    parser.add_argument("--tables", default="", help="dev and held-out table names, comma-separated (default: all)")


args, project = project_from_args(__doc__, epochs=False, more=more)
args.work.mkdir(parents=True, exist_ok=True)
name = next(p.name for p in (project / "src").iterdir() if (p / "cli.py").exists())
NUMBER = re.compile(r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*")


def run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", name, *command], cwd=project, capture_output=True, text=True,
                          check=False)


def verdicts(run_dir: Path) -> dict:
    return {v["id"]: v for v in json.loads((run_dir / "verdicts.json").read_text()) if v["stage"] == "predict"}


def audit(table: str, path: Path, label: str, task: str) -> dict:
    run_dir = args.work / "runs" / "".join(c if c.isalnum() else "_" for c in table.lower())
    subprocess.run(["rm", "-rf", str(run_dir)], check=True)
    sets = [f"task={task}", "data.source=csv", f"data.location={path}", f"data.label_column={label}",
            "data.drop_invalid=true", "train.epochs=1", "train.min_steps=0"]
    done = run("train", "--run-dir", str(run_dir), *[p for s in sets for p in ("--set", s)])
    if done.returncode not in (0, 1):
        return {"error": done.stderr.strip().splitlines()[-1:]}
    with np.load(run_dir / "data" / "manifest.npz") as manifest:
        test = np.sort(manifest["positions"][manifest["splits"] == 2])
    with path.open(newline="", encoding="utf-8", errors="replace") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], rows[1:]
    chosen = [body[i] for i in test if i < len(body)]
    described = json.loads((run_dir / "export" / "predict.json").read_text())
    numeric = [c for c, p in described.get("profile", {}).items() if p["kind"] == "numeric"]
    found = {}
    for kind in ("test split", "x1000"):
        lines = [list(r) for r in chosen]
        if kind == "x1000":
            if not numeric:
                continue
            at = header.index(numeric[0])
            for row in lines:
                if NUMBER.fullmatch(row[at]):
                    row[at] = repr(float(row[at]) * 1000)
        new = args.work / f"{run_dir.name}_{kind.replace(' ', '_')}.csv"
        with new.open("w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows([header, *lines])
        done = run("predict", "--run", str(run_dir), "--out", str(args.work / "predictions.csv"), str(new))
        if done.returncode not in (0, 1):
            found[kind] = {"error": done.stderr.strip().splitlines()[-1:]}
            continue
        judged = verdicts(run_dir)
        found[kind] = {"P1": judged["P1"]["status"], "P2": judged["P2"]["status"], "P3": judged["P3"]["status"],
                       "far_share": (judged["P2"].get("measured") or {}).get("share"), "rows": len(lines),
                       "named": [f"{f['column']}: {f['what']}" for f in
                                 (judged["P1"].get("measured") or {}).get("columns_off", [])]}
        if kind == "x1000":
            found[kind]["planted"] = numeric[0]
    return found


public = PublicTables(args.work)
sys.argv = [sys.argv[0]]  # tables.py reads its own arguments
from heldout_tables import HELDOUT

tables = {n: (lambda make=make: make(args.work), label, task) for n, (make, label, task, _) in HELDOUT.items()}
wanted = [n.strip() for n in args.tables.split(",") if n.strip()] or list(tables)
results = {}
for table in wanted:
    make, label, task = tables[table]
    path = make()
    with path.open(newline="", encoding="utf-8", errors="replace") as handle:
        count = sum(1 for _ in handle) - 1
    if count > args.max_rows:
        print(f"{table}: {count:,} rows, left out (--max-rows)", flush=True)
        continue
    results[table] = audit(table, path, label, task)
    print(f"{table} ({count:,} rows): {json.dumps(results[table])}", flush=True)
    (args.work / "predict_audit.json").write_text(json.dumps(results, indent=1))
quiet = [t for t, r in results.items() if r.get("test split", {}).get("P1") == "pass"]
quiet_p2 = [t for t, r in results.items() if r.get("test split", {}).get("P2") == "pass"]
caught = [t for t, r in results.items() if r.get("x1000", {}).get("P1") == "warn"]
print(f"\ntest split quiet (P1 pass): {len(quiet)} of {len(results)} (P2 pass: {len(quiet_p2)}); x1000 flagged: "
      f"{len(caught)} of "
      f"{sum('x1000' in r for r in results.values())}")
