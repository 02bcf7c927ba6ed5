"""D11: leakage through a feature. Each column alone, and the row order, scored by a cheap model
fitted on train and judged on val: a single column that explains nearly all of the label is a
copy of it (a target computed into a column, an ID that encodes the outcome, a file sorted by
the target and exported with its row numbers).

How much a column explains: for classes, 1 - (its val error rate / the priors' error rate); for
regression, 1 - (its val MSE / the MSE of the train mean), its R^2. The cheap model is a
scikit-learn decision tree of depth 4 (thresholds on one column, or its one-hot group), on a
seeded sample of at most inspect.sample rows of each split. A tree of depth 4 sees at most 16
levels of a one-hot column: a categorical of 35 levels that nearly decides a target scored far
below what it holds, so a categorical or hashed column is also scored by its levels themselves
(each level's training mean or most frequent class, shrunk toward the whole split by one row:
target encoding fitted on train, judged on val), and the better of the two counts. A full model
(gradient boosting on every feature) is scored too and reported, but not used to judge: on an
honest table the best single column can already come nearly all the way to it. The thresholds,
90% (warn) and 95% (fail, inspect.leakage_*), lie above what the best honest column explains and
below a planted copy of the label with a few cells flipped (BENCHMARKS.md, "Check notes: D11").

A score on val alone is noisy where val is small: an honest feature can explain more of a few
dozen val rows than of the whole table, and fail (BENCHMARKS.md, "Check notes: D11"). So every
column that explains at least half the warn threshold on val is scored again out of fold over
train and val together (five folds; target encoding fitted on the other folds, as RECIPE.md's
note asks), and that score, resting on five times the rows, is the one judged. Only those
columns: scoring every column five times would cost five times as much on a wide table, and a
column far below the threshold on val does not reach it with more rows. Even out of fold an
honest feature can come close to a copy of the label. A fail therefore needs the score's
one-sided 95% lower bound (explained_lower_bound) at leakage_fail; a score at leakage_warn is a
warn. A perfect copy of the label fails from about 100 rows of train and val (balanced binary).

A regression label can also be computed from several columns, none of which explains it alone (a
price that is the mean of a minimum and a maximum price), and a small table leaves the model too
few rows to find the formula. So a ridge regression on the strongest columns (FORMULA_FEATURES)
is scored out of fold over train and val too, and warns when it explains LINEAR_LEAK of the
variance (a warn: a formula can be the label by design), naming the columns its prediction rests
on. The tables whose label reaches it are computed or copied from other columns, and honest
labels stay well below it (BENCHMARKS.md, "Check notes: D11"). Classes are not judged so: an
honest small val split can be separable by a line.
"""

from __future__ import annotations

import numpy as np

from ..config import InspectConfig
from ..data import Prepared
from ..data.time_split import parse_times, time_column
from ..registry import registers
from ..verdicts import Verdict, verdict
from .context import Context

# The full model's cost grows with its features times its trees (one per class and round), so it
# sees the columns that explain most alone up to FULL_MODEL_FEATURES features and as many rounds
# (FULL_MODEL_ROUNDS at most, MIN_FULL_MODEL_ROUNDS at least) as FULL_MODEL_BUDGET feature-trees
# allow: 100 rounds of 16 classes over 2,005 TF-IDF features took 420 s of a 480 s inspect. Where
# even MIN_FULL_MODEL_ROUNDS rounds of every class exceed the budget, the features give way: 16
# classes keep 125 (BENCHMARKS.md, "A text table with many classes: sparse fits and D11's budget").
FULL_MODEL_FEATURES = 500
FULL_MODEL_BUDGET = 100 * 200  # 100 rounds of a binary table's 200 features, what D11 always afforded
MIN_FULL_MODEL_ROUNDS = 10
# A column alone is scored by a tree this deep (16 leaves: enough for a threshold, a few levels or
# a step function, too few to memorise an identifier); the full model, context only, by
# histogram boosting of this many rounds.
ALONE_DEPTH = 4
FULL_MODEL_ROUNDS = 100
# Columns that explain at least this share of leakage_warn on val are scored again out of fold.
OUT_OF_FOLD_FROM = 0.5
# R^2 of a ridge regression on every column (out of fold) that warns of a label computed from them.
LINEAR_LEAK = 0.999
# A date column after the row's time in this share of the rows (of at least DATES_AFTER_ROWS with
# both dates) warns: recorded after the record, it may be known only after the outcome.
DATES_AFTER_SHARE = 0.9
DATES_AFTER_ROWS = 20
# The ridge sees the FORMULA_COLUMNS strongest columns alone, up to this many features (one-hot levels count):
# its cost grows with their square.
FORMULA_FEATURES = 500
FORMULA_COLUMNS = 200
# Columns named as the formula's: those holding at least this share of its standardised weights.
FORMULA_SHARE = 0.1


def feature_groups(prepared: Prepared) -> dict[str, list[int]]:
    """Column name -> the indices of its features (a one-hot column is one group)."""
    columns = prepared.source.columns
    if columns:
        groups, start = {}, 0
        for column in (c for c in columns if c.used):
            width = len(column.feature_names())
            groups[column.name] = list(range(start, start + width))
            start += width
        return groups
    names = prepared.feature_names or [f"feature {j}" for j in range(prepared.input_shape[0])]
    return {name: [j] for j, name in enumerate(names)}


def levels(one_hot: np.ndarray) -> np.ndarray:
    """The level of each row of a one-hot (or hashed) group: the index of its 1, -1 for none."""
    return np.where(one_hot.max(axis=1) > 0, one_hot.argmax(axis=1), -1)


def level_lookup(task: str, train_levels: np.ndarray, y_train: np.ndarray, val_levels: np.ndarray,
                 prior_weight: float = 1.0) -> np.ndarray:
    """Predictions of a column's levels alone: each level's training mean (regression) or most
    frequent class, shrunk toward the whole training split by `prior_weight` rows (a level seen
    once says little); a level train never had gets the whole split's."""
    found = np.unique(np.r_[train_levels, val_levels])
    index = {int(v): i for i, v in enumerate(found)}
    rows = np.array([index[int(v)] for v in train_levels])
    wanted = np.array([index[int(v)] for v in val_levels])
    counts = np.bincount(rows, minlength=len(found)).astype(float)
    if task == "regression":
        sums = np.bincount(rows, weights=y_train.astype(float), minlength=len(found))
        return ((sums + prior_weight * float(np.mean(y_train))) / (counts + prior_weight))[wanted]
    classes = int(y_train.max()) + 1
    joint = np.zeros((len(found), classes))
    np.add.at(joint, (rows, y_train.astype(int)), 1.0)
    priors = np.bincount(y_train.astype(int), minlength=classes) / len(y_train)
    return np.argmax(joint + prior_weight * priors, axis=1)[wanted]


def explained(task: str, y_true: np.ndarray, predicted: np.ndarray, baseline: np.ndarray) -> float:
    """The share of the baseline's error a prediction removes (error rate for classes, MSE otherwise)."""
    if task == "regression":
        error, base = np.mean((y_true - predicted) ** 2), np.mean((y_true - baseline) ** 2)
    else:
        error, base = np.mean(y_true != predicted), np.mean(y_true != baseline)
    return float(1 - error / base) if base > 0 else 0.0


def out_of_fold_scores(task: str, x: np.ndarray, y: np.ndarray, alone, groups: dict[str, list[int]],
                       folds: int = 5) -> dict[str, tuple[float, float]]:
    """Each of `groups` scored again out of fold over the rows of train and val together (five
    folds, the baseline fitted on each fold's own training rows): every row is judged once, so
    the score rests on five times as many rows as val alone holds. Returns each column's score
    and its one-sided 95% lower bound (explained_lower_bound)."""
    from sklearn.model_selection import KFold

    if not groups or len(y) < 2 * folds:
        return {}
    splits = list(KFold(folds, shuffle=True, random_state=0).split(x))
    baseline = np.empty(len(y), dtype=float if task == "regression" else y.dtype)
    for fit, judged in splits:
        baseline[judged] = float(np.mean(y[fit])) if task == "regression" else np.bincount(y[fit]).argmax()
    scores = {}
    for name, features in groups.items():
        predicted = None
        for fit, judged in splits:
            fold = alone(x[fit][:, features], y[fit], x[judged][:, features])
            if predicted is None:
                predicted = [np.empty(len(y), dtype=p.dtype) for p in fold]
            for whole, part in zip(predicted, fold, strict=True):
                whole[judged] = part
        best = max(predicted, key=lambda p: explained(task, y, p, baseline))
        scores[name] = (explained(task, y, best, baseline), explained_lower_bound(task, y, best, baseline))
    return scores


def explained_lower_bound(task: str, y_true: np.ndarray, predicted: np.ndarray, baseline: np.ndarray) -> float:
    """A one-sided 95% lower bound on `explained`: the column's error at its upper bound, the
    baseline's taken as known (it errs far more often, so its share is the precise one). Classes:
    the Jeffreys bound on the error rate; regression: the mean squared error plus 1.645 of its
    standard errors."""
    from scipy.stats import beta

    n = len(y_true)
    if task == "regression":
        squared = (y_true - predicted) ** 2
        error = float(np.mean(squared) + 1.645 * np.std(squared) / np.sqrt(n))
        base = float(np.mean((y_true - baseline) ** 2))
    else:
        wrong = int(np.sum(y_true != predicted))
        error, base = float(beta.ppf(0.95, wrong + 0.5, n - wrong + 0.5)), float(np.mean(y_true != baseline))
    return 1 - error / base if base > 0 else 0.0


def linear_formula(x: np.ndarray, y: np.ndarray, groups: dict[str, list[int]],
                   folds: int = 5) -> tuple[float, list[str]]:
    """A label computed from several columns (a total, a mean of two prices): the R^2 of a ridge
    regression on standardised features (its strength by RidgeCV's leave-one-out), out of fold
    over x, and the columns that carry at least FORMULA_SHARE of its standardised weights, the
    largest first."""
    from sklearn.linear_model import RidgeCV
    from sklearn.model_selection import KFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if len(y) < 2 * folds or float(np.var(y)) == 0.0:
        return 0.0, []
    ridge = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-6, 3, 10)))
    predicted = cross_val_predict(ridge, x, y, cv=KFold(folds, shuffle=True, random_state=0))
    weights = np.abs(ridge.fit(x, y)[-1].coef_)
    shares = {name: float(weights[features].sum() / max(weights.sum(), 1e-12)) for name, features in groups.items()}
    named = sorted((n for n, share in shares.items() if share >= FORMULA_SHARE), key=lambda n: -shares[n])
    return explained("regression", y, predicted, np.full(len(y), float(np.mean(y)))), named


def dates_after(prepared: Prepared, rows: np.ndarray, time_column: str | None) -> dict[str, float]:
    """Each other date column's share of rows (with both dates) whose date falls after the row's
    time (data.time_column, or the table's one date column): a date recorded after the time of the
    record, such as a closing or discharge date, is often known only after the outcome."""
    columns = prepared.source.columns
    others = [c.name for c in columns if c.role == "datetime" and c.name != time_column]
    if time_column is None or not others:
        return {}
    import pyarrow as pa

    cells = prepared.raw_rows(rows)
    when, _ = parse_times(pa.array([row.get(time_column, "") for row in cells], pa.string()))
    found = {}
    for name in others:
        other, _ = parse_times(pa.array([row.get(name, "") for row in cells], pa.string()))
        both = np.isfinite(when) & np.isfinite(other)
        if both.sum() >= DATES_AFTER_ROWS:
            found[name] = round(float(np.mean(other[both] > when[both])), 3)
    return found


def check_feature_leakage(prepared: Prepared, settings: InspectConfig, time_column: str | None = None) -> Verdict:
    """D11: each column alone, and the row order, scored by a cheap model fitted on train and judged on val.

    The module docstring says how a column is scored and why the thresholds are where they are.

    Args:
        prepared: The run's data; a seeded sample of at most `inspect.sample` rows of train and
            of val is read.
        settings: The `inspect` settings: `sample`, `leakage_warn` and `leakage_fail`.
        time_column: The column of each row's time (order_and_time.time_column), against which
            the other date columns are read (`dates_after`); None: not looked at.

    Returns:
        The D11 verdict. Fail when a column's one-sided 95% lower bound, out of fold over train
        and val, reaches `leakage_fail`. Warn when a ridge regression on the strongest columns
        explains LINEAR_LEAK (0.999) of a regression label out of fold, when one column explains
        `leakage_warn`, or when the row order does, or when a date column falls after the time
        column in DATES_AFTER_SHARE of the rows. Pass otherwise; skip for images.
    """
    if prepared.kind != "tabular":
        return verdict("D11", "skip", advice="images: a single pixel explains nothing alone; leakage "
                       "through the files themselves is D3's (the same content in two splits)")
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    train_rows = prepared.sample_rows("train", settings.sample, seed=0)
    val_rows = prepared.sample_rows("val", settings.sample, seed=1)
    x_train, y_train = prepared.take(train_rows)
    x_val, y_val = prepared.take(val_rows)
    regression = prepared.task == "regression"
    if regression:
        baseline = np.full(len(y_val), float(np.mean(y_train)))
    else:
        baseline = np.full(len(y_val), np.bincount(y_train).argmax())
    leaf = max(5, len(y_train) // 200)
    tree = DecisionTreeRegressor if regression else DecisionTreeClassifier

    def alone(x_fit: np.ndarray, y_fit: np.ndarray, x_judged: np.ndarray) -> list[np.ndarray]:
        """A column's predictions on x_judged: by the tree, and by its levels when it has them."""
        model = tree(max_depth=ALONE_DEPTH, min_samples_leaf=max(5, len(y_fit) // 200),
                     random_state=0).fit(x_fit, y_fit)
        if x_fit.shape[1] <= 2:
            return [model.predict(x_judged)]
        # a one-hot or hashed column: also its levels as levels (module docstring)
        return [model.predict(x_judged), level_lookup(prepared.task, levels(x_fit), y_fit, levels(x_judged))]

    scores = {}
    groups = feature_groups(prepared)
    for name, features in groups.items():
        scores[name] = max(explained(prepared.task, y_val, predicted, baseline)
                           for predicted in alone(x_train[:, features], y_train, x_val[:, features]))
    strong = {n: groups[n] for n, score in scores.items() if score >= OUT_OF_FOLD_FROM * settings.leakage_warn}
    rescored = out_of_fold_scores(prepared.task, np.r_[x_train, x_val], np.r_[y_train, y_val], alone, strong)
    scores |= {name: score for name, (score, _) in rescored.items()}
    surely = {name: lower for name, (_, lower) in rescored.items()}
    order = tree(max_depth=ALONE_DEPTH, min_samples_leaf=leaf, random_state=0).fit(
        prepared.manifest.positions[train_rows][:, None].astype(float), y_train)
    row_order = explained(prepared.task, y_val, order.predict(prepared.manifest.positions[val_rows][:, None]
                                                             .astype(float)), baseline)
    ranked = sorted(scores.items(), key=lambda item: -item[1])
    best, best_score = ranked[0]
    # The full model is context, not a judge: bounded in features and rounds (FULL_MODEL_BUDGET;
    # BENCHMARKS.md, "Check notes: D11").
    trees_a_round = 1 if regression or prepared.num_classes <= 2 else prepared.num_classes
    affordable = FULL_MODEL_BUDGET // (MIN_FULL_MODEL_ROUNDS * trees_a_round)
    kept = [j for name, _ in ranked for j in groups[name]][:max(1, min(FULL_MODEL_FEATURES, affordable))]
    rounds = int(np.clip(FULL_MODEL_BUDGET // (len(kept) * trees_a_round), MIN_FULL_MODEL_ROUNDS, FULL_MODEL_ROUNDS))
    full_model = (HistGradientBoostingRegressor if regression else HistGradientBoostingClassifier)(
        max_iter=rounds, random_state=0).fit(x_train[:, kept], y_train)
    full = explained(prepared.task, y_val, full_model.predict(x_val[:, kept]), baseline)
    formula, formula_columns = 0.0, []
    if regression:
        formula_groups, features = {}, []
        for name, _ in ranked[:FORMULA_COLUMNS]:
            if len(features) + len(groups[name]) > FORMULA_FEATURES:
                break
            formula_groups[name] = list(range(len(features), len(features) + len(groups[name])))
            features += groups[name]
        formula, formula_columns = linear_formula(np.r_[x_train, x_val][:, features], np.r_[y_train, y_val],
                                                  formula_groups)
    what = "R^2 on val" if regression else "share of the priors' val errors removed"
    every = len(kept) == sum(len(features) for features in groups.values())
    full_name = (f"{'all' if every else f'best_{len(kept)}'}_features_gradient_boosting"
                 + ("" if rounds == FULL_MODEL_ROUNDS else f"_{rounds}_rounds"))
    measured = {"explained_by": what, "top_columns": {n: round(s, 3) for n, s in ranked[:5]},
                "scored_out_of_fold": sorted(rescored),
                "row_order": round(row_order, 3), full_name: round(full, 3),
                "train_rows": len(train_rows), "val_rows": len(val_rows)}
    if regression:
        measured["linear_out_of_fold"] = round(formula, 5)
    later = dates_after(prepared, np.r_[train_rows, val_rows], time_column)
    if later:
        measured["dates_after_time_column"] = {"time_column": time_column, **later}
    expected = (f"no column alone explains >= {settings.leakage_fail:g} at 95% confidence (fail) or "
                f"{settings.leakage_warn:g} (warn)" + (f"; no linear formula of them >= {LINEAR_LEAK:g} (warn)"
                                                       if regression else ""))
    pooled = len(train_rows) + len(val_rows)
    surest = max(surely, key=surely.get, default=None)
    if surest is not None and surely[surest] >= settings.leakage_fail:
        measured["lower_bound_95"] = round(surely[surest], 3)
        return verdict("D11", "fail", measured=measured, expected=expected,
                       advice=f"Column {_shown(surest)} alone explains {scores[surest]:.0%} of the label (out of fold "
                       f"over {pooled} train and val rows; at least {surely[surest]:.0%} at 95% confidence): it is "
                       "almost certainly computed from the label (or the label from it). Exclude it (in data.columns, "
                       f"{surest!r}: exclude) unless it will truly be known when the model predicts.")
    if formula >= LINEAR_LEAK and formula_columns:
        shown = ", ".join(_shown(n) for n in formula_columns[:5])
        return verdict("D11", "warn", measured=measured, expected=expected,
                       advice=f"Together, columns {shown} explain {formula:.3%} of the label through one linear "
                       f"formula (a ridge regression, out of fold over {pooled} train and val rows): the label is "
                       "almost certainly computed from them (a total from its parts, a mean of two prices), a leak "
                       "no single column shows. Exclude them (data.columns) unless they will truly be known when "
                       "the model predicts; if the label is such a formula by design, the formula is the model.")
    if best_score >= settings.leakage_warn:
        if best in surely:
            measured["lower_bound_95"] = round(surely[best], 3)
        where = f"out of fold over {pooled} train and val rows" if best in surely else "on val"
        return verdict("D11", "warn", measured=measured, expected=expected,
                       advice=f"Column {_shown(best)} alone explains {best_score:.0%} of the label ({where}): make "
                       "sure it is known before the label is, at prediction time. Honest features this strong exist "
                       "(iris' petal width explains 96%); a copy of the label explains 97% to 100%.")
    if row_order >= settings.leakage_warn:
        return verdict("D11", "warn", measured=measured, expected=expected,
                       advice=f"The row order alone explains {row_order:.0%} of the label: the file is sorted by "
                       "it, so any row number or ID column leaks it (D10 lists the ones it left out).")
    after = {name: share for name, share in later.items() if share >= DATES_AFTER_SHARE}
    if after:
        name = max(after, key=after.get)
        return verdict("D11", "warn", measured=measured, expected=expected,
                       advice=f"Column {_shown(name)} holds a date after the row's time ({time_column!r}) in "
                       f"{after[name]:.0%} of the rows: recorded later (a closing, payment or discharge date), it "
                       "may be known only after the outcome. Exclude it (data.columns, "
                       f"{name!r}: exclude) unless it is known when the model predicts.")
    return verdict("D11", "pass", measured=measured, expected=expected)


def _shown(column: str) -> str:
    """A column's name in advice: R and pandas export their row names under an empty header
    (birthwt's row names encode its label: D11 named the column '')."""
    return repr(column) if column else "'' (the unnamed first column: row names)"


@registers("inspect", "D11")
def _d11(c: Context) -> Verdict:
    return check_feature_leakage(c.prepared, c.config.inspect, time_column(c.prepared, c.config))
