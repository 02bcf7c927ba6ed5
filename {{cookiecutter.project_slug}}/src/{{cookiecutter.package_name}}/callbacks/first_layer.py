"""T12 first-layer weights: shown as an image, flagged when they are still their initial noise."""

from __future__ import annotations

from pathlib import Path

import keras
import matplotlib
import numpy as np

from ..plots import new_figure, save_figure
from ..verdicts import Verdict
from .common import Monitor, rounded

TITLE = "First-layer weights"
INITIAL_FILE = "first_layer_initial.npy"
SHOWN = 32  # filters or units drawn


def first_weight_layer(model: keras.Model):
    """The first Dense or convolution layer in graph order, looking inside nested models (the
    ResNet50 backbone's first convolution)."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            inner = first_weight_layer(layer)
            if inner is not None:
                return inner
        if isinstance(layer, (keras.layers.Dense, keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D,
                              keras.layers.DepthwiseConv2D, keras.layers.SeparableConv2D)):
            return layer
    return None


class FirstLayerWeights(Monitor):
    """Copies the first layer's kernel when training starts and compares it at the end.

    With a run folder the starting kernel is also saved there (`first_layer_initial.npy`), so
    a run resumed after an interruption still compares with the weights it started from."""

    def __init__(self, min_change: float = 0.01, input_shape: tuple[int, ...] | None = None,
                 run_dir: Path | None = None, log_dir: Path | None = None):
        super().__init__(None, log_dir)
        self.min_change, self.input_shape, self.run_dir = min_change, input_shape, run_dir
        self.layer = None
        self.start: np.ndarray | None = None
        self.end: np.ndarray | None = None

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self.layer = first_weight_layer(self.model)
        if self.layer is None or self.start is not None:
            return
        kernel = keras.ops.convert_to_numpy(self._kernel())
        saved = None if self.run_dir is None else self.run_dir / INITIAL_FILE
        if saved is not None and saved.exists() and np.load(saved).shape == kernel.shape:
            self.start = np.load(saved)
        else:
            self.start = kernel.copy()
            if saved is not None:
                np.save(saved, self.start)

    def _kernel(self):
        kernel = getattr(self.layer, "kernel", None)
        return (self.layer.depthwise_kernel if kernel is None else kernel).value

    def on_train_end(self, logs=None):
        if self.layer is not None:
            self.end = np.asarray(keras.ops.convert_to_numpy(self._kernel()))

    def verdicts(self) -> list[Verdict]:
        if self.layer is None:
            return [Verdict("T12", TITLE, "skip", advice="no Dense or convolution layer in the model")]
        if self.end is None:
            return [Verdict("T12", TITLE, "skip", advice="training did not finish, so there are no final weights")]
        plots = [plot_first_layer(self.layer.name, self.start, self.end, self.input_shape, self.run_dir)] \
            if self.run_dir is not None else []
        return [judge_first_layer(self.layer.name, self.start, self.end, self.min_change, self.layer.trainable,
                                  plots)]


def relative_change(start: np.ndarray, end: np.ndarray) -> float:
    size = float(np.linalg.norm(start))
    return float(np.linalg.norm(end - start)) / size if size > 0 else float("inf")


def judge_first_layer(name: str, start: np.ndarray, end: np.ndarray, min_change: float, trainable: bool = True,
                      plots: list[str] = ()) -> Verdict:
    """Warn when ||W_end - W_start|| / ||W_start|| < `min_change`.

    Filters that learned something have structure (edges, blobs, strokes); filters that moved
    less than 1% from their random start are still that noise: the layer is frozen, its
    learning rate is far too small, or its gradient never arrives. A full run with Adam at
    3e-4 moves the first layer by tens of percent, a frozen layer by exactly 0."""
    if not np.any(start):
        return Verdict("T12", TITLE, "skip", measured={"layer": name}, plots=list(plots),
                       advice=f"{name}'s kernel started at zero: there is no initial noise to compare with")
    change = relative_change(start, end)
    if not np.isfinite(change):
        return Verdict("T12", TITLE, "skip", measured={"layer": name}, plots=list(plots),
                       advice=f"the weights of {name} went non-finite (T9 says where)")
    ok = change >= min_change
    why = "it is frozen (trainable=False)" if not trainable else \
        "its learning rate is far too small, or little gradient reaches it (T6)"
    return Verdict("T12", TITLE, "pass" if ok else "warn",
                   measured={"layer": name, "relative_change": rounded(change), "kernel_shape": list(start.shape)},
                   expected=f"||W_end - W_start|| / ||W_start|| >= {min_change:g}",
                   advice="" if ok else f"The first layer {name} still holds its initial random weights (moved "
                   f"{change:.2g}): {why}. Train longer or fix that before reading anything into its filters.",
                   plots=list(plots))


def tiles(kernel: np.ndarray, input_shape: tuple[int, ...] | None) -> tuple[np.ndarray, bool]:
    """One small image per filter or unit, and whether they are RGB. Conv kernels (h, w, in,
    out): each filter, RGB when it reads 3 channels, else its mean over them. A Dense kernel
    right after flattening an image (in = h*w*c): each unit's weights as that image. Otherwise
    the whole matrix as one image."""
    if kernel.ndim >= 4:
        filters = np.moveaxis(kernel.reshape(kernel.shape[0], kernel.shape[1], kernel.shape[-2], -1), -1, 0)
        if filters.shape[-1] == 3:
            return filters[:SHOWN], True
        return filters[:SHOWN].mean(axis=-1), False
    if kernel.ndim == 3:  # Conv1D (width, in, out): each filter as a (in, width) strip
        return np.moveaxis(kernel, -1, 0)[:SHOWN].transpose(0, 2, 1), False
    if input_shape is not None and len(input_shape) >= 2 and int(np.prod(input_shape)) == kernel.shape[0]:
        units = kernel.T[:SHOWN].reshape(-1, *input_shape)
        if len(input_shape) == 3:
            return (units, True) if input_shape[-1] == 3 else (units.mean(axis=-1), False)
        return units, False
    return kernel[None], False


def mosaic(images: np.ndarray, columns: int) -> np.ndarray:
    """Tiles side by side in one image, each scaled to [0, 1] on its own, one pixel of gap
    (drawn as one image: a subplot per filter takes seconds for 64 filters)."""
    count, height, width = images.shape[:3]
    rows = -(-count // columns)
    sheet = np.full((rows * (height + 1) - 1, columns * (width + 1) - 1, *images.shape[3:]), np.nan)
    for i, image in enumerate(images):
        low, high = float(image.min()), float(image.max())
        r, c = divmod(i, columns)
        sheet[r * (height + 1): r * (height + 1) + height, c * (width + 1): c * (width + 1) + width] = \
            (image - low) / (high - low) if high > low else 0.5
    return sheet


def plot_first_layer(name: str, start: np.ndarray, end: np.ndarray, input_shape, run_dir: Path) -> str:
    """The tiles at the start and at the end of training, one above the other."""
    start_tiles, rgb = tiles(start, input_shape)
    end_tiles, _ = tiles(end, input_shape)
    columns = min(len(end_tiles), 16)
    sheets = [mosaic(start_tiles, columns), mosaic(end_tiles, columns)]
    height, width = sheets[0].shape[:2]
    scale = min(10 / width, 3 / height) if len(end_tiles) > 1 else min(10 / width, 4 / height)
    fig, axes = new_figure(max(4.0, width * scale + 1), 2 * height * scale + 1, ncols=1)
    fig.clear()
    axes = fig.subplots(2, 1)
    for ax, sheet, label in zip(axes, sheets, ("start", "end"), strict=True):
        if rgb:
            ax.imshow(np.nan_to_num(sheet, nan=0.0))
        else:
            gaps_in_blue = matplotlib.colormaps["gray"].with_extremes(bad="tab:blue")
            ax.imshow(sheet, cmap=gaps_in_blue, aspect="auto" if len(end_tiles) == 1 else "equal")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_ylabel(label)
    fig.suptitle(f"T12 first-layer weights ({name}): at the start and at the end of training")
    return save_figure(fig, run_dir, "T12_first_layer")
