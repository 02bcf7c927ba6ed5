"""The config a stage runs with: every `auto` setting decided once, and why.

A stage calls `resolve` at its entry, on the data it runs on (train, evaluate, tune, and the
checks' context for inspect and check); the frozen Config it returns holds values where the
given one said `auto`, so every later step reads what the run uses and none decides again.
Each decision is made by the rule kept beside the code it concerns (the batch in
data/batching.py, the table model's in table_model.py, the folds in cross_validation.py, the
precision in precision.py): this module calls those rules in one place, it does not restate
them. A builder handed a config that was never resolved (a notebook, a test) applies the same
rules itself. A setting that these data never read stays as given: a CSV's delimiter on
images, the channels of a table.

Three things are not settings decided here. `train.jit_compile: auto` is Keras' own choice,
made when the model compiles; how far the table model's width halves to fit its training rows
is a rule of the builder, applied to every model it builds (each fold's on its own rows); and
whether a linear path sits beside it follows from the L1 decided here. autos.py reads those
from the built and compiled model for the run's train_config.yaml.
"""

from __future__ import annotations

from dataclasses import dataclass

from .config import Config, with_values
from .cross_validation import folds_for
from .data import Prepared
from .data.batching import settle_batch
from .data.pipeline import resolve_cache
from .data.streams import ImageFolderSource
from .data.tables import CsvSource
from .errors import UserError
from .models import log_target, model_spec, resolve_builder
from .precision import detect_hardware, resolve_precision
from .table_model import l1_loss_scale, numeric_embedding, tabular_dropout, tabular_l1

# Decided again wherever the run goes on: by the machine (a run resumed on another one, a spot
# instance or a bucket's run folder, decides them there), or by the files as they are opened
# (before any stage resolves: a decided value in the file would also change an image folder's
# fingerprint, and the next `evaluate` would scan the folder again). The run's train_config.yaml
# keeps them as given, with a note of what they became; every other decision stays as the run made it.
DECIDED_AGAIN = ("data.delimiter", "data.encoding", "data.channels", "train.precision", "train.distribute")


@dataclass(frozen=True)
class Resolved:
    """A stage's config with its autos decided.

    Attributes:
        config: The config the stage runs with: every `auto` a value but `train.jit_compile`'s.
        notes: setting -> "auto -> value (why)"; none for a setting given as a value (and
            one for `train.learning_rate` when the batch scaled it).
        given: The config as the stage was given it.
    """

    config: Config
    notes: dict[str, str]
    given: Config

    @property
    def written(self) -> Config:
        """The config a run folder records and a resume compares: the decided one, with the
        settings decided again wherever the run goes on (DECIDED_AGAIN) as they were given."""
        return with_values(self.config, {setting: _value(self.given, setting) for setting in DECIDED_AGAIN})


def resolve(config: Config, prepared: Prepared, strategy=None) -> Resolved:
    """Every `auto` of `config` decided on `prepared`'s data and this machine.

    Args:
        config: The config as given (a file, --set, or `with_values` in code); it is not changed.
        prepared: The data the stage runs on.
        strategy: The run's tf.distribute strategy (`train` makes it before the data are
            read); None for the stages that run on one device.

    Returns:
        The decided config, with a note for each decision.

    Raises:
        UserError: train.folds above 1 under a multi-worker strategy (the folds run on one
            machine).
    """
    given, notes = config, {}
    decided = _source_settings(config, prepared, notes)
    config, batch_notes = settle_batch(with_values(config, decided), prepared.kind, prepared.size("train"))
    notes.update(batch_notes)
    data, model, train, decided = config.data, config.model, config.train, {}

    if data.cache == "auto":
        train_positions = prepared.manifest.positions[prepared.indices["train"]]
        cached = resolve_cache("auto", prepared, train_positions, data.cache_memory_mb * 2**20)
        why = ("the source is in memory already" if prepared.source.in_memory
               else f"{'fits' if cached == 'memory' else 'does not fit'} in data.cache_memory_mb "
                    f"({data.cache_memory_mb} MiB)")
        decided["data.cache"] = _note(notes, "data.cache", cached, why)

    builder = resolve_builder(config, prepared.kind)
    if model.builder == "auto":
        decided["model.builder"] = _note(notes, "model.builder", builder,
                                         "images" if prepared.kind == "image" else "a table")
    if model.log_target == "auto":
        decided["model.log_target"] = _note(notes, "model.log_target", *_log_target(config, prepared))
    # The table model's settings are decided on every run and noted where the table model reads them.
    table_notes = notes if builder == "tabular" else {}
    classes_or_regression = "regression" if config.task == "regression" else "classes"
    if model.tabular_dropout == "auto":
        decided["model.tabular_dropout"] = _note(table_notes, "model.tabular_dropout",
                                                 tabular_dropout("auto", config.task), classes_or_regression)
    if model.numeric_embedding == "auto":
        binned = bool(prepared.stats.bin_edges)
        embedding = numeric_embedding("auto", config.task, binned)
        decided["model.numeric_embedding"] = _note(
            table_notes, "model.numeric_embedding", embedding,
            f"{embedding} for {classes_or_regression}" if binned else "no bins in these statistics")
    if model.tabular_l1 == "auto":
        decided["model.tabular_l1"] = _note(table_notes, "model.tabular_l1", *_l1(config, prepared))

    if train.folds == "auto":
        decided["train.folds"] = _note(notes, "train.folds", *_folds(config, prepared, strategy))
    elif train.folds > 1 and _multi_worker(strategy):
        raise UserError("train.folds runs on one machine (or one machine's GPUs); set train.folds=1 to train on "
                        "several")
    if train.precision == "auto":
        decided["train.precision"] = _note(notes, "train.precision", resolve_precision("auto", detect_hardware()),
                                           "the machine's accelerators: precision.py")
    if train.distribute == "auto":
        decided["train.distribute"] = _note(notes, "train.distribute", *_distribute(strategy))
    return Resolved(with_values(config, decided), notes, given)


def _value(config: Config, setting: str):
    section, name = setting.split(".")
    return getattr(getattr(config, section), name)


def _note(notes: dict[str, str], setting: str, value, why: str):
    """Records `setting: auto -> value (why)` in `notes` and returns the value."""
    shown = f"{value:.3g}" if isinstance(value, float) else value
    notes[setting] = f"auto -> {shown} ({why})"
    return value


def _source_settings(config: Config, prepared: Prepared, notes: dict[str, str]) -> dict:
    """What the source decided when it opened the data: a CSV's delimiter and encoding (the
    first 64 KiB), the images' channels (an image folder's: every image)."""
    data, source, decided = config.data, prepared.source, {}
    if isinstance(source, CsvSource):
        if data.delimiter == "auto":
            decided["data.delimiter"] = source.delimiter
            notes["data.delimiter"] = f"auto -> {source.delimiter!r} (csv.Sniffer on the first 64 KiB)"
        if data.encoding == "auto":
            decoded = "decode" if source.encoding == "utf-8" else "do not decode"
            decided["data.encoding"] = _note(notes, "data.encoding", source.encoding,
                                             f"the first 64 KiB {decoded} as UTF-8")
    if prepared.kind == "image" and data.channels == "auto":
        channels = prepared.input_shape[-1]
        why = ("the images' own" if not isinstance(source, ImageFolderSource)
               else "every image is grayscale" if channels == 1 else "not every image is grayscale")
        decided["data.channels"] = _note(notes, "data.channels", channels, why)
    return decided


def _log_target(config: Config, prepared: Prepared) -> tuple[str, str]:
    if config.task != "regression":
        return "off", "not a regression"
    if not config.model.init_output_bias:
        return "off", "model.init_output_bias is off"
    on = log_target(config, prepared) is not None
    return ("on" if on else "off"), f"the training target is {'' if on else 'not '}positive and long-tailed, D13"


def _l1(config: Config, prepared: Prepared) -> tuple[float, str]:
    spec = model_spec(config, prepared)
    numeric = spec.input_shape[0] if spec.numeric_columns is None else spec.numeric_columns
    strength = tabular_l1("auto", numeric, spec.train_examples, l1_loss_scale(spec))
    scaled = "; times the target variance" if strength and config.task == "regression" else ""
    return strength, (f"{numeric:,} numeric columns {'outnumber' if strength else 'do not outnumber'} "
                      f"{spec.train_examples:,} training rows{scaled}")


def _folds(config: Config, prepared: Prepared, strategy) -> tuple[int, str]:
    if _multi_worker(strategy):
        return 1, "several machines train: the folds run on one"
    return folds_for(config, prepared)


def _distribute(strategy) -> tuple[str, str]:
    if strategy is None:
        return "none", "this stage runs on one device"
    replicas, name = strategy.num_replicas_in_sync, type(strategy).__name__
    chosen = "none" if name.startswith("_Default") else _STRATEGY_SETTING.get(name, name)
    return chosen, f"{replicas} replica{'s' if replicas != 1 else ''}: distribute.py's detection"


# tf.distribute's class names as train.distribute names them.
_STRATEGY_SETTING = {"MirroredStrategy": "mirrored", "MultiWorkerMirroredStrategy": "multi_worker",
                     "TPUStrategy": "tpu"}


def _multi_worker(strategy) -> bool:
    """Several machines (train.distribute's multi_worker), told by the strategy's class name:
    distribute.py sits above this module."""
    return strategy is not None and type(strategy).__name__ == "MultiWorkerMirroredStrategy"
