"""D10: what each column of a table is, decided on the training split, and why.

The roles, in the order they are tried (a role in `data.columns` always wins):
- empty: every training cell is missing (excluded, one message for the column);
- constant: one value in every training row (excluded);
- identifier: a number that rises or falls with the row in every row (a row number or an
  exported index: it leaks when the file is sorted by the target), an integer column distinct in
  every sampled row whose name says id or index, or text distinct in nearly every row
  (`IDENTIFIER_SHARE`) and short: excluded;
- numeric: at least `NUMERIC_SHARE` of the non-missing training cells are numbers (the rest are
  read as missing and named); imputed with the train median, plus a "was missing" indicator when
  train had missing cells;
- datetime: ISO dates (2024-05-31, optionally with a time): year, month, day, day of week, hour;
- text: long or many-worded text, distinct in most rows (a review, a description): words and
  word pairs through Keras' TextVectorization (data.text: TF-IDF by default, vocabulary from the
  training rows), or excluded with data.text=off;
- categorical: at most `data.max_categories` distinct values, or a few values that cover nearly
  every row: one-hot over the training vocabulary plus one bucket for values train never had;
- hashed: any other text (a 4,000-value city column): hashed into `data.hash_bins` buckets.
A missing categorical or hashed cell is its own category.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

import numpy as np

ROLES = ("numeric", "categorical", "hashed", "datetime", "identifier", "constant", "text", "empty", "exclude")
USED = ("numeric", "categorical", "hashed", "datetime")
NUMERIC_SHARE = 0.95
IDENTIFIER_SHARE = 0.95
DATE_SHARE = 0.95
TOP_COVERAGE = 0.95  # a capped vocabulary is kept when its values cover this share of the rows
ID_NAME = re.compile(r"(^|[^a-z])(id|ids|index|idx|key|row|rownum|unnamed: ?\d*)$", re.IGNORECASE)
# A column named like the key of something several rows can belong to (D10's hint for data.group_column).
GROUP_NAME = re.compile(r"(^|[^a-z])(id|key|patient|subject|user|customer|client|person|household|session|account|"
                        r"family|group)s?(_?id)?$", re.IGNORECASE)
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}(:\d{2}(:\d{2}(\.\d+)?)?)?)?(Z|[+-]\d{2}:?\d{2})?$")
MISSING_TOKEN = "<missing>"
# The usual spellings of "no value" in a CSV cell (compared case-insensitively, spaces stripped),
# and a number as a cell spells it: shared by the scan (pyarrow) and the encoder (TensorFlow).
MISSING = ("", "na", "n/a", "nan", "null", "none")
NUMBER = r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*"


@dataclass
class ColumnFacts:
    """What the scan saw of one column in the training rows (counts over all of them; the
    distinct values and shapes over the sample of rows)."""

    name: str
    rows: int = 0  # training rows
    missing: int = 0  # missing training cells
    numbers: int = 0  # non-missing training cells that are numbers
    text_lines: list[int] = field(default_factory=list)  # the first lines whose cell is text in a numeric column
    counts: dict[str, int] = field(default_factory=dict)  # value -> training rows (bounded)
    overflowed: bool = False  # more distinct values than the counter keeps
    monotone: bool = True  # every number rises (or every one falls) with the row, in every row
    direction: int = 0
    last: float | None = None
    sample_values: list[str] = field(default_factory=list)  # non-missing cells of the sampled training rows


@dataclass
class Column:
    """One column's role and everything its encoding needs (train-only: D2)."""

    name: str
    role: str
    why: str
    missing_share: float
    median: float | None = None
    indicator: bool = False
    vocabulary: list[str] = field(default_factory=list)
    bins: int = 0
    idf: list[float] = field(default_factory=list)  # text: inverse document frequencies (TF-IDF); empty: multi-hot
    ngrams: int = 0  # text: the longest run of words that is one token

    @property
    def used(self) -> bool:
        """Text counts once it has a vocabulary (data.text=off, or no word in train: left out)."""
        return self.role in USED or (self.role == "text" and bool(self.vocabulary))

    def feature_names(self) -> list[str]:
        if self.role == "numeric":
            return [self.name] + ([f"{self.name} missing"] if self.indicator else [])
        if self.role == "categorical":
            return [f"{self.name}=<other>"] + [f"{self.name}={v}" for v in self.vocabulary]
        if self.role == "hashed":
            return [f"{self.name}#{i}" for i in range(self.bins)]
        if self.role == "text":
            return [f"{self.name}:<other>"] + [f"{self.name}:{token}" for token in self.vocabulary]
        if self.role == "datetime":
            return [f"{self.name}.{part}" for part in ("year", "month", "day", "weekday", "hour")] + \
                   [f"{self.name} missing"]
        return []

    def record(self) -> dict:
        return asdict(self)


GROUP_MIN_SHARE = 0.05  # a key has at least this many distinct values per sampled row...
COUNT_NAME = re.compile(r"^(num|n|nr|no|count|number|total|avg|mean|max|min)([^a-z]|$)", re.IGNORECASE)


def looks_like_a_group(facts: ColumnFacts) -> bool:
    """Named like a key (patient_id, user, session), and its values say so too: they repeat in
    the sampled training rows, yet are many (GROUP_MIN_SHARE of the rows at least: rwm5yr's 6,127
    people over 19,609 rows are 0.31, penguins' 190 birds over 344 rows 0.55), where a count
    named like one (num_sat_accounts: 21 values over thousands of rows) holds few small numbers."""
    values = facts.sample_values
    distinct = len(set(values))
    if COUNT_NAME.search(facts.name) or not GROUP_NAME.search(facts.name) or len(values) < 20:
        return False
    return max(10, GROUP_MIN_SHARE * len(values)) <= distinct < 0.9 * len(values)


def decide(facts: ColumnFacts, override: str | None, max_categories: int, hash_bins: int) -> Column:
    """The role of one column, with the reason a person reads in D10."""
    present = facts.rows - facts.missing
    share = facts.missing / facts.rows if facts.rows else 1.0
    values = facts.sample_values
    distinct = len(set(values))
    sample = max(len(values), 1)
    column = Column(facts.name, "exclude", "", round(share, 4))
    numeric_share = facts.numbers / present if present else 0.0
    if override:
        return _as(column, override, facts, max_categories, hash_bins, f"data.columns sets {override}")
    if present == 0:
        return _with(column, "empty", "every training cell is missing")
    if len(facts.counts) == 1 and not facts.overflowed:
        return _with(column, "constant", f"one value ({next(iter(facts.counts))!r}) in every training row")
    if numeric_share >= NUMERIC_SHARE:
        if facts.monotone and facts.direction and distinct == len(values):
            return _with(column, "identifier", "a number that rises or falls with the row in every row (a row "
                                               "number or an index: it leaks when the file is sorted by the target)")
        if ID_NAME.search(facts.name) and distinct == len(values) and _all_integers(values):
            return _with(column, "identifier", "integers distinct in every row, named like an id")
        why = "every training cell is a number" if numeric_share == 1 else (
            f"{numeric_share:.1%} of the training cells are numbers; the {present - facts.numbers} text cell(s) "
            f"(first at line(s) {', '.join(map(str, facts.text_lines[:5]))}) are read as missing")
        return _as(column, "numeric", facts, max_categories, hash_bins, why)
    if values and np.mean([DATE.match(v) is not None for v in values]) >= DATE_SHARE:
        return _as(column, "datetime", facts, max_categories, hash_bins, "ISO dates (year, month, day, weekday, hour)")
    if distinct >= IDENTIFIER_SHARE * sample and sample >= 20:
        words = np.mean([v.count(" ") for v in values])
        if words >= 3 or np.mean([len(v) for v in values]) > 40:
            return _with(column, "text", f"free text ({words:.1f} spaces a cell on average), distinct in "
                                         f"{distinct / sample:.0%} of the rows")
        return _with(column, "identifier", f"text distinct in {distinct / sample:.0%} of the sampled training rows")
    return _as(column, "categorical", facts, max_categories, hash_bins, "")


def _as(column: Column, role: str, facts: ColumnFacts, max_categories: int, hash_bins: int, why: str) -> Column:
    """Fill in what `role` needs from the facts: median, vocabulary or bins."""
    if role == "numeric":
        numbers = np.asarray([float(v) for v in facts.sample_values if _is_number(v)], np.float64)
        column.median = float(np.median(numbers)) if len(numbers) else 0.0
        column.indicator = facts.missing > 0 or facts.numbers < facts.rows - facts.missing
        return _with(column, role, why)
    if role == "categorical":
        ranked = sorted(facts.counts.items(), key=lambda item: (-item[1], item[0]))
        kept = ranked[:max_categories]
        covered = sum(c for _, c in kept) / max(sum(facts.counts.values()), 1)
        if (len(ranked) > max_categories or facts.overflowed) and covered < TOP_COVERAGE and not why:
            return _as(column, "hashed", facts, max_categories, hash_bins,
                       f"more than {max_categories} distinct values (data.max_categories), the most frequent "
                       f"{max_categories} cover {covered:.0%} of the rows")
        column.vocabulary = sorted(v for v, _ in kept)
        why = why or (f"{len(ranked)} distinct value(s)" if len(ranked) <= max_categories else
                      f"{len(ranked)} distinct values; the {max_categories} most frequent cover {covered:.0%} of "
                      "the rows, the rest share one bucket")
        return _with(column, role, why)
    if role == "hashed":
        column.bins = hash_bins
        return _with(column, role, why or f"text hashed into {hash_bins} buckets (data.hash_bins)")
    return _with(column, role, why)


def _with(column: Column, role: str, why: str) -> Column:
    column.role, column.why = role, why
    return column


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _all_integers(values: list[str]) -> bool:
    return all(_is_number(v) and float(v).is_integer() for v in values)


def from_record(record: dict) -> Column:
    return Column(**record)
