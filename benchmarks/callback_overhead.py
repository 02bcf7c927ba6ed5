"""What do the recipe callbacks (T6-T12, the `monitor:` section) cost during `fit`?

The project's own callbacks (`train.callbacks_for`) with every `monitor` check on, as
`train` runs them, against the same list with every check off (Keras' own callbacks and
TerminateOnNaN): same model, seed, batch, data and epochs (the default config's, 20: what
`train` runs). Each repeat runs the two back to back, in alternating order, and gives one
ratio; the median ratio over the repeats is printed, which cancels the slow drifts of a
shared machine. The main figure is the time of epochs 2..N (the first epoch traces and
compiles): the checks' periodic cost. Also printed: CPU time (steadier when other processes
share the machine), the whole fit, which adds the one-off costs (the checks' first
measurements and tracing, the end-of-training measurements), and the verdicts' plots drawn
after fit.

    python benchmarks/callback_overhead.py [--project PATH] [--epochs N] [--repeats R]
"""

import shutil
import statistics
import tempfile
import time
from pathlib import Path

import keras
from common import Stopwatch, machine, package, project_from_args, stage_config

GOAL = 1.05

args, project = project_from_args(__doc__, repeats=5, epochs=None)  # epochs None: the project's train.epochs

config_mod = package(project, "config")
train_mod = package(project, "train")
models = package(project, "models")
callbacks_mod = package(project, "callbacks")
config = config_mod.load_config("configs/default.yaml")
config = config_mod.with_values(config, {"train.epochs": args.epochs or config.train.epochs, "train.export": False,
                                          "train.min_steps": 0})
switches = [name for name, value in config.monitor.model_dump().items() if value is True]
without = config_mod.with_values(config, {f"monitor.{name}": False for name in switches})
prepared = package(project, "data").prepare(config)
config = stage_config(project, config, prepared)  # every auto decided
without = stage_config(project, without, prepared)


HOOKS = ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_train_batch_begin",
         "on_train_batch_end")


def time_hooks(callback, spent: dict) -> None:
    """Add the time spent in each of the callback's hooks to `spent`, by epoch (-1: before the
    first, after the last). A shared machine slows a hook and the epoch around it alike, so the
    share of the epochs spent in the checks' hooks is the steadiest figure of the three."""
    for hook in HOOKS:
        function = getattr(callback, hook)

        def timed(*args, _function=function, **kwargs):
            start = time.perf_counter()
            result = _function(*args, **kwargs)
            spent[spent["epoch"]] = spent.get(spent["epoch"], 0.0) + time.perf_counter() - start
            return result

        setattr(callback, hook, timed)


class EpochTimer(keras.callbacks.Callback):
    """Wall time and CPU time (all threads) of each epoch: on a shared machine the CPU time is
    the steadier of the two, as other processes stretch the wall clock, not this one's CPU."""

    def __init__(self):
        super().__init__()
        self.seconds, self.cpu = [], []

        self.hooks = {"epoch": -1}

    def on_epoch_begin(self, epoch, logs=None):
        self.hooks["epoch"] = epoch
        self._start, self._cpu = time.perf_counter(), time.process_time()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)
        self.cpu.append(time.process_time() - self._cpu)

    def on_train_end(self, logs=None):
        self.hooks["epoch"] = -1


def one_run(run_config) -> dict[str, float]:
    package(project, "runtime").seed_everything(run_config.seed)
    keras.mixed_precision.set_global_policy(train_mod.resolve_precision(run_config.train.precision,
                                                                      train_mod.detect_hardware()))
    model = models.compile_model(models.build_model(run_config, prepared), run_config,
                                 jit_compile=train_mod.jit_setting(run_config))
    pipeline = package(project, "data.pipeline")
    train_ds, val_ds = pipeline.train_datasets(run_config, prepared)
    run_dir = Path(tempfile.mkdtemp())
    timer = EpochTimer()
    callbacks = train_mod.callbacks_for(run_config, run_dir, prepared)
    for callback in callbacks:
        if isinstance(callback, callbacks_mod.Monitor):
            time_hooks(callback, timer.hooks)
    callbacks = [timer] + callbacks  # first: its epoch starts before, and ends after, the checks' hooks
    with Stopwatch() as fit:
        model.fit(**pipeline.fit_inputs(train_ds, val_ds, prepared, run_config.data.batch_size),
                  epochs=run_config.train.epochs, callbacks=callbacks, shuffle=False, verbose=0)
    with Stopwatch() as judged:
        verdicts = callbacks_mod.recipe_verdicts(callbacks)
    shutil.rmtree(run_dir)
    in_hooks = sum(seconds for epoch, seconds in timer.hooks.items() if epoch not in ("epoch", -1, 0))
    return {"epochs": sum(timer.seconds[1:]), "cpu": sum(timer.cpu[1:]), "fit": fit.seconds, "hooks": in_hooks,
            "verdicts": judged.seconds, "checks": len(verdicts)}


runs = {"with": [], "without": []}
for repeat in range(args.repeats):
    order = ("without", "with") if repeat % 2 == 0 else ("with", "without")
    for name in order:
        runs[name].append(one_run(config if name == "with" else without))


def ratio(key: str) -> float:
    """The median over the repeats of with / without, each pair measured back to back."""
    return statistics.median(w[key] / wo[key] for w, wo in zip(runs["with"], runs["without"], strict=True))


def median(name: str, key: str) -> float:
    return statistics.median(r[key] for r in runs[name])


epochs = config.train.epochs
steps = -(-prepared.size("train") // config.data.batch_size)
print(f"machine: {machine()}; data {config.data.source}, {steps} steps an epoch, {epochs} epochs, "
      f"{args.repeats} repeats, {runs['with'][0]['checks']} recipe checks on")
print(f"epochs 2..{epochs}: without {median('without', 'epochs'):.2f} s, with {median('with', 'epochs'):.2f} s")
print(f"with / without, epochs 2..{epochs}, wall time: {ratio('epochs'):.3f} (goal <= {GOAL})")
print(f"with / without, epochs 2..{epochs}, CPU time : {ratio('cpu'):.3f}")
share = statistics.median(r["hooks"] / (r["epochs"] - r["hooks"]) for r in runs["with"])
print(f"time in the checks' hooks / the rest of epochs 2..{epochs}: {share:.3f} "
      "(T9's copies inside the compiled step not included)")
print(f"with / without, whole fit, wall time : {ratio('fit'):.3f} "
      "(adds one-off costs: first measurements and tracing, end-of-training measurements)")
print(f"verdicts and plots after fit: {median('with', 'verdicts'):.2f} s")
