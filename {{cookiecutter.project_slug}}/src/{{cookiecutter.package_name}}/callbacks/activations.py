"""T7 activation health: output spread after normalisation layers, and dead ReLUs."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from ..plots import new_figure, save_figure
from ..registry import registers
from ..train_context import TrainContext
from ..verdicts import Verdict, verdict
from .common import Monitor, probe_layers, rounded

# Layers whose output should have a spread near 1: they standardise what comes in (their
# learned scale may move it later, which is why a value outside the range is a warn).
NORMALISATION = (keras.layers.BatchNormalization, keras.layers.LayerNormalization,
                 keras.layers.GroupNormalization, keras.layers.Normalization)
RELU_NAMES = ("relu", "relu6")
# Values in the largest layer output of one probe call: the examples are probed in as few
# calls as keep that bounded: a small model's all at once, a large backbone's a few dozen at a time
# (BENCHMARKS.md, "Check notes: T7").
CHUNK_VALUES = 2**22


def is_normalisation(layer) -> bool:
    return isinstance(layer, NORMALISATION)


def is_relu(layer) -> bool:
    """A layer whose output is a ReLU: Dense/Conv with activation="relu", ReLU, Activation("relu")."""
    if isinstance(layer, keras.layers.ReLU):
        return not layer.negative_slope and not layer.threshold
    return getattr(getattr(layer, "activation", None), "__name__", "") in RELU_NAMES


class ActivationHealth(Monitor):
    """Every `every_steps` steps and at the end of training, each layer's output on the same
    ~1000 training examples (a dead unit is one that is zero for every example, which one batch
    cannot show), in inference mode.

    The layer outputs come from a second model that shares the layers and reduces each output
    to per-channel sums, sums of squares and maxima inside the graph, so a measurement moves
    a few numbers per channel, not the activations.

    Args:
        x: The fixed training examples the layers are measured on.
        every_steps: Optimizer steps between two measurements (`monitor.activation_every_steps`).
        std_range: Warn when a normalisation layer's output std leaves [low, high].
        dead_above: Warn when a ReLU layer has more than this share of units that never fire.
        run_dir: The run folder the plot goes to (plots/); None: no plot.
        log_dir: TensorBoard folder the measurements are written to; None: none.
    """

    def __init__(self, x: np.ndarray, *, every_steps: int = 2000, std_range: tuple[float, float] = (0.5, 2.0),
                 dead_above: float = 0.5, run_dir: Path | None = None, log_dir: Path | None = None):
        super().__init__(every_steps=every_steps, log_dir=log_dir)
        self.x = x
        self.std_range, self.dead_above, self.run_dir = std_range, dead_above, run_dir
        self.steps: list[int] = []
        self.history: list[dict[str, dict[str, float]]] = []  # per measurement: layer -> {std, dead}
        self._stats_model = None

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if self._stats_model is None:
            self._build()

    def _build(self):
        self.layers = probe_layers(self.model)  # every layer is measured (and plotted), not every one judged
        try:
            inputs = self.model.input
        except (AttributeError, ValueError):  # a subclassed model: no layer graph to probe
            self.layers, self._stats_model = [], None
            return
        outputs = []
        for layer in self.layers:
            t = keras.ops.cast(layer.output, "float32")
            if len(t.shape) == 1:
                t = keras.ops.expand_dims(t, -1)
            axes = tuple(range(len(t.shape) - 1))  # every axis but the channels
            outputs += [keras.ops.sum(t, axis=axes), keras.ops.sum(keras.ops.square(t), axis=axes),
                        keras.ops.max(t, axis=axes)]
        self._stats_model = keras.Model(inputs, outputs) if outputs else None
        largest = max((int(np.prod([d or 1 for d in layer.output.shape[1:]])) for layer in self.layers), default=1)
        chunk = max(1, CHUNK_VALUES // max(largest, 1))
        chunks = max(1, -(-len(self.x) // chunk))
        self._x_chunks = np.array_split(self.x[: len(self.x) // chunks * chunks], chunks)

    def measure(self, logs):
        if self._stats_model is None:
            return
        totals = None
        for chunk in self._x_chunks:
            # An eager call: compiling the probe costs more than the few calls a run makes.
            stats = [np.asarray(keras.ops.convert_to_numpy(s), "float64")
                     for s in self._stats_model(chunk, training=False)]
            if totals is None:
                totals = stats
            else:
                # per channel: sums add up, maxima take the larger (every third output is a maximum)
                totals = [np.maximum(t, s) if i % 3 == 2 else t + s
                          for i, (t, s) in enumerate(zip(totals, stats, strict=True))]
        record = {}
        for i, layer in enumerate(self.layers):
            total, squares, peak = totals[3 * i: 3 * i + 3]
            count = sum(len(c) for c in self._x_chunks) * np.prod(layer.output.shape[1:-1] or (1,))
            mean = total.sum() / (count * total.size)
            std = float(np.sqrt(max(squares.sum() / (count * total.size) - mean ** 2, 0.0)))
            record[layer.name] = {"std": std}
            if is_relu(layer):
                record[layer.name]["dead"] = float(np.mean(peak <= 0))
        self.steps.append(self.step)
        self.history.append(record)
        self.write_scalars({f"T7_{key}/{name}": value for name, values in record.items()
                            for key, value in values.items()})

    def on_train_end(self, logs=None):
        if not self.steps or self.steps[-1] != self.step:
            self.measure({})

    def verdicts(self) -> list[Verdict]:
        if not self.history:
            return [judge_activations({}, {}, self.std_range, self.dead_above)]
        last = self.history[-1]
        if not all(np.isfinite(v) for values in last.values() for v in values.values()):
            return [verdict("T7", "skip", advice="the activations went non-finite (T9 says where)")]
        judged_std = {name: v["std"] for name, v in last.items() if _is_normalisation_name(self.layers, name)}
        dead = {name: v["dead"] for name, v in last.items() if "dead" in v}
        plots = [plot_activations(self.steps, self.history, self.run_dir)] if self.run_dir is not None else []
        return [judge_activations(judged_std, dead, self.std_range, self.dead_above, plots)]


def _is_normalisation_name(layers, name: str) -> bool:
    return any(layer.name == name and is_normalisation(layer) for layer in layers)


def judge_activations(std_after_norm: dict[str, float], dead: dict[str, float], std_range: tuple[float, float],
                      dead_above: float, plots: list[str] = ()) -> Verdict:
    """Warn when a normalisation layer's output spread leaves `std_range`, or more than
    `dead_above` of a ReLU layer's units are zero for every example.

    The spread is judged only after normalisation layers: elsewhere it depends on the
    architecture (a ReLU halves it, pooling shrinks it, logits grow as the model learns), so
    it is reported but not judged."""
    if not std_after_norm and not dead:
        return verdict("T7", "skip", advice="no normalisation or ReLU layer in the model's top-level graph "
                       "(a subclassed model, or the layers sit inside a nested model)")
    low, high = std_range
    off = {name: rounded(std) for name, std in std_after_norm.items() if not low <= std <= high}
    dying = {name: rounded(share) for name, share in dead.items() if share > dead_above}
    problems = []
    if dying:
        problems.append("dead ReLUs (share of units never active): "
                        + ", ".join(f"{name} {share:.0%}" for name, share in dying.items()))
    if off:
        problems.append("output spread after normalisation outside "
                        f"[{low:g}, {high:g}]: " + ", ".join(f"{name} {std:.3g}" for name, std in off.items()))
    advice = "; ".join(problems) + ". " if problems else ""
    if dying:
        advice += "Units that never fire do not learn: look for a large negative bias, a learning rate too " \
                  "high, or unscaled inputs; try He initialisation or a leaky ReLU. "
    if off:
        advice += "A normalisation layer's output should have a spread near 1: check what it normalises " \
                  "(train-only statistics, D2) and its learned scale."
    return verdict("T7", "warn" if problems else "pass",
                   measured={"std_after_normalisation": {k: rounded(v) for k, v in std_after_norm.items()},
                             "dead_relu_share": {k: rounded(v) for k, v in dead.items()},
                             **({"problems": problems} if problems else {})},
                   expected=f"std in [{low:g}, {high:g}] after normalisation layers; "
                   f"dead ReLU share <= {dead_above:g}",
                   advice=advice.strip(), plots=list(plots))


def plot_activations(steps, history, run_dir: Path) -> str:
    fig, axes = new_figure(10, 3.5, ncols=2)
    left, right = axes
    names = list(history[-1])
    for name in names:
        left.plot(steps, [h.get(name, {}).get("std", np.nan) for h in history], marker=".", label=name)
        if "dead" in history[-1][name]:
            right.plot(steps, [h.get(name, {}).get("dead", np.nan) for h in history], marker=".", label=name)
    left.set_title("output std per layer")
    left.set_yscale("symlog", linthresh=1e-3)
    right.set_title("dead ReLU share per layer")
    right.set_ylim(-0.02, 1.02)
    for ax in axes:
        ax.set_xlabel("step")
        if len(names) <= 12:
            ax.legend(fontsize="x-small")
    fig.suptitle("T7 activations on a fixed sample of training examples")
    return save_figure(fig, run_dir, "T7_activations")


@registers("train", "T7")
def _t7(c: TrainContext) -> Verdict:
    return c.watched_verdict("T7", "monitor.activation_health")
