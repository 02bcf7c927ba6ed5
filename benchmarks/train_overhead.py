"""What does the project's `train` cost over a bare `model.fit` of the same model, batch
and epochs on in-memory tensors? Median epoch time of each (first epoch excluded: it
traces and compiles), wall and CPU time, and the whole wall time. Each repeat runs the two
back to back, in alternating order, and gives one ratio; the median over the repeats is
printed, which cancels the slow drifts of a shared machine.

    python benchmarks/train_overhead.py [--project PATH] [--epochs N] [--repeats R]
"""

import itertools
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import keras
from common import Stopwatch, machine, package, project_from_args, stage_config


class EpochTimer(keras.callbacks.Callback):
    """Wall and CPU time from one epoch's start to the next one's: everything an epoch costs,
    the checkpoints, logs and backup after it included, wherever the timer sits in the list."""

    def __init__(self):
        super().__init__()
        self.starts, self.cpu_starts = [], []

    def on_epoch_begin(self, epoch, logs=None):
        self.starts.append(time.perf_counter())
        self.cpu_starts.append(time.process_time())

    def median(self, cpu: bool = False) -> float:
        """Of every epoch but the first (it traces and compiles) and the last (no next start)."""
        starts = self.cpu_starts if cpu else self.starts
        return statistics.median(b - a for a, b in itertools.pairwise(starts[1:]))


args, project = project_from_args(__doc__, repeats=3)
config_mod = package(project, "config")
config = config_mod.with_values(config_mod.load_config("configs/default.yaml"),
                                {"train.epochs": args.epochs, "train.export": False, "train.min_steps": 0})
prepared = package(project, "data").prepare(config)
config = stage_config(project, config, prepared)  # every auto decided
train_mod = package(project, "train")
models = package(project, "models")
precision = package(project, "precision")


def project_train() -> tuple[EpochTimer, float]:
    """The project's train, with a timer added to its own callbacks."""
    timer = EpochTimer()
    own_callbacks = train_mod.callbacks_for
    train_mod.callbacks_for = lambda *a, **k: own_callbacks(*a, **k) + [timer]
    run_dir = Path(tempfile.mkdtemp())
    try:
        with Stopwatch() as wall:
            train_mod.train(config, prepared, run_dir)
    finally:
        train_mod.callbacks_for = own_callbacks
        shutil.rmtree(run_dir)
    return timer, wall.seconds


def bare_fit() -> tuple[EpochTimer, float]:
    """Same model, batch and epochs, tensors in memory, no callbacks of ours."""
    keras.utils.set_random_seed(config.seed)
    keras.mixed_precision.set_global_policy(precision.resolve_precision(config.train.precision,
                                                                         precision.detect_hardware()))
    model = models.compile_model(models.build_model(config, prepared), config)
    x, y = prepared.sample("train", prepared.size("train"))  # the bundled data: in memory already
    x_val, y_val = prepared.sample("val", prepared.size("val"))
    timer = EpochTimer()
    with Stopwatch() as wall:
        model.fit(x, y, batch_size=config.data.batch_size, epochs=args.epochs, validation_data=(x_val, y_val),
                  callbacks=[timer], verbose=0)
    bare_fit.model_name = model.name
    return timer, wall.seconds


ratios = {"epoch": [], "cpu": [], "wall": []}
epochs = {"train": [], "bare": []}
for repeat in range(args.repeats):
    runs = {}
    for name in (("train", "bare") if repeat % 2 == 0 else ("bare", "train")):
        runs[name] = project_train() if name == "train" else bare_fit()
    (train_timer, train_wall), (bare_timer, bare_wall) = runs["train"], runs["bare"]
    epochs["train"].append(train_timer.median())
    epochs["bare"].append(bare_timer.median())
    ratios["epoch"].append(train_timer.median() / bare_timer.median())
    ratios["cpu"].append(train_timer.median(cpu=True) / bare_timer.median(cpu=True))
    ratios["wall"].append(train_wall / bare_wall)

print(f"machine: {machine()}; data {config.data.source}, model {bare_fit.model_name}, {args.epochs} epochs, "
      f"{args.repeats} repeats")
print(f"median epoch: train {statistics.median(epochs['train']) * 1000:.0f} ms, "
      f"bare fit {statistics.median(epochs['bare']) * 1000:.0f} ms")
print(f"train / bare fit, epoch time: {statistics.median(ratios['epoch']):.2f} (goal <= 1.10)")
print(f"train / bare fit, epoch CPU : {statistics.median(ratios['cpu']):.2f}")
print(f"train / bare fit, wall time : {statistics.median(ratios['wall']):.2f} "
      "(adds the one-off costs: snapshot, first and last measurements, verdicts and plots, final checkpoints)")
