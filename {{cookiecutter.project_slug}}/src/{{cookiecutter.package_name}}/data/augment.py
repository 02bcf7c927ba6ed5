"""O2: image augmentation with Keras' own preprocessing layers, in the training pipeline only.

Off by default (`data.augment`): the recipe adds one regulariser at a time, after the
model has overfit. The strengths below are small on purpose: a shift of a tenth of the
image, a turn of about ten degrees and a contrast change of a fifth keep a digit a digit.
Mirroring is a separate switch (`data.augment_flip`) because it turns a 2 or a letter
into something else, while a mirrored cat is still a cat.

`data.augment: photo` is the preset for photographs, in the manner of keras.io's image
classification examples: mirrored left-right, zoomed in or out by up to a fifth (a random crop
and rescale), shifted, brightness and contrast changed by up to a fifth and, for colour images,
saturation. Keras 3's MixUp and CutMix are left out: they mix labels into soft targets, and
this project's losses take class ids.

Tables get no augmentation: there is no transformation of a row that is known to keep its
label, so `augment` leaves them as they are (D7 records it).
"""

from __future__ import annotations

import keras
import tensorflow as tf

TRANSLATION = 0.1  # fraction of the height and width
ROTATION = 0.03  # fraction of a full turn: about 11 degrees either way
CONTRAST = 0.2  # contrast factor drawn from [1 - CONTRAST, 1 + CONTRAST]
ZOOM = 0.2  # photo: zoom in or out by up to this fraction of the height and width
BRIGHTNESS = 0.2  # photo: brightness shifted by up to this fraction of the value range
SATURATION = (0.3, 0.7)  # photo, colour images: keras' saturation factor range (0.5 leaves it as it is)


def image_augmenter(seed: int, value_range: tuple[float, float], flip: bool = False, preset: str = "digits",
                    channels: int = 1) -> keras.Sequential:
    """The augmentation layers, seeded so that a run repeats exactly. `value_range` is the
    pixel range of the data (0..16 for digits, 0..255 for photos): contrast clips to it."""
    if preset == "photo":
        return _photo_augmenter(seed, value_range, channels)
    layers = [keras.layers.RandomFlip("horizontal", seed=seed)] if flip else []
    # Uncovered corners get the darkest value (the background of digits), as torchvision does.
    fill = {"fill_mode": "constant", "fill_value": value_range[0]}
    layers += [
        keras.layers.RandomTranslation(TRANSLATION, TRANSLATION, seed=seed + 1, **fill),
        keras.layers.RandomRotation(ROTATION, seed=seed + 2, **fill),
        keras.layers.RandomContrast(CONTRAST, value_range=value_range, seed=seed + 3),
    ]
    return keras.Sequential(layers, name="augmentation")


def _photo_augmenter(seed: int, value_range: tuple[float, float], channels: int) -> keras.Sequential:
    layers = [
        keras.layers.RandomFlip("horizontal", seed=seed),
        keras.layers.RandomZoom((-ZOOM, ZOOM), seed=seed + 1, fill_mode="reflect"),
        keras.layers.RandomTranslation(TRANSLATION, TRANSLATION, seed=seed + 2, fill_mode="reflect"),
    ]
    if channels == 3:  # before brightness and contrast, which clip to the value range (saturation does not)
        layers.append(keras.layers.RandomSaturation(SATURATION, value_range=value_range, seed=seed + 5))
    layers += [
        keras.layers.RandomBrightness(BRIGHTNESS, value_range=value_range, seed=seed + 3),
        keras.layers.RandomContrast(CONTRAST, value_range=value_range, seed=seed + 4),
    ]
    return keras.Sequential(layers, name="photo_augmentation")


def augment_batches(
    dataset: tf.data.Dataset, seed: int, value_range: tuple[float, float], flip: bool = False,
    preset: str = "digits",
) -> tf.data.Dataset:
    """Augment batched (image, label) pairs; labels pass through untouched.

    Applied to whole batches (each image still draws its own transformation) and in order
    (no parallel calls): the layers draw from one seeded generator, and parallel calls
    would draw in a different order on every run (T14 reproducibility)."""
    channels = int(dataset.element_spec[0].shape[-1])
    augmenter = image_augmenter(seed, value_range, flip, preset, channels)
    return dataset.map(lambda x, y: (augmenter(x, training=True), y))
