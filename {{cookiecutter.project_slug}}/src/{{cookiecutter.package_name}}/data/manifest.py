"""The run's record of its data: one row per example, written once, read by every later stage.

`<run>/data/` holds `manifest.npz` (per example: its position in the source, content key,
split, label, size in bytes; file paths for file sources), `manifest.json` (the source's
fingerprint, the class and feature names, the input shape, the examples dropped by D4) and
`stats.json` (the train-only statistics, D2). A later stage of the run loads these in well
under a second instead of scanning the source again; when the source's fingerprint no longer
matches (a file added, changed or removed; another tfds version) it says so and scans again,
so that two stages never mix two versions of the data.

NumPy columns rather than a CSV of rows: a 3-million-row manifest loads in a fraction of a
second this way, where parsing it as text would take longer than the scan it saves.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..rundir import RunFiles, write_whole, writing_whole
from .scan import ScanFacts
from .split import SPLITS
from .stats import TrainStats

COLUMNS = "manifest.npz"
HEADER = "manifest.json"
STATS = "stats.json"


@dataclass
class Manifest:
    """Every valid example of the source, in the source's order."""

    positions: np.ndarray  # int64: where the source yields it (file list index, row, element)
    keys: np.ndarray  # uint64 content keys (D1, D3)
    splits: np.ndarray  # int8: 0 train, 1 val, 2 test
    labels: np.ndarray  # int64 class ids or float32 targets
    sizes: np.ndarray  # int64 bytes on disk (files) or in memory (arrays, rows)
    origins: np.ndarray | None  # str: file path or CSV line per example; None: "example #position"
    header: dict = field(default_factory=dict)  # fingerprint, kind, names, input shape, dropped
    # int16: each example's hash bucket (split.buckets of its split key), which train.folds cuts
    buckets: np.ndarray | None = None

    @property
    def facts(self) -> ScanFacts:
        """What the scan learnt besides keys and labels (scan.py)."""
        return ScanFacts.from_record(self.header.get("facts", {"seen": len(self.positions)}))

    def __len__(self) -> int:
        return len(self.positions)

    def rows(self, split: str) -> np.ndarray:
        """The manifest rows of one split, in the source's order."""
        return np.flatnonzero(self.splits == SPLITS.index(split))

    def origin(self, row: int) -> str:
        """Where a person finds the example: its file, its CSV line, or its place in the source."""
        if self.origins is not None and self.origins.dtype.kind in "iu":  # CSV lines
            return f"{self.facts.path}:{int(self.origins[row])}"
        if self.origins is not None:
            return str(self.origins[row])
        line_offset = self.header.get("line_offset")
        position = int(self.positions[row])
        if line_offset is not None:
            return f"{self.header['location']}:{position + line_offset}"
        return f"example #{position}"

    def save(self, run_dir: Path, stats: TrainStats) -> None:
        """Columns first, header last: a stage killed in between leaves no header, and the next
        stage scans again rather than trusting half a manifest."""
        folder = run_dir / RunFiles.DATA
        folder.mkdir(parents=True, exist_ok=True)
        (folder / HEADER).unlink(missing_ok=True)
        columns = {"positions": self.positions, "keys": self.keys, "splits": self.splits,
                   "labels": self.labels, "sizes": self.sizes}
        if self.origins is not None:
            columns["origins"] = self.origins
        if self.buckets is not None:
            columns["buckets"] = self.buckets
        with writing_whole(folder / COLUMNS) as partial, partial.open("wb") as handle:
            np.savez(handle, **columns)
        for name, record in ((STATS, asdict(stats) | {"priors": stats.priors}), (HEADER, self.header)):
            write_whole(folder / name, json.dumps(record, indent=2, default=str))


def load_manifest(run_dir: Path) -> tuple[Manifest, TrainStats] | None:
    """The run's manifest and statistics, or None when there is none (or only half of one)."""
    folder = run_dir / RunFiles.DATA
    if not (folder / HEADER).is_file() or not (folder / COLUMNS).is_file() or not (folder / STATS).is_file():
        return None
    header = json.loads((folder / HEADER).read_text())
    with np.load(folder / COLUMNS, allow_pickle=False) as columns:
        if "buckets" not in columns:  # written before train.folds: scanned again
            return None
        manifest = Manifest(columns["positions"], columns["keys"], columns["splits"], columns["labels"],
                            columns["sizes"], columns["origins"] if "origins" in columns else None, header,
                            columns["buckets"])
    return manifest, TrainStats.load(folder / STATS)
