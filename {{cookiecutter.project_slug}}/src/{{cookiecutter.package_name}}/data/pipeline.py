"""The tf.data pipeline that feeds `fit`, `evaluate` and the checks.

A split streams from its source (streams.py, tables.py): parallel decode, an optional cache, a bounded
shuffle buffer reshuffled each epoch, batches, prefetch. Training reads its examples in a
seeded permutation (fixed for the run), so that a bounded buffer mixes a folder sorted by
class as well as a full shuffle would; an image folder reshuffles its whole file list (or
the cached file bytes) each epoch before decoding, which costs little (they are small).
"""

from __future__ import annotations

import math
import uuid

import numpy as np
import tensorflow as tf

from ..config import Config
from ..rundir import RunFiles
from ..schedule import steps_per_epoch
from .augment import augment_batches
from .batching import batch_size_of

# data.cache=auto keeps the training split in memory below this many bytes (data.cache_memory_mb).
CACHE_MEMORY_BYTES_DEFAULT = 512 * 1024**2
# The shuffle buffer holds at most this many bytes of decoded examples (and at least 1,000 of them).
SHUFFLE_BYTES = 256 * 1024**2


def make_dataset(
    x: np.ndarray,
    y: np.ndarray,
    batch_size: int,
    *,
    training: bool,
    seed: int,
    shuffle_buffer: int = 10_000,
    cache: bool = False,
    augment: bool | str = False,
    augment_flip: bool = False,
) -> tf.data.Dataset:
    """Batches of in-memory (input, label) arrays, as `split_dataset` makes them for a split."""
    examples = tf.data.Dataset.from_tensor_slices((x, y))
    augment = augment if training and x.ndim == 4 else False  # True, or the preset's name (augment.py)
    return _finish(examples.cache() if cache else examples, len(y), batch_size, training=training, seed=seed,
                   shuffle_buffer=shuffle_buffer, augment=augment, augment_flip=augment_flip,
                   value_range=(float(x.min()), float(x.max())) if augment and len(x) else (0.0, 1.0))


def split_dataset(prepared, split: str, batch_size: int, *, training: bool, seed: int, shuffle_buffer: int = 10_000,
                  cache: str = "off", augment: bool | str = False, augment_flip: bool = False,
                  rows: np.ndarray | None = None, cache_budget: int = CACHE_MEMORY_BYTES_DEFAULT) -> tf.data.Dataset:
    """Batches of one split (or of some of its manifest `rows`). Training data is shuffled
    again each epoch from a seed; evaluation data keeps every example, in the split's order
    (no drop_remainder: RECIPE T13). `augment` changes training images only, after the cache,
    so that each epoch draws anew."""
    rows = prepared.indices[split] if rows is None else rows
    if training:
        rows = np.random.default_rng(seed).permutation(rows)
    positions, labels = prepared.manifest.positions[rows], prepared.manifest.labels[rows]
    mode = resolve_cache(cache, prepared, positions, cache_budget) if training else "off"
    source = prepared.source
    if source.reads_files:  # image files: shuffled and cached before decoding
        examples = source.stream(positions, labels, shuffle_seed=seed if training else None,
                                 cache_files=mode == "memory")
        shuffled_already = True
    else:
        examples = source.stream(positions, labels)
        if mode == "memory":
            examples = examples.cache()
        elif mode == "disk":
            folder = prepared.run_dir / RunFiles.DATA / "cache"
            folder.mkdir(parents=True, exist_ok=True)
            # One file per dataset: a second iterator on the same cache file while the first is
            # writing is an error in tf.data, and the checks build several training datasets.
            examples = examples.cache(str(folder / f"{split}-{uuid.uuid4().hex[:12]}"))
        shuffled_already = False
    # A bounded buffer, in examples and in bytes: the rows are in a seeded permutation already,
    # so the buffer only has to give each epoch a new order, not to mix a sorted source.
    example_bytes = 4 * math.prod(prepared.input_shape)
    buffer = min(shuffle_buffer, len(rows), max(1_000, SHUFFLE_BYTES // max(example_bytes, 1)))
    low, high = prepared.stats.pixel_range if prepared.kind == "image" else (0.0, 1.0)
    return _finish(examples, buffer, batch_size, training=training and not shuffled_already, seed=seed,
                   shuffle_buffer=shuffle_buffer, augment=augment if training and prepared.kind == "image" else False,
                   augment_flip=augment_flip, value_range=(low, high))


def resolve_cache(setting: str, prepared, positions: np.ndarray, budget: int = CACHE_MEMORY_BYTES_DEFAULT) -> str:
    """auto: nothing for in-memory sources (they are in memory already); image files' bytes in
    memory when they fit under `budget`, else read from disk each epoch (they are on disk
    already); decoded examples of other streams in memory when they fit, else read again
    each epoch. `disk` (asked for) caches decoded examples in the run folder."""
    source = prepared.source
    if setting == "disk" and (prepared.run_dir is None or source.reads_files):
        return "off"
    if setting != "auto":
        return setting
    if source.in_memory:
        return "off"
    if source.reads_files:
        return "memory" if source.bytes_of(positions) <= budget else "off"
    decoded = len(positions) * math.prod(prepared.input_shape) * 4
    # Too large for memory: read again each epoch. Not the disk: tf.data's file cache more
    # than doubled the train stage's peak memory on a large CSV (the template's BENCHMARKS.md).
    return "memory" if decoded <= budget else "off"


def _finish(examples: tf.data.Dataset, n: int, batch_size: int, *, training: bool, seed: int, shuffle_buffer: int,
            augment: bool | str, augment_flip: bool, value_range: tuple[float, float]) -> tf.data.Dataset:
    """Shuffle (buffer min(shuffle_buffer, n)), batch, augment, prefetch."""
    if training:
        examples = examples.shuffle(max(1, min(shuffle_buffer, n)), seed=seed, reshuffle_each_iteration=True)
    dataset = examples.batch(batch_size)
    if augment:
        dataset = augment_batches(dataset, seed, value_range, flip=augment_flip,
                                  preset=augment if isinstance(augment, str) else "digits")
    options = tf.data.Options()
    options.deterministic = True
    return dataset.prefetch(tf.data.AUTOTUNE).with_options(options)


def train_datasets(config: Config, prepared, batch_size: int | None = None, for_fit: bool = False):
    """Train and val batches of `batch_size` (default data.batch_size; under a strategy, the
    global batch: data.batch_size x replicas). `for_fit`: the datasets `fit` runs for many
    epochs, which data.cache applies to; the checks read a few batches and cache nothing."""
    batch_size = batch_size or batch_size_of(config, prepared.kind, prepared.size("train"))
    train = split_dataset(prepared, "train", batch_size, training=True, seed=config.seed,
                          shuffle_buffer=config.data.shuffle_buffer, cache=config.data.cache if for_fit else "off",
                          augment=config.data.augment, augment_flip=config.data.augment_flip,
                          cache_budget=config.data.cache_memory_mb * 1024**2)
    val = split_dataset(prepared, "val", batch_size, training=False, seed=config.seed)
    return train, val


def fit_inputs(train: tf.data.Dataset, val: tf.data.Dataset, prepared, batch_size: int) -> dict:
    """`fit`'s data arguments: both splits repeated, with one pass over each as an epoch.
    Why: over a finite dataset Keras makes a new training iterator every epoch (the pipeline's
    graph optimised again, its buffers refilled: seconds an epoch on a wide table) and two
    validation iterators (one more after the pass, which its evaluate() throws away); over a
    repeated one, given the steps, it keeps the training iterator for the whole run and makes
    one validation iterator an epoch (evaluate() resets it by design). Each pass reshuffles."""
    return {"x": train.repeat(), "steps_per_epoch": steps_per_epoch(prepared.size("train"), batch_size),
            "validation_data": val.repeat(), "validation_steps": steps_per_epoch(prepared.size("val"), batch_size)}


def train_shards(config: Config, prepared, global_batch: int):
    """For fit_multi_worker: each worker's share of the training split (every n-th example),
    batched per replica."""
    rows = prepared.indices["train"]

    def shard(context):
        part = rows[context.input_pipeline_id::context.num_input_pipelines]
        return split_dataset(prepared, "train", context.get_per_replica_batch_size(global_batch), training=True,
                             seed=config.seed, shuffle_buffer=config.data.shuffle_buffer, cache=config.data.cache,
                             augment=config.data.augment, augment_flip=config.data.augment_flip, rows=part,
                             cache_budget=config.data.cache_memory_mb * 1024**2)

    return shard


def evaluation_dataset(prepared, split: str, batch_size: int = 256) -> tf.data.Dataset:
    """A whole split in its order, for full-split scores (M1, T13, the baselines)."""
    return split_dataset(prepared, split, batch_size, training=False, seed=0)


def stack_inputs(dataset, count: int, shape: tuple[int, ...]) -> np.ndarray:
    """The inputs of a bounded stream as one array (a sample, never a whole split)."""
    out = np.empty((count, *shape), np.float32)
    filled = 0
    for x, _ in dataset.batch(256).as_numpy_iterator():
        out[filled:filled + len(x)] = x
        filled += len(x)
    return out[:filled]
