"""A CSV file, streamed: pyarrow's CSV reader in blocks, each block turned into float features.

Why pyarrow: it ships with tensorflow-datasets (no new dependency), parses in C++ threads,
streams in blocks of a set size, handles quoted fields with newlines and a UTF-8 BOM, and
transcodes other encodings; the block's columns are then encoded with its vectorised compute
functions, never a Python `float()` per cell (what ran a 35 MB CSV past 21 GB).

Every cell is read as text, so that the scan decides what a column is: numeric when every
non-missing cell of the training split is a number; otherwise categorical, one-hot over its
`data.max_categories` most frequent training values plus one bucket for every other value
(val, test and serving meet values train never had). The vocabularies come from the training
split alone (D2), counted in the same pass that keys and splits the rows: a row's split depends
on its own cells, so it is known as soon as the row is read.
"""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import numpy as np

from ..config import Config
from ..errors import UserError
from .scan import Scan
from .split import assign_splits

# The usual spellings of "no value" in a CSV cell (compared case-insensitively, spaces stripped).
MISSING = ("", "na", "n/a", "nan", "null", "none")
NUMBER = r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$"
BLOCK_BYTES = 4 << 20  # 4 MiB of text per block: tens of thousands of rows, a few MiB of memory
OTHER = "<other>"


def sniff(path: Path, delimiter: str, encoding: str) -> tuple[str, str]:
    """The delimiter (comma, semicolon, tab or pipe) and the encoding (UTF-8, else Latin-1)
    when the config says auto: from the first 64 KiB, as csv.Sniffer reads them."""
    head = path.open("rb").read(1 << 16)
    if encoding == "auto":
        try:
            head.decode("utf-8")
            encoding = "utf-8"
        except UnicodeDecodeError as err:
            # A multi-byte character cut at the end of the sample is still UTF-8.
            encoding = "utf-8" if err.start >= len(head) - 3 else "latin-1"
    if delimiter == "auto":
        text = head.decode(encoding, errors="replace").lstrip("\ufeff")
        first = text.splitlines()[0] if text.strip() else ""
        try:
            delimiter = csv.Sniffer().sniff(text[:1 << 14], delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = max(",;\t|", key=first.count) if first else ","
    return delimiter, encoding


class CsvSource:
    """Rows of a CSV file as (features float32, label); the label column by name."""

    kind = "tabular"

    def __init__(self, config: Config):
        self.path = Path(config.data.location)
        if not self.path.is_file():
            raise UserError(f"CSV file not found: {self.path}")
        self.where = f"CSV file {self.path}"
        self.task, self.seed, self.split = config.task, config.seed, config.data.split
        self.max_categories = config.data.max_categories
        self.label = config.data.label_column
        self.delimiter, self.encoding = sniff(self.path, config.data.delimiter, config.data.encoding)
        self.bad_rows: list[str] = []
        self.columns = self._header()
        if self.label not in self.columns:
            raise UserError(f"{self.where} has no label column {self.label!r}; columns: {', '.join(self.columns)}")
        self.features = [c for c in self.columns if c != self.label]
        self.numeric: list[str] = []
        self.vocabularies: dict[str, list[str]] = {}
        self.class_names: list[str] = []

    # --- reading -----------------------------------------------------------------------------

    def _options(self):
        import pyarrow.csv as pacsv

        def ragged(row) -> str:
            if len(self.bad_rows) < 1000:
                self.bad_rows.append(f"{row.actual_columns} cells where the header has {row.expected_columns}: "
                                     f"{row.text[:80]!r}")
            return "skip"

        return (pacsv.ReadOptions(block_size=BLOCK_BYTES, encoding=self.encoding),
                pacsv.ParseOptions(delimiter=self.delimiter, newlines_in_values=True, invalid_row_handler=ragged))

    def _header(self) -> list[str]:
        import pyarrow as pa
        import pyarrow.csv as pacsv

        read, parse = self._options()
        try:
            names = pacsv.open_csv(self.path, read_options=read, parse_options=parse).schema.names
        except (pa.ArrowInvalid, UnicodeDecodeError) as err:
            raise UserError(f"{self.where} cannot be read as CSV (delimiter {self.delimiter!r}, encoding "
                            f"{self.encoding}): {str(err).splitlines()[0]}") from None
        self.bad_rows.clear()
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise UserError(f"{self.where}: duplicate column name(s) {', '.join(map(repr, duplicated))}; "
                            "give every column its own name")
        return names

    def blocks(self):
        """The file's rows, block by block, every cell as text."""
        import pyarrow as pa
        import pyarrow.csv as pacsv

        read, parse = self._options()
        convert = pacsv.ConvertOptions(column_types={name: pa.string() for name in self.columns},
                                       strings_can_be_null=False, quoted_strings_can_be_null=False, null_values=[])
        try:
            yield from pacsv.open_csv(self.path, read_options=read, parse_options=parse, convert_options=convert)
        except pa.ArrowInvalid as err:
            raise UserError(f"{self.where}: {str(err).splitlines()[0]}") from None

    # --- the scan ----------------------------------------------------------------------------

    def fingerprint(self) -> dict:
        stat = self.path.stat()
        return {"file": str(self.path.resolve()), "bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns,
                "max_categories": self.max_categories, "label": self.label}

    def scan(self) -> Scan:
        import pyarrow.compute as pc

        keys, label_parts, sizes, lines, missing_rows = [], [], [], [], []
        label_ids: dict[str, int] = {}  # classes: each distinct label text, numbered as first seen
        numeric_ok = dict.fromkeys(self.features, True)
        counts: dict[str, dict[str, int]] = {name: {} for name in self.features}
        line = 2  # line 1 is the header
        for block in self.blocks():
            cells = {name: block.column(name) for name in self.features}
            joined = pc.binary_join_element_wise(*cells.values(), "\x1f") if self.features else None
            texts = joined.to_pylist() if joined is not None else [""] * block.num_rows
            block_keys = np.fromiter((int.from_bytes(hashlib.blake2b(t.encode(), digest_size=8).digest(), "little")
                                      for t in texts), np.uint64, len(texts))
            train = assign_splits(block_keys, self.seed, self.split) == 0
            newlines = np.asarray(pc.count_substring(joined, "\n")) if joined is not None else np.zeros(len(texts))
            lines.append(line + np.arange(len(texts)) + np.r_[0, np.cumsum(newlines)[:-1]])
            line += len(texts) + int(newlines.sum())
            absent = np.zeros(len(texts), bool)
            for name, column in cells.items():
                empty = _missing(column)
                if numeric_ok[name]:
                    numeric_ok[name] = bool(np.all(empty[train] | _is_number(column)[train]))
                absent |= empty
                for value, count in zip(*_value_counts(column.filter(train)), strict=True):
                    counts[name][value] = counts[name].get(value, 0) + count
            missing_rows.append(absent)
            keys.append(block_keys)
            label_parts.append(self._block_labels(block.column(self.label), label_ids))
            sizes.append(np.asarray(pc.utf8_length(joined)) if joined is not None else np.zeros(len(texts)))
        if not keys:
            raise UserError(f"{self.where} holds a header and no rows")
        self.numeric = [n for n in self.features if numeric_ok[n]]
        self.vocabularies = {n: _most_frequent(counts[n], self.max_categories)
                             for n in self.features if not numeric_ok[n]}
        labels, invalid = self._labels(np.concatenate(label_parts), label_ids)
        absent = np.concatenate(missing_rows)
        bad_numeric = self._missing_numeric_rows(absent)
        invalid |= {int(r): "input holds NaN or Inf (a missing value in a CSV reads as NaN)"
                    for r in bad_numeric if int(r) not in invalid}
        self.lines = np.concatenate(lines).astype(np.int64)
        good = np.setdiff1d(np.arange(len(labels)), sorted(invalid))
        facts = {"seen": len(labels), "path": str(self.path), "numeric": self.numeric,
                 "vocabularies": self.vocabularies, "class_names": self.class_names, "ragged_rows": list(self.bad_rows)}
        if self.bad_rows:
            invalid |= {-(i + 1): f"a row with {text}" for i, text in enumerate(self.bad_rows)}
        return Scan(good, np.concatenate(keys)[good], labels[good], np.concatenate(sizes).astype(np.int64)[good],
                    self.lines[good], invalid, facts)

    def _missing_numeric_rows(self, absent: np.ndarray) -> np.ndarray:
        """Rows with a missing cell in a numeric column: a second, cheap pass over those columns
        alone, since which columns are numeric is known only once the whole file was read."""
        if not self.numeric or not absent.any():
            return np.zeros(0, np.int64)
        found, offset = [], 0
        for block in self.blocks():
            rows = np.zeros(block.num_rows, bool)
            for name in self.numeric:
                rows |= _missing(block.column(name))
            found.append(offset + np.flatnonzero(rows))
            offset += block.num_rows
        return np.concatenate(found)

    def _block_labels(self, column, label_ids: dict[str, int]) -> np.ndarray:
        """One block's labels: float targets (NaN where missing or not a number), or the ids
        of their texts in `label_ids`, without a Python object per row."""
        import pyarrow.compute as pc

        trimmed = pc.utf8_trim_whitespace(column)
        if self.task == "regression":
            usable = pc.and_(pa_bool(~_missing(trimmed)), pa_bool(_is_number(trimmed)))
            numbers = pc.cast(pc.if_else(usable, trimmed, None), "float64")
            return np.asarray(numbers.to_numpy(zero_copy_only=False), np.float32)
        encoded = pc.dictionary_encode(trimmed)
        local = [label_ids.setdefault(text, len(label_ids)) for text in encoded.dictionary.to_pylist()]
        return np.asarray(local, np.int64)[np.asarray(encoded.indices)]

    def _labels(self, parts: np.ndarray, label_ids: dict[str, int]) -> tuple[np.ndarray, dict[int, str]]:
        if self.task == "regression":
            values = parts.astype(np.float32)
            if not np.isfinite(values).any():
                raise UserError(f"{self.where}: label column {self.label!r} holds no numbers; task=regression "
                                "needs a numeric target")
            return values, {int(i): "target is NaN or Inf (missing?)" for i in np.flatnonzero(~np.isfinite(values))}
        texts = list(label_ids)
        missing_ids = np.array([t.lower() in MISSING for t in texts])
        names = sorted((t for t, gone in zip(texts, missing_ids, strict=True) if not gone), key=_natural_key)
        if len(names) < 2:
            held = f"a single value {names[0]!r}" if names else "no value (every cell is missing)"
            raise UserError(f"{self.where}: label column {self.label!r} holds {held}; task={self.task} needs at "
                            "least 2 classes (is data.label_column the right column?)")
        self.class_names = names
        ids = {name: i for i, name in enumerate(names)}
        labels = np.array([ids.get(t, -1) for t in texts], np.int64)[parts]
        missing = missing_ids[parts]
        from .source import check_label_set

        check_label_set(labels[labels >= 0], names, self.task, self.where)
        invalid = {int(i): f"label -1 outside 0..{len(names) - 1} (missing label)" for i in np.flatnonzero(missing)}
        return labels, invalid

    # --- streaming ---------------------------------------------------------------------------

    @property
    def feature_names(self) -> list[str]:
        return self.numeric + [f"{n}={v}" for n, vocabulary in self.vocabularies.items() for v in vocabulary]

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (len(self.feature_names),)

    def settle(self, facts: dict) -> None:
        self.numeric = list(facts["numeric"])
        self.vocabularies = {k: list(v) for k, v in facts["vocabularies"].items()}
        self.class_names = list(facts.get("class_names", []))

    def origin_of(self, position: int) -> str:
        if position < 0:
            return f"{self.path}"
        lines = getattr(self, "lines", None)
        return f"{self.path}:{int(lines[position]) if lines is not None else position + 2}"

    def encode(self, block) -> np.ndarray:
        """A block's feature columns as float32: numbers (NaN where missing), then one-hot
        vocabularies (the last column of each: every value train did not see)."""
        import pyarrow.compute as pc

        parts = []
        for name in self.numeric:
            column = block.column(name)
            numbers = pc.if_else(pa_bool(_missing(column)), None, pc.utf8_trim_whitespace(column))
            parts.append(np.asarray(pc.cast(numbers, "float64").to_numpy(zero_copy_only=False), np.float32)[:, None])
        for name, vocabulary in self.vocabularies.items():
            index = pc.index_in(pc.utf8_trim_whitespace(block.column(name)), value_set=pa_strings(vocabulary[:-1]))
            codes = np.asarray(pc.fill_null(index, len(vocabulary) - 1).to_numpy(zero_copy_only=False), np.int64)
            parts.append(np.eye(len(vocabulary), dtype=np.float32)[codes])
        return np.concatenate(parts, axis=1) if parts else np.zeros((block.num_rows, 0), np.float32)

    def stream(self, positions: np.ndarray, labels: np.ndarray):
        import tensorflow as tf

        width = len(self.feature_names)
        wanted_positions = np.asarray(positions, np.int64)
        label_dtype = np.float32 if self.task == "regression" else np.int64

        def rows():
            order = np.argsort(wanted_positions, kind="stable")
            sorted_positions, sorted_labels = wanted_positions[order], np.asarray(labels, label_dtype)[order]
            offset, cursor = 0, 0
            for block in self.blocks():
                end = offset + block.num_rows
                stop = np.searchsorted(sorted_positions, end)
                if stop > cursor:
                    local = sorted_positions[cursor:stop] - offset
                    x = self.encode(block.take(local))
                    yield x, sorted_labels[cursor:stop]
                cursor, offset = stop, end
                if cursor >= len(sorted_positions):
                    return

        signature = (tf.TensorSpec((None, width), tf.float32), tf.TensorSpec((None,), tf.as_dtype(label_dtype)))
        return tf.data.Dataset.from_generator(rows, output_signature=signature).unbatch()

    def take(self, positions: np.ndarray) -> np.ndarray:
        from .source import stack_inputs

        order = np.argsort(positions, kind="stable")
        label_dtype = np.float32 if self.task == "regression" else np.int64
        stacked = stack_inputs(self.stream(np.asarray(positions)[order], np.zeros(len(positions), label_dtype)),
                               len(positions), self.input_shape)
        out = np.empty_like(stacked)
        out[order] = stacked
        return out


def pa_bool(values: np.ndarray):
    import pyarrow as pa

    return pa.array(values, pa.bool_())


def pa_strings(values: list[str]):
    import pyarrow as pa

    return pa.array(values, pa.string())


def _missing(column) -> np.ndarray:
    import pyarrow.compute as pc

    lowered = pc.utf8_lower(pc.utf8_trim_whitespace(column))
    return np.asarray(pc.is_in(lowered, value_set=pa_strings(list(MISSING))).to_numpy(zero_copy_only=False))


def _is_number(column) -> np.ndarray:
    import pyarrow.compute as pc

    return np.asarray(pc.match_substring_regex(column, NUMBER).to_numpy(zero_copy_only=False))


def _value_counts(column) -> tuple[list[str], list[int]]:
    import pyarrow.compute as pc

    counted = pc.value_counts(pc.utf8_trim_whitespace(column))
    return counted.field("values").to_pylist(), counted.field("counts").to_pylist()


def _most_frequent(counts: dict[str, int], limit: int) -> list[str]:
    """The `limit` most frequent values (ties by value), then the bucket for every other one."""
    ranked = sorted(counts.items(), key=lambda item: (-item[1], _natural_key(item[0])))
    kept = sorted((value for value, _ in ranked[:limit]), key=_natural_key)
    return kept + [OTHER]


def _natural_key(text: str) -> tuple:
    try:
        return (0, float(text), text)
    except ValueError:
        return (1, 0.0, text)


__all__ = ["CsvSource"]
