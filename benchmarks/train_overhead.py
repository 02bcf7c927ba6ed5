"""What does the project's `train` cost over a bare `model.fit` of the same model, batch
and epochs on in-memory tensors? Median epoch time of each (first epoch excluded: it
traces and compiles), and the whole wall time.

    python benchmarks/train_overhead.py [--project PATH] [--epochs N]
"""

import shutil
import statistics
import tempfile
import time
from pathlib import Path

import keras
from common import Stopwatch, machine, package, project_from_args


class EpochTimer(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


args, project = project_from_args(__doc__)
config_mod = package(project, "config")
config = config_mod.with_values(config_mod.load_config("configs/default.yaml"),
                                {"train.epochs": args.epochs, "train.export": False})
prepared = package(project, "data").prepare(config)
train_mod = package(project, "train")
models = package(project, "models")
precision = package(project, "precision")

# The project's train, with a timer added to its own callbacks.
project_timer = EpochTimer()
own_callbacks = train_mod.callbacks_for
train_mod.callbacks_for = lambda *a, **k: own_callbacks(*a, **k) + [project_timer]
run_dir = Path(tempfile.mkdtemp())
with Stopwatch() as project_wall:
    train_mod.train(config, prepared, run_dir)
shutil.rmtree(run_dir)

# A bare fit: same model, batch and epochs, tensors in memory, no callbacks of ours.
keras.utils.set_random_seed(config.seed)
keras.mixed_precision.set_global_policy(precision.resolve_precision(config.train.precision,
                                                                     precision.detect_hardware()))
model = models.compile_model(models.build_model(config, prepared), config)
x, y = prepared.split("train")
x_val, y_val = prepared.split("val")
bare_timer = EpochTimer()
with Stopwatch() as bare_wall:
    model.fit(x, y, batch_size=config.data.batch_size, epochs=args.epochs, validation_data=(x_val, y_val),
              callbacks=[bare_timer], verbose=0)

project_epoch = statistics.median(project_timer.seconds[1:])
bare_epoch = statistics.median(bare_timer.seconds[1:])
print(f"machine: {machine()}; data {config.data.source}, model {model.name}, {args.epochs} epochs")
print(f"median epoch: train {project_epoch * 1000:.0f} ms, bare fit {bare_epoch * 1000:.0f} ms")
print(f"train / bare fit, epoch time: {project_epoch / bare_epoch:.2f} (goal <= 1.10)")
print(f"train / bare fit, wall time : {project_wall.seconds / bare_wall.seconds:.2f} (includes checkpoints, logs)")
