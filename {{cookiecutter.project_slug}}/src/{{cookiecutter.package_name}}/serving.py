"""The SavedModel `train` leaves in `<run>/export/`: what serving loads.

For a CSV source the export takes raw rows: a dict of string columns (keyed by column name, the
cells as the CSV spells them), run through the same TableEncoder the training pipeline used, so
that serving cannot drift from training. Other sources export the model as it is
(`model.export`): it takes the inputs `fit` saw, and normalises them itself.

Beside the SavedModel, `predict.json` says what `predict` needs to feed it and to read its
outputs without the training data: the task and class names, the inputs (raw CSV columns, the
numeric ones and the identifiers among them; or feature names; or the image shape and pixel
range), and where the training examples came from. An image model's export adds a `features`
endpoint (its last hidden layer) and ood.npz, what P2 measures new images against.
"""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np

from .checks.new_data import OOD_FILE, ood_reference, training_profile
from .rundir import writing_whole_folder

DESCRIPTION = "predict.json"


def serving_description(prepared, source: str) -> dict:
    """What the export takes and gives (module docstring)."""
    described = {"task": prepared.task, "kind": prepared.kind, "class_names": list(prepared.class_names),
                 "input_shape": list(prepared.input_shape), "source": source}
    columns = prepared.source.columns
    if columns:
        used = [c for c in columns if c.used]
        described |= {"inputs": "csv_columns", "columns": [c.name for c in used],
                      "numeric_columns": [c.name for c in used if c.role == "numeric"],
                      "identifiers": [c.name for c in columns if c.role == "identifier"]}
    elif prepared.kind == "image":
        described |= {"inputs": "images", "pixel_range": list(prepared.stats.pixel_range)}
    else:
        described |= {"inputs": "features", "feature_names": list(prepared.feature_names or [])}
    if prepared.kind == "tabular" or source == "image_folder":
        described["profile"] = training_profile(prepared)  # P1 compares new rows (or image files) with it
    return described


HEAD_LAYERS = ("output_standard", "output")  # ModelSpec.head's output layer, whichever the task has


def embedding_model(model: keras.Model) -> keras.Model | None:
    """The model up to its output layer: what the head reads (the last hidden layer), where P2
    measures an image's distance to the training images (raw pixels would measure brightness
    and position, not content). None for a model without the project's head."""
    names = {layer.name for layer in model.layers}
    head = next((model.get_layer(name) for name in HEAD_LAYERS if name in names), None)
    if head is None or not isinstance(head.input, keras.KerasTensor):
        return None
    return keras.Model(model.input, head.input, name="embedding")


def export_for_serving(model: keras.Model, prepared, path: Path, source: str) -> None:
    """Written whole: a run killed during the export leaves the previous export, or none. A CSV
    model's export has a second endpoint, `features` (the encoded row the model takes), and an
    image model's one too (its last hidden layer, `embedding_model`): P2 measures distances in
    them; ood.npz holds P2's sample of training rows (or images) in the same terms."""
    import tensorflow as tf

    encoder = prepared.source.encoder
    embedder = embedding_model(model) if prepared.kind == "image" else None
    reference = ood_reference(prepared, embed=embedder)
    with writing_whole_folder(path) as partial:
        if encoder is None and embedder is not None:
            archive = keras.export.ExportArchive()
            archive.track(model)
            signature = [tf.TensorSpec((None, *prepared.input_shape), tf.float32)]
            archive.add_endpoint(name="serve", fn=lambda x: model(x, training=False), input_signature=signature)
            archive.add_endpoint(name="features", fn=lambda x: embedder(x, training=False),
                                 input_signature=signature)
            archive.write_out(str(partial), verbose=False)
        elif encoder is None:
            model.export(str(partial), verbose=False)
        else:
            archive = keras.export.ExportArchive()
            archive.track(model)
            archive.track(encoder)
            archive.add_endpoint(name="serve", fn=lambda cells: model(encoder(cells), training=False),
                                 input_signature=[prepared.source.raw_signature()])
            archive.add_endpoint(name="features", fn=lambda cells: encoder(cells),
                                 input_signature=[prepared.source.raw_signature()])
            archive.write_out(str(partial), verbose=False)
        (partial / DESCRIPTION).write_text(json.dumps(serving_description(prepared, source), indent=2))
        if reference is not None:
            with (partial / OOD_FILE).open("wb") as handle:
                np.savez(handle, **reference)
