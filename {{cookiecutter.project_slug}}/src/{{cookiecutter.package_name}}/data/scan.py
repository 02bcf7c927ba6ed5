"""What one pass over a source finds: the valid examples' keys, labels and sizes, and the invalid ones."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Scan:
    positions: np.ndarray  # int64: the valid examples' places in the source
    keys: np.ndarray  # uint64 content keys
    labels: np.ndarray  # int64 class ids or float32 targets
    sizes: np.ndarray  # int64 bytes
    origins: np.ndarray | None  # str: file path or CSV line per valid example; None: "example #i"
    invalid: dict[int, str]  # position -> why (D4)
    facts: dict = field(default_factory=dict)  # what else the pass learnt (grayscale, elements seen)
    split_keys: np.ndarray | None = None  # uint64 keys the split hashes, when not the content (data.group_column)
