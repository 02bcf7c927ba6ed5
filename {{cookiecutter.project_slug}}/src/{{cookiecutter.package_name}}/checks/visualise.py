"""D7: look at the exact tensors `model(x)` receives, and the drawing helpers D6 shares.

The batch comes from the training pipeline itself (after the cache, the shuffle and any
augmentation), not from the arrays it was built from: bugs live between the two.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import tensorflow as tf

from ..data import Prepared
from ..plots import new_figure, save_figure
from ..registry import registers
from ..verdicts import Verdict, verdict
from .context import Context

MAX_SHOWN = 32  # images in the D7 grid: enough to see a pattern, small enough to read


def label_text(prepared: Prepared, label) -> str:
    """A label as a person reads it: the class name, or the target value."""
    if prepared.task == "regression":
        return f"{float(np.asarray(label).reshape(-1)[0]):.4g}"
    value = int(np.asarray(label).reshape(-1)[0])
    names = prepared.class_names
    return names[value] if 0 <= value < len(names) else f"?{value}"


def value_range(images: np.ndarray) -> tuple[float, float]:
    """The finite range of some images: the one scale a grid of them is drawn on."""
    finite = images[np.isfinite(images)]
    return (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)


def short_origin(origin: str) -> str:
    """A file path as its folder and name (the class and the file), for a plot title."""
    return "/".join(Path(origin).parts[-2:])[-24:] if "/" in origin else origin


def show_image(ax, image: np.ndarray, low: float, high: float) -> None:
    """One image on a fixed value range, so that brightness compares across the grid."""
    image = np.nan_to_num(np.asarray(image, "float64"), nan=low, posinf=high, neginf=low)
    if image.shape[-1] == 3:
        ax.imshow(np.clip((image - low) / max(high - low, 1e-12), 0, 1))
    else:  # one channel (or an unusual count: its first channel)
        ax.imshow(image[..., 0], cmap="gray", vmin=low, vmax=high)
    ax.set_xticks([])
    ax.set_yticks([])


def image_grid(images: np.ndarray, titles: list[str], low: float, high: float, heading: str):
    """A figure with the images in rows of up to 8, each with its title."""
    columns = min(8, len(images))
    rows = math.ceil(len(images) / columns)
    fig, ax = new_figure(1.4 * columns + 0.4, 1.6 * rows + 0.6)
    ax.remove()
    axes = np.atleast_1d(fig.subplots(rows, columns)).reshape(-1)
    for axis in axes[len(images):]:
        axis.axis("off")
    for axis, image, title in zip(axes, images, titles, strict=False):
        show_image(axis, image, low, high)
        axis.set_title(title, fontsize=8)
    fig.suptitle(heading, fontsize=9)
    return fig


def _first_batch(dataset: tf.data.Dataset) -> tuple[np.ndarray, np.ndarray]:
    batch = next(iter(dataset.take(1).as_numpy_iterator()))
    return np.asarray(batch[0]), np.asarray(batch[1])


def check_batch_view(dataset: tf.data.Dataset, prepared: Prepared, run_dir: Path, augmented: bool = False) -> Verdict:
    """D7: one batch of `dataset` (the training pipeline), drawn as the model gets it.

    Images are drawn on the batch's own value range, with their labels; a table becomes a
    heatmap of the batch's rows in train standard deviations from the train mean (what the
    model's Normalization layer hands on), labelled by row.

    Args:
        dataset: The training pipeline; only its first batch is taken.
        prepared: The run's data: the label names, the train statistics of the table heatmap,
            and what the source converted at load.
        run_dir: The run folder the plot is saved in.
        augmented: Whether the pipeline augments (data.augment); said in the plot's heading and
            the record, for images only.

    Returns:
        The D7 verdict. A "look at it" check: it passes with its plot, and fails only when the
        batch holds NaN or Inf.
    """
    x, y = _first_batch(dataset)
    bad = int((~np.isfinite(x)).sum() + (~np.isfinite(y.astype("float64"))).sum())
    low, high = value_range(x)
    labels = [label_text(prepared, label) for label in y]
    heading = (f"D7: the training batch model(x) receives: {tuple(x.shape)} {x.dtype}, "
               f"values {low:.3g}..{high:.3g}" + (", augmented" if augmented and x.ndim == 4 else ""))
    if x.ndim == 4:
        shown = min(MAX_SHOWN, len(x))
        fig = image_grid(x[:shown], labels[:shown], low, high, heading)
    else:
        fig = _table_heatmap(x.reshape(len(x), -1), labels, prepared, heading)
    plot = save_figure(fig, run_dir, "D7_batch")
    if augmented:
        augmentation = "on" if x.ndim == 4 else "off: tables are not augmented"
    else:
        augmentation = "off"
    measured = {"batch_shape": list(x.shape), "dtype": str(x.dtype), "min": low, "max": high,
                "non_finite_values": bad, "labels": labels[:16], "augmentation": augmentation}
    converted = prepared.source.converted
    if converted:
        measured["converted"] = converted
    if bad:
        return verdict("D7", "fail", measured=measured,
                       expected={"non_finite_values": 0}, plots=[plot],
                       advice=f"The batch the model receives holds {bad} NaN/Inf value(s): find the pipeline "
                       "step that makes them (a division, a log, a resize) before training on it.")
    return verdict("D7", "pass", measured=measured,
                   expected="finite values; look at the plot: do inputs and labels make sense?", plots=[plot])


def _table_heatmap(x: np.ndarray, labels: list[str], prepared: Prepared, heading: str):
    mean = np.asarray(prepared.stats.mean, "float64").reshape(-1)
    std = np.asarray(prepared.stats.std, "float64").reshape(-1)
    scaled = (x - mean) / std if mean.size == x.shape[1] else x
    rows, columns = scaled.shape
    fig, ax = new_figure(min(2 + 0.25 * columns, 16), min(1.5 + 0.22 * rows, 12))
    image = ax.imshow(np.nan_to_num(scaled), aspect="auto", cmap="coolwarm", vmin=-3, vmax=3,
                      interpolation="nearest")
    fig.colorbar(image, ax=ax, label="train standard deviations from the train mean")
    ax.set_yticks(range(rows), labels, fontsize=6)
    ax.set_ylabel("label")
    names = prepared.feature_names
    if names and len(names) == columns and columns <= 60:
        ax.set_xticks(range(columns), names, rotation=90, fontsize=6)
    else:
        ax.set_xlabel("feature")
    ax.set_title(heading, fontsize=9)
    return fig


@registers("inspect", "D7")
def _d7(c: Context) -> Verdict:
    return check_batch_view(c.train_batches, c.prepared, c.run_dir, augmented=c.config.data.augment)
