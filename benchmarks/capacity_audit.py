"""When does T3's capacity comparison mean something? T3 alone (`check`'s short run of the model
and of its 2x wider copy) on tables, over seeds: how far each model's loss on the fixed training
examples fell in the short run, and the wider model's gap after it, in its standard errors.

    python benchmarks/capacity_audit.py --project PATH [--tables dev|media] [--only NAME,...] [--seeds 3]

A capacity comparison made while both models have barely left their start compares how fast
each starts, not what each can fit: the doubt behind the warns on text tables (BENCHMARKS.md,
"Check notes: T3"). Dev tables and the dev text tables only: the figures choose a rule.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import keras
from common import machine, project_from_args


def more(parser):
    parser.add_argument("--tables", choices=("dev", "media"), default="dev")
    parser.add_argument("--only", default="", help="comma-separated table names (default: all)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path(__file__).resolve().parents[1] / "build" / "tables")


args, project = project_from_args(__doc__, epochs=False, more=more)
package = next(p.name for p in (project / "src").iterdir() if (p / "cli.py").exists())
checks = __import__(f"{package}.checks.loss_trend", fromlist=["x"])
config_module = __import__(f"{package}.config", fromlist=["x"])
data_module = __import__(f"{package}.data", fromlist=["x"])
models = __import__(f"{package}.models", fromlist=["x"])

if args.tables == "dev":
    from dev_tables import dev_tables

    tables = dev_tables(args.work)
else:
    from heldout_media import MEDIA

    tables = {n: (lambda make=make: make(args.work), label, task, why)
              for n, (make, label, task, why) in MEDIA.items() if label is not None}
names = [n.strip() for n in args.only.split(",") if n.strip()] or list(tables)
print(f"machine: {machine()}; project {project}; seeds 0-{args.seeds - 1}")
print("| table | seed | status | fall | fall / its se | wider's fall (from the model's start) | gap (wider - model) "
      "| gap / its se | advice |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for name in names:
    make, label, task, _ = tables[name]
    path = make()
    config = config_module.load_config(None, [f"task={task}", "data.source=csv", f"data.location={path}",
                                              f"data.label_column={label}", "data.drop_invalid=true"])
    prepared = data_module.prepare(config)
    for seed in range(args.seeds):
        keras.utils.set_random_seed(seed)
        model = models.build_model(config, prepared)
        larger = models.build_model(checks.larger_config(config), prepared)
        with tempfile.TemporaryDirectory() as run_dir:
            verdict = checks.check_loss_goes_down(model, larger, prepared, config, Path(run_dir))
        m = verdict.measured
        advice = "" if verdict.status == "pass" else verdict.advice.replace("|", "/")[:160]
        before, after, change = m["train_sample_before"], m["train_sample_after"], m["fixed_examples_change"]
        wider = "(not compared) | |"
        if isinstance(m["capacity"], dict):
            gap = m["capacity"]["larger_minus_model"]
            wider = (f"{1 - m['capacity']['train_sample_after'][1] / before:.1%} | {gap['mean']:.4g} | "
                     f"{gap['mean'] / max(gap['standard_error'], 1e-12):.1f}")
        print(f"| {name} | {seed} | {verdict.status} | {1 - after / before:.1%} | "
              f"{-change['mean'] / max(change['standard_error'], 1e-12):.1f} | {wider} | {advice} |", flush=True)
