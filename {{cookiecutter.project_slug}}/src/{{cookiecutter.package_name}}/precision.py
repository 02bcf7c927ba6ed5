"""Precision and XLA from the hardware: mixed_float16 on GPUs with tensor cores,
mixed_bfloat16 on TPUs, float32 on CPUs; a precision the hardware cannot do is refused.

The project's output layer is float32 under every policy (models.ModelSpec.head), and
Keras' `compile` wraps the optimizer in a LossScaleOptimizer under mixed_float16, so a float16
gradient that underflows is scaled back into range.
"""

from __future__ import annotations

from dataclasses import dataclass

from .config import Config
from .errors import UserError

TENSOR_CORES = (7, 0)  # Volta: float16 matrix units; below it mixed_float16 runs but gains nothing
FLOAT16_ARITHMETIC = (5, 3)  # the oldest GPUs with float16 arithmetic
BFLOAT16_GPU = (8, 0)  # Ampere: the first GPUs with bfloat16


@dataclass(frozen=True)
class Hardware:
    """What the precision depends on: the compute capability of each GPU, and a TPU."""

    gpus: tuple[tuple[int, int], ...] = ()
    tpu: bool = False

    def describe(self) -> str:
        if self.tpu:
            return "a TPU"
        if self.gpus:
            return "GPUs of compute capability " + ", ".join(f"{major}.{minor}" for major, minor in self.gpus)
        return "no GPU or TPU (CPU only)"


def detect_hardware() -> Hardware:
    import tensorflow as tf

    gpus = tuple(tuple(tf.config.experimental.get_device_details(gpu).get("compute_capability", (0, 0)))
                 for gpu in tf.config.list_physical_devices("GPU"))
    return Hardware(gpus=gpus, tpu=bool(tf.config.list_logical_devices("TPU")))


def resolve_precision(requested: str, hardware: Hardware) -> str:
    """The Keras dtype policy for `train.precision`. auto: mixed_bfloat16 on a TPU,
    mixed_float16 when every GPU has tensor cores, else float32. Refused: mixed_float16
    without a GPU that does float16 arithmetic (on a CPU it runs emulated, many times slower
    than float32), mixed_bfloat16 on GPUs older than Ampere."""
    slowest = min(hardware.gpus) if hardware.gpus else None
    if requested == "auto":
        if hardware.tpu:
            return "mixed_bfloat16"
        return "mixed_float16" if slowest is not None and slowest >= TENSOR_CORES else "float32"
    if requested == "mixed_float16" and not hardware.tpu and (slowest is None or slowest < FLOAT16_ARITHMETIC):
        raise UserError(f"train.precision=mixed_float16 needs a GPU of compute capability >= 5.3 (7.0 to gain "
                        f"speed); this machine has {hardware.describe()}: use float32 or auto")
    if requested == "mixed_bfloat16" and not hardware.tpu and slowest is not None and slowest < BFLOAT16_GPU:
        raise UserError(f"train.precision=mixed_bfloat16 needs a TPU or a GPU of compute capability >= 8.0; this "
                        f"machine has {hardware.describe()}: use mixed_float16, float32 or auto")
    return requested


def jit_setting(config: Config) -> bool | str:
    """XLA: `auto` lets Keras decide (on with a GPU, off on CPU-only machines and under a
    distribution strategy), `on` and `off` force it."""
    return {"auto": "auto", "on": True, "off": False}[config.train.jit_compile]
