"""The sources every stage streams examples from, by position, and `open_source`, which picks one.

Four kinds, one interface:
- `ArraySource`: examples that arrive in memory (bundled, .npz, a loader returning arrays;
  loaders.py makes them);
- `ImageFolderSource`: a file list, decoded in a parallel tf.data map (images.py);
- `StreamSource`: a `tf.data.Dataset` (tfds, or a loader that returns one), read in order
  and filtered by position, so it is never held whole;
- `CsvSource` (tables.py): a CSV file read in blocks, its cells encoded by Keras layers.

`scan()` reads the source once (keys, labels, sizes, D4 problems); `settle(facts)` takes what
a scan learnt (for images: whether they are all grayscale), from a fresh scan or from the
run's manifest; `stream(positions, labels)` yields (input float32, label) pairs for those
positions, with the labels the manifest holds.
"""

from __future__ import annotations

import hashlib

import numpy as np

from ..config import Config
from ..errors import UserError
from ..storage import locate
from . import images
from .loaders import Examples, call_user_loader, check_label_set, invalid_inputs, invalid_labels, load_examples
from .pipeline import stack_inputs
from .scan import Scan, ScanFacts
from .source import Source
from .split import array_keys
from .tables import CsvSource


class ArraySource(Source):
    """In-memory examples: they came as arrays, so streaming them copies no file."""

    in_memory = True

    def __init__(self, examples: Examples, task: str, where: str):
        self.examples, self.task, self.where = examples, task, where
        self.kind = examples.kind
        self.converted = examples.converted  # D7 says how the images' layout was changed
        self.class_names = examples.class_names
        self.feature_names = examples.feature_names
        self.input_shape = tuple(examples.x.shape[1:])

    def fingerprint(self) -> dict:
        digest = hashlib.blake2b(digest_size=16)
        for array in (self.examples.x, self.examples.y):
            digest.update(f"{array.dtype.str}{array.shape}".encode())
            digest.update(np.ascontiguousarray(array).tobytes())
        return {"arrays": digest.hexdigest(), "examples": len(self.examples.y)}

    def scan(self) -> Scan:
        x, y = self.examples.x, self.examples.y
        invalid = invalid_inputs(x, self.kind) | invalid_labels(y, self.task, len(self.class_names))
        good = np.setdiff1d(np.arange(len(y)), sorted(invalid))
        origins = np.asarray(self.examples.origins)[good] if self.examples.origins else None
        sizes = np.full(len(good), x[0].nbytes if len(x) else 0, np.int64)
        return Scan(good, array_keys(x[good]), y[good], sizes, origins, invalid,
                    ScanFacts(len(y), labels_read=self.examples.labels_read))

    def settle(self, facts: ScanFacts) -> None:
        pass

    def origin_of(self, position: int) -> str:
        return self.examples.origin(position)

    def take(self, positions: np.ndarray) -> np.ndarray:
        return self.examples.x[positions]

    def stream(self, positions: np.ndarray, labels: np.ndarray):
        import tensorflow as tf

        return tf.data.Dataset.from_tensor_slices((self.examples.x[positions], labels))


class ImageFolderSource(Source):
    """One sub-folder per class; images decoded and resized as they are read."""

    kind = "image"
    feature_names: list[str] = []
    reads_files = True  # the pipeline may shuffle the file list before decoding

    def __init__(self, config: Config):
        root = locate(config.data.location)
        self.class_names, self.paths, self.labels, self.stamps = images.list_images(root, config.task)
        self.image_size = tuple(config.data.image_size)
        self.channels_setting = config.data.channels
        self.channels = 3 if self.channels_setting == "auto" else int(self.channels_setting)
        self.where = f"image folder {root}"

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (*self.image_size, self.channels)

    def fingerprint(self) -> dict:
        return images.fingerprint(self.paths, self.stamps) | {"image_size": list(self.image_size),
                                                               "channels": self.channels_setting}

    def scan(self) -> Scan:
        return images.scan_files(self.paths, self.labels)

    def settle(self, facts: ScanFacts) -> None:
        if self.channels_setting == "auto":
            self.channels = 1 if facts.grayscale else 3

    def origin_of(self, position: int) -> str:
        return self.paths[position]

    def stream(self, positions: np.ndarray, labels: np.ndarray, shuffle_seed: int | None = None,
               cache_files: bool = False):
        """Decoded images in the order of `positions`; with `shuffle_seed`, the whole list in a
        new order each pass (paths and file bytes are small: a full shuffle costs nothing); with
        `cache_files`, each file's bytes are kept in memory after the first pass (JPEG and PNG
        bytes are 10 to 50 times smaller than the decoded float32 image), decoded every pass."""
        import tensorflow as tf

        files = tf.data.Dataset.from_tensor_slices((np.asarray(self.paths)[positions], labels))
        full = max(1, len(positions))
        if shuffle_seed is not None and not cache_files:  # shuffle the paths: the buffer holds names only
            files = files.shuffle(full, seed=shuffle_seed, reshuffle_each_iteration=True)
        read = images.reader(self.paths)
        files = files.map(lambda path, label: (read(path), label), num_parallel_calls=tf.data.AUTOTUNE,
                          deterministic=True)
        if cache_files:  # the bytes are in memory anyway: shuffle them, not the paths
            files = files.cache()
            if shuffle_seed is not None:
                files = files.shuffle(full, seed=shuffle_seed, reshuffle_each_iteration=True)
        channels, size = self.channels, self.image_size
        return files.map(lambda contents, label: (images.decode(contents, channels, size), label),
                         num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)

    def bytes_of(self, positions: np.ndarray) -> int:
        sizes = np.asarray([size for size, _ in self.stamps], np.int64)
        return int(sizes[positions].sum())

    def take(self, positions: np.ndarray) -> np.ndarray:
        return stack_inputs(self.stream(positions, self.labels[positions]), len(positions), self.input_shape)


class StreamSource(Source):
    """A `tf.data.Dataset` of (input, label), read front to back: tfds, or a user loader's.

    `factory()` makes a fresh pass; it must yield the same elements in the same order each
    time (tfds does with shuffle_files=False). Images (rank 2 or 3) are resized to
    data.image_size; a missing channel axis, as keras.datasets gives, is added."""

    def __init__(self, factory, config: Config, where: str, class_names: list[str] | None,
                 fingerprint: dict | None):
        self.factory, self.task, self.where = factory, config.task, where
        self.image_size = tuple(config.data.image_size)
        self._fingerprint = fingerprint
        self.feature_names: list[str] = []
        spec = factory().element_spec
        if not isinstance(spec, tuple) or len(spec) != 2:
            raise UserError(f"{where}: the dataset must yield (input, label) pairs; it yields {spec}")
        rank = spec[0].shape.rank
        if rank not in (1, 2, 3):
            raise UserError(f"{where}: inputs must be (features,), (H, W) or (H, W, C) per example, "
                            f"got {spec[0].shape}")
        self.kind = "tabular" if rank == 1 else "image"
        channels = 1 if rank == 2 else spec[0].shape[-1]
        first, second = (spec[0].shape[:2] if rank == 3 else (None, None))
        if first in (1, 3, 4) and (second or 0) > first and channels not in (1, 3, 4):
            raise UserError(f"{where}: examples of shape {spec[0].shape} look channels-first (C, H, W); the models "
                            "take channels-last (H, W, C): map tf.transpose(x, [1, 2, 0]) over the dataset")
        features = spec[0].shape[0]
        if (self.kind == "image" and channels is None) or (self.kind == "tabular" and features is None):
            raise UserError(f"{where}: the input's last axis must have a fixed size, got {spec[0].shape}")
        self.input_shape = (*self.image_size, channels) if self.kind == "image" else (features,)
        self.class_names = list(class_names or [])

    def fingerprint(self) -> dict | None:
        return self._fingerprint

    def _prepared(self, x):
        import tensorflow as tf

        x = tf.cast(x, tf.float32)
        if self.kind == "image":
            x = x[..., None] if x.shape.rank == 2 else x
            x = tf.image.resize(x, self.image_size)
        return x

    def scan(self) -> Scan:
        import tensorflow as tf

        def probe(x, y):
            key = tf.bitcast(tf.fingerprint(tf.expand_dims(tf.io.serialize_tensor(x), 0))[0], tf.uint64)
            finite = tf.reduce_all(tf.math.is_finite(tf.cast(x, tf.float32)))
            return key, tf.reshape(tf.cast(y, tf.float64), [-1]), finite, tf.size(x, tf.int64) * x.dtype.size

        columns: list[list[np.ndarray]] = [[], [], [], []]
        for batch in self.factory().map(probe, num_parallel_calls=tf.data.AUTOTUNE).batch(1024).as_numpy_iterator():
            for column, values in zip(columns, batch, strict=True):
                column.append(values)
        if not columns[0]:
            raise UserError(f"{self.where} holds no examples")
        keys, raw, finite, sizes = (np.concatenate(c) for c in columns)
        if raw.shape[1] != 1:
            raise UserError(f"{self.where}: labels must be one value per example, got {raw.shape[1]} (one-hot?)")
        raw = raw[:, 0]
        labels = raw.astype(np.float32) if self.task == "regression" else raw.astype(np.int64)
        if self.task != "regression" and not self.class_names:
            count = 2 if self.task == "binary" else int(labels.max()) + 1
            self.class_names = [str(c) for c in range(count)]
        invalid = {int(i): "input holds NaN or Inf" for i in np.flatnonzero(~finite)}
        invalid |= invalid_labels(labels, self.task, len(self.class_names))
        good = np.setdiff1d(np.arange(len(labels)), sorted(invalid))
        check_label_set(labels[good], self.class_names, self.task, self.where)
        return Scan(good, keys[good], labels[good], sizes[good].astype(np.int64), None, invalid,
                    ScanFacts(len(labels), class_names=self.class_names))

    def settle(self, facts: ScanFacts) -> None:
        self.class_names = list(facts.class_names or self.class_names)

    def origin_of(self, position: int) -> str:
        return f"example #{position}"

    def stream(self, positions: np.ndarray, labels: np.ndarray):
        import tensorflow as tf

        # Flags up to the last position wanted: zip stops there, so a few examples near the
        # start (a check's sample, the first batch) do not cost a pass over the whole source.
        end = int(positions.max()) + 1 if len(positions) else 0
        wanted = np.zeros(end, bool)
        wanted[positions] = True
        label_at = np.zeros(end, labels.dtype)
        label_at[positions] = labels
        flags = tf.data.Dataset.from_tensor_slices((wanted, label_at))
        pairs = tf.data.Dataset.zip(self.factory(), flags).filter(lambda example, flag: flag[0])
        # Its length is known: Keras then counts batches rather than running the stream dry and
        # warning "Your input ran out of data"; a source that yields fewer fails loudly instead.
        return pairs.map(lambda example, flag: (self._prepared(example[0]), flag[1]),
                         num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).apply(
            tf.data.experimental.assert_cardinality(len(positions)))

    def take(self, positions: np.ndarray) -> np.ndarray:
        label_at = np.zeros(len(positions), np.float32 if self.task == "regression" else np.int64)
        return stack_inputs(self.stream(positions, label_at), len(positions), self.input_shape)


def open_source(config: Config):
    """The configured source, opened (files listed, loader called) but not yet scanned."""
    source = config.data.source
    if config.data.group_column is not None and config.data.split_by == "row":
        raise UserError(f"data.group_column={config.data.group_column!r} and data.split_by=row both decide the "
                        "split: keep the group column (whole groups in one split) or the row numbers, not both")
    if config.data.group_column is not None and source != "csv":
        raise UserError(f"data.group_column={config.data.group_column!r} splits the rows of a CSV by a column; "
                        f"data.source is {source!r}. Unset it, or keep an example's group in its content")
    if source == "image_folder":
        return ImageFolderSource(config)
    if source == "tfds":
        return _tfds_source(config)
    if source == "csv":
        return CsvSource(config)
    if ":" in source:
        loaded = call_user_loader(source, config)
        if isinstance(loaded, Examples):
            return ArraySource(loaded, config.task, f"data.source {source}")
        return StreamSource(lambda: loaded, config, f"data.source {source}", None, None)
    return ArraySource(load_examples(config), config.task,
                       f"data source {source!r} ({config.data.location or 'bundled'})")


def _tfds_source(config: Config) -> StreamSource:
    """A TensorFlow Datasets catalog dataset. All its published splits are pooled ("all") and
    split again by content, so that the 70/20/10 rule and the leakage check hold."""
    import tensorflow_datasets as tfds

    name = config.data.location
    if not name:
        raise UserError("data.source is 'tfds' but data.location names no catalog dataset")
    try:
        builder = tfds.builder(name)
        info = builder.info
        builder.as_dataset(split="all", as_supervised=True, shuffle_files=False)
    except Exception as err:  # tfds raises many kinds; all mean "cannot load this name here"
        raise UserError(
            f"tfds could not load {name!r}: {str(err).splitlines()[0] if str(err) else type(err).__name__}. "
            "Without network, prepare it elsewhere and point TFDS_DATA_DIR at the prepared folder"
        ) from None
    if not info.supervised_keys:
        raise UserError(f"tfds dataset {name!r} has no (input, label) keys; write a my_module:load for it")
    label_feature = info.features[info.supervised_keys[1]]
    class_names = [str(c) for c in (getattr(label_feature, "names", None) or [])]
    splits = {split: int(value.num_examples) for split, value in info.splits.items()}
    fingerprint = {"tfds": name, "version": str(info.version), "splits": splits}
    return StreamSource(lambda: builder.as_dataset(split="all", as_supervised=True, shuffle_files=False),
                        config, f"tfds dataset {name!r}", class_names, fingerprint)
