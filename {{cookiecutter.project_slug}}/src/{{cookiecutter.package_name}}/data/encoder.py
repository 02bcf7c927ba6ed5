"""Raw table cells (strings, as in the CSV) to the float features the model sees, in Keras layers.

The same layer runs in the tf.data pipeline for training and inside the exported SavedModel,
so serving takes raw rows. Keras' StringLookup and Hashing do the categorical and hashed
columns; two small layers of our own do what Keras has no layer for: reading a number out of
a text cell with the train median for a missing one (FeatureSpace does not impute), and the
parts of an ISO date. Everything they hold (vocabularies, medians) comes from the training
split (D2), set when the layer is built rather than adapted again.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from .columns import MISSING, MISSING_TOKEN, NUMBER, Column


def cleaned(text: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Stripped cells, and where they are one of the spellings of a missing value."""
    text = tf.strings.strip(text)
    lowered = tf.strings.lower(text)
    missing = tf.reduce_any(tf.equal(lowered[..., None], tf.constant(MISSING)), axis=-1)
    return text, missing


class _Stateless(keras.layers.Layer):
    """A layer whose state is fixed when it is made (no weights to build from a shape)."""

    def build(self, input_shape):
        self.built = True


class ImputedNumber(_Stateless):
    """A numeric column: the number, or the train median where the cell is missing or text;
    with `indicator`, a second feature that is 1 where it was."""

    def __init__(self, median: float, indicator: bool, **kwargs):
        super().__init__(**kwargs)
        self.median, self.indicator = float(median), bool(indicator)

    def call(self, text):
        text, missing = cleaned(text)
        valid = tf.logical_and(tf.strings.regex_full_match(text, NUMBER), tf.logical_not(missing))
        number = tf.strings.to_number(tf.where(valid, text, "0"), tf.float32)
        value = tf.where(valid, number, self.median)[:, None]
        if not self.indicator:
            return value
        return tf.concat([value, 1.0 - tf.cast(valid, tf.float32)[:, None]], axis=1)


class DateParts(_Stateless):
    """An ISO date column: year, month, day, day of week (Monday 0) and hour, then 1 where the
    cell was missing or not a date (its parts are 0 then)."""

    def call(self, text):
        text, missing = cleaned(text)
        valid = tf.logical_and(tf.strings.regex_full_match(text, r"\d{4}-\d{2}-\d{2}.*"), tf.logical_not(missing))
        # Padded, so that a date without a time still has characters where the hour would be.
        text = tf.strings.join([tf.where(valid, text, "1970-01-01"), "   "])
        year = tf.strings.to_number(tf.strings.substr(text, 0, 4), tf.int64)
        month = tf.strings.to_number(tf.strings.substr(text, 5, 2), tf.int64)
        day = tf.strings.to_number(tf.strings.substr(text, 8, 2), tf.int64)
        has_hour = tf.strings.regex_full_match(text, r".{10}[ T]\d{2}.*")
        hour = tf.where(has_hour, tf.strings.to_number(tf.where(has_hour, tf.strings.substr(text, 11, 2), "0"),
                                                       tf.int64), 0)
        weekday = (days_from_civil(year, month, day) + 3) % 7  # 1970-01-01 was a Thursday
        parts = tf.cast(tf.stack([year, month, day, weekday, hour], axis=1), tf.float32)
        parts = tf.where(valid[:, None], parts, 0.0)
        return tf.concat([parts, 1.0 - tf.cast(valid, tf.float32)[:, None]], axis=1)


def days_from_civil(year, month, day):
    """Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm)."""
    year = year - tf.cast(month <= 2, tf.int64)
    era = tf.math.floordiv(year, 400)
    year_of_era = year - era * 400
    shift = tf.where(month > 2, tf.constant(-3, tf.int64), tf.constant(9, tf.int64))
    day_of_year = (153 * (month + shift) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468


class Categories(_Stateless):
    """A categorical column: one-hot over the training vocabulary, index 0 for any other value;
    a missing cell is the category MISSING_TOKEN."""

    def __init__(self, vocabulary: list[str], **kwargs):
        super().__init__(**kwargs)
        self.lookup = keras.layers.StringLookup(vocabulary=vocabulary, num_oov_indices=1, output_mode="one_hot")

    def call(self, text):
        text, missing = cleaned(text)
        return self.lookup(tf.where(missing, MISSING_TOKEN, text))


class Hashed(_Stateless):
    """A high-cardinality text column: one-hot over `bins` hash buckets (missing: its own value)."""

    def __init__(self, bins: int, **kwargs):
        super().__init__(**kwargs)
        self.hashing = keras.layers.Hashing(num_bins=bins, output_mode="one_hot")

    def call(self, text):
        text, missing = cleaned(text)
        return self.hashing(tf.where(missing, MISSING_TOKEN, text))


class TableEncoder(_Stateless):
    """A dict of raw string columns (each of shape (batch,)) to one float32 (batch, features)."""

    def __init__(self, columns: list[Column], **kwargs):
        super().__init__(**kwargs)
        self.columns = [c for c in columns if c.used]
        self.parts = [_part(c) for c in self.columns]

    def call(self, inputs):
        outputs = [tf.cast(part(inputs[column.name]), tf.float32)
                   for column, part in zip(self.columns, self.parts, strict=True)]
        return tf.concat(outputs, axis=1)


def _part(column: Column) -> keras.layers.Layer:
    if column.role == "numeric":
        return ImputedNumber(column.median, column.indicator)
    if column.role == "categorical":
        return Categories(column.vocabulary)
    if column.role == "hashed":
        return Hashed(column.bins)
    return DateParts()
