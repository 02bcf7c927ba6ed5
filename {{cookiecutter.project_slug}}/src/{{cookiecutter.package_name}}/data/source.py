"""`Source`: what every source of examples offers the stages (streams.py, tables.py).

A protocol that the four sources subclass, so that the capabilities only some of them have
(a table's columns, an image folder's files) have one answer everywhere: the defaults below,
which a source without the capability keeps. Checks read `prepared.source.columns`, never
`getattr(..., "columns", None)`.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from .scan import Scan, ScanFacts


class Source(Protocol):
    """Examples by position: `scan` reads them once, `stream` and `take` serve them after.

    Attributes:
        kind: "image" or "tabular".
        where: The source in words, for messages ("CSV file data/x.csv").
        class_names: The label set, in class-id order (empty for regression).
        feature_names: A table's feature names, in the order of the model's inputs.
        input_shape: One example's shape, as the model gets it.
        columns: Tables: a `columns.Column` per feature column, with its role and why.
        converted: Arrays of images: how their layout was changed on the way in (D7 says it).
        encoder: Tables: the Keras layer that turns a row's cells into features (serving).
        level_indices: Tables: (feature position, levels + 1) of each identifier-like column.
        reads_files: Image files: the pipeline may shuffle the file list before decoding.
        in_memory: Every example is held in memory, as arrays or encoded rows: no cache needed.
    """

    kind: str
    where: str
    class_names: list[str]
    feature_names: list[str]
    input_shape: tuple[int, ...]
    columns: tuple = ()
    converted: str = ""
    encoder: object = None
    level_indices: tuple = ()
    reads_files: bool = False
    in_memory: bool = False

    def fingerprint(self) -> dict | None:
        """What identifies the data (sizes, dates, a digest): a changed one scans again."""

    def scan(self) -> Scan:
        """One pass: keys, labels, sizes, origins and the invalid examples (D4)."""

    def settle(self, facts: ScanFacts) -> None:
        """Take what a scan learnt (a table's columns, whether images are gray), fresh or saved."""

    def origin_of(self, position: int) -> str:
        """Where one example came from, as a person finds it (a path, a row number)."""

    def take(self, positions: np.ndarray) -> np.ndarray:
        """The inputs at some positions, as one array: for a handful of examples."""

    def stream(self, positions: np.ndarray, labels: np.ndarray):
        """A tf.data.Dataset of (input float32, label) pairs for those positions, in order."""
