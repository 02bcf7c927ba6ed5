"""B3's references: what scikit-learn reaches on the same training rows in a few seconds.

A linear model whose regularisation is chosen by cross-validation on the training split (L2,
and L1 on wide tables, the better by its own cross-validated score: L1 is the one that holds on
a table of 500 columns where 10 carry the label and only 135 rows train) and histogram gradient boosting
with scikit-learn's defaults: the model a practitioner would try first on a table. Both see
the inputs as the model does before its first layer (standardised with the train-only
statistics, flattened), on a seeded sample of at most `check.reference_rows` training
examples, and are scored on every val and test example with the project's own loss and
metrics. Images are flattened only up to MAX_FEATURES values (64 x 64 gray, 32 x 32 RGB);
beyond, pixels alone are no fair reference and B3 keeps its Keras linear model.
"""

from __future__ import annotations

import time
import warnings

import numpy as np

from .data import Prepared
from .models import score_predictions

MAX_FEATURES = 4096
# The references' training sample is bounded in values too: both fits grow with rows x features
# (boosting took 62 s on 20,000 reviews x 2,000 TF-IDF features), and `check` must stay short.
MAX_CELLS = 20_000_000
MIN_ROWS = 1_000
# Boosting grows one tree per class each round, so its sample is bounded in values times trees a
# round: 16 classes of 2,005 TF-IDF features (27,829 tweets) would have taken about 12 minutes on
# the linear model's 9,975 rows. Where even MIN_ROWS rows exceed it, boosting is not fitted and
# the linear model is the bar (B3 says so).
FOLDS = 3
# C of logistic regression, alpha of ridge: 1e-4 .. 1e2. Logistic regression stops at 100 L-BFGS
# iterations to a tolerance of 1e-3: on labels it cannot learn, the weakest strengths crawl (the
# digits with shuffled labels: 9.1 s to 500 iterations, 2.3 s this way, the same chosen C).
STRENGTHS = np.logspace(-4, 2, 7)
WIDE = 10  # L1 is tried too when features x WIDE >= training rows,
L1_CELLS = 2_000_000  # and rows x features stay under this: SAGA over 20,000 reviews x 2,000 words ran minutes
# Inputs at least this share zeros (a text column's TF-IDF words: 99.4% of 27,829 tweets' values)
# are fitted as a sparse matrix, scaled but not centred (`sparse_standardised`).
SPARSE_FROM = 0.9


def standardised(prepared: Prepared, x: np.ndarray) -> np.ndarray:
    """Inputs as the model's Normalization layer makes them, flattened."""
    mean, std = (np.asarray(v, np.float32) for v in (prepared.stats.mean, prepared.stats.std))
    return ((x - mean) / np.where(std > 0, std, 1.0)).reshape(len(x), -1)


def one_blas_thread():
    """A context in which NumPy's and SciPy's BLAS run on one thread.

    scikit-learn's L-BFGS fits in the checks are many small products (a weight vector of a few
    thousand values a step), where OpenBLAS' threads cost more than they save: on one thread
    D12's cheap model and B3's linear reference fitted 2x to 2.8x faster where they took seconds
    over dense products, as fast over sparse ones, to the same weights but for rounding
    (BENCHMARKS.md, "One BLAS thread for the checks' linear fits").
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1, user_api="blas")


def mostly_zeros(x) -> bool:
    """Whether at least SPARSE_FROM of `x`'s values are zeros."""
    return x.size > 0 and np.count_nonzero(x) <= (1 - SPARSE_FROM) * x.size


def sparse_standardised(prepared: Prepared, x: np.ndarray):
    """Inputs that are mostly zeros, scaled as `standardised` scales them but not centred.

    Centring makes every zero a value, and a linear model's cost then grows with rows x features
    instead of with the values present. Uncentred, the fitted weights are the same (the
    intercept, which no penalty touches, takes up the centring), so the model is moved to the
    centred inputs afterwards (`_logistic_cv`'s `shift`).

    Returns:
        `(matrix, shift)`: a SciPy CSR matrix of the scaled inputs and the per-feature shift
        (mean / std) that centring would subtract; None when `x` is not mostly zeros.
    """
    if not mostly_zeros(x):
        return None
    import scipy.sparse

    mean, std = (np.asarray(v, np.float32).reshape(-1) for v in (prepared.stats.mean, prepared.stats.std))
    scale = np.where(std > 0, std, 1.0)
    return scipy.sparse.csr_matrix(x.reshape(len(x), -1) / scale), mean / scale


def fits(prepared: Prepared) -> bool:
    return int(np.prod(prepared.input_shape)) <= MAX_FEATURES


def _linear(task: str, x: np.ndarray, y: np.ndarray, seed: int, sparse=None):
    """L2 at its cross-validated strength; on a wide, short table (WIDE: features against rows;
    L1_CELLS) L1 too, and the better of the two by its cross-validated score. L1 only there: it
    is the one that holds when few of many columns carry the label, and SAGA, its solver, costs
    7x L2's time on the bundled digits. `sparse`, from `sparse_standardised`, is what the L2
    logistic regression fits where the inputs are mostly zeros."""
    from sklearn.linear_model import LassoCV, LogisticRegressionCV, RidgeCV

    wide = x.shape[1] * WIDE >= len(x) and x.size <= L1_CELLS
    candidates = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning at the weakest strengths: their scores say it
        if task == "regression":
            ridge = RidgeCV(alphas=STRENGTHS, scoring="neg_mean_squared_error", cv=FOLDS).fit(x, y)
            candidates.append((float(ridge.best_score_), ridge, f"ridge (L2), alpha {ridge.alpha_:g}"))
            if wide:
                lasso = LassoCV(alphas=20, cv=FOLDS, random_state=seed, max_iter=2000).fit(x, y)
                candidates.append((-float(lasso.mse_path_.mean(axis=1).min()), lasso,
                                   f"lasso (L1), alpha {lasso.alpha_:.3g}"))
        else:
            fitted, shift = sparse or (x, None)
            score, model = _logistic_cv(fitted, y, seed, shift)
            candidates.append((score, model, f"logistic regression (L2), C {model.C:g}"))
            if wide:  # at most L1_CELLS values: LogisticRegressionCV's float64 copy is small here
                model = LogisticRegressionCV(Cs=STRENGTHS, cv=FOLDS, penalty="l1", solver="saga",
                                             scoring="neg_log_loss", max_iter=100, tol=1e-3,
                                             random_state=seed).fit(x, y)
                score = float(np.mean(next(iter(model.scores_.values())), axis=0).max())
                candidates.append((score, model, f"logistic regression (L1), C {model.C_[0]:g}"))
    _, model, what = max(candidates, key=lambda c: c[0])
    return model, what


def _logistic_cv(x, y: np.ndarray, seed: int, shift: np.ndarray | None = None):
    """L2 logistic regression (L-BFGS) at its cross-validated strength: LogisticRegressionCV's
    search written out (FOLDS stratified, unshuffled folds; each fold's path over STRENGTHS
    warm-started; the best mean log loss out of fold; a refit on every row from the folds' mean
    weights). By hand because LogisticRegressionCV converts the inputs to float64, which
    LogisticRegression does not: on 9,975 tweets x 2,005 TF-IDF features (16 classes) that copy
    and its folds' held `check`'s peak memory 500 MB above the rest of it, and float32 fits
    faster (BENCHMARKS.md, "B3's linear reference in float32").

    Args:
        x: The standardised inputs, or uncentred sparse ones (`sparse_standardised`).
        y: The labels.
        seed: The fits' seed.
        shift: With sparse `x`, what centring would subtract from each feature: the refitted
            model's intercepts take it up, so that it scores standardised inputs.

    Returns:
        (the best strength's mean out-of-fold score, negative log loss; the refitted model).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss
    from sklearn.model_selection import StratifiedKFold

    def model(strength: float) -> LogisticRegression:
        return LogisticRegression(C=strength, solver="lbfgs", max_iter=100, tol=1e-3, warm_start=True,
                                  random_state=seed)

    labels = np.unique(y)
    scores = np.zeros((FOLDS, len(STRENGTHS)))
    starts = [[] for _ in STRENGTHS]  # each strength's fitted weights, fold by fold
    for fold, (train, held_out) in enumerate(StratifiedKFold(FOLDS).split(x, y)):
        path, x_train, y_train = model(STRENGTHS[0]), x[train], y[train]
        for j, strength in enumerate(STRENGTHS):  # the smallest C first, each fit starting from the last
            path.set_params(C=strength).fit(x_train, y_train)
            probs = np.zeros((len(held_out), len(labels)))  # a class a fold never trained on gets 0
            probs[:, np.searchsorted(labels, path.classes_)] = path.predict_proba(x[held_out])
            scores[fold, j] = -log_loss(y[held_out], probs, labels=labels)
            if len(path.classes_) == len(labels):
                starts[j].append((path.coef_.copy(), path.intercept_.copy()))
    mean = scores.mean(axis=0)
    best = int(np.argmax(mean))
    final = model(STRENGTHS[best])
    if starts[best]:  # as LogisticRegressionCV refits: from the folds' mean weights (100 iterations
        # rarely converge at the weak strengths, so the start shows in the model)
        final.coef_ = np.mean([c for c, _ in starts[best]], axis=0)
        final.intercept_ = np.mean([i for _, i in starts[best]], axis=0)
    final.fit(x, y)
    if shift is not None:  # w.(u + shift) + b = w.u + (b + w.shift), u the centred inputs
        final.intercept_ = final.intercept_ + final.coef_ @ shift
    return float(mean[best]), final


def fit_boosting(task: str, x: np.ndarray, y: np.ndarray, seed: int):
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    kind = HistGradientBoostingRegressor if task == "regression" else HistGradientBoostingClassifier
    return kind(random_state=seed).fit(x, y), "histogram gradient boosting (scikit-learn defaults)"


def reference_outputs(model, task: str, x: np.ndarray, classes: int) -> np.ndarray:
    """What the project's model would output: logits, one logit, or the target."""
    if task == "regression":
        return model.predict(x)
    probs = np.full((len(x), max(classes, 2)), 1e-7)
    probs[:, model.classes_.astype(int)] = np.clip(model.predict_proba(x), 1e-7, 1.0)
    probs /= probs.sum(axis=1, keepdims=True)
    if task == "binary":
        return np.log(probs[:, 1] / probs[:, 0])
    return np.log(probs)


def score_references(prepared: Prepared, rows: int, seed: int) -> tuple[dict[str, dict], dict[str, dict]]:
    """Fit each reference and score it on every val and test example.

    Args:
        prepared: the data, split.
        rows: `check.reference_rows`, the most training examples a reference is fitted on.
        seed: the seed of the training sample and of the fits.

    Returns:
        `(found, outputs)`. `found` is {"linear": ..., "boosting": ...}, each {"what", "val",
        "test", "seconds", "training_examples", "capped_by"}: `capped_by` names what kept a
        reference from the whole training split (`check.reference_rows`, or MAX_CELLS on wide
        inputs: 6,500 images of 32 x 32 RGB), None when it saw every training row. Boosting is
        absent where MAX_CELLS rules it out; the linear model's `skipped` then says why. `outputs` is
        {name: {"val": array, "test": array}}, what each reference outputs row by row, for the
        paired comparison at `evaluate`.
    """
    features = int(np.prod(prepared.input_shape))
    classes = len(prepared.class_names) if prepared.task != "regression" else 0
    trees = classes if classes > 2 else 1  # boosting's trees a round
    found, outputs, skipped = {}, {}, {}
    for name, fit, cells in (("linear", _linear, features), ("boosting", fit_boosting, features * trees)):
        by_cells = MAX_CELLS // max(cells, 1)
        if name == "boosting" and by_cells < MIN_ROWS:
            skipped[name] = (f"not fitted: {features:,} features x {trees} classes (a tree each a round) exceed "
                             f"{MAX_CELLS:,} values x trees at {MIN_ROWS:,} rows; the linear model is the bar")
            continue
        by_cells = max(MIN_ROWS, by_cells)
        limit = min(rows, by_cells)
        capped_by = (None if prepared.size("train") <= limit else
                     f"check.reference_rows ({rows:,})" if rows <= by_cells else
                     f"at most {MAX_CELLS:,} values{' x trees' if cells > features else ''} "
                     f"({by_cells:,} rows of {features:,} features)")
        x, y = prepared.take(prepared.sample_rows("train", limit, seed=seed))
        start = time.perf_counter()
        # the L2 logistic regression alone fits sparse inputs (the regressions' fits take them dense)
        logistic = name == "linear" and prepared.task != "regression"
        extra = {"sparse": sparse_standardised(prepared, x)} if logistic else {}
        with one_blas_thread():
            model, what = fit(prepared.task, standardised(prepared, x), y, seed, **extra)
        found[name] = {"what": what, "seconds": 0.0, "training_examples": len(y), "capped_by": capped_by}
        outputs[name] = {}
        for split in ("val", "test"):
            batches = [reference_outputs(model, prepared.task, standardised(prepared, batch), classes)
                       for batch, _ in prepared.stream(split).batch(4096).as_numpy_iterator()]
            outputs[name][split] = np.concatenate(batches) if batches else np.zeros((0,))
            found[name][split] = (score_predictions(prepared.task, prepared.labels(split), outputs[name][split])
                                  if batches else {})
        found[name]["seconds"] = round(time.perf_counter() - start, 2)
    if skipped:
        found["linear"]["skipped"] = skipped
    return found, outputs
