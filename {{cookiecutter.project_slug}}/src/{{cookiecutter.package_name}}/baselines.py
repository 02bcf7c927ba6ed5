"""B1: the dumb baseline every model must beat, scored with the project's own metrics."""

from __future__ import annotations

import numpy as np

from .data import Prepared
from .models import output_bias, score_predictions
from .verdicts import Verdict


def dumb_outputs(prepared: Prepared, n: int) -> np.ndarray:
    """Input-independent outputs from train statistics: log priors (as logits) or the target
    mean; exactly what a model whose output bias came from the priors predicts at init
    before its kernel learns anything."""
    bias = np.asarray(output_bias(prepared.task, prepared), "float32")
    return np.tile(bias, (n, 1))


def dumb_baseline(prepared: Prepared) -> dict[str, dict[str, float]]:
    scores = {}
    for split in ("val", "test"):
        _, y = prepared.split(split)
        scores[split] = score_predictions(prepared.task, y, dumb_outputs(prepared, len(y)))
    return scores


def dumb_baseline_verdict(prepared: Prepared) -> Verdict:
    what = "target mean" if prepared.task == "regression" else "class priors"
    return Verdict("B1", "Dumb baseline", "pass", measured=dumb_baseline(prepared),
                   expected=f"a model must score better than predicting the train {what}",
                   advice=f"The scores of predicting the train {what}: the floor to beat.")


def beats_dumb_baseline(prepared: Prepared, model_val_loss: float) -> Verdict:
    """After training: the model's full-val loss against the dumb baseline's."""
    baseline = dumb_baseline(prepared)["val"]["loss"]
    ok = model_val_loss < baseline
    return Verdict("B1", "Model beats the dumb baseline", "pass" if ok else "fail",
                   measured={"model_val_loss": model_val_loss}, expected={"below_baseline_val_loss": baseline},
                   advice="" if ok else "The model is no better than predicting the priors/mean: "
                   "run `check` (overfit one batch, loss at init) before training longer.")
