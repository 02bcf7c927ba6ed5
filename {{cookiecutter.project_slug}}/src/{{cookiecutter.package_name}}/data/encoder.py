"""Raw table cells (strings, as in the CSV) to the float features the model sees, in Keras layers.

The same layer runs in the tf.data pipeline for training and inside the exported SavedModel,
so serving takes raw rows. Keras' StringLookup, Hashing and TextVectorization do the
categorical, hashed and free-text columns; two small layers of our own do what Keras has no
layer for: reading numbers out of text cells with the train median for a missing one
(FeatureSpace does not impute), and the parts of an ISO date. Everything they hold
(vocabularies, medians, IDF weights) comes from the training split (D2), set when the layer is
built rather than adapted again.
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


class ImputedNumbers(_Stateless):
    """The numeric columns, stacked (batch, k): each cell's number, or its column's train median
    where the cell is missing or text; then, for every column, 1 where it was. One layer for all
    numeric columns, not one per column: the graph of a 2,000-column table stays a few ops, and
    tracing it and optimising each tf.data iterator over it cost milliseconds, not seconds."""

    def __init__(self, medians: list[float], **kwargs):
        super().__init__(**kwargs)
        self.medians = [float(m) for m in medians]

    def call(self, text):
        text, missing = cleaned(text)
        valid = tf.logical_and(tf.strings.regex_full_match(text, NUMBER), tf.logical_not(missing))
        number = tf.strings.to_number(tf.where(valid, text, "0"), tf.float32)
        value = tf.where(valid, number, tf.constant(self.medians, tf.float32)[None, :])
        return tf.concat([value, 1.0 - tf.cast(valid, tf.float32)], axis=1)


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


class LevelIndex(_Stateless):
    """An identifier-like column's level (an integer column's, or a hashed text column's): its
    index in the training levels (1..n), 0 for a level train never had twice or a missing cell,
    as one float feature that the model embeds."""

    def __init__(self, levels: list[str], **kwargs):
        super().__init__(**kwargs)
        self.lookup = keras.layers.StringLookup(vocabulary=levels, num_oov_indices=1, output_mode="int")

    def call(self, text):
        text, _ = cleaned(text)
        return tf.cast(self.lookup(text), tf.float32)[:, None]


class Hashed(_Stateless):
    """A high-cardinality text column: one-hot over `bins` hash buckets (missing: its own value)."""

    def __init__(self, bins: int, **kwargs):
        super().__init__(**kwargs)
        self.hashing = keras.layers.Hashing(num_bins=bins, output_mode="one_hot")

    def call(self, text):
        text, missing = cleaned(text)
        return self.hashing(tf.where(missing, MISSING_TOKEN, text))


class TableEncoder(_Stateless):
    """A dict of raw string columns (each of shape (batch,)) to one float32 (batch, features),
    the features in the order of the columns' `feature_names`."""

    def __init__(self, columns: list[Column], **kwargs):
        super().__init__(**kwargs)
        used = [c for c in columns if c.used]
        self.numeric = [c for c in used if c.role == "numeric"]
        self.others = [c for c in used if c.role != "numeric"]
        self.numbers = ImputedNumbers([c.median for c in self.numeric]) if self.numeric else None
        self.identified = [c for c in used if c.levels]
        self.parts = [_part(c) for c in self.others] + [LevelIndex(c.levels) for c in self.identified]
        # The parts come out as [numbers, was-missing flags, other columns..., level indices]:
        # `order` picks the features back into the columns' order, dropping the flags of columns
        # that need none.
        k = len(self.numeric)
        width, place = 2 * k, {}
        for i, column in enumerate(self.numeric):
            place[column.name] = [i] + ([k + i] if column.indicator else [])
        for column in self.others:
            n = len(column.feature_names()) - bool(column.levels)
            place[column.name] = list(range(width, width + n))
            width += n
        for column in self.identified:  # the level's index follows the column's other features
            place[column.name].append(width)
            width += 1
        self.order = [j for column in used for j in place[column.name]]

    def call(self, inputs):
        outputs = []
        if self.numbers is not None:
            outputs.append(self.numbers(tf.stack([inputs[c.name] for c in self.numeric], axis=1)))
        outputs += [tf.cast(part(inputs[column.name]), tf.float32)
                    for column, part in zip(self.others + self.identified, self.parts, strict=True)]
        return tf.gather(tf.concat(outputs, axis=1), self.order, axis=1)


class TextFeatures(_Stateless):
    """A free-text column: Keras' TextVectorization over the training vocabulary of words and
    word n-grams (lower-cased, punctuation stripped), TF-IDF weighted when `idf` is given, else
    multi-hot; index 0 counts the words train never had. A missing cell has no words."""

    def __init__(self, vocabulary: list[str], idf: list[float], ngrams: int, **kwargs):
        super().__init__(**kwargs)
        self.vectorize = keras.layers.TextVectorization(
            ngrams=ngrams if ngrams > 1 else None, vocabulary=vocabulary,
            output_mode="tf_idf" if idf else "multi_hot", idf_weights=idf or None)

    def call(self, text):
        text, missing = cleaned(text)
        return self.vectorize(tf.where(missing, "", text))


def text_vocabulary(texts: list[str], max_tokens: int, ngrams: int, tfidf: bool) -> tuple[list[str], list[float]]:
    """The `max_tokens` most frequent words and n-grams of some training texts (Keras'
    TextVectorization.adapt), and, for TF-IDF, each one's inverse document frequency as Keras
    computes it, log(1 + texts / (1 + texts that hold it)), counted with the adapted layer."""
    if not texts:
        return [], []
    layer = keras.layers.TextVectorization(max_tokens=max_tokens + 1, ngrams=ngrams if ngrams > 1 else None,
                                           output_mode="multi_hot")  # + 1: the out-of-vocabulary slot
    batches = tf.data.Dataset.from_tensor_slices(tf.constant(texts)).batch(1024)
    layer.adapt(batches)
    vocabulary = [str(token) for token in layer.get_vocabulary()[1:]]
    if not tfidf or not vocabulary:
        return vocabulary, []
    holding = sum(tf.reduce_sum(layer(batch), axis=0) for batch in batches).numpy()[1:]
    return vocabulary, [float(v) for v in tf.math.log1p(len(texts) / (1.0 + holding)).numpy()]


def _part(column: Column) -> keras.layers.Layer:
    if column.role == "text":
        return TextFeatures(column.vocabulary, column.idf, column.ngrams)
    if column.role == "categorical":
        return Categories(column.vocabulary)
    if column.role == "hashed":
        return Hashed(column.bins)
    return DateParts()
