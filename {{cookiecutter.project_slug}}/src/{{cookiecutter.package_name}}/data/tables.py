"""A CSV file, streamed: pyarrow's CSV reader in blocks, each block turned into float features.

Why pyarrow: it ships with tensorflow-datasets (no new dependency), parses in C++ threads,
streams in blocks of a set size, handles quoted fields with newlines and a UTF-8 BOM, and
transcodes other encodings; the block's columns are then encoded with its vectorised compute
functions, never a Python `float()` per cell (what ran a 35 MB CSV past 21 GB).

Every cell is read as text, so that the scan decides what a column is (columns.py, D10) from
the training rows; their counts, medians and vocabularies come from the training split alone
(D2), gathered in the same pass that keys and splits the rows: a row's split depends on its own
cells, so it is known as soon as the row is read. The rows then stream as raw text into the
TableEncoder (encoder.py), the Keras layer that also serves raw rows from the export.

Here is the source itself (scan, labels, streams, serving); how the bytes become blocks of text
cells is csv_reading.py's, and what the scan learns of each column is column_profile.py's.
"""

from __future__ import annotations

import keyword
import re

import numpy as np

from ..config import Config
from ..errors import UserError
from ..progress import ProgressLine
from ..storage import locate
from .column_profile import SAMPLE_CELLS, SAMPLE_ROWS, observe, sample_values, thin
from .columns import (
    ID_MIN_LEVELS,
    MISSING_LABELS,
    ColumnFacts,
    decide,
    from_record,
    judge_identifier,
    looks_like_a_group,
)
from .csv_reading import block_bytes, missing_cells, number_cells, number_or_nan, pa_bool, pa_ints, sniff
from .loaders import check_label_set
from .pipeline import stack_inputs
from .scan import Scan, ScanFacts
from .source import Source
from .split import assign_splits, bytes_key, row_keys
from .time_split import parse_times, splits_by_time, time_cuts, time_words


class CsvSource(Source):
    """Rows of a CSV file, local or in a bucket (storage.py), as (features float32, label);
    the label column by name."""

    kind = "tabular"

    def __init__(self, config: Config):
        self.path = locate(config.data.location)
        if not self.path.is_file():
            raise UserError(f"CSV file not found: {self.path}")
        self.where = f"CSV file {self.path}"
        self.task, self.seed, self.split = config.task, config.seed, config.data.split
        self.split_by = config.data.split_by
        self.max_categories, self.hash_bins = config.data.max_categories, config.data.hash_bins
        self.text = (config.data.text, config.data.text_max_tokens, config.data.text_ngrams)
        self.missing = config.data.missing
        self.label = config.data.label_column
        self.delimiter, self.encoding = sniff(self.path, config.data.delimiter, config.data.encoding)
        self.block_bytes = block_bytes(self.path)
        self.bad_rows: list[str] = []
        self.names = self._header()
        if self.label not in self.names:
            raise UserError(f"{self.where} has no label column {self.label!r}; columns: {', '.join(self.names)}")
        self.group = config.data.group_column
        if self.group is not None and (self.group not in self.names or self.group == self.label):
            raise UserError(f"data.group_column={self.group!r}: {self.where} has no such column besides the label "
                            f"{self.label!r}; its columns: {', '.join(self.names)}")
        self.features = [c for c in self.names if c not in (self.label, self.group)]
        self.time_column, self.pinned_cuts = config.data.time_column, config.data.time_cuts
        if self.time_column is not None and self.time_column not in self.features:
            raise UserError(f"data.time_column={self.time_column!r}: {self.where} has no such column besides the label "
                            f"and the group; its columns: {', '.join(self.names)}")
        self.overrides = dict(config.data.columns)
        unknown = sorted(set(self.overrides) - set(self.features))
        if unknown:
            raise UserError(f"data.columns names {', '.join(map(repr, unknown))}, not a feature column of "
                            f"{self.where}; its columns: {', '.join(self.features)}")
        self.columns: list = []  # columns.Column per feature column, once scanned
        self.class_names: list[str] = []
        # A table whose encoded rows fit this many bytes is encoded once and served from memory.
        self.memory_budget = config.data.cache_memory_mb * 2**20 if config.data.cache in ("auto", "memory") else 0
        self.encoded: np.ndarray | None = None

    # --- reading -----------------------------------------------------------------------------

    def _options(self):
        import pyarrow.csv as pacsv

        def ragged(row) -> str:
            if len(self.bad_rows) < 1000:
                self.bad_rows.append(f"{row.actual_columns} cells where the header has {row.expected_columns}: "
                                     f"{row.text[:80]!r}")
            return "skip"

        return (pacsv.ReadOptions(block_size=self.block_bytes, encoding=self.encoding),
                pacsv.ParseOptions(delimiter=self.delimiter, newlines_in_values=True, invalid_row_handler=ragged))

    def _header(self) -> list[str]:
        import pyarrow as pa
        import pyarrow.csv as pacsv

        read, parse = self._options()
        try:
            names = pacsv.open_csv(self.path.open(), read_options=read, parse_options=parse).schema.names
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
        convert = pacsv.ConvertOptions(column_types={name: pa.string() for name in self.names},
                                       strings_can_be_null=False, quoted_strings_can_be_null=False, null_values=[])
        try:
            yield from pacsv.open_csv(self.path.open(), read_options=read, parse_options=parse, convert_options=convert)
        except pa.ArrowInvalid as err:
            raise UserError(f"{self.where}: {str(err).splitlines()[0]}") from None

    # --- the scan ----------------------------------------------------------------------------

    def fingerprint(self) -> dict:
        return self.path.fingerprint() | {
            "label": self.label, "columns": dict(sorted(self.overrides.items())), "missing": self.missing,
            "max_categories": self.max_categories, "hash_bins": self.hash_bins, "group": self.group,
            "text": list(self.text)}

    def scan(self) -> Scan:
        """One pass: keys, splits and labels of every row; per column, what the training rows
        hold (missing cells, numbers, value counts, whether numbers follow the row order) and a
        deterministic sample of training rows (by key) for the shape of the values."""
        import pyarrow.compute as pc

        keys, split_keys, label_parts, sizes, lines, sampled = [], [], [], [], [], []
        label_ids: dict[str, int] = {}  # classes: each distinct label text, numbered as first seen
        facts = {name: ColumnFacts(name) for name in self.features}
        width = max(len(self.features), 1)
        line, thinning = 2, 0  # line 1 is the header; keep sampled rows whose key has `thinning` low zero bits
        rows_before = 0
        times = self._times() if self.split_by == "time" else None  # one pass over the time column first
        progress = ProgressLine(f"scanning {self.path.basename}", self.path.size() // 2**20, "MiB")
        for number, block in enumerate(self.blocks()):
            progress.update(min((number * self.block_bytes) // 2**20, progress.total))
            cells = {name: block.column(name) for name in self.features}
            joined = pc.binary_join_element_wise(*cells.values(), "\x1f") if self.features else None
            texts = joined.to_pylist() if joined is not None else [""] * block.num_rows
            if self.group is not None:  # a row's content includes its group: two groups' equal rows differ
                texts = [f"{t}\x1e{g}" for t, g in zip(texts, block.column(self.group).to_pylist(), strict=True)]
            block_keys = _text_keys(texts)
            block_split_keys = self._group_keys(block, block_keys, rows_before)
            if times is None:
                train = assign_splits(block_split_keys, self.seed, self.split) == 0
            else:
                train = splits_by_time(times[rows_before:rows_before + block.num_rows], self.time_facts["cuts"]) == 0
                train &= np.isfinite(times[rows_before:rows_before + block.num_rows])
            rows_before += block.num_rows
            split_keys.append(block_split_keys)
            newlines = np.asarray(pc.count_substring(joined, "\n")) if joined is not None else np.zeros(len(texts))
            block_lines = line + np.arange(len(texts)) + np.r_[0, np.cumsum(newlines)[:-1]].astype(np.int64)
            line += len(texts) + int(newlines.sum())
            for name, column in cells.items():
                observe(facts[name], column, train, block_lines)
            sampled.append((block_keys[train], block.filter(pa_bool(train))))
            sampled, thinning = thin(sampled, thinning, max(1_000, min(SAMPLE_ROWS, SAMPLE_CELLS // width)))
            lines.append(block_lines)
            keys.append(block_keys)
            label_parts.append(self._block_labels(block.column(self.label), label_ids))
            sizes.append(np.asarray(pc.utf8_length(joined)) if joined is not None else np.zeros(len(texts)))
        if not keys:
            raise UserError(f"{self.where} holds a header and no rows")
        for name in self.features:
            facts[name].sample_values = sample_values(sampled, name)
        self.columns = [decide(facts[name], self.overrides.get(name), self.max_categories, self.hash_bins)
                        for name in self.features]
        for column in self.columns:
            if column.role == "text":
                self._vectorise(column, facts[column.name].sample_values)
        labels, invalid = self._labels(np.concatenate(label_parts), label_ids)
        self._judge_identifiers(sampled, facts)
        self.lines = np.concatenate(lines).astype(np.int64)
        if self.missing == "drop":
            invalid |= {int(r): "a missing cell (data.missing=drop)" for r in self._rows_with_missing_cells()
                        if int(r) not in invalid}
        if times is not None:
            invalid |= {int(r): f"no time in {self.time_column!r} (data.split_by=time): an ISO date or a number"
                        for r in np.flatnonzero(~np.isfinite(times)) if int(r) not in invalid}
        good = np.setdiff1d(np.arange(len(labels)), sorted(invalid))
        if not any(c.used for c in self.columns):
            raise UserError(f"{self.where}: no column is left to learn from: "
                            + "; ".join(f"{c.name}: {c.role} ({c.why})" for c in self.columns)
                            + ". Set a role in data.columns, e.g. data.columns={name: numeric}")
        found = ScanFacts(len(labels), path=str(self.path), columns=[c.record() for c in self.columns],
                          class_names=self.class_names, ragged_rows=list(self.bad_rows))
        if self.group is None:
            found.group_candidates = [name for name in self.features if looks_like_a_group(facts[name])]
        if self.bad_rows:
            invalid |= {-(i + 1): f"a row with {text}" for i, text in enumerate(self.bad_rows)}
        grouped = np.concatenate(split_keys)[good] if self.group is not None else None
        if grouped is not None:
            sizes_of_groups = np.unique(grouped, return_counts=True)[1]
            # Whole groups move together, so a split's share varies as if there were fewer, larger
            # draws: by the design effect sum(m^2) / sum(m) of the group sizes m (D1 scales by it).
            found.groups = {"column": self.group, "count": len(sizes_of_groups),
                               "design_effect": float((sizes_of_groups.astype(float) ** 2).sum() / len(grouped))}
        if times is not None:
            found.time_split = self.time_facts
        splits = splits_by_time(times[good], self.time_facts["cuts"]) if times is not None else None
        return Scan(good, np.concatenate(keys)[good], labels[good], np.concatenate(sizes).astype(np.int64)[good],
                    self.lines[good], invalid, found, grouped, splits)

    def _times(self) -> np.ndarray:
        """data.split_by=time: every row's time (NaN where its cell is not one), read in one pass
        over the time column alone, and the cut times (self.time_facts)."""
        parts = [block.column(self.time_column) for block in self.blocks()]
        self.bad_rows.clear()  # the full scan reports ragged rows
        import pyarrow as pa

        times, kind = parse_times(pa.chunked_array(parts, pa.string()).combine_chunks()) if parts else (
            np.zeros(0), "number")
        cuts = time_cuts(times, self.split, self.pinned_cuts, kind, self.time_column)
        self.time_facts = {"column": self.time_column, "kind": kind, "cuts": cuts,
                           "pinned": bool(self.pinned_cuts), "words": [time_words(c, kind) for c in cuts]}
        return times

    def _judge_identifiers(self, sampled: list, facts: dict) -> None:
        """Integer columns whose levels explain the label where their order does not, and hashed
        text columns whose values explain it beyond their buckets, get their levels
        (columns.judge_identifier), judged on the sampled training rows whose label is known."""
        import pyarrow.compute as pc

        candidates = [c for c in self.columns if c.role in ("numeric", "hashed") and c.name not in self.overrides
                      and len(facts[c.name].counts) >= ID_MIN_LEVELS]
        if not candidates or not sampled:
            return
        labels = [text for _, block in sampled
                  for text in pc.utf8_trim_whitespace(block.column(self.label)).to_pylist()]
        if self.task == "regression":
            y = np.array([number_or_nan(t) for t in labels], np.float64)
            known, targets = np.isfinite(y), y[:, None]
        else:
            ids = {name: i for i, name in enumerate(self.class_names)}
            y = np.array([ids.get(t, -1) for t in labels], np.int64)
            known = y >= 0
            targets = y[:, None].astype(np.float64) if self.task == "binary" else np.eye(len(ids))[np.maximum(y, 0)]
        # Halves by content key (its top bit: the sample keeps keys with low zero bits), as the split
        # keeps copies of a row together.
        halves = (np.concatenate([keys for keys, _ in sampled]) >> np.uint64(63)) == 0
        for column in candidates:
            cells = [block.column(column.name) for _, block in sampled]
            if column.role == "numeric":
                numbers = np.array([number_or_nan(t) for part in cells for t in part.to_pylist()], np.float64)
                keep = known & np.isfinite(numbers)
                judge_identifier(column, facts[column.name], numbers[keep], targets[keep], halves=halves[keep])
                continue
            import tensorflow as tf

            keep = known & ~np.concatenate([missing_cells(part) for part in cells])
            values = np.array([t for part in cells for t in pc.utf8_trim_whitespace(part).to_pylist()],
                              dtype=object)[keep].astype(str)
            # The buckets the encoder's keras.layers.Hashing gives the same cells (no salt).
            buckets = tf.strings.to_hash_bucket_fast(values, column.bins).numpy() if len(values) else values
            judge_identifier(column, facts[column.name], values, targets[keep], buckets, halves[keep])

    def _vectorise(self, column, texts: list[str]) -> None:
        """A text column's vocabulary (and IDF) from the sampled training rows, or why it is left out."""
        mode, max_tokens, ngrams = self.text
        if mode == "off":
            column.why += "; left out (data.text=off)"
            return
        from .encoder import text_vocabulary

        column.vocabulary, column.idf = text_vocabulary(texts, max_tokens, ngrams, tfidf=mode == "tfidf")
        column.ngrams = ngrams
        words = {1: "words", 2: "words and word pairs", 3: "words, pairs and triples of words"}[ngrams]
        column.why += (f"; {'TF-IDF' if mode == 'tfidf' else 'multi-hot'} of {words} (keras TextVectorization), "
                       f"the {len(column.vocabulary)} most frequent in train (data.text_max_tokens={max_tokens})"
                       if column.vocabulary else "; left out: no word in the training rows")

    def _group_keys(self, block, content_keys: np.ndarray, rows_before: int) -> np.ndarray:
        """The keys the split hashes: the group cell's (data.group_column), or the row's own
        content key without a group column or where the group cell is missing; with
        data.split_by=row, the row's number (what `scan` in data/__init__.py hashes too)."""
        if self.split_by == "row":
            return row_keys(rows_before + np.arange(block.num_rows))
        if self.group is None:
            return content_keys
        column = block.column(self.group)
        groups = _text_keys(["\x1d" + g for g in column.to_pylist()])
        return np.where(missing_cells(column), content_keys, groups)

    def _rows_with_missing_cells(self) -> np.ndarray:
        """data.missing=drop: rows with a missing cell in a column the model uses (a second
        pass over those columns: which they are is known only once the whole file was read)."""
        used = [c.name for c in self.columns if c.used]
        found, offset = [], 0
        for block in self.blocks():
            rows = np.zeros(block.num_rows, bool)
            for name in used:
                rows |= missing_cells(block.column(name))
            found.append(offset + np.flatnonzero(rows))
            offset += block.num_rows
        return np.concatenate(found) if found else np.zeros(0, np.int64)

    def _block_labels(self, column, label_ids: dict[str, int]) -> np.ndarray:
        """One block's labels: float targets (NaN where missing or not a number), or the ids
        of their texts in `label_ids`, without a Python object per row."""
        import pyarrow.compute as pc

        trimmed = pc.utf8_trim_whitespace(column)
        if self.task == "regression":
            usable = pc.and_(pa_bool(~missing_cells(trimmed)), pa_bool(number_cells(trimmed)))
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
        missing_ids = np.array([t.lower() in MISSING_LABELS for t in texts])
        names = sorted((t for t, gone in zip(texts, missing_ids, strict=True) if not gone), key=_natural_key)
        if len(names) < 2:
            held = f"a single value {names[0]!r}" if names else "no value (every cell is missing)"
            raise UserError(f"{self.where}: label column {self.label!r} holds {held}; task={self.task} needs at "
                            "least 2 classes (is data.label_column the right column?)")
        self.class_names = names
        ids = {name: i for i, name in enumerate(names)}
        labels = np.array([ids.get(t, -1) for t in texts], np.int64)[parts]
        missing = missing_ids[parts]
        check_label_set(labels[labels >= 0], names, self.task, self.where)
        invalid = {int(i): f"the label cell ({self.label}) is missing" for i in np.flatnonzero(missing)}
        return labels, invalid

    # --- streaming ---------------------------------------------------------------------------

    @property
    def feature_names(self) -> list[str]:
        return [name for column in self.columns if column.used for name in column.feature_names()]

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (len(self.feature_names),)

    @property
    def level_indices(self) -> list[tuple[int, int]]:
        """(feature position, levels + 1) of each identifier-like column's level index: what the
        models embed (index 0: a level train did not have twice)."""
        found, position = [], 0
        for column in (c for c in self.columns if c.used):
            position += len(column.feature_names())
            if column.levels:  # its level index is the column's last feature
                found.append((position - 1, len(column.levels) + 1))
        return found

    def settle(self, facts: ScanFacts) -> None:
        from .encoder import TableEncoder

        self.columns = [from_record(record) for record in facts.columns]
        self.class_names = list(facts.class_names or [])
        self.encoder = TableEncoder(self.columns)
        self.rows_in_file = int(facts.seen)
        self.encoded = None

    @property
    def in_memory(self) -> bool:
        """Whether every row's features are (or will be, on the first read) held encoded in
        memory: when they fit data.cache_memory_mb. Why: each tf.data pipeline over the file
        traces the encoder and each iterator re-optimises its graph, a fixed cost of seconds on
        a wide table that a check or an epoch paid again and again (a 200 x 500 table: most of
        inspect's 50 s); an array costs one pass, and its pipelines cost milliseconds."""
        return self.rows_in_file * len(self.feature_names) * 4 <= self.memory_budget

    def _encoded_rows(self) -> np.ndarray:
        """Every row of the file as features (invalid rows too: positions index the file)."""
        if self.encoded is None:
            out = np.empty((self.rows_in_file, len(self.feature_names)), np.float32)
            filled = 0
            everything = np.arange(self.rows_in_file)
            for x, _ in self._streamed(everything, np.zeros(len(everything), self._label_dtype)).batch(
                    4096).as_numpy_iterator():
                out[filled:filled + len(x)] = x
                filled += len(x)
            self.encoded = out[:filled]
        return self.encoded

    @property
    def _label_dtype(self):
        return np.float32 if self.task == "regression" else np.int64

    def origin_of(self, position: int) -> str:
        if position < 0:
            return f"{self.path}"
        lines = getattr(self, "lines", None)
        return f"{self.path}:{int(lines[position]) if lines is not None else position + 2}"

    def raw_signature(self) -> dict:
        """The serving input: one string column per used column, keyed by its name."""
        import tensorflow as tf

        names = [c.name for c in self.columns if c.used]
        return {name: tf.TensorSpec((None,), tf.string, name=tensor) for name, tensor in zip(
            names, _tensor_names(names), strict=True)}

    def stream(self, positions: np.ndarray, labels: np.ndarray):
        """Encoded rows of `positions` with `labels`: from memory in the order given when the
        table fits (`in_memory`), else in increasing order from the file (`_streamed`)."""
        import tensorflow as tf

        # Its length is known: Keras then counts batches instead of running the iterator dry
        # and warning "Your input ran out of data" at the end of every first epoch.
        known_length = tf.data.experimental.assert_cardinality(len(positions))
        if self.in_memory:
            return self._from_memory(positions, labels).apply(known_length)
        return self._streamed(positions, labels).apply(known_length)

    def _from_memory(self, positions: np.ndarray, labels: np.ndarray):
        """Rows of the encoded table, gathered a chunk at a time. Not from_tensor_slices over
        table[positions]: that held a copy of the rows per dataset and TensorFlow a second one
        (flights, 336,776 x 163: 2 x 147 MiB for train per dataset; inspect builds four)."""
        import tensorflow as tf

        table = self._encoded_rows()
        positions = np.asarray(positions, np.int64)
        labels = np.asarray(labels, self._label_dtype)

        def chunks():
            for first in range(0, len(positions), MEMORY_CHUNK_ROWS):
                last = first + MEMORY_CHUNK_ROWS
                yield table[positions[first:last]], labels[first:last]

        signature = (tf.TensorSpec((None, table.shape[1]), tf.float32),
                     tf.TensorSpec((None,), tf.as_dtype(self._label_dtype)))
        return tf.data.Dataset.from_generator(chunks, output_signature=signature).unbatch()

    def _streamed(self, positions: np.ndarray, labels: np.ndarray):
        """Encoded rows of `positions` (in increasing order), with `labels`: the file read block
        by block, each block's wanted rows turned into features by the TableEncoder."""
        import tensorflow as tf

        used = [c.name for c in self.columns if c.used]
        wanted_positions = np.asarray(positions, np.int64)
        label_dtype = self._label_dtype

        def rows():
            order = np.argsort(wanted_positions, kind="stable")
            sorted_positions, sorted_labels = wanted_positions[order], np.asarray(labels, label_dtype)[order]
            offset, cursor = 0, 0
            for block in self.blocks():
                end = offset + block.num_rows
                stop = np.searchsorted(sorted_positions, end)
                # A few thousand cells at a time: each becomes a Python string on its way into
                # TensorFlow (a whole block of a 10,000-column file was 20 million of them).
                chunk = max(1, min(STREAM_ROWS, STREAM_CELLS // max(len(used), 1)))
                for first in range(cursor, stop, chunk):
                    last = min(first + chunk, stop)
                    chosen = block.take(pa_ints(sorted_positions[first:last] - offset))
                    yield ({name: np.asarray(chosen.column(name).to_numpy(zero_copy_only=False), dtype=object)
                            for name in used}, sorted_labels[first:last])
                cursor, offset = stop, end
                if cursor >= len(sorted_positions):
                    return

        signature = ({name: tf.TensorSpec((None,), tf.string) for name in used},
                     tf.TensorSpec((None,), tf.as_dtype(label_dtype)))
        blocks = tf.data.Dataset.from_generator(rows, output_signature=signature)
        encoder = self.encoder
        return blocks.map(lambda cells, y: (encoder(cells), y)).unbatch()

    def raw_rows(self, positions: np.ndarray) -> list[dict[str, str]]:
        """The cells of some rows as the file holds them, every column but the label, in the
        order of `positions`: what E2 and D12 show a person (a handful of rows: one pass)."""
        positions = np.asarray(positions, np.int64)
        order = np.argsort(positions, kind="stable")
        found: dict[int, dict[str, str]] = {}
        offset = 0
        for block in self.blocks():
            end = offset + block.num_rows
            inside = positions[order][(positions[order] >= offset) & (positions[order] < end)]
            if len(inside):
                chosen = block.take(pa_ints(inside - offset)).to_pylist()
                found.update({int(p): {k: v for k, v in row.items() if k != self.label}
                              for p, row in zip(inside, chosen, strict=True)})
            offset = end
            if len(found) == len(set(positions.tolist())):
                break
        return [found.get(int(p), {}) for p in positions]

    def take(self, positions: np.ndarray) -> np.ndarray:
        if self.in_memory:
            return self._encoded_rows()[np.asarray(positions, np.int64)]
        order = np.argsort(positions, kind="stable")
        labels = np.zeros(len(positions), self._label_dtype)
        stacked = stack_inputs(self._streamed(np.asarray(positions)[order], labels), len(positions), self.input_shape)
        out = np.empty_like(stacked)
        out[order] = stacked
        return out


STREAM_CELLS = 1_000_000  # cells a stream hands to TensorFlow at once
STREAM_ROWS = 8192  # ...and rows: 71,000 rows of a narrow file left ~240 MiB of strings' heap behind
MEMORY_CHUNK_ROWS = 4096  # rows of the in-memory table handed to TensorFlow at once


def _text_keys(texts: list[str]) -> np.ndarray:
    """The content key (split.bytes_key) of each text."""
    return np.fromiter((bytes_key(t.encode()) for t in texts), np.uint64, len(texts))


def _tensor_names(names: list[str]) -> list[str]:
    """Column names as SavedModel input names: letters, digits, '_', '.', '-' only, and never a
    Python keyword or `self` (TensorFlow makes them the parameters of the signature function:
    a column named `class` or `self` broke the export), one distinct name per column."""
    taken: set[str] = set()
    result = []
    for name in names:
        cleaned = re.sub(r"[^A-Za-z0-9_.\-]", "_", name)
        cleaned = cleaned if re.match(r"[A-Za-z0-9.]", cleaned[:1]) else f"c{cleaned}"
        if keyword.iskeyword(cleaned) or cleaned == "self":
            cleaned += "_"
        unique, n = cleaned, 1
        while unique in taken:
            n += 1
            unique = f"{cleaned}_{n}"
        taken.add(unique)
        result.append(unique)
    return result


def _natural_key(text: str) -> tuple:
    try:
        return (0, float(text), text)
    except ValueError:
        return (1, 0.0, text)


__all__ = ["CsvSource"]
