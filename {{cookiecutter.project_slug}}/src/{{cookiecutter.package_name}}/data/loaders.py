"""Examples that arrive in memory, and the checks every source's labels pass: the bundled
datasets, `.npz` files and a `my_module:load` that returns arrays each end as the same
`Examples` (NumPy inputs, labels, names), which `ArraySource` (streams.py) streams. Image
folders, CSV files, tfds datasets and loaders that return a `tf.data.Dataset` never come here:
they stream from the start (images.py, tables.py, streams.py), and share `check_labels`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

import numpy as np

from ..config import Config
from ..errors import UserError
from ..storage import locate

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
    converted: str = ""  # how the images' layout was changed on the way in, for D7 to say
    labels_read: str = ""  # how the labels were read when they came in another form (one-hot, 1..K), for D5

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
    if examples.kind == "image":
        examples.x, note = image_layout(examples.x, config.data.channels, where)
        examples.converted = "; ".join(part for part in (examples.converted, note) if part)
    check_label_set(examples.y, examples.class_names, config.task, where)
    return examples


def check_label_set(labels: np.ndarray, class_names: list[str], task: str, where: str) -> None:
    """Refuse a label set that cannot fit the task, at load rather than as a puzzling verdict later.

    One class teaches nothing (the usual cause: a folder one level too high); task=binary with three
    labels trains a sigmoid on ids 0..2 and reports a negative cross-entropy; a classification
    target with nearly one class per example is a regression target loaded with the default task.
    Labels outside the label set are left to D4, which names their rows.
    """
    if task == "regression":
        return
    y, names = labels, class_names
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


def invalid_inputs(x: np.ndarray, kind: str) -> dict[int, str]:
    """D4: non-finite inputs, by position."""
    flat = x.reshape(len(x), -1)
    hint = " (a missing value in a CSV reads as NaN)" if kind == "tabular" else ""
    return {int(i): f"input holds NaN or Inf{hint}" for i in np.flatnonzero(~np.isfinite(flat).all(axis=1))}


def invalid_labels(y: np.ndarray, task: str, classes: int) -> dict[int, str]:
    """D4: non-finite targets, or class ids outside 0..classes-1."""
    if task == "regression":
        return {int(i): "target is NaN or Inf (missing?)" for i in np.flatnonzero(~np.isfinite(y))}
    bad = np.flatnonzero((y < 0) | (y >= classes))
    return {int(i): f"label {y[i]} outside 0..{classes - 1}" for i in bad}


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
    path = locate(config.data.location)
    if not path.is_file():
        raise UserError(f".npz file not found: {path}")
    with path.npz() as archive:
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
    if x.ndim not in (2, 3, 4):
        raise UserError(f"{where}: inputs must be (N, features), (N, H, W) or (N, H, W, C), got shape {x.shape}")
    kind = "tabular" if x.ndim == 2 else "image"
    if config.task == "regression":
        return Examples(x, np.asarray(y, "float32").reshape(len(y)), kind)
    y, read = _class_ids(np.asarray(y), where)
    if set(np.unique(y).tolist()) == {-1, 1}:  # the SVM convention; a stray negative id is D4's
        raise UserError(f"{where}: labels are -1 and 1; class ids are 0, 1, ...: pass (y > 0).astype(int)")
    present = np.unique(y[y >= 0]).tolist()
    if not read and present and present[0] == 1 and present == list(range(1, len(present) + 1)) \
            and (config.task != "binary" or len(present) == 2):
        # Numbered from 1 (R, MATLAB, survey codes): as ids, class 0 would be empty, a phantom
        # class that D5 called an imbalance and the softmax would learn never to predict.
        names = [str(c) for c in present]
        return Examples(x, y - 1, kind, names, labels_read=f"labels 1..{len(present)} read as classes 0.."
                        f"{len(present) - 1}, named by their own numbers (no example has label 0)")
    classes = 2 if config.task == "binary" else int(y.max()) + 1
    return Examples(x, y, kind, [str(c) for c in range(classes)], labels_read=read)


def _class_ids(y: np.ndarray, where: str) -> tuple[np.ndarray, str]:
    """Class ids of shape (N,), and how they were read: one-hot rows (one 1 in each row of 0s)
    become the index of their 1; other 2-D labels (several 1s, probabilities) are refused."""
    if y.ndim > 1 and y.shape[1:] != (1,):
        flat = y.reshape(len(y), -1)
        one_hot = flat.shape[1] >= 2 and np.isin(flat, (0, 1)).all() and (flat.sum(axis=1) == 1).all()
        if not one_hot:
            several = np.isin(flat, (0, 1)).all()
            raise UserError(f"{where}: labels must be class ids of shape (N,), got shape {y.shape}"
                            + (" with rows of several 1s (multi-label: one model per label, or one class per "
                               "combination)" if several else " that are not one-hot rows (soft labels?)"))
        return flat.argmax(axis=1).astype("int64"), (f"one-hot labels of {flat.shape[1]} columns read as class "
                                                      "ids (the column of each row's 1)")
    return y.reshape(len(y)).astype("int64"), ""


def image_layout(x: np.ndarray, channels, where: str) -> tuple[np.ndarray, str]:
    """Images as the models take them, (N, H, W, C), and a note of what was changed.

    (N, H, W), as keras.datasets gives MNIST, is grayscale: a channel axis is added.
    (N, C, H, W) with C in 1, 3, 4 and H, W larger than C is channels-first (PyTorch's layout):
    refused with the transpose, since training on it would read each row of pixels as a
    channel without a word. With `data.channels` set, other channel counts are converted: RGB
    to grayscale by luminance (ITU-R 601, as tf.image.rgb_to_grayscale), grayscale to RGB by
    repeating it, an alpha channel dropped."""
    notes = []
    if x.ndim == 3:
        x = x[..., None]
        notes.append(f"(N, H, W) = {x.shape[:3]} read as grayscale: a channel axis added")
    n, first, height, width = x.shape
    last = x.shape[-1]
    if first in (1, 3, 4) and height > first and width > first and last not in (1, 3, 4):
        raise UserError(f"{where}: inputs of shape {x.shape} look channels-first (N, C, H, W); the models take "
                        "channels-last (N, H, W, C): pass x.transpose(0, 2, 3, 1)")
    wanted = last if channels == "auto" else int(channels)
    if last != wanted:
        if last == 4:
            x = x[..., :3]
        if x.shape[-1] == 3 and wanted == 1:
            x = (x @ np.asarray([0.299, 0.587, 0.114], x.dtype))[..., None]
        elif x.shape[-1] == 1 and wanted == 3:
            x = np.repeat(x, 3, axis=-1)
        if x.shape[-1] != wanted:
            raise UserError(f"{where}: images with {last} channels cannot become data.channels={channels}; "
                            "give 1 (grayscale), 3 (RGB) or 4 (RGBA) channels")
        notes.append(f"{last} channel(s) converted to {wanted} (data.channels={channels})")
    return x, "; ".join(notes)


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
