"""Pretrained `keras.applications` backbones for images, through one builder.

Each family takes RGB pixels in 0..255 and brings its own preprocessing: EfficientNetV2,
MobileNetV3 and ConvNeXt scale inside the model (`include_preprocessing=True`), ResNet50 wants
Caffe's BGR order less the ImageNet means (its `preprocess_input`, written here as layers so
that a saved model loads without unsafe Lambda code). The data's own statistics are not used:
the ImageNet weights were trained with these numbers. Gray images are repeated to three
channels; data on another scale (0..1 floats, the digits' 0..16) is brought to 0..255.

Images are resized inside the model to `model.backbone_size` (224, the size the ImageNet
weights were trained at, when set; by default the data's own size, at least MIN_SIDE, which is
what a CPU can afford). With pretrained weights (`model.weights`: imagenet or a file) the
backbone is frozen and runs in inference mode (its batch norms keep ImageNet's statistics), as
keras.io's transfer-learning guide trains the new head first; with no weights every layer
trains from scratch. The guide's second phase is `model.fine_tune_layers`: once the head has
trained, `train` unfreezes that many of the backbone's top layers (batch norms stay frozen and
in inference mode) and trains `model.fine_tune_epochs` more at `model.fine_tune_learning_rate`.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import keras
import numpy as np

from .data.batching import auto_batch_size
from .errors import UserError
from .schedule import planned_steps

MIN_SIDE = 32  # every family here downsamples 32x
BACKBONE = "backbone"  # the nested model's name: its variables are `backbone/...` whatever the family


class Family(NamedTuple):
    constructor: str  # the keras.applications class
    own_preprocessing: bool  # takes include_preprocessing=True (0..255 in, scaled inside)


FAMILIES = {
    "resnet50": Family("ResNet50", False),
    "efficientnetv2b0": Family("EfficientNetV2B0", True),
    "mobilenetv3small": Family("MobileNetV3Small", True),
    "convnext_tiny": Family("ConvNeXtTiny", True),
}
IMAGENET_MEANS_BGR = (103.939, 116.779, 123.68)
# From scratch, the batch norms' moving averages span this share of the planned run, and at least
# MIN_MOVING_WINDOW steps (`fit_momentum_to_run`).
MOVING_WINDOW_SHARE = 0.02
MIN_MOVING_WINDOW = 5


@keras.saving.register_keras_serializable(package="recipe")
class ChannelsReversed(keras.layers.Layer):
    """RGB to BGR (ResNet50's Caffe preprocessing)."""

    def call(self, inputs):
        return keras.ops.flip(inputs, axis=-1)


def pretrained(weights: str | None) -> bool:
    return bool(weights)


def frozen_by_design(model: keras.Model, config) -> list[str]:
    """The variable paths a pretrained backbone freezes on purpose (T5 expects them frozen)."""
    if config.model.builder not in FAMILIES or not pretrained(config.model.weights):
        return []
    return [variable.path for variable in model.get_layer(BACKBONE).weights]


def backbone_model(name: str, spec, config) -> keras.Model:
    """`spec`'s images through the family `name`, global average pooling, dropout, the head."""
    family = FAMILIES[name]
    height, width, channels = spec.input_shape
    weights = config.model.weights
    inputs = keras.Input(spec.input_shape, name="inputs")
    x = inputs
    low, high = spec.pixel_range
    if high <= 1.0 + 1e-6 or high < 64:  # 0..1 floats, or small integer scales (the digits' 0..16)
        x = keras.layers.Rescaling(255.0 / max(high, 1e-6), name="to_0_255")(x)
    if channels == 1:
        x = keras.layers.Concatenate(name="gray_to_rgb")([x, x, x])
    elif channels != 3:
        raise UserError(f"model.builder {name}: images need 1 or 3 channels, the data has {channels}")
    side = config.model.backbone_size or max(height, width, MIN_SIDE)
    if (height, width) != (side, side):
        x = keras.layers.Resizing(side, side, name="resize")(x)
    if not family.own_preprocessing:
        x = ChannelsReversed(name="rgb_to_bgr")(x)
        x = keras.layers.Normalization(mean=IMAGENET_MEANS_BGR, variance=(1.0, 1.0, 1.0),
                                       name="imagenet_means")(x)
    base = _constructed(name, family, (side, side, 3), weights)
    base.name = BACKBONE  # one name whatever the family (EfficientNetV2 reads its own name at construction)
    if pretrained(weights):
        base.trainable = False
        x = base(x, training=False)  # batch norms in inference mode, as keras.io's guide says
    else:
        fit_momentum_to_run(base, _planned_steps(spec, config))
        x = base(x)
    if config.model.dropout:
        x = keras.layers.Dropout(config.model.dropout)(x)
    return keras.Model(inputs, spec.head(x), name=name)


def fit_momentum_to_run(base: keras.Model, steps: int) -> list[str]:
    """From scratch, every batch norm's moving average spans MOVING_WINDOW_SHARE of the planned
    run (1 / (1 - momentum) steps; never longer than the family's own): keras.applications' 0.99
    and MobileNetV3's 0.999 average over 100 and 1,000 steps, and a 400-step run then ends with
    moving statistics of weights long gone, its inference mode at chance (T4). Returns the
    layers changed."""
    momentum = 1.0 - 1.0 / max(MIN_MOVING_WINDOW, MOVING_WINDOW_SHARE * steps)
    changed = []
    for layer in base.layers:
        if isinstance(layer, keras.layers.BatchNormalization) and layer.momentum > momentum:
            layer.momentum = momentum
            changed.append(layer.name)
    return changed


def _planned_steps(spec, config) -> int:
    """The optimizer steps `train` plans (schedule.py), from the training split's size."""
    examples = max(spec.train_examples, 1)
    batch = config.data.batch_size if isinstance(config.data.batch_size, int) else auto_batch_size("image", examples)
    return planned_steps(config, examples, batch)


def _constructed(name: str, family: Family, shape: tuple[int, int, int], weights: str | None) -> keras.Model:
    """The family without its top, pooled; its weights: none, ImageNet's, or a local file."""
    build = getattr(keras.applications, family.constructor)
    options = {"include_top": False, "input_shape": shape, "pooling": "avg"}
    if family.own_preprocessing:
        options["include_preprocessing"] = True
    if weights == "imagenet":
        try:
            return build(weights="imagenet", **options)
        except Exception as err:  # a URL error, a proxy, no network: the way out is a local file
            first = str(err).strip().splitlines()[0][:160] if str(err).strip() else type(err).__name__
            raise UserError(f"model.weights=imagenet: the ImageNet weights of {name} could not be downloaded "
                            f"({first}); download them where there is network and set model.weights: PATH "
                            "(a .weights.h5 or .h5 file of the backbone without its top)") from None
    base = build(weights=None, **options)
    if weights:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise UserError(f"model.weights: {path} is not a file; give imagenet, null, or the path of a weights file")
        try:
            base.load_weights(str(path))
        except Exception as err:
            raise UserError(f"model.weights: {path} does not hold {name}'s weights without its top at "
                            f"{shape[0]}x{shape[1]} ({type(err).__name__}: {str(err).splitlines()[0][:160]})") from None
    return base


def fine_tuning(config) -> bool:
    """The second phase of keras.io's guide applies: a pretrained backbone, and layers to unfreeze."""
    return config.model.builder in FAMILIES and pretrained(config.model.weights) and config.model.fine_tune_layers > 0


def unfreeze_top(model: keras.Model, layers: int) -> list[str]:
    """The backbone's top `layers` layers with weights made trainable, batch norms left frozen
    (they also stay in inference mode: the backbone is called with training=False); every
    other layer of it stays frozen. Returns the names of the layers unfrozen."""
    base = model.get_layer(BACKBONE)
    base.trainable = True
    for layer in base.layers:
        layer.trainable = False
    top = [layer for layer in base.layers if layer.weights
           and not isinstance(layer, keras.layers.BatchNormalization)][-layers:]
    for layer in top:
        layer.trainable = True
    return [layer.name for layer in top]


def frozen_share(model: keras.Model) -> tuple[int, int]:
    """(frozen, all) weight values of a model: what the checks say when they judge only the
    trainable ones."""
    frozen = sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)
    return frozen, frozen + sum(int(np.prod(w.shape)) for w in model.trainable_weights)
