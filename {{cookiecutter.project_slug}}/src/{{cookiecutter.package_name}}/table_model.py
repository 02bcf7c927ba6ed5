"""`model.builder: tabular`, an MLP for tables in the manner of RealMLP (Holzmueller et al.
2024, "Better by Default"; ../shared/TABLE_MODELS.md in the template's repository holds its
defaults, value by value):

- the inputs scaled by the training statistics, then smoothly clipped, x / sqrt(1 + (x/3)^2),
  so that an outlier 50 standard deviations out enters as about 3 (`SmoothClip`);
- each input feature given an embedding beside its own value (`model.numeric_embedding`; auto
  picks by task, `numeric_embedding`; off leaves it out). For classes, periodic: 16
  frequencies drawn from N(0, 0.1^2) with random phases, cos(2 pi w x + b), mapped by a
  per-feature linear layer to 3 values (`PeriodicEmbedding`, RealMLP's PBLD). For regression,
  piecewise-linear: the feature's place in each of up to 48 quantile bins of the training
  split (`PiecewiseLinearEncoding`, rtdl's PLE), which lets the first layer draw steps. Here
  every encoded feature gets one, one-hot columns included (a 0/1 column has one bin): the
  encoded table no longer says which feature was a number;
- identifier-like integer columns (data/columns.py) embedded, `model.id_embedding` values a
  level (`LevelEmbedding`), their index left out of the scaled features (`SelectFeatures`);
- 3 hidden layers of 256 ReLU units, dropout 0.15 after each for classes, none for regression
  (`model.tabular_*`), an L1 penalty on the first one's weights where the numeric columns
  outnumber the training rows (`model.tabular_l1`);
- on request (`model.tabular_members` above 1), an ensemble in the manner of TabM-mini
  (`EnsembleInputs`, `MemberMean`), off by default: it did not pay on the benchmark tables.

`model.builder: auto` picks it for tables. Judged on tables that chose none of its defaults
(BENCHMARKS.md, "Tables against the references at full strength"): on 14 held-out public tables,
5 seeded splits each, within 2% of the best of boosting with native categories, LightGBM at its
defaults and a cross-validated linear model on 8; on the 10 of 932 rows or more, 8, the worst
1.037x (pet species from names, where the linear model's one-hot of 13,929 names wins); the four
wide tables of 165 to 281 rows are its weak spot (1.16x to 1.25x).
"""

from __future__ import annotations

import math

import keras


@keras.saving.register_keras_serializable(package="recipe")
class SmoothClip(keras.layers.Layer):
    """x / sqrt(1 + (x / limit)^2): the identity near 0, never beyond +-limit."""

    def __init__(self, limit: float = 3.0, **kwargs):
        super().__init__(**kwargs)
        self.limit = limit

    def call(self, inputs):
        return inputs / keras.ops.sqrt(1.0 + keras.ops.square(inputs / self.limit))

    def get_config(self):
        return super().get_config() | {"limit": self.limit}


@keras.saving.register_keras_serializable(package="recipe")
class PeriodicEmbedding(keras.layers.Layer):
    """(batch, F) -> (batch, F * (1 + dims)): each feature's value, then `dims` values per
    feature from cos(2 pi w x + b) over `frequencies` learned frequencies w ~ N(0, sigma^2)
    and phases b ~ U(-pi, pi), through a linear map of that feature's own."""

    def __init__(self, frequencies: int = 16, dims: int = 3, sigma: float = 0.1, **kwargs):
        super().__init__(**kwargs)
        self.frequencies, self.dims, self.sigma = frequencies, dims, sigma

    def build(self, input_shape):
        features, bound = input_shape[-1], 1 / math.sqrt(self.frequencies)
        self.frequency = self.add_weight((features, self.frequencies), keras.initializers.RandomNormal(0, self.sigma),
                                         name="frequency")
        self.phase = self.add_weight((features, self.frequencies), keras.initializers.RandomUniform(-math.pi, math.pi),
                                     name="phase")
        self.kernel = self.add_weight((features, self.frequencies, self.dims),
                                      keras.initializers.RandomUniform(-bound, bound), name="kernel")
        self.bias = self.add_weight((features, self.dims), "zeros", name="bias")

    def call(self, inputs):
        waves = keras.ops.cos(2 * math.pi * inputs[..., None] * self.frequency + self.phase)
        embedded = keras.ops.einsum("bfk,fkd->bfd", waves, self.kernel) + self.bias
        flat = keras.ops.reshape(embedded, (-1, inputs.shape[-1] * self.dims))
        return keras.ops.concatenate([inputs, flat], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] * (1 + self.dims))

    def get_config(self):
        return super().get_config() | {"frequencies": self.frequencies, "dims": self.dims, "sigma": self.sigma}


@keras.saving.register_keras_serializable(package="recipe")
class PiecewiseLinearEncoding(keras.layers.Layer):
    """(batch, F) -> (batch, bins): for every quantile bin [left, left + width) of a feature
    (edges from the training split, data/stats.py), clip((x - left) / width, 0, 1): 0 below
    the bin, 1 above it, the position inside it between (Gorishniy et al. 2022, "On
    Embeddings for Numerical Features"; rtdl-num-embeddings' PLE). The next Dense layer then
    draws any piecewise-linear function of each feature with a knot at every edge, the sharp
    thresholds a tree finds (a grade that changes at a depth of 64%), where the smooth-clipped
    value gives one slope and the periodic embedding smooth waves. Every bin is clipped, the
    outer ones too: the scaled value beside it carries what lies beyond train's range."""

    def __init__(self, features: list[int], lefts: list[float], widths: list[float], **kwargs):
        super().__init__(**kwargs)
        self.features = [int(j) for j in features]
        self.lefts, self.widths = [float(v) for v in lefts], [float(v) for v in widths]

    def call(self, inputs):
        values = keras.ops.take(inputs, self.features, axis=1)
        lefts = keras.ops.convert_to_tensor(self.lefts, dtype=values.dtype)
        widths = keras.ops.convert_to_tensor(self.widths, dtype=values.dtype)
        return keras.ops.clip((values - lefts) / widths, 0.0, 1.0)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], len(self.features))

    def get_config(self):
        return super().get_config() | {"features": self.features, "lefts": self.lefts, "widths": self.widths}


def piecewise_encoding(spec, skipped: set[int]) -> PiecewiseLinearEncoding | None:
    """The encoding of every feature with a bin, but those `skipped` (the embedded level
    indices); None when there are none (images, a builder's spec without edges)."""
    features, lefts, widths = [], [], []
    for j, edges in enumerate(spec.bin_edges or []):
        if j in skipped:
            continue
        for left, right in zip(edges[:-1], edges[1:], strict=True):
            features.append(j)
            lefts.append(left)
            widths.append(right - left)
    return PiecewiseLinearEncoding(features, lefts, widths, name="piecewise_linear") if features else None


@keras.saving.register_keras_serializable(package="recipe")
class SelectFeatures(keras.layers.Layer):
    """(batch, F) -> (batch, len(kept)): the features at `kept`, in that order (the models leave
    out the level indices they embed)."""

    def __init__(self, kept: list[int], **kwargs):
        super().__init__(**kwargs)
        self.kept = [int(j) for j in kept]

    def call(self, inputs):
        return keras.ops.take(inputs, self.kept, axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], len(self.kept))

    def get_config(self):
        return super().get_config() | {"kept": self.kept}


@keras.saving.register_keras_serializable(package="recipe")
class LevelEmbedding(keras.layers.Layer):
    """An identifier-like column's level index, read from the raw features at `position`, to a
    learned vector of `dims` (N(0, 1) at first, RealMLP's categorical embedding): a lecturer,
    a product or a store gets its own effect, where its number would impose an order.
    Index 0 (a level train did not have twice) is one shared vector."""

    def __init__(self, position: int, levels: int, dims: int = 8, **kwargs):
        super().__init__(**kwargs)
        self.position, self.levels, self.dims = int(position), int(levels), int(dims)

    def build(self, input_shape):
        self.embeddings = self.add_weight((self.levels, self.dims), keras.initializers.RandomNormal(0.0, 1.0),
                                          name="embeddings")

    def call(self, inputs):
        index = keras.ops.cast(keras.ops.clip(inputs[:, self.position], 0, self.levels - 1), "int32")
        return keras.ops.take(self.embeddings, index, axis=0)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.dims)

    def get_config(self):
        return super().get_config() | {"position": self.position, "levels": self.levels, "dims": self.dims}


class RandomSigns(keras.initializers.Initializer):
    """-1 or +1, each with probability 1/2 (TabM's first adapter)."""

    def __call__(self, shape, dtype=None):
        return keras.ops.where(keras.random.uniform(shape) < 0.5, -1.0, 1.0)


@keras.saving.register_keras_serializable(package="recipe")
class EnsembleInputs(keras.layers.Layer):
    """(batch, F) -> (batch, members, F): each member of the ensemble sees the features times
    its own learned vector, random signs at first (TabM-mini, Gorishniy et al. 2025): the
    hidden Dense layers after it are shared, so k members cost k times the compute and, but
    for a head each (`MemberDense`), no more weights than one; the signs make them start, and
    stay, different."""

    def __init__(self, members: int, **kwargs):
        super().__init__(**kwargs)
        self.members = int(members)

    def build(self, input_shape):
        self.adapter = self.add_weight((self.members, input_shape[-1]), RandomSigns(), name="adapter")

    def call(self, inputs):
        return inputs[:, None, :] * self.adapter

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.members, input_shape[-1])

    def get_config(self):
        return super().get_config() | {"members": self.members}


@keras.saving.register_keras_serializable(package="recipe")
class MemberDense(keras.layers.Layer):
    """(batch, members, D) -> (batch, members, units): a linear output layer of each member's own
    (TabM's k heads), with one bias for all of them, so that the head's bias still holds the
    train statistics (M2). Its kernels start small, as `ModelSpec.head`'s Dense does."""

    def __init__(self, units: int, bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def build(self, input_shape):
        members, width = input_shape[1], input_shape[2]
        # VarianceScaling(0.01, fan_in, truncated normal) of one member's (width, units) kernel
        small = keras.initializers.TruncatedNormal(stddev=math.sqrt(0.01 / width) / 0.87962566103423978)
        self.kernel = self.add_weight((members, width, self.units), small, name="kernel")
        self.bias = self.add_weight((self.units,), self.bias_initializer, name="bias")

    def call(self, inputs):
        return keras.ops.einsum("bkd,kdu->bku", inputs, self.kernel) + self.bias

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return super().get_config() | {"units": self.units,
                                       "bias_initializer": keras.initializers.serialize(self.bias_initializer)}


@keras.saving.register_keras_serializable(package="recipe")
class MemberMean(keras.layers.Layer):
    """(batch, members, outputs) -> (batch, outputs): the ensemble's one prediction, trained so
    that the loss is the mean of the members' own losses (TabM's rule, which keeps them
    diverse) while the compiled loss sees one output. Regression: the members' mean, plus
    their variance around it as an added loss (the mean of the members' squared errors is the
    squared error of their mean plus that variance). Classes: the mean of the members' log
    probabilities, a normalised geometric mean whose cross-entropy is the members' mean
    cross-entropy plus log Z (Z <= 1, its normalisation), so -log Z is the added loss; for one
    logit that mean is the mean logit. The added loss is for training only: val and test score
    the ensemble."""

    def __init__(self, task: str, **kwargs):
        super().__init__(**kwargs)
        self.task = task

    def call(self, inputs, training=None):
        if self.task == "regression":
            mean = keras.ops.mean(inputs, axis=1)
            spread = keras.ops.mean(keras.ops.square(inputs - mean[:, None, :]))
        elif self.task == "binary":
            mean = keras.ops.mean(inputs, axis=1)
            positive = keras.ops.mean(keras.ops.log_sigmoid(inputs), axis=1)
            negative = keras.ops.mean(keras.ops.log_sigmoid(-inputs), axis=1)
            spread = -keras.ops.mean(keras.ops.logaddexp(positive, negative))
        else:
            mean = keras.ops.mean(keras.ops.log_softmax(inputs, axis=-1), axis=1)
            spread = -keras.ops.mean(keras.ops.logsumexp(mean, axis=-1))
        if training:
            self.add_loss(spread)
        return mean

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])

    def get_config(self):
        return super().get_config() | {"task": self.task}


def table_features(spec, inputs, dims: int):
    """The scaled features, the level indices left out, and one `LevelEmbedding` of `dims` for
    each identifier-like column (none when dims is 0: the column's number still goes in)."""
    scaled = keras.layers.Flatten()(spec.normalization()(inputs))
    if not spec.level_indices:
        return scaled, []
    positions = {p for p, _ in spec.level_indices}
    kept = [j for j in range(spec.input_shape[0]) if j not in positions]
    embedded = [LevelEmbedding(p, n, dims, name=f"level_embedding_{i}")(inputs)
                for i, (p, n) in enumerate(spec.level_indices)] if dims else []
    return SelectFeatures(kept, name="without_level_indices")(scaled), embedded


CLASS_DROPOUT = 0.15  # RealMLP's


def tabular_dropout(setting: float | str, task: str) -> float:
    """`model.tabular_dropout`; auto: RealMLP's 0.15 for classes, none for regression. Dropout's
    noise on the last hidden layer is noise on a regression output that MSE then averages: on
    the benchmark tables 0 lowered the test RMSE on four of seven regression tables (diamonds'
    price 648 to 544, Computers 166 to 162, Housing 19,300 to 18,100, Cars93 3.8 to 2.9; Boston
    2.46 to 2.61 and InstEval 1.230 to 1.238 rose), while on classes it raised the log loss on
    four of six (breast_cancer 0.103 to 0.122, MNIST 0.224 to 0.234, diamonds' 3% class 0.0231
    to 0.0247, the wide table 0.62 to 0.65). RealMLP keeps 0.15 for both but decays it to 0
    over the second half of training, so its final epochs train without it."""
    if setting != "auto":
        return float(setting)
    return 0.0 if task == "regression" else CLASS_DROPOUT


def numeric_embedding(setting: str, task: str, binned: bool = True) -> str:
    """`model.numeric_embedding`; auto: piecewise-linear for regression, periodic for classes.
    Measured on the benchmark tables (BENCHMARKS.md), piecewise against periodic: the test RMSE
    fell on three of seven regression tables, by much (Computers 161.9 to 150.7, now ahead of
    boosting's 157.4; diamonds' price 547 to 529; Cars93 2.9 to 1.3), and rose on three, by
    little (Boston 2.61 to 2.72, Housing 18,100 to 18,310, InstEval 1.237 to 1.247); the log
    loss rose on four of six class tables (breast_cancer 0.103 to 0.213, diamonds' 3% class
    0.0229 to 0.0265, MNIST 0.2235 to 0.2281, the flights 0.4591 to 0.4732) and fell on iris
    (0.359 to 0.354). A knot at every quantile fits a price's steps, and makes a classifier
    sure of itself where few training rows lie, which log loss punishes and squared error
    much less. Without bins (`binned` false: a spec a builder made itself, statistics saved
    before the bins were) auto stays periodic."""
    if setting != "auto":
        return setting
    return "piecewise" if task == "regression" and binned else "periodic"


WIDE_L1 = 0.003  # model.tabular_l1 auto's strength for a wide, short table (tabular_l1's docstring)


def tabular_l1(setting: float | str, numeric_columns: int, train_examples: int, loss_scale: float = 1.0) -> float:
    """`model.tabular_l1`; auto: WIDE_L1 times `loss_scale` where the numeric columns outnumber
    the training rows, else 0. There the first layer can fit the training rows with any handful
    of columns, and an L1 penalty on its weights, Lasso's answer, leaves the columns that carry
    the label (an MLP with it on its first layer is LassoNet's idea, Lemhadri et al. 2021).
    Numeric columns only: a bag of words is as wide, but each word is in few rows, and the
    penalty outweighs what a rare word's weight earns: 2,096 movie reviews (1,477 training rows,
    2,000 words and pairs) went from a test log loss of 0.469 to 0.693, nothing learned, under
    it; one-hot levels are as rare, and no wide table of them was measured.
    `loss_scale` is what the loss is measured in: 1 for log loss, the target's variance for
    squared error, which the regression head leaves in the target's units, so that the penalty
    weighs the same beside either. Measured (BENCHMARKS.md) on the wide, short benchmark table
    (500 columns, 140 training rows, 10 carrying the label): test log loss 0.623 without it,
    0.575 at 0.001, 0.355 at 0.003, 0.407 at 0.01 (scikit-learn's cross-validated L1 logistic
    regression: 0.448). Then held out: 1,000 columns in 50 correlated blocks, 0.734 to 0.648; a
    regression of 800 columns, RMSE 4.29 to 2.63 at 0.003 times its variance (0.082; unscaled,
    4.00), ahead of boosting's 3.62, behind the lasso's 1.66.
    No other benchmark table is wide enough to get it. A number set is used as it is. Where it is
    above 0, a linear path with its own L1 sits beside the MLP (`linear_path`).
    The first loss is then mostly the penalty's (38.8 against the data's 0.69 on 2,000 columns),
    on purpose: under Adam each weight moves by about the rate whatever the loss's size, and a
    weight grows only where its data gradient beats the penalty's constant pull (the lasso's
    threshold). Scaled down to the data's first loss, or off, the test loss rose on every dev
    split; 3x stronger won on the dev tables (linear labels) and lost held out (BENCHMARKS.md)."""
    if setting != "auto":
        return float(setting)
    return WIDE_L1 * loss_scale if train_examples and numeric_columns > train_examples else 0.0


def l1_loss_scale(spec) -> float:
    """`tabular_l1`'s `loss_scale` for a model of `spec`: the training target's variance for a
    regression whose head starts at its mean (the loss is then in the target's squared units),
    else 1."""
    return spec.target_std ** 2 if spec.task == "regression" and spec.target_std else 1.0


MIN_UNITS = 16  # the narrowest the size-by-rows rule goes


def tabular(spec, config) -> keras.Model:
    """The table model, sized by its training rows: `model.tabular_units` is the widest; while the
    model would hold more than `check.max_params_per_example` weights per training example (what
    M4 calls a hero), the width halves, down to MIN_UNITS, and then the numeric embedding goes
    (periodic multiplies the first layer's inputs by 4, piecewise adds up to 48 a feature). Iris'
    104 training rows get 128 units, a wide table of 500 columns and 131 rows 32, where 256 units
    put 5,234 weights on each row."""
    budget = config.check.max_params_per_example * spec.train_examples
    embedding = numeric_embedding(config.model.numeric_embedding, spec.task, bool(spec.bin_edges))
    units = config.model.tabular_units
    model = _tabular(spec, config, units, embedding)
    while spec.train_examples and model.count_params() > budget and (units > MIN_UNITS or embedding != "off"):
        if units > MIN_UNITS:
            units = max(units // 2, MIN_UNITS)
        else:
            embedding, units = "off", config.model.tabular_units
        model = _tabular(spec, config, units, embedding)
    return model


def _tabular(spec, config, units: int, embedding: str) -> keras.Model:
    inputs = keras.Input(spec.input_shape, name="inputs")
    scaled, embedded = table_features(spec, inputs, config.model.id_embedding)
    dropout = tabular_dropout(config.model.tabular_dropout, spec.task)
    clipped = x = SmoothClip(name="smooth_clip")(scaled)
    if embedding == "periodic":
        x = PeriodicEmbedding(name="periodic_embedding")(x)
    encoding = piecewise_encoding(spec, {p for p, _ in spec.level_indices}) if embedding == "piecewise" else None
    if encoding is not None:
        x = keras.layers.Concatenate(name="with_piecewise")([x, encoding(inputs)])
    if embedded:
        x = keras.layers.Concatenate(name="with_level_embeddings")([x, *embedded])
    members = config.model.tabular_members
    if members > 1:
        x = EnsembleInputs(members, name="ensemble_inputs")(x)
    loss_scale = l1_loss_scale(spec)
    numeric = spec.input_shape[0] if spec.numeric_columns is None else spec.numeric_columns
    l1 = tabular_l1(config.model.tabular_l1, numeric, spec.train_examples, loss_scale)
    for i in range(config.model.tabular_depth):
        sparse = keras.regularizers.L1(l1) if i == 0 and l1 else None
        x = keras.layers.Dense(units, activation="relu", kernel_initializer="he_normal", kernel_regularizer=sparse,
                               name=f"dense_{i}")(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"dropout_{i}")(x)
    outputs = spec.head(x)
    if members > 1:
        outputs = MemberMean(spec.task, dtype="float32", name="member_mean")(outputs)
    if l1 and spec.log_target is None:
        outputs = keras.layers.Add(name="with_linear_path", dtype="float32")(
            [outputs, linear_path(spec, clipped, numeric, loss_scale)])
    return keras.Model(inputs, outputs, name="tabular")


# The layers of the linear path, which checks of the head (M2) look past.
LINEAR_PATH_LAYERS = ("linear_path", "linear_path_gain", "with_linear_path")
# The linear path's L1 in units of the lasso's universal threshold sqrt(2 ln p / n) (chosen on the
# dev wide tables, BENCHMARKS.md), and the gain its outputs are multiplied by.
LINEAR_PATH_STRENGTH = 0.1
LINEAR_PATH_GAIN = 10.0


def linear_path_l1(numeric_columns: int, train_examples: int, loss_scale: float = 1.0) -> float:
    """The L1 strength, per unit of the linear path's coefficients, that the table model's
    linear path gets on a wide table: LINEAR_PATH_STRENGTH x sqrt(2 ln p / n) x `loss_scale`,
    the lasso's universal threshold (Bickel, Ritov and Tsybakov 2009) for p numeric columns and
    n training rows, which grows with the columns a noise column could be picked from and
    shrinks with the rows that tell them apart.

    Args:
        numeric_columns: p, the numeric columns.
        train_examples: n, the training rows.
        loss_scale: 1 for log loss; the target's variance for squared error.

    Returns:
        The strength on the mean loss.
    """
    return LINEAR_PATH_STRENGTH * math.sqrt(2 * math.log(max(numeric_columns, 2)) / max(train_examples, 1)) * loss_scale


def linear_path(spec, clipped, numeric_columns: int, loss_scale: float):
    """A lasso beside the MLP on a wide table: one linear map of the clipped inputs to the
    outputs (logits, or the target in its units), zero at the start, with an L1 penalty at
    `linear_path_l1`, added to the head's output (LassoNet's residual layer, Lemhadri et al.
    2021, without its hierarchy). With more columns than rows, an MLP with L1 on its first layer
    alone learned nothing of issue #37's 2,000 x 2,000 table (test log loss 0.697, the priors'
    0.693), where a cross-validated L1 logistic regression reached 0.317; with this path beside
    it, 0.311. The MLP can pay its L1 by shrinking its first layer while its second grows; a
    linear map cannot, so the penalty selects columns there as the lasso's does.

    Its outputs are multiplied by LINEAR_PATH_GAIN (and the target's std for a regression), with
    the penalty scaled to match: a coefficient of 1.6, what a column that sets a label needs,
    is out of reach of Adam at 3e-4 in a run's few thousand steps otherwise.

    Args:
        spec: The model's ModelSpec (task, outputs, the target's std).
        clipped: The scaled, clipped numeric inputs.
        numeric_columns: The numeric columns (the p of the penalty).
        loss_scale: 1 for log loss; the target's variance for squared error.

    Returns:
        The path's outputs, in the head's units.
    """
    gain = LINEAR_PATH_GAIN * (spec.target_std if spec.task == "regression" and spec.target_std else 1.0)
    strength = linear_path_l1(numeric_columns, spec.train_examples, loss_scale)
    # The penalty is `strength` per unit of LINEAR_PATH_GAIN x w, the coefficient in the head's
    # standard units (on the logit, or on the target in standard deviations).
    coefficients = keras.layers.Dense(spec.units, use_bias=False, kernel_initializer="zeros", dtype="float32",
                                      kernel_regularizer=keras.regularizers.L1(strength * LINEAR_PATH_GAIN),
                                      name="linear_path")(clipped)
    return keras.layers.Rescaling(gain, dtype="float32", name="linear_path_gain")(coefficients)
