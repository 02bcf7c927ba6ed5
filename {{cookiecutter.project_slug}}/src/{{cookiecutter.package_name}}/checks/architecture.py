"""M4 "don't be a hero": which model, how big for the data, and how its weights start.

Karpathy's advice is to begin with a reference architecture, small, and grow it once it
trains. The verdict states the builder, the parameter count against the training examples
and every kernel initialiser, and warns on the two choices that make a first run fragile:
a model far larger than its data, and a ReLU layer that does not start from He.
"""

from __future__ import annotations

import math
import re
from collections import Counter

import keras
import numpy as np

from ..backbones import FAMILIES
from ..config import Config
from ..data import Prepared
from ..models import BUILTIN, resolve_builder
from ..registry import registers
from ..steps import all_layers
from ..verdicts import Verdict, verdict
from .context import Context

RELU_ACTIVATIONS = {"relu", "relu6", "leaky_relu"}
# Initialisers whose configuration is their name; the others show their arguments.
PLAIN = {"he_normal", "he_uniform", "glorot_normal", "glorot_uniform", "lecun_normal", "lecun_uniform",
         "zeros", "ones", "identity", "orthogonal"}


def describe_initializer(initializer) -> str:
    """`he_normal`, or `random_normal(stddev=1.0)`: the name, and the arguments that set the scale."""
    name = re.sub(r"(?<!^)(?=[A-Z])", "_", type(initializer).__name__).lower()
    if name in PLAIN:
        return name
    settings = {k: v for k, v in initializer.get_config().items() if k != "seed" and v is not None}
    return f"{name}({', '.join(f'{k}={v}' for k, v in settings.items())})" if settings else name


def is_he(initializer) -> bool:
    """He (fan-in variance 2/n): HeNormal, HeUniform or the same VarianceScaling spelled out."""
    return (isinstance(initializer, keras.initializers.VarianceScaling)
            and math.isclose(initializer.scale, 2.0) and initializer.mode == "fan_in")


def kernel_gain(layer: keras.layers.Layer) -> float:
    """std(kernel) x sqrt(fan in): He gives sqrt(2) = 1.41, Glorot about 1."""
    kernel = keras.ops.convert_to_numpy(layer.kernel)
    return float(kernel.std() * math.sqrt(np.prod(kernel.shape[:-1])))


def check_architecture(model: keras.Model, prepared: Prepared, config: Config) -> Verdict:
    """M4: the builder, trainable and total parameters, training examples, kernel initialisers.

    Warns when the trainable parameters exceed `check.max_params_per_example` (1000) per
    training example: far above what the reference models on the bundled data and ResNet50 on
    ImageNet have, and far beyond what a first run needs, while a large backbone from random
    weights on a small dataset exceeds it and warns (BENCHMARKS.md, "Check notes: M4").
    Pretrained weights (`model.weights`) are exempt: transfer learning is the remedy for little data.

    Warns too when a layer with a built-in ReLU starts from anything but He initialisation:
    Glorot halves the activations' variance at every ReLU layer, a fixed RandomNormal(1)
    blows it up by the fan-in. A ReLU as its own layer is not traced (a batch norm usually
    sits between, which makes the kernel's scale irrelevant); its kernel is only listed.

    Args:
        model: The built model; its trainable weights are counted and each layer's kernel
            initialiser and activation are read.
        prepared: The run's data; only the number of training examples is used.
        config: The run's configuration: `model.builder`, `model.weights` and
            `check.max_params_per_example`.

    Returns:
        The M4 verdict: warn when the trainable parameters per training example exceed
        `check.max_params_per_example` and the weights are not pretrained, or when a layer with a
        built-in ReLU does not start from He; pass otherwise.
    """
    builder = config.model.builder
    resolved = resolve_builder(config, prepared.kind)
    examples = len(prepared.indices["train"])
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    per_example = trainable / max(examples, 1)
    limit = config.check.max_params_per_example
    pretrained = resolved in FAMILIES and bool(config.model.weights)

    initializers: Counter[str] = Counter()
    not_he = []
    for layer in all_layers(model):
        initializer = getattr(layer, "kernel_initializer", None)
        if initializer is None:
            continue
        initializers[describe_initializer(initializer)] += 1
        activation = getattr(getattr(layer, "activation", None), "__name__", None)
        if activation in RELU_ACTIVATIONS and not is_he(initializer) and getattr(layer, "kernel", None) is not None:
            not_he.append(f"{layer.name} ({describe_initializer(initializer)}, gain {kernel_gain(layer):.2f})")

    problems = []
    if per_example > limit and not pretrained:
        grow = ("start with a smaller model (model.builder=cnn or mlp, fewer model.hidden_units, filters or "
                "depth) or pretrained weights (model.weights), make it overfit (T1), then grow it"
                if resolved in BUILTIN else
                "start from a reference builder (model.builder=auto, mlp or cnn) or a smaller model, make it "
                "overfit (T1), then grow it; if your model starts from pretrained weights, raise "
                "check.max_params_per_example")
        problems.append(f"{trainable:,} trainable parameters for {examples:,} training examples "
                        f"({per_example:,.0f} per example, limit {limit:g}): don't be a hero, {grow}")
    if not_he:
        problems.append(f"ReLU layers not He-initialised: {', '.join(not_he)}; use "
                        "kernel_initializer='he_normal' (gain sqrt(2) = 1.41 keeps the activations' scale)")
    return verdict(
        "M4", "warn" if problems else "pass",
        measured={"builder": builder if builder == resolved else f"{builder} -> {resolved}",
                  "trainable_params": trainable, "total_params": model.count_params(),
                  "train_examples": examples, "params_per_example": round(per_example, 1),
                  "pretrained": pretrained, "kernel_initializers": dict(initializers)},
        expected=f"at most {limit:g} trainable parameters per training example (pretrained weights exempt); "
                 "He initialisation on ReLU layers",
        advice="; ".join(problems))


@registers("check", "M4")
def _m4(c: Context) -> Verdict:
    return check_architecture(c.model, c.prepared, c.config)
