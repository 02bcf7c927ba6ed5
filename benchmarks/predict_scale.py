"""`predict` on a large CSV: rows out = rows in, peak memory and time as the file grows.

Trains the default table model briefly on 5,000 rows of a synthetic table (a number, a category,
a missing cell now and then), then writes CSVs of the same columns at each --mb size and runs
`predict` on each in its own process under /usr/bin/time -v. Prints the file size, rows,
seconds, rows a second, peak resident memory, and whether predictions.csv holds one row per
input row.

    python benchmarks/predict_scale.py --project /abs/path/to/project --mb 100 1000
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
from common import project_from_args


def more(parser):
    parser.add_argument("--mb", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--work", type=Path, default=Path(__file__).resolve().parents[1] / "build" / "predict_scale")


args, project = project_from_args(__doc__, epochs=False, more=more)
args.work.mkdir(parents=True, exist_ok=True)
name = next(p.name for p in (project / "src").iterdir() if (p / "cli.py").exists())


def write_table(path: Path, rows: int, seed: int) -> None:
    """rows of key,size,colour,label in blocks of 1e6 (the writer's memory stays small)."""
    rng = np.random.default_rng(seed)
    colours = np.array(["red", "green", "blue"])
    with path.open("w") as handle:
        handle.write("key,size,colour,label\n")
        for start in range(0, rows, 1_000_000):
            n = min(1_000_000, rows - start)
            size = rng.lognormal(3, 0.5, n)
            colour = colours[rng.integers(0, 3, n)]
            label = np.where(size + 10 * (colour == "red") + rng.normal(0, 5, n) > 25, "yes", "no")
            cells = np.char.mod("%.3f", size)
            cells[rng.random(n) < 0.03] = ""
            keys = np.char.add("id", np.arange(start, start + n).astype(str))
            lines = np.char.add(np.char.add(np.char.add(np.char.add(np.char.add(np.char.add(keys, ","), cells), ","),
                                                        colour), ","), label)
            handle.write("\n".join(lines.tolist()) + "\n")


train_csv = args.work / "train.csv"
write_table(train_csv, 5_000, 0)
run_dir = args.work / "run"
subprocess.run(["rm", "-rf", str(run_dir)], check=True)
sets = ["task=binary", "data.source=csv", f"data.location={train_csv}", "train.epochs=2", "train.min_steps=0"]
subprocess.run([sys.executable, "-m", name, "train", "--run-dir", str(run_dir), *[p for s in sets for p in ("--set", s)]],
               cwd=project, check=False, capture_output=True)
row_bytes = train_csv.stat().st_size / 5_001
print("file MiB | rows | seconds | rows/s | peak RSS MiB | rows out = rows in")
for mb in args.mb:
    rows = int(mb * 2**20 / row_bytes)
    big = args.work / f"new_{mb}mb.csv"
    if not big.exists():
        write_table(big, rows, mb)
    out = args.work / f"predictions_{mb}mb.csv"
    done = subprocess.run(["/usr/bin/time", "-v", sys.executable, "-m", name, "predict", "--run", str(run_dir),
                           "--out", str(out), str(big)], cwd=project, capture_output=True, text=True,
                          check=False)
    peak = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr).group(1)) / 1024
    seconds = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", done.stderr).group(1)
    parts = [float(p) for p in seconds.split(":")]
    seconds = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
    with out.open() as handle:
        written = sum(1 for _ in handle) - 1
    print(f"{big.stat().st_size / 2**20:.0f} | {rows:,} | {seconds:.0f} | {rows / seconds:,.0f} | {peak:.0f} | "
          f"{written == rows} (exit {done.returncode})", flush=True)
