"""M4 reference models ("don't be a hero"), M2 output bias from train statistics.

Every model ends in one float32 Dense layer that outputs logits (classification,
binary) or the target (regression); the loss is told so (`from_logits=True`), which
is the numerically safe pairing (RECIPE M3). Hidden layers use He initialisation
(ReLU); the output layer a small-scale kernel with its bias set from the training
statistics, so that the loss at init is what the statistics promise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import keras
import numpy as np

from .backbones import FAMILIES, backbone_model
from .config import Config
from .data import Prepared
from .data.loaders import import_callable
from .errors import UserError
from .schedule import Rate
from .schedule import learning_rate as scheduled_rate
from .table_model import MemberDense, table_features, tabular

BUILTIN = ("mlp", "tabular", "cnn", *FAMILIES)  # tabular: table_model.py; FAMILIES: backbones.py


@dataclass
class ModelSpec:
    """What a model builder needs: the input, the train statistics and the output head.

    A builder of your own (`model.builder: my_module:build`) is called as
    `build(input_shape, spec, config)`; `spec.normalization()` and `spec.head(features)`
    give it the same train-only scaling and well-initialised head as the built-in models.
    """

    input_shape: tuple[int, ...]
    kind: str  # "image" or "tabular"
    task: str
    units: int
    output_bias: list[float] | None
    mean: list[float]
    std: list[float]
    target_std: float | None = None  # regression: the head predicts in units of train's std
    pixel_range: tuple[float, float] = (0.0, 255.0)  # images: the training split's lowest and highest value
    # regression on a log scale (model.log_target): the std of log(1 + y) and the largest target in train
    log_target: tuple[float, float] | None = None
    # tables: (feature position, levels + 1) of each identifier-like integer column's level index
    # (data/columns.py); `table_features` embeds them
    level_indices: list[tuple[int, int]] = field(default_factory=list)
    train_examples: int = 0  # the training split's size: the table model's width follows it (0: fixed)
    # tables: each feature's quantile bin edges over train (data/stats.py), for piecewise-linear encoding
    bin_edges: list[list[float]] | None = None
    # tables: how many columns are numbers (a CSV's numeric columns; None: every feature, an array's)
    numeric_columns: int | None = None

    def normalization(self) -> keras.layers.Layer:
        """Scale inputs by the training split's statistics (D2), inside the model, so that
        evaluation and serving apply exactly the same numbers. A feature whose std squared
        overflows float32 (values near 1e30) gets the largest float32 variance instead of inf,
        which the saved model could not load again."""
        variance = np.minimum(np.square(np.asarray(self.std, "float64")), np.finfo(np.float32).max)
        return keras.layers.Normalization(mean=np.asarray(self.mean), variance=variance, name="train_normalization")

    def head(self, features):
        """The output: logits, or the regression target. A small kernel keeps the initial
        output near the bias (Glorot on ReLU features gives logits with a variance of several
        units, ~2 nats above the priors' loss: M1). A regression head predicts the target in
        standard units and scales back with the train mean and std, so that a learning rate
        that suits a standardised target suits every target. On a log scale (`log_target`) it
        predicts log(1 + y) in units of its train std, starting at log(1 + mean), so that the
        first prediction is still the train mean, and `LogLink` brings it back to the target's
        units."""
        kernel = keras.initializers.VarianceScaling(0.01, mode="fan_in", distribution="truncated_normal")
        if self.target_std is not None and self.log_target is not None:
            log_std, highest = self.log_target
            standard = self._output_layer(1, kernel, "zeros", "output_standard", features)
            log_scale = keras.layers.Rescaling(log_std, offset=math.log1p(self.output_bias[0]), dtype="float32",
                                               name="output_log")
            return LogLink(ceiling=math.log1p(highest) + 1.0, dtype="float32", name="output")(
                log_scale(standard(features)))
        if self.target_std is not None:
            standard = self._output_layer(1, kernel, "zeros", "output_standard", features)
            scale_back = keras.layers.Rescaling(self.target_std, offset=self.output_bias[0], dtype="float32",
                                                name="output")
            return scale_back(standard(features))
        bias = "zeros" if self.output_bias is None else keras.initializers.Constant(self.output_bias)
        return self._output_layer(self.units, kernel, bias, "output", features)(features)

    @staticmethod
    def _output_layer(units: int, kernel, bias, name: str, features) -> keras.layers.Layer:
        """A Dense layer; for an ensemble's (batch, members, D) features a head a member."""
        if len(features.shape) == 3:
            return MemberDense(units, bias_initializer=bias, dtype="float32", name=name)
        return keras.layers.Dense(units, kernel_initializer=kernel, bias_initializer=bias, dtype="float32", name=name)


@keras.saving.register_keras_serializable(package="recipe")
class LogLink(keras.layers.Layer):
    """exp(z) - 1, with z capped at `ceiling` (log(1 + the largest training target) + 1): a
    regression head's log scale brought back to the target's units (model.log_target). A model
    on this scale adds and multiplies what drives a price or a count as it grows, where a linear
    output must fit the largest values with its largest weights; the loss stays in the target's
    units, so evaluate, B1 and B3 compare the same numbers as before. The cap keeps one wild
    prediction finite (exp overflows float32 past 88)."""

    def __init__(self, ceiling: float = 88.0, **kwargs):
        super().__init__(**kwargs)
        self.ceiling = float(ceiling)

    def call(self, inputs):
        return keras.ops.expm1(keras.ops.minimum(inputs, self.ceiling))

    def get_config(self):
        return super().get_config() | {"ceiling": self.ceiling}


def log_target(config: Config, prepared: Prepared) -> tuple[float, float] | None:
    """(std of log(1 + y), largest y) over train when the head should predict on a log scale:
    model.log_target on, or auto and the training target positive and long-tailed (D13)."""
    stats, wanted = prepared.stats, config.model.log_target
    if config.task != "regression" or wanted == "off" or not config.model.init_output_bias:
        return None
    if wanted == "auto" and not stats.target_skewed:
        return None
    if stats.target_log_std is None or stats.target_high is None:
        raise UserError("model.log_target: on needs a target above -1 in every training row (log(1 + y)); "
                        "the training split holds lower values: use model.log_target: off")
    return stats.target_log_std or 1.0, stats.target_high


def output_bias(task: str, prepared: Prepared) -> list[float]:
    """M2: log priors for softmax, the log-odds of the positive class for a sigmoid, the
    target mean for regression: the loss at init is then the entropy of the priors (or the
    variance of the target), not a hockey stick."""
    stats = prepared.stats
    if task == "regression":
        return [stats.target_mean]
    priors = np.clip(np.asarray(stats.priors), 1e-6, 1.0)
    if task == "binary":
        return [math.log(priors[1] / priors[0])]
    return np.log(priors).tolist()


def expected_init_loss(prepared: Prepared, bias: list[float] | None) -> float:
    """M1: the loss a model whose output is its bias alone has on the val labels."""
    y_val = prepared.labels("val")
    if prepared.task == "regression":
        center = bias[0] if bias else 0.0
        return float(np.mean((y_val - center) ** 2))
    if bias is None:  # zero logits: uniform prediction
        return math.log(prepared.num_classes) if prepared.task == "classification" else math.log(2)
    logits = np.asarray(bias, "float64")
    if prepared.task == "binary":
        p = 1 / (1 + math.exp(-logits[0]))
        return float(-np.mean(y_val * math.log(p) + (1 - y_val) * math.log(1 - p)))
    log_probs = logits - np.log(np.exp(logits - logits.max()).sum()) - logits.max()
    return float(-np.mean(log_probs[y_val]))


def model_spec(config: Config, prepared: Prepared) -> ModelSpec:
    units = prepared.num_classes if config.task == "classification" else 1
    bias = output_bias(config.task, prepared) if config.model.init_output_bias else None
    target_std = prepared.stats.target_std if config.task == "regression" and bias is not None else None
    columns = prepared.source.columns
    numeric = sum(c.used and c.role == "numeric" for c in columns) if columns else None
    return ModelSpec(prepared.input_shape, prepared.kind, config.task, units, bias,
                     prepared.stats.mean, prepared.stats.std, target_std or None,
                     tuple(prepared.stats.pixel_range), log_target(config, prepared), prepared.level_indices,
                     prepared.size("train"), prepared.stats.bin_edges, numeric)


def resolve_builder(config: Config, kind: str) -> str:
    name = config.model.builder
    if name == "auto":  # tables: `tabular` is the one that beat boosting on the large tables (BENCHMARKS.md)
        return "cnn" if kind == "image" else "tabular"
    if (name == "cnn" or name in FAMILIES) and kind != "image":
        raise UserError(f"model.builder {name!r} needs images, but the data is {kind}; use tabular or mlp")
    if name == "tabular" and kind != "tabular":
        raise UserError(f"model.builder 'tabular' needs a table, but the data is {kind}; use cnn, a backbone or mlp")
    if name not in BUILTIN and ":" not in name:
        raise UserError(f"model.builder: unknown model {name!r}; use auto, {', '.join(BUILTIN)} or my_module:build")
    return name


def build_model(config: Config, prepared: Prepared, spec: ModelSpec | None = None) -> keras.Model:
    spec = spec or model_spec(config, prepared)
    name = resolve_builder(config, prepared.kind)
    if ":" in name:
        return checked_user_model(import_callable(name, "model.builder"), name, spec, config)
    if name in FAMILIES:
        return backbone_model(name, spec, config)
    return {"mlp": mlp, "tabular": tabular, "cnn": cnn}[name](spec, config)


def checked_user_model(build, name: str, spec: ModelSpec, config: Config) -> keras.Model:
    """A model of the user's builder, called once on a batch of zeros: that builds a
    Sequential given no input shape (every check needs its weights), and shows at once
    what the recipe cannot train: a builder that raises, several outputs, an output whose
    width is not the task's. Each is one message naming the builder, not a traceback from
    deep inside a check."""
    where = f"model.builder {name}"
    try:
        model = build(spec.input_shape, spec, config)
    except UserError:
        raise
    except Exception as err:  # the user's code: name it, do not show its traceback as ours
        raise UserError(f"{where} raised {type(err).__name__}: {_first_line(err)}") from None
    if not isinstance(model, keras.Model):
        raise UserError(f"{where} returned {type(model).__name__}, not a keras.Model")
    try:
        outputs = model(np.zeros((2, *spec.input_shape), "float32"), training=False)
    except Exception as err:
        raise UserError(f"{where}: the model fails on a batch of shape {(2, *spec.input_shape)}: "
                        f"{type(err).__name__}: {_first_line(err)}") from None
    if isinstance(outputs, (list, tuple, dict)):
        raise UserError(f"{where} returns a model with {len(outputs)} outputs; the recipe trains one output of "
                        f"shape (batch, {spec.units}) for task={spec.task}")
    if tuple(outputs.shape[1:]) != (spec.units,):
        what = f"{spec.units} logits, one per class" if spec.task == "classification" else (
            "1 logit" if spec.task == "binary" else "1 value, the target")
        raise UserError(f"{where} outputs shape {tuple(outputs.shape)}; task={spec.task} needs (batch, {spec.units}): "
                        f"{what} (spec.units)")
    return model


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return text.splitlines()[0][:300] if text else "(no message)"


def mlp(spec: ModelSpec, config: Config) -> keras.Model:
    inputs = keras.Input(spec.input_shape, name="inputs")
    x, embedded = table_features(spec, inputs, config.model.id_embedding) if spec.kind == "tabular" else (
        keras.layers.Flatten()(spec.normalization()(inputs)), [])
    if embedded:
        x = keras.layers.Concatenate(name="with_level_embeddings")([x, *embedded])
    for i in range(config.model.depth):
        x = keras.layers.Dense(config.model.hidden_units, activation="relu",
                               kernel_initializer="he_normal", name=f"dense_{i}")(x)
        if config.model.dropout:
            x = keras.layers.Dropout(config.model.dropout)(x)
    return keras.Model(inputs, spec.head(x), name="mlp")


def cnn(spec: ModelSpec, config: Config) -> keras.Model:
    """The Keras examples' convnet (keras.io "Simple MNIST convnet"): 3x3 conv-ReLU blocks, each
    followed by 2x2 max pooling while the image is at least 4 pixels, filters doubling from
    model.filters, then flatten and the output layer; He initialisation. model.depth blocks at
    least, and one more for each halving still needed to bring a large image down to 8 pixels
    (64x64: 3 blocks), so that the flattened features stay a few thousand. Flatten rather than
    global average pooling: on the digits, 60 epochs reach 97.6% test accuracy this way, where
    two blocks with pooling to one value per filter reached 76% (5 epochs) to 94.7% (20)."""
    inputs = keras.Input(spec.input_shape, name="inputs")
    x = spec.normalization()(inputs)
    blocks = config.model.depth
    while min(spec.input_shape[:2]) / 2**blocks > 8:
        blocks += 1
    for i in range(blocks):
        x = keras.layers.Conv2D(min(config.model.filters * 2**i, 256), 3, padding="same", activation="relu",
                                kernel_initializer="he_normal", name=f"conv_{i}")(x)
        if min(x.shape[1], x.shape[2]) >= 4:
            x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Flatten()(x)
    if config.model.dropout:
        x = keras.layers.Dropout(config.model.dropout)(x)
    return keras.Model(inputs, spec.head(x), name="cnn")


def loss_for(task: str) -> keras.losses.Loss:
    if task == "classification":
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    if task == "binary":
        return keras.losses.BinaryCrossentropy(from_logits=True)
    return keras.losses.MeanSquaredError()


def metrics_for(task: str) -> list[keras.metrics.Metric]:
    if task == "classification":
        return [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    if task == "binary":
        # threshold 0 because the model outputs logits, not probabilities
        return [keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0),
                keras.metrics.AUC(name="auc", from_logits=True)]
    return [keras.metrics.MeanAbsoluteError(name="mae")]


def make_optimizer(config: Config, learning_rate: Rate | None = None,
                   total_steps: int | None = None) -> keras.optimizers.Optimizer:
    """O1: Adam at 3e-4 and a constant rate by default; AdamW when weight decay is asked for.
    The configured schedule applies when the run's length in steps is given (`tune`); a
    `learning_rate` given overrides it (the checks' fixed rates; `train` passes the schedule it
    built once, which O1 then judges). T6: `train.clip_norm` clips the global gradient norm
    (off by default)."""
    if learning_rate is not None:
        rate = learning_rate
    else:
        rate = scheduled_rate(config, total_steps) if total_steps else config.train.learning_rate
    clip = {"global_clipnorm": config.train.clip_norm}
    if config.train.optimizer == "sgd":
        return keras.optimizers.SGD(rate, momentum=0.9, **clip)
    if config.train.optimizer == "adamw" or config.train.weight_decay:
        return keras.optimizers.AdamW(rate, weight_decay=config.train.weight_decay, **clip)
    return keras.optimizers.Adam(rate, **clip)


def compile_model(model: keras.Model, config: Config, learning_rate: Rate | None = None,
                  jit_compile: bool | str = "auto", total_steps: int | None = None) -> keras.Model:
    model.compile(optimizer=make_optimizer(config, learning_rate, total_steps), loss=loss_for(config.task),
                  metrics=metrics_for(config.task), jit_compile=jit_compile)
    return model


def probabilities(outputs: np.ndarray, task: str, target_std: float | None) -> np.ndarray:
    """What a person reads: class probabilities, P(positive), or the target in units of its std."""
    if task == "classification":
        shifted = np.exp(outputs - outputs.max(axis=-1, keepdims=True))
        return shifted / shifted.sum(axis=-1, keepdims=True)
    if task == "binary":
        return 1 / (1 + np.exp(-outputs))
    return outputs / (target_std or 1.0)


def class_probabilities(outputs: np.ndarray, task: str) -> np.ndarray:
    """(N, classes) probabilities from the models' logits: softmax, or the two sides of a sigmoid."""
    outputs = np.asarray(outputs, "float64")
    if task == "binary":
        positive = 1 / (1 + np.exp(-outputs.reshape(-1)))
        return np.stack([1 - positive, positive], axis=1)
    shifted = np.exp(outputs - outputs.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def score_predictions(task: str, y_true: np.ndarray, outputs: np.ndarray) -> dict[str, float]:
    """The project's loss and metrics for given outputs: the same numbers `evaluate` reports,
    for predictions that did not come from a model (baselines, ensembles)."""
    outputs = np.asarray(outputs, "float32")
    if task != "classification" and outputs.ndim == 1:
        outputs = outputs[:, None]
    scores = {"loss": float(loss_for(task)(y_true, outputs))}
    for metric in metrics_for(task):
        metric.update_state(y_true, outputs)
        scores[metric.name] = float(metric.result())
    return scores
