"""Process-wide settings a run starts with: the seeds (and, for T14, op determinism)."""

from __future__ import annotations

import keras


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Python, NumPy and the backend's generators from one seed; with `deterministic`, also
    TensorFlow's op determinism (T14), which turns off automatic XLA and costs speed on GPUs."""
    keras.utils.set_random_seed(seed)
    if deterministic:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
