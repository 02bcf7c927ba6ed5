"""The tf.data pipeline that feeds `fit`, `evaluate` and the checks."""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def make_dataset(
    x: np.ndarray,
    y: np.ndarray,
    batch_size: int,
    *,
    training: bool,
    seed: int,
    shuffle_buffer: int = 10_000,
    cache: bool = True,
) -> tf.data.Dataset:
    """Batches of (input, label). Training data is shuffled again each epoch from a seed;
    evaluation data keeps every example (no drop_remainder: RECIPE T13)."""
    dataset = tf.data.Dataset.from_tensor_slices((x, y))
    if cache:
        dataset = dataset.cache()
    if training:
        dataset = dataset.shuffle(min(shuffle_buffer, len(x)), seed=seed, reshuffle_each_iteration=True)
    options = tf.data.Options()
    options.deterministic = True
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE).with_options(options)
