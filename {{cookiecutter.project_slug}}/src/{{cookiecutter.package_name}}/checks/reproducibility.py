"""T14: the same seed and config give the same numbers, run after run."""

from __future__ import annotations

import numpy as np

from ..config import Config
from ..data import Prepared
from ..registry import registers
from ..verdicts import Verdict, verdict
from .context import Context


def short_run(config: Config, prepared: Prepared, steps: int) -> tuple[list[float], np.ndarray]:
    """A fresh model from the seed, `steps` training steps, then predictions on val."""
    from ..data.pipeline import train_datasets
    from ..models import build_model, compile_model
    from ..runtime import seed_everything

    seed_everything(config.seed, config.train.deterministic)
    model = compile_model(build_model(config, prepared), config, jit_compile=False)
    train_ds, _ = train_datasets(config, prepared)
    history = model.fit(train_ds.repeat().take(steps), epochs=1, verbose=0, shuffle=False)
    x_val, _ = prepared.head("val", 256)
    return history.history["loss"], model.predict(x_val, verbose=0)


def check_reproducibility(config: Config, prepared: Prepared, steps: int = 20) -> Verdict:
    """T14: two short runs from the same seed must agree to the last digit (CPU, op determinism on).

    A difference means something draws randomness the seed does not reach: an unseeded
    generator in the model or data code, or a non-deterministic op.

    Args:
        config: The run's configuration; each run builds a fresh model from it, seeded with
            `seed` and `train.deterministic`.
        prepared: The run's data: the training pipeline and the first 256 val examples.
        steps: The training steps of each run.

    Returns:
        The T14 verdict: pass when both runs give identical step losses and val predictions,
        fail otherwise.
    """
    first_loss, first_out = short_run(config, prepared, steps)
    second_loss, second_out = short_run(config, prepared, steps)
    largest = float(np.max(np.abs(first_out - second_out)))
    same = first_loss == second_loss and largest == 0.0
    return verdict(
        "T14", "pass" if same else "fail",
        measured={"loss_runs": [first_loss, second_loss], "max_prediction_difference": largest},
        expected="identical losses and predictions from two runs with the same seed",
        advice="" if same else "Two runs with the same seed differ: look for an unseeded random generator "
        "(numpy, random, time) in your model or data code, or set train.deterministic=true.",
    )


@registers("check", "T14")
def _t14(c: Context) -> Verdict:
    return check_reproducibility(c.config, c.prepared)
