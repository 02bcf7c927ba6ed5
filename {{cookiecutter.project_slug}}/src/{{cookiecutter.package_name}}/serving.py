"""The SavedModel `train` leaves in `<run>/export/`: what serving loads.

For a CSV source the export takes raw rows: a dict of string columns (keyed by column name, the
cells as the CSV spells them), run through the same TableEncoder the training pipeline used, so
that serving cannot drift from training. Other sources export the model as it is
(`model.export`): it takes the inputs `fit` saw, and normalises them itself.
"""

from __future__ import annotations

from pathlib import Path

import keras

from .rundir import writing_whole_folder


def export_for_serving(model: keras.Model, prepared, path: Path) -> None:
    """Written whole: a run killed during the export leaves the previous export, or none."""
    encoder = getattr(prepared.source, "encoder", None)
    with writing_whole_folder(path) as partial:
        if encoder is None:
            model.export(str(partial), verbose=False)
            return
        archive = keras.export.ExportArchive()
        archive.track(model)
        archive.track(encoder)
        archive.add_endpoint(name="serve", fn=lambda cells: model(encoder(cells), training=False),
                             input_signature=[prepared.source.raw_signature()])
        archive.write_out(str(partial), verbose=False)
