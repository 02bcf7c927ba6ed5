"""Does memory stay flat and time stay linear as the data grow? Peak RSS and wall time of
`inspect`, of one `train` epoch and of a later stage of the same run, on image folders and
CSV files of growing size; and the image pipeline's rate against the CNN's.

    python benchmarks/data_scale.py [--project PATH] [--images 5000,20000,80000]
                                    [--rows 30000,300000,3000000]
                                    [--widths 200x500,2000x500,2000x2000,2000x10000] [--work DIR]

Wide tables (rows x numeric columns, 10 of which carry the label) run inspect, check and one
train epoch: their cost should grow linearly with the columns.

Each stage runs as its own process (the project's command line), measured by
/usr/bin/time -v, as a user would run it. The generated data are kept under --work
(default build/data_scale/) and reused by the next run.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from common import machine, project_from_args, table_csv

CLASSES = 4
IMAGE_SIDE = 96


def more(parser):
    parser.add_argument("--images", default="5000,20000,80000", help="image folder sizes ('' for none)")
    parser.add_argument("--rows", default="30000,300000,3000000", help="CSV sizes ('' for none)")
    parser.add_argument("--widths", default="200x500,2000x500,2000x2000,2000x10000",
                        help="wide tables, ROWSxCOLUMNS ('' for none)")
    parser.add_argument("--work", type=Path, default=Path(__file__).resolve().parents[1] / "build" / "data_scale")


args, project = project_from_args(__doc__, epochs=False, more=more)
PACKAGE = next(p.name for p in (project / "src").iterdir() if (p / "cli.py").exists())
# The project from source, as the other benchmarks import it: `python -m <package> <stage>`.
ENV = os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(project / "src")}


def image_folder(count: int) -> Path:
    """`count` JPEGs of 96x96 in CLASSES class folders: a coloured square per class on noise."""
    import numpy as np
    from PIL import Image

    root = args.work / f"images_{count}"
    if (root / ".complete").exists():
        return root
    rng = np.random.default_rng(count)
    for i in range(count):
        label = i % CLASSES
        folder = root / f"class_{label}"
        folder.mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 120, (IMAGE_SIDE, IMAGE_SIDE, 3), dtype=np.uint8)
        corner = 8 + 20 * label
        pixels[corner:corner + 24, corner:corner + 24, label % 3] = 230
        Image.fromarray(pixels).save(folder / f"{i:06d}.jpg", quality=90)
    (root / ".complete").touch()
    return root


def csv_file(rows: int) -> Path:
    return table_csv(args.work, rows)


def wide_csv(rows: int, columns: int) -> Path:
    """`rows` x `columns` numbers; the label is the sign of the first 10 columns' sum plus noise."""
    import numpy as np

    path = args.work / f"wide_{rows}x{columns}.csv"
    if path.exists():
        return path
    args.work.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(columns)
    x = rng.normal(size=(rows, columns)).astype(np.float32)
    y = (x[:, :10].sum(axis=1) + rng.normal(size=rows) > 0).astype(int)
    header = ",".join([f"f{j}" for j in range(columns)] + ["label"])
    partial = path.with_suffix(".partial")
    np.savetxt(partial, np.c_[x, y], delimiter=",", header=header, comments="", fmt=["%.4f"] * columns + ["%d"])
    partial.rename(path)
    return path


def measured(stage: str, run_dir: Path, settings: list[str], extra: list[str] = ()) -> tuple[float, float, int]:
    """(wall seconds, peak RSS in MiB, exit status) of one stage."""
    sets = [part for s in settings for part in ("--set", s)]
    command = ["/usr/bin/time", "-v", sys.executable, "-m", PACKAGE, stage, "--run-dir", str(run_dir), *sets, *extra]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=ENV, cwd=project)
    seconds = time.perf_counter() - start
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    if done.returncode not in (0, 1):
        tail = [line for line in done.stderr.splitlines() if "error" in line.lower() or "Error" in line][-3:]
        print(f"    {stage} exit {done.returncode}: {' | '.join(tail)}", flush=True)
    return seconds, int(peak.group(1)) / 1024 if peak else float("nan"), done.returncode


def ready_seconds(run_dir: Path, settings: list[str]) -> tuple[float, float]:
    """A later stage's data ready: `prepare` on the run's manifest, in a fresh process (what
    every stage after the first pays before its own work), and that process's peak RSS."""
    package = PACKAGE
    code = (f"import time; from pathlib import Path; from {package}.config import load_config; "
            f"from {package}.data import prepare; import tensorflow; "
            f"c = load_config(Path('configs/default.yaml'), {settings!r}); t = time.perf_counter(); "
            f"p = prepare(c, Path({str(run_dir)!r})); print('READY', time.perf_counter() - t)")
    done = subprocess.run(["/usr/bin/time", "-v", sys.executable, "-c", code], capture_output=True, text=True,
                          env=ENV, cwd=project)
    ready = re.search(r"READY ([\d.]+)", done.stdout)
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    if not ready:
        print(done.stderr[-2000:])
    return float(ready.group(1)) if ready else float("nan"), int(peak.group(1)) / 1024 if peak else float("nan")


def pipeline_against_model(settings: list[str]) -> tuple[float, float]:
    """Examples per second of one uncached pass of the training pipeline (decode included),
    and of the default CNN training on it (after one warm-up batch)."""
    package = PACKAGE
    code = f"""
import time
from pathlib import Path
from {package}.config import load_config
from {package}.data import prepare
from {package}.resolve import resolve
from {package}.data.pipeline import train_datasets
from {package}.models import build_model, compile_model
c = load_config(Path('configs/default.yaml'), {settings + ['data.cache=off']!r})
p = prepare(c)
c = resolve(c, p).config
train, _ = train_datasets(c, p)
t = time.perf_counter(); n = sum(len(y) for _, y in train.take(300)); pipe = n / (time.perf_counter() - t)
model = compile_model(build_model(c, p), c)
model.fit(train.take(2), verbose=0)
t = time.perf_counter(); model.fit(train.take(100), verbose=0); fit = 100 * c.data.batch_size / (time.perf_counter() - t)
print('RATES', pipe, fit)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=project, env=ENV)
    rates = re.search(r"RATES ([\d.]+) ([\d.]+)", done.stdout)
    if not rates:
        print(done.stderr[-2000:])
        return float("nan"), float("nan")
    return float(rates.group(1)), float(rates.group(2))


def one_size(kind: str, count: int, location: Path, settings: list[str]) -> None:
    run_dir = args.work / "runs" / f"{kind}_{count}"
    subprocess.run(["rm", "-rf", str(run_dir)], check=True)
    inspect_s, inspect_mb, _ = measured("inspect", run_dir, settings)
    train_s, train_mb, _ = measured("train", run_dir, settings + ["train.epochs=1", "train.min_steps=0"])
    ready_s, ready_mb = ready_seconds(run_dir, settings)
    print(f"{kind:6} {count:>9,} | inspect {inspect_s:7.1f} s {inspect_mb:7.0f} MiB | train 1 epoch {train_s:7.1f} s "
          f"{train_mb:7.0f} MiB | later stage ready {ready_s:5.2f} s {ready_mb:6.0f} MiB", flush=True)


print(f"machine: {machine()}")
sizes = [int(s) for s in args.images.split(",") if s]
for count in sizes:
    folder = image_folder(count)
    settings = ["data.source=image_folder", f"data.location={folder}", "task=classification", "model.builder=auto"]
    one_size("images", count, folder, settings)
if sizes:
    folder = image_folder(sizes[0])
    pipe, fit = pipeline_against_model(["data.source=image_folder", f"data.location={folder}",
                                        "task=classification", "model.builder=auto"])
    print(f"image pipeline {pipe:,.0f} examples/s, default CNN training {fit:,.0f} examples/s: "
          f"{pipe / fit:.1f}x (goal >= 2)")
for rows in [int(s) for s in args.rows.split(",") if s]:
    path = csv_file(rows)
    settings = ["data.source=csv", f"data.location={path}", "data.label_column=label", "task=binary",
                "data.drop_invalid=true",  # 2% of column a is missing: D4 refuses it until imputation lands
                "model.builder=auto"]
    one_size("csv", rows, path, settings)
for shape in [s for s in args.widths.split(",") if s]:
    rows, columns = (int(n) for n in shape.split("x"))
    path = wide_csv(rows, columns)
    settings = ["data.source=csv", f"data.location={path}", "data.label_column=label", "task=binary",
                "model.builder=auto"]
    run_dir = args.work / "runs" / f"wide_{shape}"
    subprocess.run(["rm", "-rf", str(run_dir)], check=True)
    figures = [measured(stage, run_dir, settings + extra) for stage, extra in (
        ("inspect", []), ("check", []), ("train", ["train.epochs=1", "train.min_steps=0"]))]
    print(f"wide {rows:>6,} x {columns:>6,} | " + " | ".join(
        f"{stage} {seconds:6.1f} s {peak:6.0f} MiB" for stage, (seconds, peak, _) in
        zip(("inspect", "check", "train 1 epoch"), figures, strict=True)), flush=True)
