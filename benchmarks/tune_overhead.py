"""What does one tuning trial cost over one plain `train` of the same configuration?

    python benchmarks/tune_overhead.py [--project PATH] [--epochs N]
"""

import shutil
import tempfile
from pathlib import Path

from common import Stopwatch, machine, package, project_from_args, stage_config

args, project = project_from_args(__doc__)
config_mod = package(project, "config")
base = config_mod.load_config("configs/default.yaml")
prepared = package(project, "data").prepare(base)
base = stage_config(project, base, prepared)  # every auto decided
train_mod = package(project, "train")
tune_mod = package(project, "tune")

# One trial whose search space holds exactly the base configuration.
config = config_mod.with_values(base, {
    "train.epochs": args.epochs, "train.export": False, "train.min_steps": 0,
    "tune.epochs": args.epochs, "tune.max_trials": 1,
    "tune.learning_rate": [base.train.learning_rate] * 2, "tune.hidden_units": [base.model.hidden_units],
    "tune.depth": [base.model.depth] * 2, "tune.dropout": [base.model.dropout] * 2,
    "tune.weight_decay": [base.train.weight_decay], "tune.batch_size": [base.data.batch_size],
    "tune.early_stopping_patience": args.epochs + 1,  # both run every epoch: no early stop in the trial
})
timings = {}
for name, run in (("train", train_mod.train), ("tune trial", tune_mod.tune)):
    run_dir = Path(tempfile.mkdtemp())
    with Stopwatch() as watch:
        run(config, prepared, run_dir)
    timings[name] = watch.seconds
    shutil.rmtree(run_dir)
print(f"machine: {machine()}; data {config.data.source}, {args.epochs} epochs")
print(f"train {timings['train']:.1f} s, one tuning trial {timings['tune trial']:.1f} s")
print(f"trial / train: {timings['tune trial'] / timings['train']:.2f} (goal < 1.10)")
