"""O2: image augmentation with Keras' own preprocessing layers, in the training pipeline only.

Off by default (`data.augment`): the recipe adds one regulariser at a time, after the
model has overfit. The strengths below are small on purpose: a shift of a tenth of the
image, a turn of about ten degrees and a contrast change of a fifth keep a digit a digit.
Mirroring is a separate switch (`data.augment_flip`) because it turns a 2 or a letter
into something else, while a mirrored cat is still a cat.

Tables get no augmentation: there is no transformation of a row that is known to keep its
label, so `augment` leaves them as they are (D7 records it).
"""

from __future__ import annotations

import keras
import tensorflow as tf

TRANSLATION = 0.1  # fraction of the height and width
ROTATION = 0.03  # fraction of a full turn: about 11 degrees either way
CONTRAST = 0.2  # contrast factor drawn from [1 - CONTRAST, 1 + CONTRAST]


def image_augmenter(seed: int, value_range: tuple[float, float], flip: bool = False) -> keras.Sequential:
    """The augmentation layers, seeded so that a run repeats exactly. `value_range` is the
    pixel range of the data (0..16 for digits, 0..255 for photos): contrast clips to it."""
    layers = [keras.layers.RandomFlip("horizontal", seed=seed)] if flip else []
    # Uncovered corners get the darkest value (the background of digits), as torchvision does.
    fill = {"fill_mode": "constant", "fill_value": value_range[0]}
    layers += [
        keras.layers.RandomTranslation(TRANSLATION, TRANSLATION, seed=seed + 1, **fill),
        keras.layers.RandomRotation(ROTATION, seed=seed + 2, **fill),
        keras.layers.RandomContrast(CONTRAST, value_range=value_range, seed=seed + 3),
    ]
    return keras.Sequential(layers, name="augmentation")


def augment_batches(
    dataset: tf.data.Dataset, seed: int, value_range: tuple[float, float], flip: bool = False
) -> tf.data.Dataset:
    """Augment batched (image, label) pairs; labels pass through untouched.

    Applied to whole batches (each image still draws its own transformation) and in order
    (no parallel calls): the layers draw from one seeded generator, and parallel calls
    would draw in a different order on every run (T14 reproducibility)."""
    augmenter = image_augmenter(seed, value_range, flip)
    return dataset.map(lambda x, y: (augmenter(x, training=True), y))
