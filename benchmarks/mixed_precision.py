"""Mixed precision's and XLA's speed-ups for the project's CNN and a keras.applications backbone
at 224 x 224: training steps a second under each policy, with `jit_compile` on and off, same
model, batch and synthetic images, on whatever device Keras uses. Meant for a GPU: on a CPU, float16 and bfloat16 are emulated and slower, and the ratio
printed there only shows that the script runs.

It needs only the project's models and config (no TensorFlow), so it runs on any Keras
backend. The GPU machines lent to this project have JAX but neither TensorFlow nor Keras:
carry wheels of keras and pydantic there (see BENCHMARKS.md) and run

    KERAS_BACKEND=jax python benchmarks/mixed_precision.py --project PATH

    python benchmarks/mixed_precision.py [--project PATH] [--steps N] [--models cnn,efficientnetv2b0]
        [--policies float32,mixed_float16,mixed_bfloat16] [--xla on,off]

Prepared to run within 8 minutes on one GPU: 2 models x 3 policies x 2 XLA settings, 50 timed
steps each after 5 to compile and warm up.
"""

import time

import keras
import numpy as np
from common import machine, package, project_from_args

# Image side and batch of each model: the CNN at the size of small photos, backbones at ImageNet's.
SHAPES = {"cnn": ((64, 64, 3), 256)}
BACKBONE_SHAPE = ((224, 224, 3), 64)
CLASSES = 10


def arguments(parser) -> None:
    parser.add_argument("--steps", type=int, default=50, help="timed training steps per policy (after 5 warm-up)")
    parser.add_argument("--models", default="cnn,efficientnetv2b0",
                        help="cnn and any of backbones.FAMILIES (resnet50, efficientnetv2b0, ...)")
    parser.add_argument("--policies", default="float32,mixed_float16,mixed_bfloat16")
    parser.add_argument("--xla", default="on,off", help="jit_compile settings to time: on, off or both")


args, project = project_from_args(__doc__, epochs=False, more=arguments)
config_mod = package(project, "config")
models = package(project, "models")
steps = package(project, "steps")  # all_layers: nested backbones too
backbones = package(project, "backbones")


def steps_per_second(builder: str, policy: str, xla: bool) -> tuple[float, str]:
    """Builds the project's `builder` under `policy` (its output layer stays float32; Keras
    wraps the optimizer in a LossScaleOptimizer under mixed_float16) and times `--steps` steps."""
    shape, batch = SHAPES.get(builder, BACKBONE_SHAPE)
    keras.mixed_precision.set_global_policy(policy)
    keras.utils.set_random_seed(0)
    config = config_mod.with_values(config_mod.load_config("configs/default.yaml"),
                                    {"model.builder": builder, "task": "classification",
                                     "model.backbone_size": shape[0] if builder != "cnn" else None})
    spec = models.ModelSpec(shape, "image", "classification", CLASSES, [float(np.log(1 / CLASSES))] * CLASSES,
                            [0.5] * shape[-1], [0.25] * shape[-1])
    built = models.cnn(spec, config) if builder == "cnn" else backbones.backbone_model(builder, spec, config)
    model = models.compile_model(built, config, jit_compile=xla)
    rng = np.random.default_rng(0)
    x = 255 * rng.random((batch, *shape), dtype="float32")
    y = rng.integers(0, CLASSES, batch)
    for _ in range(5):  # traces, compiles, warms the allocator
        model.train_on_batch(x, y)
    start = time.perf_counter()
    for _ in range(args.steps):
        loss = model.train_on_batch(x, y)
    float(np.asarray(loss).ravel()[0])  # waits for the device
    conv = next(layer for layer in steps.all_layers(model) if isinstance(layer, keras.layers.Conv2D))
    applied = f"convolutions in {conv.compute_dtype}, output in {model.layers[-1].compute_dtype}, " \
              f"{type(model.optimizer).__name__}"
    return args.steps / (time.perf_counter() - start), applied



print(f"machine: {machine()}; Keras {keras.__version__}, backend {keras.backend.backend()}, "
      f"{args.steps} steps per policy")
for builder in args.models.split(","):
    shape, batch = SHAPES.get(builder, BACKBONE_SHAPE)
    rates = {(policy, xla): steps_per_second(builder, policy, xla == "on")
             for xla in args.xla.split(",") for policy in args.policies.split(",")}
    base = rates.get(("float32", "off"), rates.get(("float32", "on")))[0]
    for (policy, xla), (rate, applied) in rates.items():
        print(f"{builder} {shape[0]}x{shape[1]}, batch {batch}, {policy}, XLA {xla}: {rate:.3g} steps/s, "
              f"{rate / base:.2f}x float32 without XLA ({applied})", flush=True)
keras.mixed_precision.set_global_policy("float32")
