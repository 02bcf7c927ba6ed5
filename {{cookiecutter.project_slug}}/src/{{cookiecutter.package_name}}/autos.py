"""What every `auto` setting of a run became, and why, read from what the run actually uses.

A setting left at `auto` is decided where it meets the data or the machine: the batch by
`prepare`, the builder and the table model's sizes when the model is built, the precision and
XLA when it is compiled, the strategy before the data are read. `train` writes the lines this
module gives under the config in the run's train_config.yaml, as comments, so that the file
still reruns as it is (auto decides the same way on the same data and machine) and a reader
sees what ran without reading the code. Each line is read from the built model, the compiled
model or the data's own record, not worked out a second time beside them: a line cannot say
one thing while the run did another.
"""

from __future__ import annotations

import keras
import numpy as np

from .config import Config
from .cross_validation import folds_for
from .data import Prepared
from .data.pipeline import resolve_cache
from .data.streams import ImageFolderSource
from .data.tables import CsvSource
from .models import log_target, model_spec, resolve_builder
from .table_model import LINEAR_PATH_GAIN

HEADER = "# What each auto setting above became in this run, and why (auto decides the same way again):"


def decided_autos(config: Config, prepared: Prepared, model: keras.Model | None = None, *,
                  precision: str | None = None, strategy=None) -> list[str]:
    """One line per `auto` setting of `config`: `setting: auto -> value (why)`.

    Args:
        config: The run's config, as the stage went on with it.
        prepared: The run's data; its `settled` holds what the batch auto became (and the rate).
        model: The built model, compiled when the line for `train.jit_compile` is wanted.
        precision: The dtype policy the run set, for `train.precision`.
        strategy: The run's tf.distribute strategy, for `train.distribute`.

    Returns:
        The lines, in the config's order; none for a setting given as a value.
    """
    data, lines = config.data, []
    source = prepared.source
    if isinstance(source, CsvSource):
        if data.delimiter == "auto":
            lines.append(f"data.delimiter: auto -> {source.delimiter!r} (csv.Sniffer on the first 64 KiB)")
        if data.encoding == "auto":
            lines.append(f"data.encoding: auto -> {source.encoding} (the first 64 KiB "
                         f"{'decode' if source.encoding == 'utf-8' else 'do not decode'} as UTF-8)")
    if isinstance(source, ImageFolderSource) and data.channels == "auto":
        lines.append(f"data.channels: auto -> {source.channels} "
                     f"({'every image is grayscale' if source.channels == 1 else 'not every image is grayscale'})")
    lines.extend(f"{setting}: {note}" for setting, note in prepared.settled.items())
    if data.cache == "auto":
        train_positions = prepared.manifest.positions[prepared.indices["train"]]
        cached = resolve_cache("auto", prepared, train_positions, data.cache_memory_mb * 2**20)
        why = ("the source is in memory already" if source.in_memory
               else f"{'fits' if cached == 'memory' else 'does not fit'} in data.cache_memory_mb "
                    f"({data.cache_memory_mb} MiB)")
        lines.append(f"data.cache: auto -> {cached} ({why})")
    lines.extend(_model_lines(config, prepared, model))
    train = config.train
    if train.folds == "auto":
        folds, why = folds_for(config, prepared)
        lines.append(f"train.folds: auto -> {folds} ({why})")
    if train.precision == "auto" and precision is not None:
        lines.append(f"train.precision: auto -> {precision} (the machine's accelerators: precision.py)")
    if train.jit_compile == "auto" and model is not None and model.compiled:
        lines.append(f"train.jit_compile: auto -> {'on' if model.jit_compile is True else 'off'} (Keras' choice "
                     "for this machine and model)")
    if train.distribute == "auto" and strategy is not None:
        replicas, name = strategy.num_replicas_in_sync, type(strategy).__name__
        chosen = "none" if name.startswith("_Default") else name
        lines.append(f"train.distribute: auto -> {chosen} ({replicas} replica{'s' if replicas != 1 else ''}: "
                     "distribute.py's detection)")
    return lines


def _model_lines(config: Config, prepared: Prepared, model: keras.Model | None) -> list[str]:
    """The builder, and the table model's sizes as the built model holds them."""
    m, lines = config.model, []
    builder = resolve_builder(config, prepared.kind)
    if m.builder == "auto":
        lines.append(f"model.builder: auto -> {builder} ({'images' if prepared.kind == 'image' else 'a table'})")
    if config.task == "regression" and m.log_target == "auto" and m.init_output_bias:
        on = log_target(config, prepared) is not None
        lines.append(f"model.log_target: auto -> {'on' if on else 'off'} (the training target is "
                     f"{'' if on else 'not '}positive and long-tailed, D13)")
    if builder != "tabular" or model is None:
        return lines
    first = model.get_layer("dense_0")
    if first.units != m.tabular_units:
        weights = model.count_params() / max(prepared.size("train"), 1)
        lines.append(f"model.tabular_units: {m.tabular_units} -> {first.units} (halved until the model holds at "
                     f"most check.max_params_per_example weights per training example; now {weights:,.0f})")
    names = {layer.name for layer in model.layers}
    used = "periodic" if "periodic_embedding" in names else "piecewise" if "with_piecewise" in names else "off"
    if m.numeric_embedding == "auto" or used != m.numeric_embedding:
        why = (f"{'piecewise for regression' if config.task == 'regression' else 'periodic for classes'}"
               if m.numeric_embedding == "auto" else "")
        if used == "off" and m.numeric_embedding != "off":
            why = "dropped to fit check.max_params_per_example"
        lines.append(f"model.numeric_embedding: {m.numeric_embedding} -> {used} ({why})")
    if m.tabular_dropout == "auto":
        rates = [layer.rate for layer in model.layers if isinstance(layer, keras.layers.Dropout)]
        lines.append(f"model.tabular_dropout: auto -> {rates[0] if rates else 0.0:g} "
                     f"({'regression' if config.task == 'regression' else 'classes'})")
    if m.tabular_l1 == "auto":
        regulariser = first.kernel_regularizer
        strength = float(np.asarray(regulariser.l1)) if regulariser is not None else 0.0
        numeric = model_spec(config, prepared).numeric_columns or prepared.input_shape[0]
        path = ""
        if "linear_path" in names:  # its penalty per unit of gain x coefficient (table_model.linear_path)
            beside = float(np.asarray(model.get_layer("linear_path").kernel_regularizer.l1)) / LINEAR_PATH_GAIN
            path = f"; beside the MLP a linear path, its L1 {beside:.3g}"
        lines.append(f"model.tabular_l1: auto -> {strength:.3g} ({numeric:,} numeric columns "
                     f"{'outnumber' if strength else 'do not outnumber'} {prepared.size('train'):,} training rows"
                     f"{'; times the target variance' if strength and config.task == 'regression' else ''}{path})")
    return lines

