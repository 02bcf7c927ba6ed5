"""`predict`: new data in, `predictions.csv` out, through the run's exported model.

The export (serving.py) carries the run's preprocessing: a CSV-trained model takes the raw
cells and encodes them with the training vocabularies, medians and IDF itself; other models
normalise their inputs with the training statistics. This module only reads the new data the
way the run read its own (CSV cells as text; image files decoded and resized as the image
pipeline does, channels converted; arrays from an .npz), checks it against what the export
takes (`export/predict.json`), and writes one row per example: where it came from, the
prediction (a class name, or the value in the target's own units) and, for classes, each
class's probability.

Every input is checked before anything is written, and the file is written whole: a bad input
(a missing column, a numeric column of text, an unreadable image, the wrong number of channels)
stops with one line and exit 2, and leaves no `predictions.csv` behind.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from pathlib import Path

import numpy as np

from .checks.new_data import PredictContext
from .data.columns import MISSING, NUMBER
from .data.images import IMAGE_SUFFIXES
from .data.tables import sniff
from .errors import UserError
from .models import class_probabilities
from .registry import run_checks
from .rundir import RunFiles, write_whole
from .serving import DESCRIPTION
from .verdicts import Verdict

BATCH = 256
NOTHING_SEEN = {"cells": {}, "lines": [], "unread": {}}  # images and arrays: no cells for P1 and P3
FILE_SOURCES = ("image_folder", "tfds")  # image runs whose pixels came decoded from image files


def predict(run_dir: Path, source: Path, out: Path | None = None, strict: bool = False) -> tuple[Path, list[Verdict]]:
    """Predict every example of `source` (a CSV, an image folder or file, an .npz) with the
    run's export, and check the new rows against the training rows (P1, P3).

    Args:
        run_dir: The run folder whose export serves.
        source: The new data.
        out: Where predictions.csv goes (default: in the run folder).
        strict: A P1 warning fails (`predict --strict`); the predictions are written either way.

    Returns:
        The path of the predictions written, and the verdicts of P1 and P3.
    """
    import tensorflow as tf

    export = run_dir / RunFiles.EXPORT
    if not (export / DESCRIPTION).is_file():
        raise UserError(f"{run_dir} holds no export with {DESCRIPTION}: run `train` (train.export=true) there first")
    described = json.loads((export / DESCRIPTION).read_text())
    if not source.exists():
        raise UserError(f"predict: {source} does not exist")
    ids, inputs, seen = read_inputs(described, source)
    verdicts = run_checks("predict", PredictContext(described, seen["cells"], seen["lines"], seen["unread"], strict))
    unread = None
    if seen["cells"] and described.get("numeric_columns"):  # P3: each row's imputed cells, named
        unread_at: dict[int, list[str]] = {}
        for name, lines in seen["unread"].items():
            for line in lines:
                unread_at.setdefault(line, []).append(name)
        unread = [";".join(unread_at.get(line, [])) for line in seen["lines"]]
    served = tf.saved_model.load(str(export))  # held: its functions need its variables alive
    outputs = []
    for start in range(0, len(ids), BATCH):
        if isinstance(inputs, dict):
            batch = {name: tf.constant(cells[start:start + BATCH]) for name, cells in inputs.items()}
        else:
            batch = tf.constant(inputs[start:start + BATCH])
        outputs.append(np.asarray(served.serve(batch)))
    outputs = np.concatenate(outputs) if outputs else np.zeros((0, 1), np.float32)
    path = out or run_dir / RunFiles.PREDICTIONS
    write_whole(path, predictions_csv(described, ids, outputs, unread))
    return path, verdicts


def read_inputs(described: dict, source: Path) -> tuple[list[dict], dict[str, np.ndarray] | np.ndarray, dict]:
    """(one identifier record per example, the inputs the export takes, what P1 and P3 look at:
    {"cells": column -> the CSV's cells as text, "lines", "unread": column -> lines read as
    missing}), or a UserError."""
    if source.suffix.lower() == ".npz":
        return (*_npz(described, source), NOTHING_SEEN)
    if described["inputs"] == "images":
        if source.suffix.lower() == ".csv":
            raise UserError(f"predict: {source} is a CSV, but this run's model takes images: give an image folder, "
                            "one image file or an .npz of arrays")
        return (*_images(described, source), NOTHING_SEEN)
    if source.is_dir() or source.suffix.lower() != ".csv":
        raise UserError(f"predict: this run's model takes table rows: give a CSV file, not {source}")
    header, rows = _csv_rows(source)
    if described["inputs"] == "csv_columns":
        return _csv_cells(described, source, header, rows)
    return _csv_features(described, source, header, rows)


def _csv_rows(source: Path) -> tuple[list[str], list[list[str]]]:
    """Header and rows, with the delimiter and encoding sniffed as the training reader does."""
    delimiter, encoding = sniff(source, "auto", "auto")
    text = source.read_text(encoding=encoding).lstrip("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = next(reader, None)
    if not header:
        raise UserError(f"predict: {source} is empty: a CSV needs a header row")
    return [h.strip() for h in header], list(reader)


def _columns_present(described: dict, source: Path, header: list[str], wanted: list[str]) -> dict[str, int]:
    missing = [name for name in wanted if name not in header]
    if missing:
        shown = ", ".join(map(repr, missing[:10])) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
        raise UserError(f"predict: {source} lacks the column(s) {shown} that the model was trained on")
    return {name: header.index(name) for name in wanted}


def _identifiers(source: Path, header: list[str], rows: list[list[str]], id_columns: list[str]) -> list[dict]:
    """Each row's CSV line and, when the training file had identifier columns, their cells."""
    kept = [name for name in id_columns if name in header]
    return [{"line": line, **{name: row[header.index(name)] if header.index(name) < len(row) else "" for name in kept}}
            for line, row in enumerate(rows, start=2)]


def _check_cells(source: Path, rows: list[list[str]], at: dict[str, int], width: int,
                 numeric: list[str]) -> dict[str, list[int]]:
    """Every row as wide as the header; every numeric column mostly numbers. A column whose
    non-missing cells are mostly not numbers is the wrong kind of column (text where the model
    learnt numbers): one line, exit 2. A few odd cells are read as missing, as the training
    reader read them (D10), counted on stderr, and returned (column -> their lines) for P3."""
    unread = {}
    number = re.compile(NUMBER)
    for line, row in enumerate(rows, start=2):
        if len(row) != width:
            raise UserError(f"predict: {source}:{line} has {len(row)} cells where the header names {width}")
    for name in numeric:
        cells = [(line, row[at[name]]) for line, row in enumerate(rows, start=2)
                 if row[at[name]].strip().lower() not in MISSING]
        odd = [(line, cell) for line, cell in cells if not number.fullmatch(cell)]
        if odd and len(odd) * 2 >= len(cells):
            line, cell = odd[0]
            raise UserError(f"predict: {source}: column {name!r} holds text ({len(odd)} of {len(cells)} cells, "
                            f"{cell[:40]!r} at line {line}) where the model was trained on numbers")
        if odd:
            print(f"predict: {source}: {len(odd)} cell(s) of column {name!r} are not numbers (first {odd[0][1][:40]!r}"
                  f" at line {odd[0][0]}): read as missing, as in training", file=sys.stderr)
            unread[name] = [line for line, _ in odd]
    return unread


def _csv_cells(described: dict, source: Path, header: list[str], rows: list[list[str]]):
    at = _columns_present(described, source, header, described["columns"])
    unread = _check_cells(source, rows, at, len(header), described["numeric_columns"])
    cells = {name: np.asarray([row[index] for row in rows], dtype=object) for name, index in at.items()}
    return _identifiers(source, header, rows, described["identifiers"]), cells, _seen(rows, at, unread)


def _seen(rows: list[list[str]], at: dict[str, int], unread: dict[str, list[int]]) -> dict:
    return {"cells": {name: [row[index] for row in rows] for name, index in at.items()},
            "lines": list(range(2, len(rows) + 2)), "unread": unread}


def _csv_features(described: dict, source: Path, header: list[str], rows: list[list[str]]):
    names = described["feature_names"] or [f"feature {j}" for j in range(described["input_shape"][0])]
    at = _columns_present(described, source, header, names)
    _check_cells(source, rows, at, len(header), names)  # a cell read as missing is refused below
    number = re.compile(NUMBER)
    values = np.array([[float(row[at[name]]) if number.fullmatch(row[at[name]]) else np.nan for name in names]
                       for row in rows], np.float32).reshape(len(rows), len(names))
    if np.isnan(values).any():
        line = int(np.flatnonzero(np.isnan(values).any(axis=1))[0]) + 2
        raise UserError(f"predict: {source}:{line} has a missing or non-numeric cell; this model was trained on "
                        "arrays of numbers without missing values")
    return _identifiers(source, header, rows, []), values, _seen(rows, at, {})


def _images(described: dict, source: Path):
    import tensorflow as tf

    from .data.images import decode

    if described["source"] not in FILE_SOURCES:
        low, high = described["pixel_range"]
        raise UserError(f"predict: this run's model was trained on arrays ({described['source']}, pixels "
                        f"{low:g}..{high:g}), not on image files: give its inputs as an .npz with an array x")
    files = ([source] if source.is_file() else
             sorted(p for p in source.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES))
    if not files:
        raise UserError(f"predict: {source} holds no image file ({', '.join(sorted(IMAGE_SUFFIXES))})")
    height, width, channels = described["input_shape"]
    images = np.zeros((len(files), height, width, channels), np.float32)
    for i, path in enumerate(files):
        try:
            images[i] = decode(tf.io.read_file(str(path)), channels, (height, width)).numpy()
        except (tf.errors.OpError, ValueError) as err:
            message = re.sub(r"\{\{[^}]*\}\}\s*", "", str(getattr(err, "message", err)).splitlines()[0]).strip()
            raise UserError(f"predict: {path} is not a readable image ({message})") from None
    root = source if source.is_dir() else source.parent
    return [{"file": str(path.relative_to(root))} for path in files], images


def _npz(described: dict, source: Path):
    try:
        with np.load(source, allow_pickle=False) as arrays:
            if "x" not in arrays:
                raise UserError(f"predict: {source} holds {sorted(arrays.files)}; it needs an array named x")
            x = np.asarray(arrays["x"], np.float32)
    except (OSError, ValueError) as err:
        raise UserError(f"predict: {source} is not a readable .npz file ({err})") from None
    shape = tuple(described["input_shape"])
    if described["inputs"] == "csv_columns":
        raise UserError("predict: this run's model takes CSV rows (its columns encoded by the export): give a CSV")
    if described["kind"] == "image" and x.ndim == 4 and x.shape[1:3] == shape[:2] and x.shape[3] != shape[2]:
        raise UserError(f"predict: {source} holds images with {x.shape[3]} channel(s); the model was trained on "
                        f"{shape[2]}")
    if described["kind"] == "image" and x.ndim == 3 and shape[2] == 1:
        x = x[..., None]
    if x.shape[1:] != shape:
        raise UserError(f"predict: {source}: x has examples of shape {x.shape[1:]}; the model takes {shape}")
    finite = np.isfinite(x.reshape(len(x), -1)).all(axis=1)
    if not finite.all():
        raise UserError(f"predict: {source}: x holds NaN or Inf (example {int(np.flatnonzero(~finite)[0])})")
    return [{"index": i} for i in range(len(x))], x


def predictions_csv(described: dict, ids: list[dict], outputs: np.ndarray, unread: list[str] | None = None) -> str:
    """The CSV text: identifiers, the prediction, per-class probabilities for classes, and for
    tables with numeric columns `unread_cells`, the columns whose cell was imputed (P3)."""
    task, names = described["task"], described["class_names"]
    handle = io.StringIO()
    writer = csv.writer(handle, lineterminator="\n")
    id_names = list(ids[0]) if ids else []
    flags = [[cells] for cells in unread] if unread is not None else [[] for _ in ids]
    flag_name = ["unread_cells"] if unread is not None else []
    if task == "regression":
        writer.writerow([*id_names, "prediction", *flag_name])
        for record, value, flag in zip(ids, outputs.reshape(len(outputs), -1)[:, 0], flags, strict=True):
            writer.writerow([*record.values(), f"{float(value):.6g}", *flag])
        return handle.getvalue()
    probs = class_probabilities(outputs, task)
    names = names or [str(i) for i in range(probs.shape[1])]
    writer.writerow([*id_names, "prediction", *(f"p_{name}" for name in names), *flag_name])
    for record, row, flag in zip(ids, probs, flags, strict=True):
        writer.writerow([*record.values(), names[int(row.argmax())], *(f"{p:.6f}" for p in row), *flag])
    return handle.getvalue()
