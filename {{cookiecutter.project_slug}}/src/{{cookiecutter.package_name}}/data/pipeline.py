"""The tf.data pipeline that feeds `fit`, `evaluate` and the checks."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from .augment import augment_batches


def make_dataset(
    x: np.ndarray,
    y: np.ndarray,
    batch_size: int,
    *,
    training: bool,
    seed: int,
    shuffle_buffer: int = 10_000,
    cache: bool = True,
    augment: bool = False,
    augment_flip: bool = False,
) -> tf.data.Dataset:
    """Batches of (input, label). Training data is shuffled again each epoch from a seed;
    evaluation data keeps every example (no drop_remainder: RECIPE T13). `augment` changes
    training images only (augment.py), after the cache, so each epoch draws anew; it never
    touches evaluation data or tables."""
    dataset = tf.data.Dataset.from_tensor_slices((x, y))
    if cache:
        dataset = dataset.cache()
    if training:
        dataset = dataset.shuffle(min(shuffle_buffer, len(x)), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size)
    if training and augment and x.ndim == 4:
        value_range = (float(x.min()), float(x.max()))
        dataset = augment_batches(dataset, seed, value_range, flip=augment_flip)
    options = tf.data.Options()
    options.deterministic = True
    return dataset.prefetch(tf.data.AUTOTUNE).with_options(options)
