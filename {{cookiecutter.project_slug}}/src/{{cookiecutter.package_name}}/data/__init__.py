"""Open a source, scan it once per run (keys, hash-bucket split, D4), compute train-only statistics.

`prepare(config, run_dir)` gives every stage the same `Prepared`: the source (which streams
examples by position), the run's manifest (one row per example) and the statistics. The first
stage of a run scans the source and writes `<run>/data/`; later stages reuse it when the
source's fingerprint still matches, and scan again, saying so, when it does not.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import Config
from ..errors import UserError
from .batching import batch_size_of
from .manifest import Manifest, load_manifest
from .source import Source
from .split import SPLITS, buckets, row_keys, splits_of
from .stats import TrainStats, compute_train_stats, stream_train_stats
from .streams import ArraySource, open_source

# A sample drawn for a check is bounded by this unless the check asks for fewer.
SAMPLE_LIMIT = 10_000


@dataclass
class Prepared:
    """Everything a stage needs to know about the data; examples come by `stream` or `sample`."""

    source: Source  # streams.ArraySource | ImageFolderSource | StreamSource | tables.CsvSource
    manifest: Manifest
    indices: dict[str, np.ndarray]  # split name -> manifest rows, in the source's order
    stats: TrainStats
    task: str
    run_dir: Path | None = None

    @property
    def keys(self) -> np.ndarray:
        return self.manifest.keys

    @property
    def dropped(self) -> list[str]:
        return self.manifest.header.get("dropped", [])

    @property
    def class_names(self) -> list[str]:
        return self.source.class_names

    @property
    def feature_names(self) -> list[str]:
        return self.source.feature_names

    @property
    def level_indices(self) -> list[tuple[int, int]]:
        """Tables: (feature position, levels + 1) of each identifier-like integer column's level
        index (data/columns.py), which the built-in models embed; none for other sources."""
        return list(self.source.level_indices)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.source.input_shape)

    @property
    def kind(self) -> str:
        return self.source.kind

    @property
    def source_size(self) -> int:
        """How many examples the source yields, the invalid ones included."""
        return int(self.manifest.facts.seen)

    def origin(self, row: int) -> str:
        return self.manifest.origin(row)

    def size(self, split: str) -> int:
        return len(self.indices[split])

    def labels(self, split: str) -> np.ndarray:
        """Every label of a split, from the manifest (no input is read)."""
        return self.manifest.labels[self.indices[split]]

    def stream(self, split: str, rows: np.ndarray | None = None):
        """Unbatched (input, label) pairs of a split (or of some of its manifest rows), in order."""
        rows = self.indices[split] if rows is None else rows
        return self.source.stream(self.manifest.positions[rows], self.manifest.labels[rows])

    def sample_rows(self, split: str, limit: int = SAMPLE_LIMIT, seed: int = 0) -> np.ndarray:
        """At most `limit` manifest rows of a split, drawn with `seed`, in the split's order."""
        rows = self.indices[split]
        if len(rows) <= limit:
            return rows
        return np.sort(np.random.default_rng(seed).choice(rows, size=limit, replace=False))

    def head(self, split: str, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The first `n` examples of a split, as arrays."""
        return self.take(self.indices[split][:n])

    def take(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(inputs, labels) of some manifest rows, as arrays: for a handful of examples."""
        return self.source.take(self.manifest.positions[rows]), self.manifest.labels[rows]

    def raw_rows(self, rows: np.ndarray) -> list[dict[str, str]] | None:
        """Table rows as a person reads them, {column: value}, for some manifest rows: the
        file's own cells for a CSV, the feature values of an array; None for images."""
        if self.kind != "tabular":
            return None
        positions = self.manifest.positions[rows]
        if hasattr(self.source, "raw_rows"):
            return self.source.raw_rows(positions)
        names = self.feature_names or [f"feature {j}" for j in range(self.input_shape[0])]
        return [{name: f"{value:.6g}" for name, value in zip(names, x, strict=False)}
                for x in self.source.take(positions)]

    def sample(self, split: str, limit: int = SAMPLE_LIMIT, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """(inputs, labels) of at most `limit` examples of a split as arrays: what a check that
        looks at examples one by one may hold. The whole split when it is that small."""
        rows = self.sample_rows(split, limit, seed)
        return self.source.take(self.manifest.positions[rows]), self.manifest.labels[rows]


def prepare(config: Config, run_dir: Path | None = None) -> Prepared:
    """The data of one run. With `run_dir`, reuse its manifest when the source is unchanged."""
    source = open_source(config)
    fingerprint = source.fingerprint()
    header_wanted = {"fingerprint": fingerprint, "seed": config.seed, "split": list(config.data.split),
                     "task": config.task, "drop_invalid": config.data.drop_invalid, "split_by": config.data.split_by,
                     "time_column": config.data.time_column, "time_cuts": config.data.time_cuts}
    loaded = load_manifest(run_dir) if run_dir is not None and fingerprint is not None else None
    if loaded is not None:
        manifest, stats = loaded
        if {k: manifest.header.get(k) for k in header_wanted} == _jsonable(header_wanted):
            source.settle(manifest.facts)
            _refuse_empty_splits(manifest, source.where, config, source.kind)  # data.batch_size may have changed
            return _prepared(source, manifest, stats, config, run_dir)
        print(f"{source.where} changed since this run's manifest ({run_dir / 'data'}) was written, or the "
              "split settings did: scanning it again", file=sys.stderr)
    manifest = scan(source, config, header_wanted)
    source.settle(manifest.facts)
    _refuse_empty_splits(manifest, source.where, config, source.kind)  # before the statistics, which need train
    stats = train_stats(source, manifest, config)
    prepared = _prepared(source, manifest, stats, config, run_dir)
    if run_dir is not None:
        manifest.save(run_dir, stats)
    return prepared


def _jsonable(value):
    import json

    return json.loads(json.dumps(value, default=str))


def scan(source, config: Config, header: dict) -> Manifest:
    """One pass over the source: D4 problems refused or dropped, the rest keyed and split."""
    found = source.scan()
    dropped: list[str] = []
    if found.invalid and not config.data.drop_invalid:
        first = sorted(found.invalid)[:5]
        listing = "; ".join(f"{source.origin_of(i)}: {found.invalid[i]}" for i in first)
        raise UserError(
            f"{len(found.invalid)} invalid example(s) in {source.where}: {listing}"
            f"{' ...' if len(found.invalid) > 5 else ''}. Fix them, or set data.drop_invalid=true to drop them"
        )
    if found.invalid:
        dropped = [f"{source.origin_of(i)}: {found.invalid[i]}" for i in sorted(found.invalid)]
        print(f"dropped {len(dropped)} invalid example(s) (data.drop_invalid=true)", file=sys.stderr)
    if len(found.positions) < 10:
        raise UserError(f"{source.where} has {len(found.positions)} valid examples; a 70/20/10 split needs 10 or more")
    if config.data.split_by == "time" and found.splits is None:
        raise UserError(f"data.split_by=time is for a CSV file with data.time_column; {source.where} has no time "
                        "column: use data.split_by=content or row")
    if found.split_keys is not None:
        split_keys = found.split_keys
    else:
        split_keys = row_keys(found.positions) if config.data.split_by == "row" else found.keys
    if found.facts.time_split:
        facts = found.facts.time_split
        cuts = "data.time_cuts" if facts["pinned"] else "the times at data.split's fractions of the rows"
        print(f"split by time ({facts['column']!r}): train before {facts['words'][0]}, val from {facts['words'][0]}, "
              f"test from {facts['words'][1]} ({cuts})", file=sys.stderr)
    bucket = buckets(split_keys, config.seed)  # train.folds cuts them, whatever decided the split
    splits = found.splits if found.splits is not None else splits_of(bucket, config.data.split)
    header = _jsonable(header) | {"facts": _jsonable(found.facts.record()), "dropped": dropped[:1000],
                                  "dropped_count": len(dropped), "kind": source.kind,
                                  "class_names": source.class_names, "where": source.where}
    return Manifest(found.positions, found.keys, splits, found.labels, found.sizes, found.origins, header,
                    bucket.astype(np.int16))


def train_stats(source: Source, manifest: Manifest, config: Config, rows: np.ndarray | None = None) -> TrainStats:
    """D2 from the training split alone (or from the manifest `rows` a fold trains on): in
    memory for arrays, one streaming pass otherwise."""
    rows = np.flatnonzero(manifest.splits == 0) if rows is None else rows
    positions, labels = manifest.positions[rows], manifest.labels[rows]
    classes = len(source.class_names)
    if isinstance(source, ArraySource):  # already in memory, as arrays
        return compute_train_stats(source.take(positions), labels, config.task, classes)
    return stream_train_stats(source.stream(positions, labels), labels, config.task, classes)


def _refuse_empty_splits(manifest: Manifest, where: str, config: Config, kind: str) -> None:
    counts = np.bincount(manifest.splits, minlength=3)
    if len(manifest) > 1 and np.all(manifest.keys == manifest.keys[0]):  # np.unique: 2.6 s on 3 million keys
        raise UserError(f"{where}: all {len(manifest)} examples hold the same input: the source reads one file or "
                        "row over and over, or the inputs were lost before they were saved")
    for name, count in zip(SPLITS, counts, strict=True):
        if count == 0:
            distinct = len(np.unique(manifest.keys))
            cause = (f"only {distinct} distinct input(s) among {len(manifest)} examples, and exact duplicates "
                     "share a split" if distinct < 0.5 * len(manifest) else
                     f"{len(manifest)} examples are too few for hash buckets to fill every split")
            coarse = (", or data.split_by=row for a table whose coarse columns repeat across records"
                      if distinct < 0.5 * len(manifest) and config.data.split_by != "row" else "")
            raise UserError(f"{where}: the {name} split is empty ({cause}); add distinct examples, or change "
                            f"data.split (now {list(config.data.split)}) or the seed{coarse}")
    batch = batch_size_of(config, kind, int(counts[0]))
    if counts[0] < batch:
        raise UserError(
            f"the training split has {counts[0]} examples, fewer than one batch "
            f"(data.batch_size={batch}); lower data.batch_size"
        )


def _prepared(source: Source, manifest: Manifest, stats: TrainStats, config: Config, run_dir: Path | None) -> Prepared:
    indices = {name: manifest.rows(name) for name in SPLITS}
    return Prepared(source, manifest, indices, stats, config.task, run_dir)


__all__ = ["SPLITS", "Prepared", "TrainStats", "prepare", "train_stats"]
