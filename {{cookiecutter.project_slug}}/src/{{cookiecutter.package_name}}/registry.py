"""How each check of `inspect` and `check` runs: a function of one context, keyed by the
recipe entry (recipe.py) it gives the verdict of. The two stages are loops over their
recipe entries, in the recipe's order.

A runner only picks its arguments out of the context; the check functions keep plain
arguments, so that a test calls one with exactly what it plants.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import keras
import tensorflow as tf

from . import recipe
from .baselines import (
    check_dumb_baseline,
    check_human_baseline,
    check_input_independent,
    check_simple_model,
)
from .checks.architecture import check_architecture
from .checks.batch_independence import check_batch_independence
from .checks.data import (
    check_balance,
    check_columns,
    check_duplicates,
    check_invalid,
    check_outliers,
    check_pairs_intact,
    check_shuffled_batches,
    check_split,
    check_train_stats,
)
from .checks.inference_mode import check_inference_mode
from .checks.label_issues import check_label_issues
from .checks.leakage import check_feature_leakage
from .checks.loss_trend import check_loss_goes_down, larger_config
from .checks.lr_find import check_lr_range
from .checks.model import check_loss_at_init, check_loss_input, check_output_bias, output_offset
from .checks.reproducibility import check_reproducibility
from .checks.target import check_target
from .checks.training import check_overfit_one_batch
from .checks.visualise import check_batch_view
from .checks.weights_learn import check_every_weight_learns
from .config import Config, with_values
from .data import Prepared
from .data.batching import settle_for
from .data.pipeline import train_datasets
from .models import ModelSpec, build_model, model_spec
from .verdicts import Verdict, verdict


@dataclass
class Context:
    """What a check is a function of. The model is built on first use and shared: the checks
    that train it put its weights back. Datasets are built once, when a check first asks."""

    config: Config
    prepared: Prepared
    run_dir: Path
    lr_find: bool = False  # T10 runs only when asked (`check --lr-find`)

    def __post_init__(self):
        settle_for(self.config, self.prepared)  # data.batch_size auto, for a config prepare did not see

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


def _pairs_intact(c: Context) -> Verdict:
    verdict = check_pairs_intact(c.plain_batches, c.prepared, c.config.inspect.batches)
    if c.config.data.augment:
        verdict.measured["augmentation"] = "off for this check: it changes inputs by design"
    return verdict


def _label_issues(c: Context) -> Verdict:
    s = c.config.inspect
    return check_label_issues(c.prepared, s.label_sample, s.label_folds, s.label_issues_warn, c.config.seed, c.run_dir)


Runner = Callable[[Context], Verdict]

RUNNERS: dict[tuple[str, str], Runner] = {
    ("inspect", "D1"): lambda c: check_split(c.prepared, c.config.data.split, c.config.inspect.split_sigmas),
    ("inspect", "D2"): lambda c: check_train_stats(c.prepared),
    ("inspect", "D3"): lambda c: check_duplicates(c.prepared, c.run_dir),
    ("inspect", "D4"): lambda c: check_invalid(c.prepared),
    ("inspect", "D5"): lambda c: check_balance(c.prepared),
    ("inspect", "D6"): lambda c: check_outliers(c.prepared, c.run_dir, c.config.inspect),
    ("inspect", "D7"): lambda c: check_batch_view(c.train_batches, c.prepared, c.run_dir,
                                                  augmented=c.config.data.augment),
    ("inspect", "D8"): lambda c: check_shuffled_batches(c.train_batches, c.prepared, c.config.inspect),
    ("inspect", "D9"): _pairs_intact,
    ("inspect", "D10"): lambda c: check_columns(c.prepared),
    ("inspect", "D11"): lambda c: check_feature_leakage(c.prepared, c.config.inspect),
    ("inspect", "D12"): _label_issues,
    ("inspect", "D13"): lambda c: check_target(c.prepared, c.config.inspect),
    ("check", "M3"): lambda c: check_loss_input(c.model, c.prepared),
    ("check", "M2"): lambda c: check_output_bias(c.model, c.spec.output_bias),
    ("check", "M1"): lambda c: check_loss_at_init(c.model, c.prepared, output_offset(c.model),
                                                  c.config.check.init_loss_warn_nats),
    ("check", "M4"): lambda c: check_architecture(c.model, c.prepared, c.config),
    ("check", "B1"): lambda c: check_dumb_baseline(c.prepared),
    # B4 early: a bad labels file stops the stage before any training
    ("check", "B4"): lambda c: check_human_baseline(c.prepared, c.config),
    ("check", "T2"): lambda c: check_batch_independence(c.model, c.prepared, c.config),
    ("check", "T4"): lambda c: check_inference_mode(c.model, c.prepared),
    ("check", "T5"): lambda c: check_every_weight_learns(c.model, c.prepared, c.config),
    ("check", "T1"): lambda c: check_overfit_one_batch(c.new_model(), c.prepared, c.config, c.run_dir),
    ("check", "T3"): lambda c: check_loss_goes_down(c.new_model(), c.new_model(larger_config(c.config)), c.prepared,
                                                    c.config, c.run_dir),
    ("check", "B2"): lambda c: check_input_independent(c.model, c.prepared, c.config, c.run_dir),
    ("check", "B3"): lambda c: check_simple_model(c.spec, c.prepared, c.config, c.run_dir),
    ("check", "T14"): lambda c: check_reproducibility(c.config, c.prepared),
    ("check", "T10"): lambda c: check_lr_range(c.model, c.prepared, c.config, c.run_dir) if c.lr_find else verdict(
        "T10", "skip", advice="the sweep costs check.lr_find_steps steps, so it runs when asked: `check --lr-find`"),
}


def run_checks(stage: str, context: Context) -> list[Verdict]:
    """Every recipe check of `stage`, in the recipe's order."""
    return [RUNNERS[(stage, check.id)](context) for check in recipe.for_stage(stage)]
