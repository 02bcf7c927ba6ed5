"""The sources that arrive in memory: the bundled datasets, `.npz` files and a
`my_module:load` that returns arrays. Each ends as the same `Examples` (NumPy inputs, labels,
names), which `ArraySource` (source.py) streams. Image folders, CSV files, tfds datasets and
loaders that return a `tf.data.Dataset` never come here: they stream from the start (images.py,
tables.py, source.py).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..config import Config
from ..errors import UserError

BUNDLED = {"digits": "classification", "breast_cancer": "binary", "diabetes": "regression"}


@dataclass
class Examples:
    """Inputs and labels of the whole dataset, before the split."""

    x: np.ndarray  # float32, (N, features) for tables, (N, H, W, C) for images
    y: np.ndarray  # int64 class ids (classification, binary) or float32 targets (regression)
    kind: str  # "image" or "tabular"
    class_names: list[str] = field(default_factory=list)  # empty for regression
    origins: list[str] = field(default_factory=list)  # file path or row per example, for messages
    feature_names: list[str] = field(default_factory=list)

    def origin(self, index: int) -> str:
        return self.origins[index] if self.origins else f"example #{index}"


IN_MEMORY = ("digits", "breast_cancer", "diabetes", "npz")
STREAMED = ("tfds", "image_folder", "csv")


def load_examples(config: Config) -> Examples:
    """An in-memory source (IN_MEMORY) as Examples, its label set checked."""
    source = config.data.source
    loaders = {"digits": _digits, "breast_cancer": _breast_cancer, "diabetes": _diabetes, "npz": _from_npz}
    if source not in loaders:
        raise UserError(
            f"data.source: unknown source {source!r}; use one of {', '.join(IN_MEMORY + STREAMED)} "
            "or an import path such as my_module:load"
        )
    if source in BUNDLED and BUNDLED[source] != config.task:
        raise UserError(f"data.source {source!r} is a {BUNDLED[source]} dataset, but task is {config.task!r}")
    return checked(loaders[source](config), config, f"data source {source!r} ({config.data.location or 'bundled'})")


def checked(examples: Examples, config: Config, where: str) -> Examples:
    if len(examples.y) == 0:
        raise UserError(f"{where} holds no examples")
    check_label_set(examples, config.task, where)
    return examples


def check_label_set(examples: Examples, task: str, where: str) -> None:
    """Refuse a label set that cannot fit the task, at load rather than as a puzzling verdict later.

    One class teaches nothing (the usual cause: a folder one level too high); task=binary with three
    labels trains a sigmoid on ids 0..2 and reports a negative cross-entropy; a classification
    target with nearly one class per example is a regression target loaded with the default task.
    Labels outside the label set are left to D4, which names their rows.
    """
    if task == "regression":
        return
    y, names = examples.y, examples.class_names
    present = np.unique(y[(y >= 0) & (y < len(names))]) if names else np.unique(y)
    found = [names[i] if names else str(i) for i in present.tolist()]
    if len(found) < 2:
        raise UserError(
            f"{where}: every example has the same label ({', '.join(map(repr, found)) or 'none'}); "
            f"task={task} needs at least 2 classes"
        )
    declared = names or found
    if task == "binary" and len(declared) != 2:
        shown = ", ".join(map(repr, declared[:10])) + (", ..." if len(declared) > 10 else "")
        raise UserError(
            f"{where}: task=binary needs exactly 2 distinct labels, found {len(declared)}: {shown}; "
            "set task=classification for more than two classes"
        )
    if task == "classification" and len(found) > len(y) / 2:
        raise UserError(
            f"{where}: {len(found)} distinct labels over {len(y)} examples: is this a regression target? "
            "set task=regression"
        )


def _digits(config: Config) -> Examples:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = bunch.images.astype("float32")[..., None]  # (N, 8, 8, 1), values 0..16
    return Examples(x, bunch.target.astype("int64"), "image", [str(c) for c in bunch.target_names])


def _breast_cancer(config: Config) -> Examples:
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer()
    return Examples(
        bunch.data.astype("float32"),
        bunch.target.astype("int64"),
        "tabular",
        [str(c) for c in bunch.target_names],
        feature_names=[str(f) for f in bunch.feature_names],
    )


def _diabetes(config: Config) -> Examples:
    from sklearn.datasets import load_diabetes

    # scaled=False: the raw measurements, so that our own train-only statistics do the scaling.
    bunch = load_diabetes(scaled=False)
    return Examples(
        bunch.data.astype("float32"),
        bunch.target.astype("float32"),
        "tabular",
        feature_names=[str(f) for f in bunch.feature_names],
    )


def _from_npz(config: Config) -> Examples:
    path = Path(config.data.location)
    if not path.is_file():
        raise UserError(f".npz file not found: {path}")
    with np.load(path) as archive:
        if "x" not in archive or "y" not in archive:
            raise UserError(f".npz file {path} must hold arrays named 'x' and 'y'; it holds {list(archive)}")
        return _from_arrays(archive["x"], archive["y"], config, str(path))


def call_user_loader(source: str, config: Config):
    """`my_module:load` called with the config: Examples (arrays stay in memory), or the
    `tf.data.Dataset` it returned, which streams (streams.py)."""
    fn = import_callable(source, "data.source")
    try:
        loaded = fn(config)
    except UserError:
        raise
    except Exception as err:  # the user's code: name it, do not show its traceback as ours
        raise UserError(f"data.source {source} raised {type(err).__name__}: {err}") from None
    import tensorflow as tf

    if isinstance(loaded, tf.data.Dataset):
        return loaded
    if isinstance(loaded, Examples):
        return checked(loaded, config, f"data.source {source}")
    if isinstance(loaded, tuple) and len(loaded) == 2:
        return checked(_from_arrays(np.asarray(loaded[0]), np.asarray(loaded[1]), config, source), config,
                       f"data.source {source}")
    raise UserError(
        f"data.source {source} returned {type(loaded).__name__}; return (x, y) numpy arrays "
        "or a tf.data.Dataset of (input, label)"
    )


def _from_arrays(x: np.ndarray, y: np.ndarray, config: Config, where: str) -> Examples:
    if len(x) != len(y):
        raise UserError(f"{where}: {len(x)} inputs but {len(y)} labels")
    x = np.asarray(x, "float32")
    kind = "image" if x.ndim == 4 else "tabular"
    if x.ndim not in (2, 4):
        raise UserError(f"{where}: inputs must be (N, features) or (N, H, W, C), got shape {x.shape}")
    if config.task == "regression":
        return Examples(x, np.asarray(y, "float32").reshape(len(y)), kind)
    y = np.asarray(y)
    if y.ndim > 1 and y.shape[1:] != (1,):
        raise UserError(f"{where}: labels must be class ids of shape (N,), got shape {y.shape} (one-hot?)")
    y = y.reshape(len(y)).astype("int64")
    classes = 2 if config.task == "binary" else int(y.max()) + 1
    return Examples(x, y, kind, [str(c) for c in range(classes)])


def import_callable(path: str, key: str):
    """`package.module:function` -> the function, or one clear message about what is missing."""
    module_name, _, attr = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise UserError(f"{key}: cannot import module {module_name!r} ({err})") from None
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise UserError(f"{key}: module {module_name!r} has no function {attr!r}")
    return fn
