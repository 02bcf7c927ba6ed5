"""D5: the class balance of each split."""

from __future__ import annotations

import numpy as np

from ..data import SPLITS, Prepared
from ..registry import registers
from ..verdicts import Verdict, verdict
from .context import Context

# D5: warn when the most frequent class outnumbers the rarest by more than this.
IMBALANCE_WARN_RATIO = 10.0


def check_balance(prepared: Prepared) -> Verdict:
    """D5: label histogram per split; warn above IMBALANCE_WARN_RATIO max/min.

    Args:
        prepared: The run's data; its manifest's labels are counted, no input is read.

    Returns:
        The D5 verdict: warn when the most frequent class in train outnumbers the rarest by more
        than IMBALANCE_WARN_RATIO (10:1) or when a class is absent from train, pass otherwise,
        skip for regression.
    """
    if prepared.task == "regression":
        return verdict("D5", "skip", advice="regression: no classes to balance")
    classes = prepared.num_classes
    histogram = {name: np.bincount(prepared.labels(name), minlength=classes).tolist() for name in SPLITS}
    train = np.asarray(histogram["train"])
    ratio = float(train.max() / max(train.min(), 1))
    ok = ratio <= IMBALANCE_WARN_RATIO and train.min() > 0
    measured = {"max_min_ratio": round(ratio, 2), "histogram": histogram}
    read = prepared.manifest.facts.labels_read
    if read:  # one-hot or 1..K labels, converted at load: said once, here
        measured["labels_read"] = read
    return verdict(
        "D5", "pass" if ok else "warn",
        measured=measured,
        expected=f"max/min <= {IMBALANCE_WARN_RATIO:g}",
        advice="" if ok else "Classes are imbalanced: use class weights, keep the output bias from the "
        "priors (model.init_output_bias), and judge by per-class metrics.",
    )


@registers("inspect", "D5")
def _d5(c: Context) -> Verdict:
    return check_balance(c.prepared)
