"""TensorBoard for `train`: Keras' own callback, minus a per-batch cost."""

from __future__ import annotations

import keras


class EpochTensorBoard(keras.callbacks.TensorBoard):
    """Keras' TensorBoard, without its per-batch cost when it writes per epoch: Keras 3.15
    calls `tf.summary.scalar` on every batch's logs even with `update_freq="epoch"`, where no
    writer is set and each call only costs time (figures: the template's BENCHMARKS.md)."""

    def on_train_batch_end(self, batch, logs=None):
        super().on_train_batch_end(batch, None if self.update_freq == "epoch" else logs)
