"""What the checks of a stage are a function of: for `inspect` and `check`, the config, the
prepared data, the run folder, and a model and datasets built once, when a check first asks;
for `evaluate`, the trained model's outputs and scores on val and test."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from ..bootstrap import Comparison
from ..config import Config, with_values
from ..data import Prepared
from ..data.pipeline import train_datasets
from ..models import ModelSpec, build_model, model_spec
from ..resolve import resolve


@dataclass
class Context:
    """The model is built on first use and shared: the checks that train it put its weights
    back. Datasets are built once, when a check first asks."""

    config: Config
    prepared: Prepared
    run_dir: Path
    lr_find: bool = False  # T10 runs only when asked (`check --lr-find`)
    earlier: list = field(default_factory=list)  # the verdicts given so far (registry.run_checks)

    def __post_init__(self):
        self.config = resolve(self.config, self.prepared).config  # the config inspect and check run with

    @cached_property
    def spec(self) -> ModelSpec:
        return model_spec(self.config, self.prepared)

    @cached_property
    def model(self) -> keras.Model:
        return self.new_model()

    def new_model(self, config: Config | None = None) -> keras.Model:
        """A fresh model from the same spec: for checks that train it and leave it trained."""
        return build_model(config or self.config, self.prepared, self.spec)

    @cached_property
    def train_batches(self) -> tf.data.Dataset:
        """The dataset `train` gives `fit` (D7 looks at its very first batch: each pass reshuffles)."""
        return train_datasets(self.config, self.prepared)[0]

    @cached_property
    def plain_batches(self) -> tf.data.Dataset:
        """The same with augmentation off, which changes inputs by design (D9)."""
        return train_datasets(with_values(self.config, {"data.augment": False}), self.prepared)[0]


@dataclass
class EvaluateContext:
    """What `evaluate` measured of the trained model, for its checks to judge."""

    config: Config
    prepared: Prepared
    run_dir: Path
    outputs: dict[str, np.ndarray]  # split -> the model's outputs, in the split's order
    scores: dict[str, dict[str, float]]  # split -> metric -> value
    intervals: dict[str, dict]  # split -> metric -> its bootstrap record
    seen: dict[str, int]  # split -> examples scored
    test_scored_at: list[str]  # every time the test split was scored in this run folder
    compared: dict[str, Comparison]  # baseline -> the paired difference on the test rows
    ensemble: int = 0  # O4: average the best trials of the run's search (`evaluate --ensemble N`)
    earlier: list = field(default_factory=list)  # `train`'s verdicts, then this stage's so far
