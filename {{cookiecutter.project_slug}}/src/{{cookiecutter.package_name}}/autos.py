"""What every `auto` setting of a run became, and why: the lines under the config in the run's
train_config.yaml.

`resolve` decides the settings and says why; this module adds what only the built and compiled
model can tell: the table model's width where it halved to fit its training rows, its numeric
embedding where the same rule dropped it, the linear path beside a wide table's MLP, and
whether Keras compiled with XLA (`train.jit_compile: auto` is Keras' own choice). Each of those
is read from the model, not worked out a second time beside it: a line cannot say one thing
while the run did another.
"""

from __future__ import annotations

import keras
import numpy as np

from .data import Prepared
from .resolve import Resolved
from .table_model import LINEAR_PATH_GAIN

HEADER = ("# What each auto setting became in this run, and why (the values are above; a setting still auto "
          "there is decided again by the machine or the files):")


def decided_autos(resolved: Resolved, prepared: Prepared, model: keras.Model | None = None) -> list[str]:
    """One line per `auto` setting of the given config: `setting: auto -> value (why)`.

    Args:
        resolved: The run's config as `resolve` decided it, with its notes.
        prepared: The data the model was built on.
        model: The built model, compiled when the line for `train.jit_compile` is wanted.

    Returns:
        The lines, in the config's order; none for a setting given as a value.
    """
    notes = dict(resolved.notes)
    config = resolved.config
    if config.model.builder == "tabular" and model is not None:
        _table_model_notes(notes, resolved, prepared, model)
    if resolved.given.train.jit_compile == "auto" and model is not None and model.compiled:
        notes["train.jit_compile"] = (f"auto -> {'on' if model.jit_compile is True else 'off'} (Keras' choice "
                                      "for this machine and model)")
    order = [f"{section}.{name}" for section, fields in config.model_dump().items() if isinstance(fields, dict)
             for name in fields]
    return [f"{setting}: {notes[setting]}" for setting in sorted(notes, key=order.index)]


def _table_model_notes(notes: dict[str, str], resolved: Resolved, prepared: Prepared, model: keras.Model) -> None:
    """The table model's size, embedding and linear path, as the built model holds them."""
    m, given = resolved.config.model, resolved.given.model
    first = model.get_layer("dense_0")
    if first.units != m.tabular_units:
        weights = model.count_params() / max(prepared.size("train"), 1)
        notes["model.tabular_units"] = (f"{m.tabular_units} -> {first.units} (halved until the model holds at most "
                                        f"check.max_params_per_example weights per training example; now "
                                        f"{weights:,.0f})")
    names = {layer.name for layer in model.layers}
    used = "periodic" if "periodic_embedding" in names else "piecewise" if "with_piecewise" in names else "off"
    if used != m.numeric_embedding:
        notes["model.numeric_embedding"] = (f"{given.numeric_embedding} -> {used} (dropped to fit "
                                            "check.max_params_per_example)")
    if "linear_path" in names and given.tabular_l1 == "auto":
        # its penalty per unit of gain x coefficient (table_model.linear_path)
        beside = float(np.asarray(model.get_layer("linear_path").kernel_regularizer.l1)) / LINEAR_PATH_GAIN
        notes["model.tabular_l1"] = notes["model.tabular_l1"].removesuffix(")") + (
            f"; beside the MLP a linear path, its L1 {beside:.3g})")
