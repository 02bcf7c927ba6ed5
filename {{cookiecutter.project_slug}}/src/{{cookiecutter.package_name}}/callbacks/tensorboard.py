"""TensorBoard for `train`: Keras' own callback, minus a per-batch cost."""

from __future__ import annotations

import keras


class EpochTensorBoard(keras.callbacks.TensorBoard):
    """Keras' TensorBoard, without its per-batch cost when it writes per epoch: Keras 3.15
    calls `tf.summary.scalar` on every batch's logs even with `update_freq="epoch"`, where no
    writer is set and each call only costs time (34 ms an epoch of 40 steps on the bundled
    data, 12% of the epoch: measured with benchmarks/train_overhead.py)."""

    def on_train_batch_end(self, batch, logs=None):
        super().on_train_batch_end(batch, None if self.update_freq == "epoch" else logs)
