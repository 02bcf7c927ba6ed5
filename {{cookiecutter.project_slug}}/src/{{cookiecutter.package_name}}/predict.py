"""`predict`: new data in, `predictions.csv` out, through the run's exported model.

The export (serving.py) carries the run's preprocessing: a CSV-trained model takes the raw
cells and encodes them with the training vocabularies, medians and IDF itself; other models
normalise their inputs with the training statistics. This module only reads the new data the
way the run read its own (CSV cells as text; image files decoded and resized as the image
pipeline does, channels converted; arrays from an .npz), checks it against what the export
takes (`export/predict.json`), and writes one row per example: where it came from, the
prediction (a class name, or the value in the target's own units) and, for classes, each
class's probability.

A CSV is read in blocks, as training reads it, so a file of any size fits in memory; the
predictions go to a file beside `predictions.csv` that replaces it once every row is done: a bad
input anywhere (a missing column, a numeric column of text, a ragged row, an unreadable image,
the wrong number of channels) stops with one line and exit 2, and leaves no `predictions.csv`
behind. The new rows are checked against a profile of the training rows (P1, P3:
checks/new_data.py).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
import sys
import tempfile
from pathlib import Path

import numpy as np

from .checks.new_data import OOD_FILE, NewRows, PredictContext, image_cells, numbers_of, ood_scores
from .data.columns import MISSING, NUMBER
from .data.csv_reading import block_bytes, sniff
from .data.images import IMAGE_SUFFIXES
from .errors import UserError
from .models import class_probabilities
from .progress import ProgressLine
from .registry import run_checks
from .rundir import RunFiles, write_whole, writing_whole
from .serving import DESCRIPTION
from .storage import Location, is_url, locate, upload
from .verdicts import Verdict

BATCH = 256
ROWS_BATCH = 4096  # a CSV block's rows served this many at a time: the export's call costs more than its rows
FILE_SOURCES = ("image_folder", "tfds")  # image runs whose pixels came decoded from image files


def predict(run_dir: Path, source: str | Path, out: str | Path | None = None,
            strict: bool = False) -> tuple[str, list[Verdict]]:
    """Predict every example of `source` (a CSV, an image folder or file, an .npz) with the
    run's export, and check the new rows against the training rows (P1, P3).

    Args:
        run_dir: The run folder whose export serves.
        source: The new data: a local path, or an s3:// or gs:// URL (storage.py).
        out: Where predictions.csv goes (default: in the run folder); a URL too.
        strict: A P1 warning fails (`predict --strict`); the predictions are written either way.

    Returns:
        Where the predictions went, and the verdicts of P1 to P3.
    """
    export = run_dir / RunFiles.EXPORT
    if not (export / DESCRIPTION).is_file():
        raise UserError(f"{run_dir} holds no export with {DESCRIPTION}: run `train` (train.export=true) there first")
    described = json.loads((export / DESCRIPTION).read_text())
    source = locate(source)
    if not source.exists():
        raise UserError(f"predict: {source} does not exist")
    target = locate(out) if out is not None and is_url(out) else None
    if target is not None and target.is_dir():
        raise UserError(f"predict --out {target}: a folder; name the file, e.g. {target.child(RunFiles.PREDICTIONS)}")
    with tempfile.TemporaryDirectory() if target is not None else contextlib.nullcontext() as staging:
        # A bucket's predictions are written here first, whole, then sent (storage.upload).
        path = Path(staging or run_dir) / RunFiles.PREDICTIONS if out is None or target else Path(out)
        verdicts = _predict_into(path, described, export, source, strict)
        if target is not None:
            upload(path, target)
    return str(target or path), verdicts


def _predict_into(path: Path, described: dict, export: Path, source: Location, strict: bool) -> list[Verdict]:
    """`predict` with its output file settled: predictions written to `path`, then P1-P3."""
    import tensorflow as tf

    new_rows, names, reference = None, None, None
    if (export / OOD_FILE).is_file():
        with np.load(export / OOD_FILE) as saved:
            reference = {key: saved[key] for key in saved.files}
    if _takes_rows(described, source):
        new_rows = NewRows(described.get("profile") or {})
        _predict_csv(described, source, tf.saved_model.load(str(export)), new_rows, path, reference)
    else:
        ids, inputs, files = read_inputs(described, source)
        served = tf.saved_model.load(str(export))  # held: its functions need its variables alive
        outputs = [np.asarray(served.serve(tf.constant(inputs[start:start + BATCH])))
                   for start in range(0, len(ids), BATCH)]
        outputs = np.concatenate(outputs) if outputs else np.zeros((0, 1), np.float32)
        if described["inputs"] == "features":  # a table given as arrays: P1 on its columns
            new_rows = watched_arrays(described, inputs)
        elif described["inputs"] == "images" and described.get("profile") and source.suffix != ".npz":
            names = [record["file"] for record in ids]
            new_rows = NewRows(described["profile"])
            new_rows.add(image_cells(files), np.arange(len(names)), {})
        scores = None
        if reference is not None:  # P2: the arrays themselves, or the images through the model's last hidden layer
            measured = (lambda part: part) if described["inputs"] == "features" else (
                lambda part: np.asarray(served.features(tf.constant(part))))
            scores = np.concatenate([ood_scores(reference, measured(inputs[start:start + BATCH]))  # a batch's distances
                                     for start in range(0, len(ids), BATCH)] or [np.zeros(0)])
            new_rows = new_rows if new_rows is not None else NewRows({})
            new_rows.add_scores(scores, np.arange(len(ids)))
        write_whole(path, predictions_csv(described, ids, outputs, scores))
    p99 = float(reference["val_p99"]) if reference is not None else None
    arrays = source.suffix == ".npz"
    return run_checks("predict", PredictContext(described, new_rows, strict, names, p99, arrays))


def _takes_rows(described: dict, source: Location) -> bool:
    """A CSV for a model of table rows (read in blocks by `_predict_csv`); every other pairing
    is read whole, or refused, by `read_inputs`."""
    return described["inputs"] in ("csv_columns", "features") and source.is_file() and source.suffix == ".csv"


def read_inputs(described: dict, source: Location) -> tuple[list[dict], np.ndarray, list[bytes]]:
    """Images and arrays: (one identifier record per example, the inputs the export takes, each
    image file's bytes for P1), or a UserError (a table model given something other than a CSV
    included)."""
    if source.suffix == ".npz":
        return (*_npz(described, source), [])
    if described["inputs"] == "images":
        if source.suffix == ".csv":
            raise UserError(f"predict: {source} is a CSV, but this run's model takes images: give an image folder, "
                            "one image file or an .npz of arrays")
        return _images(described, source)
    raise UserError(f"predict: this run's model takes table rows: give a CSV file, not {source}")


def _predict_csv(described: dict, source: Location, served, new_rows: NewRows, path: Path,
                 reference: dict | None) -> None:
    """A CSV read block by block, as training reads it (pyarrow, the delimiter and encoding
    sniffed): each block checked (`_unread_cells`), watched for P1 and P3, served, and its
    predictions appended to a file that replaces `path` once every row is done (a bad row
    anywhere leaves no predictions behind). Memory holds one block, whatever the file's size.
    With P2's `reference` (the export's ood.npz), each row's `ood_score` goes beside them."""
    import tensorflow as tf

    blocks, header = _open_csv(source)
    wanted = described["columns"] if described["inputs"] == "csv_columns" else (
        described["feature_names"] or [f"feature {j}" for j in range(described["input_shape"][0])])
    at = _columns_present(described, source, header, wanted)
    numeric = described["numeric_columns"] if described["inputs"] == "csv_columns" else wanted
    id_columns = [n for n in described.get("identifiers", []) if n in header]
    flagged = described["inputs"] == "csv_columns" and bool(described.get("numeric_columns"))
    progress = ProgressLine(f"predicting {source.basename}", max(source.size() // 2**20, 1), "MiB")
    line, done = 2, 0  # line 1 is the header; a row's line counts rows, as `predict` has always named them
    extra = (["unread_cells"] if flagged else []) + (["ood_score"] if reference is not None else [])
    with writing_whole(path) as partial, partial.open("w", newline="", encoding="utf-8") as handle:
        writer = PredictionsWriter(described, handle, ["line", *id_columns], extra)
        for block in blocks:
            lines = np.arange(line, line + block.num_rows)
            line += block.num_rows
            cells = {name: block.column(index).to_pylist() for name, index in at.items()}
            unread = _unread_cells(source, cells, numeric, lines)
            new_rows.add(cells, lines, unread)
            inputs = ({name: np.asarray(cells[name], dtype=object) for name in at}
                      if described["inputs"] == "csv_columns" else _feature_values(source, cells, wanted, lines))
            kept = [block.column(header.index(name)).to_pylist() for name in id_columns]
            ids = [{"line": int(n), **{name: column[i] for name, column in zip(id_columns, kept, strict=True)}}
                   for i, n in enumerate(lines)]
            for start in range(0, len(lines), ROWS_BATCH):
                piece = slice(start, start + ROWS_BATCH)
                batch = ({name: tf.constant(values[piece]) for name, values in inputs.items()}
                         if isinstance(inputs, dict) else tf.constant(inputs[piece]))
                columns = [_unread_at(unread, lines[piece])] if flagged else []
                if reference is not None:  # P2: the encoded row the model takes, or the numbers themselves
                    features = (np.asarray(served.features(batch)) if isinstance(inputs, dict) else inputs[piece])
                    scores = ood_scores(reference, features)
                    new_rows.add_scores(scores, lines[piece])
                    columns.append([f"{score:.3f}" for score in scores])
                rows = list(zip(*columns, strict=True)) if columns else None
                writer.write(ids[piece], np.asarray(served.serve(batch)), rows)
            done += block.nbytes
            progress.update(min(done // 2**20, progress.total))
        writer.finish()


def _open_csv(source: Location):
    """(the CSV's blocks of text cells, its header), read as the training reader reads: pyarrow,
    the delimiter and encoding sniffed, quoted newlines kept; a row with another number of cells
    than the header is one line ("Expected 4 columns, got 3: ..."), exit 2."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    delimiter, encoding = sniff(source, "auto", "auto")
    read = pacsv.ReadOptions(block_size=block_bytes(source), encoding=encoding)
    parse = pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True)  # a ragged row: ArrowInvalid
    try:
        names = pacsv.open_csv(source.open(), read_options=read, parse_options=parse).schema.names
        convert = pacsv.ConvertOptions(column_types={n: pa.string() for n in names}, strings_can_be_null=False,
                                       quoted_strings_can_be_null=False, null_values=[])
        reader = pacsv.open_csv(source.open(), read_options=read, parse_options=parse, convert_options=convert)
    except (pa.ArrowInvalid, UnicodeDecodeError) as err:
        raise UserError(f"predict: {source} is empty or not a CSV: a CSV needs a header row "
                        f"({str(err).splitlines()[0]})") from None

    def blocks():
        try:
            yield from reader
        except pa.ArrowInvalid as err:
            raise UserError(f"predict: {source}: {str(err).splitlines()[0]}") from None

    return blocks(), [n.strip().lstrip("\ufeff") for n in names]


def _unread_at(unread: dict[str, list[int]], lines: np.ndarray) -> list[str]:
    """Each of these rows' columns read as missing, joined (predictions.csv's `unread_cells`)."""
    named: dict[int, list[str]] = {}
    for name, found in unread.items():
        for n in found:
            named.setdefault(n, []).append(name)
    return [";".join(named.get(int(n), [])) for n in lines]


def _columns_present(described: dict, source: Location, header: list[str], wanted: list[str]) -> dict[str, int]:
    missing = [name for name in wanted if name not in header]
    if missing:
        shown = ", ".join(map(repr, missing[:10])) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
        raise UserError(f"predict: {source} lacks the column(s) {shown} that the model was trained on")
    return {name: header.index(name) for name in wanted}


def _unread_cells(source: Location, cells: dict[str, list[str]], numeric: list[str],
                  lines: np.ndarray) -> dict[str, list[int]]:
    """Every numeric column mostly numbers. A column whose non-missing cells are mostly not
    numbers is the wrong kind of column (text where the model learnt numbers): one line, exit 2.
    A few odd cells are read as missing, as the training reader read them (D10), counted on
    stderr, and returned (column -> their lines) for P3."""
    unread = {}
    number = re.compile(NUMBER)
    for name in numeric:
        filled = [(n, cell) for n, cell in zip(lines, cells[name], strict=True) if cell.strip().lower() not in MISSING]
        odd = [(int(n), cell) for n, cell in filled if not number.fullmatch(cell)]
        if odd and len(odd) * 2 >= len(filled):
            n, cell = odd[0]
            raise UserError(f"predict: {source}: column {name!r} holds text ({len(odd)} of {len(filled)} cells, "
                            f"{cell[:40]!r} at line {n}) where the model was trained on numbers")
        if odd:
            print(f"predict: {source}: {len(odd)} cell(s) of column {name!r} are not numbers (first {odd[0][1][:40]!r}"
                  f" at line {odd[0][0]}): read as missing, as in training", file=sys.stderr)
            unread[name] = [n for n, _ in odd]
    return unread


def _feature_values(source: Location, cells: dict[str, list[str]], names: list[str], lines: np.ndarray) -> np.ndarray:
    """A model trained on arrays of numbers (named features): every cell a number."""
    values = np.stack([numbers_of(cells[name]) for name in names], axis=1).astype(np.float32).reshape(
        len(lines), len(names))
    if np.isnan(values).any():
        line = int(lines[np.flatnonzero(np.isnan(values).any(axis=1))[0]])
        raise UserError(f"predict: {source}:{line} has a missing or non-numeric cell; this model was trained on "
                        "arrays of numbers without missing values")
    return values


def _images(described: dict, source: Location):
    """Every image file of a folder (nested folders included), or one file: (a record naming
    each file, relative to the folder; the decoded images; each file's bytes, for P1)."""
    import tensorflow as tf

    from .data.images import decode

    if described["source"] not in FILE_SOURCES:
        low, high = described["pixel_range"]
        raise UserError(f"predict: this run's model was trained on arrays ({described['source']}, pixels "
                        f"{low:g}..{high:g}), not on image files: give its inputs as an .npz with an array x")
    one_file = source.is_file()
    names = ([source.basename] if one_file else
             [name for name, _, _ in source.files() if Path(name).suffix.lower() in IMAGE_SUFFIXES])
    if not names:
        raise UserError(f"predict: {source} holds no image file ({', '.join(sorted(IMAGE_SUFFIXES))})")
    height, width, channels = described["input_shape"]
    images = np.zeros((len(names), height, width, channels), np.float32)
    files = []
    for i, name in enumerate(names):
        file = source if one_file else source.child(name)
        files.append(file.read())
        try:
            images[i] = decode(tf.constant(files[-1]), channels, (height, width)).numpy()
        except (tf.errors.OpError, ValueError) as err:
            message = re.sub(r"\{\{[^}]*\}\}\s*", "", str(getattr(err, "message", err)).splitlines()[0]).strip()
            raise UserError(f"predict: {file} is not a readable image ({message})") from None
    return [{"file": name} for name in names], images, files


def _npz(described: dict, source: Location):
    try:
        with source.npz() as arrays:
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


class PredictionsWriter:
    """predictions.csv, row by row: identifiers, the prediction, per-class probabilities for
    classes, then `extra` columns: for tables with numeric columns `unread_cells`, the columns
    whose cell was imputed (P3); for tables, `ood_score` (P2)."""

    def __init__(self, described: dict, handle, id_names: list[str], extra: list[str] | None = None):
        self.task, self.names = described["task"], described["class_names"]
        self.writer, self.extra, self.started = csv.writer(handle, lineterminator="\n"), extra or [], False
        self.id_names = id_names

    def write(self, ids: list[dict], outputs: np.ndarray, extra: list[tuple] | None = None) -> None:
        """Rows of predictions; `extra` holds each row's cells of the extra columns."""
        cells = [list(row) for row in extra] if extra is not None else [[] for _ in ids]
        if self.task == "regression":
            self._header()
            for record, value, more in zip(ids, outputs.reshape(len(outputs), -1)[:, 0], cells, strict=True):
                self.writer.writerow([*record.values(), f"{float(value):.6g}", *more])
            return
        probs = class_probabilities(outputs, self.task)
        self.names = self.names or [str(i) for i in range(probs.shape[1])]
        self._header()
        for record, row, more in zip(ids, probs, cells, strict=True):
            self.writer.writerow([*record.values(), self.names[int(row.argmax())], *(f"{p:.6f}" for p in row), *more])

    def finish(self) -> None:
        """The header alone when no row came (a CSV of a header)."""
        self._header()

    def _header(self) -> None:
        if not self.started:
            outputs = ["prediction"] if self.task == "regression" else [
                "prediction", *(f"p_{name}" for name in self.names)]
            self.writer.writerow([*self.id_names, *outputs, *self.extra])
            self.started = True


def predictions_csv(described: dict, ids: list[dict], outputs: np.ndarray, scores: np.ndarray | None = None) -> str:
    """The CSV text of examples read whole (images, arrays), with P2's `ood_score` when given."""
    handle = io.StringIO()
    writer = PredictionsWriter(described, handle, list(ids[0]) if ids else [],
                               ["ood_score"] if scores is not None else None)
    writer.write(ids, outputs, [(f"{score:.3f}",) for score in scores] if scores is not None else None)
    writer.finish()
    return handle.getvalue()


ARRAY_BLOCK = 4096  # rows of an array turned into P1's cells at a time


def watched_arrays(described: dict, x: np.ndarray) -> NewRows:
    """P1's view of a table given as arrays (.npz): each profiled feature's values, as the
    profile read the training arrays, block by block; an example's "line" is its index."""
    profile = described.get("profile") or {}
    watched = NewRows(profile)
    names = described["feature_names"] or [f"feature {j}" for j in range(described["input_shape"][0])]
    columns = [(j, name) for j, name in enumerate(names) if name in profile]
    for start in range(0, len(x), ARRAY_BLOCK):
        block = x[start:start + ARRAY_BLOCK]
        watched.add({name: [f"{value:.6g}" for value in block[:, j]] for j, name in columns},
                    np.arange(start, start + len(block)), {})
    return watched
