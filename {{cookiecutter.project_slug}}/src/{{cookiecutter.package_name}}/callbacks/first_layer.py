"""T12 first-layer weights: shown as an image, flagged when they are still their initial noise."""

from __future__ import annotations

from pathlib import Path

import keras
import matplotlib
import numpy as np

from ..plots import new_figure, save_figure
from ..registry import registers
from ..rundir import RunFiles, writing_whole
from ..train_context import TrainContext
from ..verdicts import Verdict, verdict
from .common import Monitor, rounded

SHOWN = 32  # filters or units drawn


WEIGHT_LAYERS = (keras.layers.Dense, keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D,
                 keras.layers.DepthwiseConv2D, keras.layers.SeparableConv2D)


def first_weight_layer(model: keras.Model):
    """The first Dense or convolution layer in graph order, looking inside nested models (a
    backbone's first convolution). A nested model frozen as a whole (a pretrained backbone
    while its new head trains) is passed over, and so are the frozen layers inside one (its
    lower layers while its top is fine-tuned): they stay pretrained by design, and the first
    layer that learns is the one to look at. A frozen layer of the model itself is not passed
    over: that is the bug T12 is for."""
    for layer in model.layers:
        if isinstance(layer, keras.Model) and not layer.trainable:
            continue
        if isinstance(layer, keras.Model):
            inner = _first_trainable(layer)
            if inner is not None:
                return inner
        if isinstance(layer, WEIGHT_LAYERS):
            return layer
    return None


def _first_trainable(model: keras.Model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            inner = _first_trainable(layer) if layer.trainable else None
            if inner is not None:
                return inner
        elif layer.trainable and isinstance(layer, WEIGHT_LAYERS):
            return layer
    return None


class FirstLayerWeights(Monitor):
    """Copies the first layer's kernel when training starts and compares it at the end.

    With a run folder the starting kernel is also saved there (`first_layer_initial.npy`), so
    a run resumed after an interruption still compares with the weights it started from.

    Args:
        min_change: Warn when ||W_end - W_start|| / ||W_start|| is below this.
        input_shape: The model's input shape, so that a Dense kernel over an image is drawn
            as one image per unit; None: a Dense kernel is drawn as a matrix.
        run_dir: The run folder for the plot and the starting kernel; None: neither is written.
    """

    def __init__(self, *, min_change: float = 0.01, input_shape: tuple[int, ...] | None = None,
                 run_dir: Path | None = None):
        super().__init__()
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
        saved = None if self.run_dir is None else self.run_dir / RunFiles.FIRST_LAYER_INITIAL
        earlier = np.load(saved) if saved is not None and saved.exists() else None
        if earlier is not None and earlier.shape == kernel.shape:  # a resumed run: its true start
            self.start = earlier
        else:
            self.start = kernel.copy()
            if saved is not None:
                with writing_whole(saved) as partial, partial.open("wb") as handle:
                    np.save(handle, self.start)

    def _kernel(self):
        kernel = getattr(self.layer, "kernel", None)
        return (self.layer.depthwise_kernel if kernel is None else kernel).value

    def on_train_end(self, logs=None):
        if self.layer is not None:
            self.end = np.asarray(keras.ops.convert_to_numpy(self._kernel()))

    def verdicts(self) -> list[Verdict]:
        if self.layer is None:
            return [verdict("T12", "skip", advice="no Dense or convolution layer in the model")]
        if self.end is None:
            return [verdict("T12", "skip", advice="training did not finish, so there are no final weights")]
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
        return verdict("T12", "skip", measured={"layer": name}, plots=list(plots),
                       advice=f"{name}'s kernel started at zero: there is no initial noise to compare with")
    change = relative_change(start, end)
    if not np.isfinite(change):
        return verdict("T12", "skip", measured={"layer": name}, plots=list(plots),
                       advice=f"the weights of {name} went non-finite (T9 says where)")
    ok = change >= min_change
    why = "it is frozen (trainable=False)" if not trainable else \
        "its learning rate is far too small, or little gradient reaches it (T6)"
    return verdict("T12", "pass" if ok else "warn",
                   measured={"layer": name, "relative_change": rounded(change), "kernel_shape": list(start.shape)},
                   expected=f"||W_end - W_start|| / ||W_start|| >= {min_change:g}",
                   advice="" if ok else f"The first layer {name} still holds its initial random weights (moved "
                   f"{change:.2g}): {why}. Train longer or fix that before reading anything into its weights.",
                   plots=list(plots))


def over_image(kernel: np.ndarray, input_shape: tuple[int, ...] | None) -> bool:
    """A Dense kernel right after flattening an image: its inputs are the image's pixels."""
    return kernel.ndim == 2 and input_shape is not None and len(input_shape) >= 2 \
        and int(np.prod(input_shape)) == kernel.shape[0]


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
    if over_image(kernel, input_shape):
        units = kernel.T[:SHOWN].reshape(-1, *input_shape)
        if len(input_shape) == 3:
            return (units, True) if input_shape[-1] == 3 else (units.mean(axis=-1), False)
        return units, False
    return kernel[None], False


GAP_COLOUR = (0.80, 0.86, 0.93)  # pale blue-grey: tells tiles apart without looking like weights
MAX_WIDTH = 12.0  # inches, both panels side by side


def mosaic(images: np.ndarray, columns: int, zoom: int, gap: int) -> np.ndarray:
    """Tiles in a grid as one image (a subplot per filter takes seconds for 64 filters), each
    scaled to [0, 1] on its own and enlarged `zoom` times, `gap` pixels apart and framed by a
    `gap` border (NaN there). Enlarging first lets the gap be a fraction of a 3x3 tile instead
    of a third of it; the border keeps edge tiles apart from the white page."""
    count, height, width = images.shape[:3]
    height, width = height * zoom, width * zoom
    rows = -(-count // columns)
    sheet = np.full((rows * (height + gap) + gap, columns * (width + gap) + gap, *images.shape[3:]), np.nan)
    for i, image in enumerate(images):
        low, high = float(image.min()), float(image.max())
        r, c = divmod(i, columns)
        scaled = (image - low) / (high - low) if high > low else np.full_like(image, 0.5, dtype=float)
        top, left = gap + r * (height + gap), gap + c * (width + gap)
        sheet[top: top + height, left: left + width] = np.repeat(np.repeat(scaled, zoom, axis=0), zoom, axis=1)
    return sheet


def describe(kernel: np.ndarray, shown: int, input_shape, rgb: bool, transposed: bool) -> str:
    """What the tiles are, for the title: how many of the layer's filters, of what shape."""
    if kernel.ndim >= 4:
        height, width, channels, count = kernel.shape[0], kernel.shape[1], kernel.shape[-2], kernel.shape[-1]
        reads = "RGB" if rgb else "mean over its input channels" if channels > 1 else "one input channel"
        return f"{shown} of {count} filters, {height}x{width}, {reads}"
    if kernel.ndim == 3:
        return f"{shown} of {kernel.shape[-1]} filters, width {kernel.shape[0]} (rows: input channels)"
    if over_image(kernel, input_shape):
        size = "x".join(str(d) for d in input_shape[:2])
        return f"{shown} of {kernel.shape[1]} units, each one's weights over the {size} input"
    inputs = f"{kernel.shape[0]} input" + "s" * (kernel.shape[0] != 1)
    units = f"{kernel.shape[1]} unit" + "s" * (kernel.shape[1] != 1)
    return f"kernel of {units} (rows) x {inputs} (columns)" if transposed else \
        f"kernel of {inputs} (rows) x {units} (columns)"


def plot_first_layer(name: str, start: np.ndarray, end: np.ndarray, input_shape, run_dir: Path) -> str:
    """The tiles at initialisation and after training, side by side (one above the other for
    a whole weight matrix), sized to their content: a 3x3 filter gets the room it needs to be
    read, not a sixteenth of a 10-inch strip."""
    start_tiles, rgb = tiles(start, input_shape)
    end_tiles, _ = tiles(end, input_shape)
    matrix = end.ndim == 2 and not over_image(end, input_shape)
    transposed = matrix and end.shape[0] > end.shape[1]  # the longer side across the page
    if transposed:
        start_tiles, end_tiles = start_tiles.transpose(0, 2, 1), end_tiles.transpose(0, 2, 1)
    count, height, width = end_tiles.shape[:3]
    if matrix:  # one Dense kernel on features: full width, one above the other
        columns, zoom, gap = 1, 1, 0
        panel_width = MAX_WIDTH * 0.75
        panel_height = float(np.clip(panel_width * height / width, 1.0, 3.5))
        fig, axes = new_figure(panel_width + 0.6, 2 * panel_height + 1.2, nrows=2)
    else:
        columns = max(1, min(count, int(np.ceil(np.sqrt(2 * count)))))  # about twice as wide as tall
        rows = -(-count // columns)
        zoom = max(1, int(np.ceil(24 / max(height, width))))  # at least 24 pixels per tile side
        gap = max(1, round(0.12 * zoom * max(height, width)))
        tile = float(np.clip(0.07 * max(height, width) + 0.3, 0.5, 0.9))  # inches for the longer side
        tile = min(tile, MAX_WIDTH / (2 * columns))
        scale = tile / (zoom * max(height, width) + gap)  # inches per sheet pixel
        panel_width = (columns * (zoom * width + gap) + gap) * scale
        panel_height = (rows * (zoom * height + gap) + gap) * scale
        fig, axes = new_figure(2 * panel_width + 0.5, panel_height + 0.9, ncols=2)
    change = relative_change(start, end)
    after = "after training" + (f" (moved {change:.1%})" if np.isfinite(change) else "")
    for ax, kernel_tiles, label in zip(axes, (start_tiles, end_tiles), ("at initialisation", after), strict=True):
        sheet = mosaic(kernel_tiles, columns, zoom, gap)
        if rgb:
            ax.imshow(np.where(np.isnan(sheet), np.array(GAP_COLOUR), sheet), interpolation="nearest")
        else:
            gray = matplotlib.colormaps["gray"].with_extremes(bad=GAP_COLOUR)
            ax.imshow(sheet, cmap=gray, vmin=0, vmax=1, interpolation="nearest",
                      aspect="auto" if matrix else "equal")
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(matrix)
        ax.set_title(label, fontsize="medium")
    fig.suptitle(f"T12 first-layer weights of {name}: {describe(end, len(end_tiles), input_shape, rgb, transposed)}")
    scaled = "the matrix is scaled to its own range" if matrix else "each tile is scaled to its own range"
    fig.supxlabel(scaled + ("" if rgb else ": black lowest, white highest"), fontsize="small", color="dimgray")
    return save_figure(fig, run_dir, "T12_first_layer")


@registers("train", "T12")
def _t12(c: TrainContext) -> Verdict:
    return c.watched_verdict("T12", "monitor.first_layer")
