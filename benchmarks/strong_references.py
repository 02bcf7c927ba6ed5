"""The references at full strength, for tables.py: what a practitioner would fit on the same
training rows, each given every row of the training split and its own best handling of the
columns (B3 inside `check` keeps its time budget and its cap; this is the bar without either).

- histogram gradient boosting (scikit-learn's defaults) on the raw columns, categorical columns
  as pandas categories with its native categorical support (at most 255 levels a column: the
  254 most frequent keep their own, the rest share one, as its binning allows);
- LightGBM at its defaults, the same columns and categories (TabArena ranks default gradient
  boosting of this kind above default RealMLP and TabM);
- a linear model: one-hot categories (levels seen 5 times or more), numbers standardised with
  median imputation and missing indicators; logistic regression or ridge with its strength
  chosen by 5-fold cross-validation (3-fold above 100,000 rows) over 9 strengths
  (1e-4 to 1e4) and fitted to scikit-learn's default
  tolerance (up to 5,000 iterations), and on wide tables (columns x 10 >= rows, up to 5,000
  rows: SAGA's cost) L1 too, the better by its cross-validated score.

Each sees the columns the project's model used (its D10 roles: identifiers and constants out),
read from the CSV as text and typed by those roles. Scores: log loss for classes, RMSE for
regression, on the test rows of the run's own split.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd

MAX_LEVELS = 255
EPSILON = 1e-7
LARGE = 100_000
L1_ROWS = 5_000


def table_frame(path, columns: list[tuple[str, str]]) -> pd.DataFrame:
    """The used columns of the CSV, typed: numbers as floats (unreadable cells missing),
    categories and text as pandas categories, dates as seconds since 1970."""
    raw = pd.read_csv(path, usecols=[name for name, _ in columns], dtype=str, keep_default_na=False)
    frame = {}
    for name, kind in columns:
        cells = raw[name].replace({"": None, "NA": None, "NaN": None, "nan": None, "null": None})
        if kind in ("numeric", "level_index"):
            frame[name] = pd.to_numeric(cells, errors="coerce").astype("float64")
        elif kind == "datetime":
            stamps = pd.to_datetime(cells, errors="coerce", utc=True, format="mixed")
            frame[name] = (stamps - pd.Timestamp("1970-01-01", tz="UTC")).dt.total_seconds()
        else:
            frame[name] = cells.astype("category")
    return pd.DataFrame(frame)


def _capped_categories(train: pd.DataFrame, others: list[pd.DataFrame]) -> list[pd.DataFrame]:
    """Categories as the boosters take them: levels from training rows only, at most MAX_LEVELS - 1
    of them (the most frequent), the rest and unseen ones as one level `<other>`."""
    frames = [train.copy(), *(o.copy() for o in others)]
    for name in train.columns:
        if not isinstance(train[name].dtype, pd.CategoricalDtype):
            continue
        kept = train[name].value_counts().index[:MAX_LEVELS - 1].tolist()
        for frame in frames:
            cells = frame[name].astype(object)
            cells = cells.where(cells.isin(kept) | cells.isna(), "<other>")
            frame[name] = pd.Categorical(cells, categories=[*kept, "<other>"])
    return frames


def _linear_design(train: pd.DataFrame, others: list[pd.DataFrame]):
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    categorical = [n for n in train.columns if isinstance(train[n].dtype, pd.CategoricalDtype)]
    numeric = [n for n in train.columns if n not in categorical]
    steps = []
    if numeric:
        steps.append(("numbers", make_pipeline(SimpleImputer(strategy="median", add_indicator=True),
                                               StandardScaler()), numeric))
    if categorical:
        steps.append(("levels", OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=5),
                      categorical))
    design = ColumnTransformer(steps, sparse_threshold=0.3)
    as_text = [f.astype({n: object for n in categorical}).fillna({n: "<missing>" for n in categorical})
               for f in (train, *others)]
    return design.fit_transform(as_text[0]), [design.transform(f) for f in as_text[1:]]


def _fit_linear(task: str, x, y, wide: bool, seed: int):
    from sklearn.linear_model import LassoCV, LogisticRegressionCV, RidgeCV

    strengths = np.logspace(-4, 4, 9)
    folds = 5 if x.shape[0] <= LARGE else 3  # 3 above LARGE rows: 2 cores cannot afford 5 there
    candidates = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if task == "regression":
            ridge = RidgeCV(alphas=strengths, scoring="neg_mean_squared_error", cv=folds).fit(x, y)
            candidates.append((float(ridge.best_score_), ridge, f"ridge, alpha {ridge.alpha_:g}"))
            if wide:
                lasso = LassoCV(alphas=50, cv=folds, random_state=seed, max_iter=20_000).fit(x, y)
                candidates.append((-float(lasso.mse_path_.mean(axis=1).min()), lasso, f"lasso, alpha {lasso.alpha_:.3g}"))
        else:
            for penalty, solver in (("l2", "lbfgs"), ("l1", "saga"))[:2 if wide else 1]:
                model = LogisticRegressionCV(Cs=strengths, cv=folds, penalty=penalty, solver=solver, max_iter=5000,
                                             scoring="neg_log_loss", random_state=seed).fit(x, y)
                score = float(np.mean(next(iter(model.scores_.values())), axis=0).max())
                candidates.append((score, model, f"logistic ({penalty}), C {model.C_[0]:g}"))
    _, model, what = max(candidates, key=lambda c: c[0])
    return model, what


def _score(task: str, model, x, y: np.ndarray, classes: np.ndarray) -> float:
    if task == "regression":
        return float(np.sqrt(np.mean((model.predict(x) - y) ** 2)))
    probs = np.full((len(y), len(classes)), EPSILON)
    columns = np.searchsorted(classes, model.classes_)
    probs[:, columns] = np.clip(model.predict_proba(x), EPSILON, 1.0)
    probs /= probs.sum(axis=1, keepdims=True)
    return float(-np.mean(np.log(probs[np.arange(len(y)), np.searchsorted(classes, y)])))


def score_references(task: str, frame: pd.DataFrame, labels: np.ndarray, splits: dict[str, np.ndarray],
                     seed: int) -> dict[str, dict]:
    """{name: {"test": score, "seconds", "what", "rows"}} for boosting, lightgbm and linear, each
    fitted on every `splits["train"]` row (positions into `frame` and `labels`) and scored on
    `splits["test"]`. Val rows are not used: the project's model uses them to stop, these use
    their own internal checks, as their defaults do."""
    from lightgbm import LGBMClassifier, LGBMRegressor
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    train, test = frame.iloc[splits["train"]].reset_index(drop=True), frame.iloc[splits["test"]].reset_index(drop=True)
    y_train, y_test = labels[splits["train"]], labels[splits["test"]]
    classes = np.unique(labels) if task != "regression" else np.array([])
    found = {}
    boosted_train, boosted_test = _capped_categories(train, [test])
    regression = task == "regression"
    boosters = {
        "boosting": (HistGradientBoostingRegressor if regression else HistGradientBoostingClassifier)(
            categorical_features="from_dtype", random_state=seed),
        "lightgbm": (LGBMRegressor if regression else LGBMClassifier)(random_state=seed, verbose=-1, n_jobs=2),
    }
    for name, model in boosters.items():
        started = time.perf_counter()
        model.fit(boosted_train, y_train)
        found[name] = {"test": _score(task, model, boosted_test, y_test, classes),
                       "seconds": round(time.perf_counter() - started, 1), "what": f"{name} defaults",
                       "rows": len(y_train)}
    started = time.perf_counter()
    x_train, (x_test,) = _linear_design(train, [test])
    # L1 where the columns are many for the rows, as B3 does; on few rows only: SAGA over 13,500
    # bird strikes x 1,500 one-hot levels ran past 12 minutes, where the L2 fit takes seconds
    wide = x_train.shape[1] * 10 >= x_train.shape[0] and x_train.shape[0] <= L1_ROWS
    model, what = _fit_linear(task, x_train, y_train, wide, seed)
    found["linear"] = {"test": _score(task, model, x_test, y_test, classes),
                       "seconds": round(time.perf_counter() - started, 1), "what": what, "rows": len(y_train)}
    return found
