"""P1-P3: new rows at `predict`, checked against the training rows before their predictions go out.

`train` saves a profile of the training rows' columns in the export's predict.json
(`training_profile`, from a seeded sample of at most PROFILE_ROWS training rows): per numeric
column its deciles, the share of training rows in each decile bin and its share of missing cells;
per categorical column the levels seen and the share of sampled rows whose level was seen once
(Good-Turing's estimate of how often a row brings a level never seen). At `predict`:

- P1 judges each column of the new rows: a distribution shift by the population stability index
  over the training deciles (PSI; units x1000 put every row in the top bin) or by values beyond
  training's range (a 0/1 column times 1000 stays in its top bin), missing cells far
  above training's share, levels never seen in training far above Good-Turing's share. Each bar
  is a significance level over the new rows' count as well as an effect size, so that a few dozen
  healthy rows (the test split fed through `predict`) stay quiet: PSI counts only beyond both 0.25
  (the usual "major shift") and the 99.9th percentile of chi-square over n, which is what PSI
  measures on n rows from the training distribution.
- P2 scores each row by its distance to the nearest training rows (in the features the model
  takes, standardised), over the 99th percentile of the same distance for val rows: above 1, the
  row is farther from training than 99% of val rows (`ood_score` in predictions.csv); it warns when
  far more than 1% of the new rows are. Images are measured in what the model's head reads (its
  last hidden layer: `serving.embedding_model`), the distance of deep nearest neighbours (Sun et
  al. 2022, "Out-of-distribution detection with deep nearest neighbors"), since raw pixels measure
  brightness and position rather than content.
- P1 also reads each free-text column's words: the share of a row's words that are not in the
  model's vocabulary, against the same share on val rows (words the vocabulary, built from train,
  never held: its own size caps it, so that share is far from 0 on healthy text). It warns when
  the new rows' mean share passes val's by TEXT_OOV_MARGIN and beyond chance (another language, a
  template change, text fields swapped).
- P3 counts the cells read as missing because they were not numbers in a numeric column, and
  predictions.csv names them on their row (`unread_cells`): those predictions came from an
  imputed value. It warns when a column holds more of them than its training rows did.

For an image folder the profile's columns are each training image's brightness, size (the log of
its pixel count, before resizing) and mode (grayscale, RGB, 16-bit ...), from at most
IMAGE_PROFILE_FILES files, and P1 judges new files on them the same way, naming the files.
Predictions are written either way; `predict --strict` turns a P1 warning into a failure (exit 1).
A table given as arrays (.npz) is judged on the same profile (each feature's values, P1) and the
same distances (P2), an example named by its index. Images that came as arrays or from tfds are
not profiled.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field

import numpy as np

from ..data import Prepared
from ..data.columns import MISSING, NUMBER
from ..registry import registers
from ..storage import locate, read_bytes
from ..verdicts import Verdict, verdict

PROFILE_ROWS = 5_000
PSI_MAJOR = 0.25  # the usual bar of a major shift (below 0.1: none, 0.1-0.25: some)
SIGNIFICANCE = 1e-3  # how surprising a count must be under the training rows' own shares
MISSING_MARGIN = 0.05  # the new missing share must also pass training's by this much
OUTSIDE_SHARE = 0.01  # values outside training's range count beyond this share (and chance)
SHOWN = 5  # rows named per finding


def training_profile(prepared: Prepared, seed: int = 0) -> dict:
    """What P1 compares new rows with: {column: {"kind": "numeric", "edges", "shares", "low",
    "high", "values", "missing_share", "unread_share"} or {"kind": "categorical", "levels",
    "unseen_share", "missing_share"}}, from a seeded sample of training rows; for an image
    folder, the same of each image's brightness, size and mode (`image_stats`); {} otherwise."""
    if prepared.kind == "image":
        rows = prepared.sample_rows("train", IMAGE_PROFILE_FILES, seed)
        files = [prepared.origin(int(r)) for r in rows]
        if not files or not all(locate(f).is_file() for f in files[:5]):
            return {}  # images from arrays or tfds: no files to read sizes and modes from
        return profile_cells(image_cells(files), IMAGE_ROLES)
    rows = prepared.raw_rows(prepared.sample_rows("train", PROFILE_ROWS, seed))
    if not rows:
        return {}
    columns = prepared.source.columns
    roles = ({c.name: c.role for c in columns if c.used} if columns else
             {name: "numeric" for name in rows[0]})
    profile = profile_cells({name: [row.get(name, "") for row in rows] for name in roles}, roles)
    texts = [c for c in columns or [] if c.used and c.role == "text" and c.vocabulary]
    if texts:  # val rows: the vocabulary came from train, so train's own share would read too low
        held_out = prepared.raw_rows(prepared.sample_rows("val", PROFILE_ROWS, seed)) or []
        for column in texts:
            record = text_profile(column.vocabulary, [row.get(column.name, "") for row in held_out])
            if record:
                profile[column.name] = record
    return profile


TEXT_OOV_MARGIN = 0.10  # the new rows' mean share of unknown words must pass val's by this much
TEXT_MIN_ROWS = 20  # rows with words, in val and in the new rows, before a share is judged
# Keras' TextVectorization standardisation ("lower_and_strip_punctuation"), then its whitespace split.
PUNCTUATION = re.compile(r'[!"#$%&()\*\+,\-./:;<=>?@\[\\\]^_`{|}~\']')


def words_of(cell: str) -> list[str]:
    """A text cell's words as the model's TextVectorization reads them."""
    return PUNCTUATION.sub("", cell.lower()).split()


def unknown_shares(cells: list[str], vocabulary: set[str]) -> tuple[np.ndarray, np.ndarray]:
    """(each cell's share of words outside `vocabulary`, whether the cell had any word)."""
    shares, worded = np.zeros(len(cells)), np.zeros(len(cells), bool)
    for i, cell in enumerate(cells):
        words = words_of(cell)
        if words:
            worded[i] = True
            shares[i] = sum(word not in vocabulary for word in words) / len(words)
    return shares, worded


def text_profile(vocabulary: list[str], held_out: list[str]) -> dict | None:
    """P1's record of a free-text column: its single words (n-grams left out: a new word is what
    they would add) and the share of a row's words outside them on held-out (val) rows, with its
    spread; None when too few of those rows have words to measure it."""
    words = sorted(token for token in vocabulary if " " not in token)
    shares, worded = unknown_shares(held_out, set(words))
    if worded.sum() < TEXT_MIN_ROWS:
        return None
    missing = np.array([c.strip().lower() in MISSING for c in held_out])
    return {"kind": "text", "words": words, "unknown_share": float(shares[worded].mean()),
            "unknown_sd": float(shares[worded].std(ddof=1)), "rows": int(worded.sum()),
            "missing_share": float(missing.mean())}


def profile_cells(cells: dict[str, list[str]], roles: dict[str, str]) -> dict:
    """`training_profile` of some columns' training cells, by role (numeric or categorical)."""
    profile = {}
    for name, role in roles.items():
        column = cells[name]
        missing = np.array([c.strip().lower() in MISSING for c in column])
        if role == "numeric":
            numbers = numbers_of(column)
            if np.isfinite(numbers).sum() < 20:
                continue
            known = numbers[np.isfinite(numbers)]
            edges = np.unique(np.quantile(known, np.linspace(0.1, 0.9, 9)))
            counts = np.bincount(np.searchsorted(edges, known, side="right"), minlength=len(edges) + 1)
            profile[name] = {"kind": "numeric", "edges": edges.tolist(), "shares": (counts / counts.sum()).tolist(),
                             "low": float(known.min()), "high": float(known.max()), "values": int(len(known)),
                             "missing_share": float(missing.mean()),
                             "unread_share": float((~missing & ~np.isfinite(numbers)).mean())}
        elif role == "categorical":
            levels, counts = np.unique([c.strip() for c, m in zip(column, missing, strict=True) if not m],
                                       return_counts=True)
            if len(levels) == 0:
                continue
            profile[name] = {"kind": "categorical", "levels": levels.tolist(),
                             "unseen_share": float((counts == 1).sum() / counts.sum()),
                             "missing_share": float(missing.mean())}
    return profile


IMAGE_PROFILE_FILES = 2_000
# An image file's facts as P1 compares them, each a column of the profile.
IMAGE_ROLES = {"brightness": "numeric", "log pixels": "numeric", "mode": "categorical"}


def image_cells(files: list[str | bytes]) -> dict[str, list[str]]:
    """Each image file's mean brightness (0-255, of a 32 x 32 grayscale copy), the log of its
    pixel count (its size before resizing) and its mode (L, RGB, RGBA, P, I;16 ...), as text
    cells; an unreadable file gives missing cells (`predict` refuses it anyway). A file is its
    path or URL, or its bytes when the caller has read them."""
    from PIL import Image

    found = {name: [] for name in IMAGE_ROLES}
    for file in files:
        try:
            with Image.open(io.BytesIO(file if isinstance(file, bytes) else read_bytes(file))) as image:
                mode, (width, height) = image.mode, image.size
                gray = np.asarray(image.convert("L").resize((32, 32)), np.float64)
            found["brightness"].append(f"{gray.mean():.3f}")
            found["log pixels"].append(f"{np.log(width * height):.4f}")
            found["mode"].append(mode)
        except (OSError, ValueError):
            for column in found.values():
                column.append("")
    return found


def numbers_of(cells: list[str]) -> np.ndarray:
    """Cells as numbers, NaN where a cell is not one (missing, or text)."""
    number = re.compile(NUMBER)
    return np.array([float(c) if number.fullmatch(c) else np.nan for c in cells], np.float64)


def psi(edges: list[float], expected: list[float], values: np.ndarray) -> float:
    """The population stability index of `values` over the training bins: sum (a - e) ln(a / e),
    each share smoothed by half a row so that an empty bin is finite."""
    counts = np.bincount(np.searchsorted(np.asarray(edges), values, side="right"), minlength=len(expected))
    return _psi_of_counts(counts, expected)


def psi_bar(bins: int, rows: int) -> float:
    """The PSI that `rows` rows drawn from the training distribution stay below with probability
    1 - SIGNIFICANCE (n PSI is about chi-square with bins - 1 degrees of freedom), or PSI_MAJOR."""
    from scipy.stats import chi2

    return max(PSI_MAJOR, float(chi2.isf(SIGNIFICANCE, max(bins - 1, 1))) / max(rows, 1))


def _surprising(count: int, rows: int, share: float) -> bool:
    from scipy.stats import binom

    return count > 0 and float(binom.sf(count - 1, rows, min(max(share, 1.0 / PROFILE_ROWS), 1.0))) < SIGNIFICANCE


class NewRows:
    """What P1 and P3 need of the new rows, gathered block by block (a CSV of any size is read in
    blocks): per profiled column the counts of its training bins, missing cells, values outside
    training's range and levels never seen, with the first lines of each; the cells read as
    missing. Memory stays bounded by the columns, not the rows.

    Args:
        profile: `training_profile`'s record, from predict.json ({} when there is none).
    """

    MEDIAN_VALUES = 10_000  # the new median is the first values' (a bounded sample)

    def __init__(self, profile: dict):
        self.profile, self.rows = profile, 0
        self.state = {name: {"missing": 0, "missing_lines": [], "filled": 0, "lines": [], "outside": 0,
                             "outside_lines": [], "bins": np.zeros(len(known.get("shares", [])), np.int64),
                             "values": [], "new": 0, "new_lines": [], "levels": set(),
                             "worded": 0, "unknown": 0.0, "unknown_squares": 0.0, "unknown_lines": []}
                      for name, known in profile.items()}
        self.unread: dict[str, list[int]] = {}  # column -> the first lines read as missing
        self.unread_counts: dict[str, int] = {}
        self.far, self.scored, self.farthest = 0, 0, []  # P2: rows beyond 1, rows scored, (line, score)
        self.vocabularies: dict[str, set[str]] = {}  # text columns' words, as sets once

    def add_scores(self, scores: np.ndarray, lines: np.ndarray) -> None:
        """P2: one block's out-of-distribution scores (`ood_scores`)."""
        self.far += int((scores > 1).sum())
        self.scored += len(scores)
        pairs = zip(lines.tolist(), scores.tolist(), strict=True)
        self.farthest = sorted([*self.farthest, *pairs], key=lambda p: -p[1])[:SHOWN]

    def add(self, cells: dict[str, list[str]], lines: np.ndarray, unread: dict[str, list[int]]) -> None:
        """One block: `cells` column -> the block's cells as text, `lines` their CSV lines,
        `unread` column -> the lines whose numeric cell was not a number."""
        self.rows += len(lines)
        for name, found in unread.items():
            self.unread_counts[name] = self.unread_counts.get(name, 0) + len(found)
            self.unread.setdefault(name, []).extend(found[:SHOWN - len(self.unread.get(name, []))])
        for name, known in self.profile.items():
            if name not in cells:
                continue
            column, state = cells[name], self.state[name]
            missing = np.array([c.strip().lower() in MISSING for c in column], bool)
            state["missing"] += int(missing.sum())
            _first(state["missing_lines"], lines[missing])
            if known["kind"] == "numeric":
                values = numbers_of(list(column))
                filled = np.isfinite(values)
                state["filled"] += int(filled.sum())
                _first(state["lines"], lines[filled])
                state["bins"] += np.bincount(np.searchsorted(np.asarray(known["edges"]), values[filled], side="right"),
                                             minlength=len(known["shares"]))
                outside = filled & ((values < known["low"]) | (values > known["high"]))
                state["outside"] += int(outside.sum())
                _first(state["outside_lines"], lines[outside])
                room = self.MEDIAN_VALUES - len(state["values"])
                if room > 0:
                    state["values"].extend(values[filled][:room].tolist())
            elif known["kind"] == "text":
                shares, worded = unknown_shares(list(column), self._words(name))
                state["worded"] += int(worded.sum())
                state["unknown"] += float(shares[worded].sum())
                state["unknown_squares"] += float(np.square(shares[worded]).sum())
                _first(state["unknown_lines"], lines[worded & (shares > known["unknown_share"] + TEXT_OOV_MARGIN)])
            else:
                seen = set(known["levels"])
                new = np.array([not m and c.strip() not in seen for c, m in zip(column, missing, strict=True)], bool)
                state["new"] += int(new.sum())
                _first(state["new_lines"], lines[new])
                if len(state["levels"]) < 1000:
                    state["levels"].update(column[i].strip() for i in np.flatnonzero(new)[:1000])

    def _words(self, name: str) -> set[str]:
        if name not in self.vocabularies:
            self.vocabularies[name] = set(self.profile[name]["words"])
        return self.vocabularies[name]

    def findings(self) -> list[dict]:
        """Every column of the new rows that strays from the training rows: {"column", "what",
        "measured", "rows"} (the first lines)."""
        found = []
        for name, known in self.profile.items():
            state, rows = self.state[name], self.rows
            if rows == 0:
                continue
            share = state["missing"] / rows
            if share > known["missing_share"] + MISSING_MARGIN and _surprising(state["missing"], rows,
                                                                             known["missing_share"]):
                found.append({"column": name, "what": "missing cells", "measured": f"{share:.0%} of the rows, "
                              f"training {known['missing_share']:.0%}", "rows": state["missing_lines"]})
            if known["kind"] == "numeric" and state["filled"]:
                shift = _psi_of_counts(state["bins"], known["shares"])
                # A new value beyond the extremes of n training values: 2 / (n + 1) of the time.
                beyond = 2.0 / (known.get("values", PROFILE_ROWS) + 1)
                outside = state["outside"] / state["filled"]
                if shift > psi_bar(len(known["shares"]), state["filled"]) or (
                        outside > OUTSIDE_SHARE and _surprising(state["outside"], state["filled"], beyond)):
                    found.append({"column": name, "what": "distribution shift", "measured": f"PSI {shift:.2f}; "
                                  f"median {np.median(state['values']):.4g}, training's {_median(known):.4g}; "
                                  f"{state['outside'] / state['filled']:.0%} outside training's range "
                                  f"{known['low']:.4g}..{known['high']:.4g}",
                                  "rows": state["outside_lines"] or state["lines"]})
            elif known["kind"] == "text" and _more_unknown_words(state, known):
                found.append({"column": name, "what": "words outside the vocabulary",
                              "measured": f"{state['unknown'] / state['worded']:.0%} of a row's words on average, "
                              f"val rows {known['unknown_share']:.0%}", "rows": state["unknown_lines"]})
            elif known["kind"] == "categorical" and state["new"] >= 3 and _surprising(state["new"], rows,
                                                                                      known["unseen_share"]):
                levels = sorted(state["levels"])
                found.append({"column": name, "what": "levels never seen in training",
                              "measured": f"{state['new'] / rows:.0%} of the rows ({', '.join(map(repr, levels[:5]))}"
                              f"{' ...' if len(levels) > 5 else ''}), expected about {known['unseen_share']:.1%}",
                              "rows": state["new_lines"]})
        return found


def _more_unknown_words(state: dict, known: dict) -> bool:
    """Whether the new rows' mean share of unknown words passes val's by TEXT_OOV_MARGIN and by
    more than chance: a one-sided z on the two means (Welch's standard error), at SIGNIFICANCE."""
    from scipy.stats import norm

    rows = state["worded"]
    if rows < TEXT_MIN_ROWS:
        return False
    mean = state["unknown"] / rows
    variance = max(state["unknown_squares"] / rows - mean**2, 0.0) * rows / (rows - 1)
    error = np.sqrt(variance / rows + known["unknown_sd"] ** 2 / known["rows"])
    gap = mean - known["unknown_share"]
    return gap > TEXT_OOV_MARGIN and gap > norm.isf(SIGNIFICANCE) * error


def compare_columns(profile: dict, cells: dict[str, list[str]], lines: list[int]) -> list[dict]:
    """`NewRows` over one block: the columns of these rows that stray from the training rows."""
    watched = NewRows(profile)
    watched.add(cells, np.asarray(lines), {})
    return watched.findings()


def _first(kept: list[int], lines: np.ndarray) -> None:
    kept.extend(int(line) for line in lines[:SHOWN - len(kept)])


def _psi_of_counts(counts: np.ndarray, expected: list[float]) -> float:
    actual = (counts + 0.5) / (counts.sum() + 0.5 * len(expected))
    wanted = np.maximum(np.asarray(expected), 1e-4)
    return float(np.sum((actual - wanted) * np.log(actual / wanted)))


def _median(known: dict) -> float:
    edges = known["edges"]
    return float(edges[len(edges) // 2]) if edges else float("nan")


# P2: each new row's distance to its OOD_NEIGHBOURS nearest training rows (a seeded sample of
# OOD_TRAIN_ROWS, standardised by its own means and spreads, in the encoded features the model
# takes), over the 99th percentile of the same distance for val rows: a score above 1 is farther
# from training than 99% of val rows are. It warns when more than OOD_SHARE of the new rows score
# above 1, beyond chance against the 1% expected (p < SIGNIFICANCE).
OOD_TRAIN_ROWS = 2_000
OOD_VAL_ROWS = 1_000
OOD_NEIGHBOURS = 5
OOD_SHARE = 0.05
OOD_FILE = "ood.npz"  # in the export: the training sample, its means and spreads, val's 99th percentile
EMBED_BATCH = 64  # images embedded at a time for P2's reference


def ood_reference(prepared: Prepared, seed: int = 0, embed=None) -> dict[str, np.ndarray] | None:
    """What P2 measures new rows against: a sample of training rows in the features the model
    takes (tables), or of training images through `embed` (the trained model up to its head);
    None for images without one, or too few val examples to calibrate on."""
    if (prepared.kind != "tabular" and embed is None) or prepared.size("val") < 20:
        return None

    def features(split: str, limit: int) -> np.ndarray:
        rows = prepared.sample_rows(split, limit, seed)
        if embed is None:
            found = prepared.take(rows)[0]
        else:  # streamed as training reads them, a batch at a time: 2,000 at 224 x 224 would hold 1.2 GB
            stream = prepared.source.stream(prepared.manifest.positions[rows], prepared.manifest.labels[rows])
            found = np.concatenate([np.asarray(embed(x, training=False))
                                    for x in stream.map(lambda x, _: x).batch(EMBED_BATCH)])
        found = np.asarray(found, np.float64)
        return found.reshape(len(found), -1)

    train, val = features("train", OOD_TRAIN_ROWS), features("val", OOD_VAL_ROWS)
    mean, spread = train.mean(axis=0), train.std(axis=0)
    kept = spread > 1e-9
    reference = {"train": ((train - mean) / np.where(kept, spread, 1.0))[:, kept].astype(np.float32),
                 "mean": mean.astype(np.float32), "spread": spread.astype(np.float32), "kept": kept}
    distances = _neighbour_distances(reference, val)
    reference["val_p99"] = np.float64(max(np.quantile(distances, 0.99), 1e-9))
    return reference


def _neighbour_distances(reference: dict, features: np.ndarray) -> np.ndarray:
    """Each row's mean distance to its OOD_NEIGHBOURS nearest rows of the training sample."""
    kept = reference["kept"].astype(bool)
    rows = np.asarray(features, np.float64).reshape(len(features), -1)
    scaled = ((rows - reference["mean"]) / np.where(kept, reference["spread"], 1.0))[:, kept]
    train = reference["train"].astype(np.float64)
    squared = (scaled ** 2).sum(axis=1)[:, None] + (train ** 2).sum(axis=1)[None, :] - 2 * scaled @ train.T
    k = min(OOD_NEIGHBOURS, train.shape[0])
    nearest = np.partition(np.maximum(squared, 0.0), k - 1, axis=1)[:, :k]
    return np.sqrt(nearest).mean(axis=1)


def ood_scores(reference: dict, features: np.ndarray) -> np.ndarray:
    """P2's score of each row: its neighbour distance over val's 99th percentile (above 1: farther
    from the training rows than 99% of val rows are)."""
    return _neighbour_distances(reference, features) / float(reference["val_p99"])


def judge_far_rows(scores_above: int, rows: int, farthest: list, p99: float) -> Verdict:
    """P2's decision: warn when more than OOD_SHARE of the new rows lie beyond val's 99th
    percentile and that many is beyond chance against 1% (p < SIGNIFICANCE).

    Args:
        scores_above: New rows scoring above 1.
        rows: New rows scored.
        farthest: (line, score) of the farthest rows; (file, score) for image files, and the
            example's index for arrays.
        p99: Val's 99th percentile of the neighbour distance.

    Returns:
        The P2 verdict.
    """
    share = scores_above / max(rows, 1)
    measured = {"rows": rows, "beyond_val_99th_percentile": scores_above, "share": round(share, 4),
                "farthest": [{"file" if isinstance(at, str) else "line": at if isinstance(at, str) else int(at),
                              "score": round(float(score), 2)} for at, score in farthest],
                "val_99th_percentile_distance": round(float(p99), 4)}
    expected = f"at most {OOD_SHARE:.0%} of the rows beyond val's 99th percentile (1% expected)"
    if share > OOD_SHARE and _surprising(scores_above, rows, 0.01):
        return verdict("P2", "warn", measured=measured, expected=expected,
                       advice=f"{share:.0%} of the new rows lie farther from the training rows than 99% of val rows "
                       f"do (the farthest: {[f.get('line', f.get('file')) for f in measured['farthest']]}): the "
                       "model was not tested on rows like these, so its predictions there are guesses. "
                       "predictions.csv gives each row's `ood_score`.")
    return verdict("P2", "pass", measured=measured, expected=expected)


@dataclass
class PredictContext:
    """What `predict` read: the export's description and the new rows, for P1 and P3.

    Args:
        described: predict.json (serving.py), with the training profile.
        new_rows: What the CSV's rows held, or the image files' facts (`NewRows`); None for arrays.
        strict: `predict --strict`: a P1 warning fails.
        names: Images: the files, by the index `new_rows` was given.
        p99: P2's calibration, from the export's ood.npz (None: no P2).
        arrays: The new examples came as arrays (.npz): numbers, no cell to read as missing (P3).
    """

    described: dict
    new_rows: NewRows | None
    strict: bool = False
    names: list[str] | None = None  # images: each example's file, which P1 names instead of a line
    p99: float | None = None  # P2: val's 99th percentile of the neighbour distance, from the export
    arrays: bool = False
    earlier: list = field(default_factory=list)


def judge_new_columns(found: list[dict], rows: int, strict: bool) -> Verdict:
    """P1's decision: warn (fail with --strict) when any column strays, naming each and its rows."""
    measured = {"rows": rows, "columns_off": [{k: v for k, v in f.items() if k != "psi"} for f in found]}
    expected = {"each column": f"PSI below max({PSI_MAJOR}, chi-square's 99.9th percentile / rows); missing and "
                "never-seen shares within chance of training's; a text column's share of unknown words within "
                f"{TEXT_OOV_MARGIN:.0%} of val rows'"}
    if not found:
        return verdict("P1", "pass", measured=measured, expected=expected)
    first = found[0]
    return verdict("P1", "fail" if strict else "warn", measured=measured, expected=expected,
                   advice=f"{len(found)} column finding(s); first: {first['column']!r}, {first['what']} "
                   f"({first['measured']}; rows at lines {first['rows']}). The model never saw rows like these: "
                   "another unit, a changed export or a new population; check the source before trusting these "
                   "predictions.")


@registers("predict", "P1")
def _p1(c: PredictContext) -> Verdict:
    if not c.described.get("profile") or c.new_rows is None or not c.new_rows.rows:
        return verdict("P1", "skip", advice="no profile of the training examples to compare with, or none of its "
                       "values in the new examples: images from tfds or given as arrays, and exports written "
                       "before P1, are not checked")
    found = c.new_rows.findings()
    if c.names:  # images: the files, not lines
        for finding in found:
            finding["rows"] = [c.names[line] for line in finding["rows"]]
    return judge_new_columns(found, c.new_rows.rows, c.strict)


def judge_unread_cells(unread: dict[str, int], first: dict[str, list[int]], rows: int, profile: dict) -> Verdict:
    """P3's decision: the rows whose numeric cells held text were imputed (predictions.csv names
    them either way); warn when a column holds more such cells than its training rows did, beyond
    chance (a column whose training rows had some, a zip code spelt 98117-1234 now and then, passes
    with the count).

    Args:
        unread: Column -> how many of its cells were read as missing.
        first: Column -> the first lines of those.
        rows: The new rows.
        profile: The training profile (its `unread_share` per numeric column).

    Returns:
        The P3 verdict.
    """
    lines = sorted({line for found in first.values() for line in found})[:SHOWN]
    measured = {"cells": {k: v for k, v in unread.items() if v}, "first_lines": lines}
    expected = "no more text in a numeric column than its training rows held, beyond chance"
    more = [name for name, count in unread.items() if count and _surprising(
        count, rows, profile.get(name, {}).get("unread_share", 0.0))]
    if not more:
        return verdict("P3", "pass", measured=measured, expected=expected)
    return verdict("P3", "warn", measured=measured, expected=expected,
                   advice=f"{sum(unread.values())} cell(s) of text in a numeric column ({', '.join(map(repr, more))}, "
                   f"more than in training; first at lines {lines}): they were imputed as in training, and "
                   "predictions.csv names them on their rows in `unread_cells`.")


@registers("predict", "P2")
def _p2(c: PredictContext) -> Verdict:
    if c.new_rows is None or not c.new_rows.scored or c.p99 is None:
        return verdict("P2", "skip", advice="tables only: images, and exports written before P2, carry no sample "
                       "of training rows to measure distances to")
    farthest = c.new_rows.farthest
    if c.names:  # image files: named, not numbered
        farthest = [(c.names[int(line)], score) for line, score in farthest]
    return judge_far_rows(c.new_rows.far, c.new_rows.scored, farthest, c.p99)


@registers("predict", "P3")
def _p3(c: PredictContext) -> Verdict:
    if c.new_rows is None or c.arrays or c.described.get("inputs") == "images":
        return verdict("P3", "skip", advice="no table cells: images and arrays are read whole or refused")
    return judge_unread_cells(c.new_rows.unread_counts, c.new_rows.unread, c.new_rows.rows,
                              c.described.get("profile") or {})
