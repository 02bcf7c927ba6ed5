"""What one pass over a source finds: the valid examples' keys, labels and sizes, the invalid ones,
and the facts the stages need later (saved in the run's manifest)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

import numpy as np


@dataclass
class ScanFacts:
    """What a pass learnt besides keys and labels: saved in the manifest's header, given back to
    the source's `settle` when the run folder is reused, read by the checks.

    Attributes:
        seen: Examples (rows, files, elements) the source holds, the invalid ones included.
        grayscale: Image files: every one had a single channel.
        class_names: Streams and tables: the label set found.
        labels_read: Arrays: how labels in another form (one-hot, 1..K) were read (D5 says it).
        path: Tables: the file's path (origins are its line numbers).
        columns: Tables: every column's record (`columns.Column.record`).
        ragged_rows: Tables: rows with another number of cells than the header (D4).
        group_candidates: Tables: columns named like a key whose values repeat (D10's hint).
        groups: `data.group_column`: {"column", "count", "design_effect"} (D1 widens by it).
        time_split: `data.split_by=time`: {"column", "kind", "cuts", "pinned", "words"} (time_split.py).
    """

    seen: int
    grayscale: bool | None = None
    class_names: list[str] | None = None
    labels_read: str = ""
    path: str | None = None
    columns: list[dict] | None = None
    ragged_rows: list[str] = field(default_factory=list)
    group_candidates: list[str] = field(default_factory=list)
    groups: dict | None = None
    time_split: dict | None = None

    def record(self) -> dict:
        return asdict(self)

    @classmethod
    def from_record(cls, record: dict) -> ScanFacts:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in record.items() if k in known})


@dataclass
class Scan:
    positions: np.ndarray  # int64: the valid examples' places in the source
    keys: np.ndarray  # uint64 content keys
    labels: np.ndarray  # int64 class ids or float32 targets
    sizes: np.ndarray  # int64 bytes
    origins: np.ndarray | None  # str: file path or CSV line per valid example; None: "example #i"
    invalid: dict[int, str]  # position -> why (D4)
    facts: ScanFacts
    split_keys: np.ndarray | None = None  # uint64 keys the split hashes, when not the content (data.group_column)
    splits: np.ndarray | None = None  # int8 splits decided by the source itself (data.split_by=time)
