"""The CSV reader: rows per second and peak memory of the project's streaming reader against the
reader it replaced (csv.DictReader, a float() per cell, every text value one-hot), on the same
file (numeric columns, a 4-value and a 4,000-value text column, a timestamp, missing cells).

    python benchmarks/csv_reader.py [--project PATH] [--rows 300000] [--work DIR]

Each reader runs in its own process, measured by /usr/bin/time -v. `old` is the turn-1 loader,
kept here as a copy (it is no longer in the project); it is run with a 60 s limit and a
smaller file too, since on the full file it does not finish in memory.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from common import machine, project_from_args, table_csv

OLD = r'''
import csv, sys, numpy as np
MISSING = {"", "na", "n/a", "nan", "null", "none"}
def number(text):
    return np.nan if text.strip().lower() in MISSING else float(text)
with open(sys.argv[1], newline="") as handle:
    rows = list(csv.DictReader(handle))
features = []
for name in (c for c in rows[0] if c != "label"):
    values = [row[name] for row in rows]
    try:
        features.append(np.array([number(v) for v in values], "float32")[:, None])
    except ValueError:
        categories = sorted(set(values))
        features.append(np.array([[v == c for c in categories] for v in values], "float32"))
x = np.concatenate(features, axis=1)
print("ROWS", len(rows), "FEATURES", x.shape[1])
'''

NEW = r'''
import sys, time
from pathlib import Path
from {package}.config import load_config
from {package}.data.tables import CsvSource
config = load_config(None, ["task=binary", "data.source=csv", f"data.location={{sys.argv[1]}}", "model.builder=mlp"])
source = CsvSource(config)
start = time.perf_counter()
scan = source.scan()
scanned = time.perf_counter() - start
source.settle(scan.facts)
start = time.perf_counter()
rows = sum(len(y) for _, y in source.stream(scan.positions, scan.labels).batch(4096).as_numpy_iterator())
print("ROWS", rows, "FEATURES", source.input_shape[0], "SCAN", scanned, "STREAM", time.perf_counter() - start)
'''


def more(parser):
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--work", type=Path, default=Path(__file__).resolve().parents[1] / "build" / "data_scale")


args, project = project_from_args(__doc__, epochs=False, more=more)
package = next(p.name for p in (project / "src").iterdir() if (p / "cli.py").exists())
env = os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(project / "src")}


def run(code: str, path: Path, limit: float) -> tuple[str, float, float]:
    start = time.perf_counter()
    try:
        done = subprocess.run(["/usr/bin/time", "-v", sys.executable, "-c", code, str(path)], capture_output=True,
                              text=True, env=env, timeout=limit)
    except subprocess.TimeoutExpired:
        return "did not finish", limit, float("nan")
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    found = re.search(r"ROWS.*", done.stdout)
    return (found.group(0) if found else done.stderr[-300:]), time.perf_counter() - start, \
        int(peak.group(1)) / 1024 if peak else float("nan")


print(f"machine: {machine()}")
for rows in sorted({min(30_000, args.rows), args.rows}):
    path = table_csv(args.work, rows)
    new_out, new_s, new_mb = run(NEW.format(package=package), path, 900)
    old_out, old_s, old_mb = run(OLD, path, 60 if rows > 30_000 else 600)
    scan_s, stream_s = (float(v) for v in re.search(r"SCAN ([\d.]+) STREAM ([\d.]+)", new_out).groups())
    old = (f"did not finish in {old_s:.0f} s" if old_out == "did not finish" else
           f"process {old_s:6.1f} s ({rows / old_s:9,.0f} rows/s), peak {old_mb:6.0f} MiB, {old_out}")
    print(f"{rows:>9,} rows | new: scan {rows / scan_s:9,.0f} rows/s, stream {rows / stream_s:9,.0f} rows/s, "
          f"process {new_s:6.1f} s, peak {new_mb:6.0f} MiB | old: {old}", flush=True)
    print(f"{'':>15} new reader: {new_out.split(' SCAN')[0]}")
