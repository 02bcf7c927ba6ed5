"""Load a source, refuse invalid examples, split by content, compute train-only statistics."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..config import Config
from ..errors import UserError
from .sources import Examples, load_examples
from .split import SPLITS, content_keys, split_indices, strata
from .stats import TrainStats, compute_train_stats


@dataclass
class Prepared:
    """Everything a stage needs to know about the data."""

    examples: Examples
    keys: list[str]  # content key of each example (D1, D3)
    indices: dict[str, np.ndarray]  # split name -> example indices
    stats: TrainStats
    task: str
    dropped: list[str] = field(default_factory=list)  # origins of invalid examples dropped (D4)

    @property
    def num_classes(self) -> int:
        return len(self.examples.class_names)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.examples.x.shape[1:])

    @property
    def kind(self) -> str:
        return self.examples.kind

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        index = self.indices[name]
        return self.examples.x[index], self.examples.y[index]


def invalid_examples(examples: Examples, task: str) -> dict[int, str]:
    """D4: index -> reason, for non-finite inputs and labels outside the label set.

    A CSV cell spelled as a missing value arrives here as NaN (features, regression target) or
    label -1, so a missing value is reported by its row like any other invalid example."""
    reasons: dict[int, str] = {}
    flat = examples.x.reshape(len(examples.x), -1)
    hint = " (a missing value in a CSV reads as NaN)" if examples.kind == "tabular" else ""
    for index in np.flatnonzero(~np.isfinite(flat).all(axis=1)):
        reasons[int(index)] = f"input holds NaN or Inf{hint}"
    if task == "regression":
        bad = np.flatnonzero(~np.isfinite(examples.y))
        reasons.update({int(i): "target is NaN or Inf (missing?)" for i in bad})
    else:
        classes = len(examples.class_names)
        bad = np.flatnonzero((examples.y < 0) | (examples.y >= classes))
        reasons.update({
            int(i): f"label {examples.y[i]} outside 0..{classes - 1}{' (missing label)' if examples.y[i] == -1 else ''}"
            for i in bad
        })
    return reasons


def prepare(config: Config) -> Prepared:
    examples = load_examples(config)
    dropped: list[str] = []
    invalid = invalid_examples(examples, config.task)
    if invalid and not config.data.drop_invalid:
        first = sorted(invalid)[:5]
        listing = "; ".join(f"{examples.origin(i)}: {invalid[i]}" for i in first)
        raise UserError(
            f"{len(invalid)} invalid example(s) in data source {config.data.source!r}: {listing}"
            f"{' ...' if len(invalid) > 5 else ''}. Fix them, or set data.drop_invalid=true to drop them"
        )
    if invalid:
        keep = np.setdiff1d(np.arange(len(examples.y)), sorted(invalid))
        dropped = [f"{examples.origin(i)}: {invalid[i]}" for i in sorted(invalid)]
        examples = Examples(
            examples.x[keep], examples.y[keep], examples.kind, examples.class_names,
            [examples.origins[i] for i in keep] if examples.origins else [], examples.feature_names,
        )
    if len(examples.y) < 10:
        raise UserError(
            f"data source {config.data.source!r} has {len(examples.y)} examples; a 70/20/10 split needs 10 or more"
        )
    keys = content_keys(examples.x, config.seed)
    indices = split_indices(keys, strata(examples.y, config.task), config.data.split)
    if len(indices["train"]) < config.data.batch_size:
        raise UserError(
            f"the training split has {len(indices['train'])} examples, fewer than one batch "
            f"(data.batch_size={config.data.batch_size}); lower data.batch_size"
        )
    train_x, train_y = examples.x[indices["train"]], examples.y[indices["train"]]
    stats = compute_train_stats(train_x, train_y, config.task, len(examples.class_names))
    return Prepared(examples, keys, indices, stats, config.task, dropped)


__all__ = ["SPLITS", "Examples", "Prepared", "TrainStats", "prepare"]
