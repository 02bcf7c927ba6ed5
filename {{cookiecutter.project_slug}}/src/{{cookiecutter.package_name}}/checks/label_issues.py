"""D12: label issues, by confident learning on out-of-sample probabilities.

Confident learning (Northcutt, Jiang and Chuang 2021, "Confident Learning: Estimating
Uncertainty in Dataset Labels"; cleanlab's `find_label_issues(filter_by="prune_by_noise_rate")`)
written out here in NumPy, about forty lines, rather than adding cleanlab and its pandas to
every project for one function:

1. each class j gets a threshold t_j, the mean probability of j over the examples labelled j;
2. the confident joint C[i, j] counts the examples labelled i whose probability of j reaches
   t_j (the most probable such class when several do);
3. each row of C is scaled to the number of examples labelled i: C[i, j] / N estimates the
   joint distribution of given and true labels, and its off-diagonal sum the share of label
   errors;
4. for each given i and true j != i, the C[i, j] examples labelled i with the largest margin
   p_j - p_i are the issues, ranked by the probability of their given label (lowest first).

The probabilities must be out-of-sample: a model's own training examples are fitted, label
errors included. `inspect` cross-validates a cheap model on the training split (a logistic
regression, K folds, on the features or on images shrunk to at most 16 x 16), which costs
seconds and sees the split the model will learn from; `evaluate` uses the trained model's
predictions of val and test, which it never trained on.

A model that is hardly better than chance finds "issues" everywhere: its probabilities sit near
the priors, so a third or more of any class crosses another class's threshold, and weak features
give honest labels a share as high as flipped ones do. What tells the two apart is how sure the
model is of its other answer: flipped labels are contradicted with a high median confidence
above chance ((p - 1/K) / (1 - 1/K)), weak models only with a low one
(BENCHMARKS.md, "Check notes: D12"). So a share above the threshold warns only when the
suspects' median confidence reaches `SURE`; otherwise D12 skips and says why, as it does when
the model agrees with the labels little beyond chance (kappa < `KAPPA_FLOOR`).

Sureness is not enough where the cheap model over-fits (a table with far more columns than
rows): its wrong answers are confident too. Confident learning needs probabilities that beat
the priors out of fold, so D12 first compares the model's out-of-fold log loss with the priors'
(`skill`, 1 - loss / priors' loss): below `SKILL_FLOOR` the inputs, as this model reads them,
barely separate the classes, and D12 says that instead of blaming the labels.

Nor is it enough where the task itself is noisy: where a few coarse inputs recur with either
label, the model is rightly sure of the common outcome, so the rows with the other look
mislabelled, though no relabelling would be right (BENCHMARKS.md, "Check notes: D12"). Exact
twins tell this noise apart without a model: a suspect whose inputs recur among the judged rows
under another label (the same content key for images, the same encoded features for tables:
`ambiguous`) is not counted, and the share warns only on the suspects left. A flipped label on a
row without such a twin still counts.

Nor where the task is partly chance without twins: labels drawn honestly from a model's own
probabilities make confident learning call some of them wrong, though none is. What tells the
two apart is where the disagreements fall. Labels flipped at random (a shifted column, a bad
join, careless annotation; confident learning's own model of noise: it depends on the true
class, not on the inputs) disagree with the model as often where it is surest as anywhere else:
they put a floor under its error. Honest noise thins out where the inputs are extreme. So D12
takes the examples the model is surest of (the most confident tenth of each class it predicts,
`SUREST_SHARE`, at least `SUREST_LEAST`) and bounds the share flipped at random by their
disagreement (a one-sided 95% Clopper-Pearson bound): where that bound is below the warn share,
what the model contradicts is the task's own noise, and D12 passes and says so
(BENCHMARKS.md, "Check notes: D12"). A task with no clear-cut cases at all (a model unsure
everywhere) cannot tell the two apart: the warning then says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data import Prepared
from ..models import class_probabilities
from ..references import mostly_zeros, one_blas_thread
from ..registry import registers
from ..verdicts import Verdict, verdict
from .context import Context, EvaluateContext
from .visualise import image_grid, label_text, short_origin, value_range

KAPPA_FLOOR = 0.2  # below: the model has learned too little to contradict anyone
SKILL_FLOOR = 0.1  # below: out of fold, the model's probabilities hardly beat the priors
SURE = 0.5  # the suspects' median confidence above chance that a warning needs (module docstring)
SUREST_SHARE = 0.1  # the most confident tenth of each predicted class bounds the labels flipped at random
SUREST_LEAST = 20  # ...and at least this many of each class, where it has them
SHOWN = 16  # suspects drawn and listed
SHRUNK_SIDE = 16  # images become at most 16 x 16 for the cheap model: a linear model needs no more


@dataclass
class LabelIssues:
    """What confident learning found among `n` examples."""

    issues: np.ndarray  # positions in the given arrays, most suspicious first
    share: float  # estimated share of examples whose given label is wrong
    joint: np.ndarray  # calibrated confident joint, rows given labels, columns true labels
    kappa: float  # agreement of the model's argmax with the given labels, beyond chance
    sureness: float  # median confidence above chance, (p - 1/K) / (1 - 1/K), of the suspects' likely class


def cohen_kappa(labels: np.ndarray, predicted: np.ndarray, classes: int) -> float:
    observed = float(np.mean(labels == predicted))
    chance = float(np.sum(np.bincount(labels, minlength=classes) * np.bincount(predicted, minlength=classes))
                   / max(len(labels), 1) ** 2)
    return (observed - chance) / (1 - chance) if chance < 1 else 0.0


def find_label_issues(labels: np.ndarray, probs: np.ndarray) -> LabelIssues:
    """Confident learning, prune by noise rate (module docstring): the suspects and the
    estimated share of label errors among `labels`, given out-of-sample `probs`."""
    labels = np.asarray(labels, np.int64)
    n, classes = probs.shape
    counts = np.bincount(labels, minlength=classes)
    present = counts > 0
    thresholds = np.array([probs[labels == j, j].mean() if present[j] else np.inf for j in range(classes)])
    confident = probs >= thresholds - 1e-6
    has_confident = confident.any(axis=1)
    guess = np.argmax(np.where(confident, probs, -1.0), axis=1)
    joint = np.zeros((classes, classes))
    np.add.at(joint, (labels[has_confident], guess[has_confident]), 1)
    row_sums = joint.sum(axis=1, keepdims=True)
    calibrated = np.divide(joint * counts[:, None], row_sums, out=np.zeros_like(joint), where=row_sums > 0)
    share = float((calibrated.sum() - np.trace(calibrated)) / n)
    chosen = []
    for given in np.flatnonzero(present):
        members = np.flatnonzero(labels == given)
        budget = len(members) - 1  # never prune a whole class
        for true in range(classes):
            prune = min(int(round(calibrated[given, true])), budget) if true != given else 0
            if prune > 0:
                margin = probs[members, true] - probs[members, given]
                chosen.append(members[np.argsort(-margin, kind="stable")[:prune]])
                budget -= prune
    issues = np.unique(np.concatenate(chosen)) if chosen else np.zeros(0, np.int64)
    issues = issues[np.argsort(probs[issues, labels[issues]], kind="stable")]
    kappa = cohen_kappa(labels, probs.argmax(axis=1), classes)
    likely = probs[issues].max(axis=1) if len(issues) else np.zeros(1)
    sureness = float(np.median((likely - 1 / classes) / (1 - 1 / classes)))
    return LabelIssues(issues, share, calibrated, kappa, sureness)


@dataclass
class FlipFloor:
    """Among the examples a model is surest of, how many labels disagree with it: a bound on the
    share of labels flipped at random, which disagree there as often as anywhere."""

    examples: int
    disagreeing: float  # the share of them whose label is not the model's answer
    random_flips_at_most: float  # its one-sided 95% upper bound (Clopper-Pearson)


def flip_floor(labels: np.ndarray, probs: np.ndarray) -> FlipFloor:
    """The surest examples of each class the model predicts (SUREST_SHARE of them, at least
    SUREST_LEAST) and how many of their labels disagree with it (module docstring).

    Args:
        labels: the given class ids.
        probs: out-of-sample probabilities, one row an example.

    Returns:
        A FlipFloor; its bound is 1 when there is nothing to judge.
    """
    from scipy.stats import beta

    predicted = probs.argmax(axis=1)
    confidence = probs.max(axis=1)
    surest = []
    for answer in np.unique(predicted):
        members = np.flatnonzero(predicted == answer)
        count = max(SUREST_LEAST, int(round(SUREST_SHARE * len(members))))
        surest.append(members[np.argsort(-confidence[members], kind="stable")[:count]])
    chosen = np.concatenate(surest) if surest else np.zeros(0, np.int64)
    wrong = int((labels[chosen] != predicted[chosen]).sum())
    n = len(chosen)
    upper = float(beta.ppf(0.95, wrong + 1, n - wrong)) if 0 < n and wrong < n else 1.0
    return FlipFloor(n, wrong / n if n else 0.0, upper)


def skill(labels: np.ndarray, probs: np.ndarray) -> tuple[float, float, float]:
    """(1 - log loss / the priors' log loss, the log loss, the priors' log loss) of `probs`."""
    priors = np.bincount(labels, minlength=probs.shape[1]) / len(labels)
    loss = float(-np.mean(np.log(np.clip(probs[np.arange(len(labels)), labels], 1e-7, 1.0))))
    prior_loss = float(-np.mean(np.log(np.clip(priors[labels], 1e-7, 1.0))))
    return (1 - loss / prior_loss if prior_loss > 0 else 0.0), loss, prior_loss


def input_keys(prepared: Prepared, rows: np.ndarray) -> np.ndarray:
    """What the model sees of each of `rows`, as a key: a table's encoded features, read in one
    streaming pass (a row-number column D10 left out is no part of them, where it is part of
    the content key), an image's file content (the manifest's content key)."""
    if prepared.kind != "tabular":
        return prepared.manifest.keys[rows]
    order = np.argsort(prepared.manifest.positions[rows], kind="stable")  # the file's order: one pass
    batches = prepared.stream("train", rows[order]).map(lambda x, y: x).batch(1024).as_numpy_iterator()
    keys = np.empty(len(rows), np.int64)
    keys[order] = [hash(row.tobytes()) for batch in batches for row in batch.reshape(len(batch), -1)]
    return keys


def ambiguous_in_data(prepared: Prepared, rows: np.ndarray) -> np.ndarray:
    """For each of `rows`, whether its exact inputs recur anywhere in the data (every split,
    sampled or not) under another label. Looked for among the judged rows alone, a sample of
    5,000 of mn_police's 8,964 training rows (several rows an incident, one for each kind of
    force used) found the twins of 405 of 1,185 suspects and missed the rest."""
    every = np.arange(len(prepared.manifest))
    return ambiguous(input_keys(prepared, every), prepared.manifest.labels.astype(np.int64))[rows]


def ambiguous(keys: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """For each row, whether its exact inputs (`keys`, input_keys) recur under another label:
    the same inputs with either outcome, noise in the task (module docstring)."""
    _, group = np.unique(keys, return_inverse=True)
    lowest = np.full(group.max() + 1, labels.max() + 1)
    highest = np.full(group.max() + 1, -1)
    np.minimum.at(lowest, group, labels)
    np.maximum.at(highest, group, labels)
    return lowest[group] != highest[group]


def judge_label_issues(prepared: Prepared, rows: np.ndarray, probs: np.ndarray, warn_share: float,
                       run_dir: Path, where: str, model: str) -> Verdict:
    """D12 for the manifest `rows` with out-of-sample `probs` (from `model`, scoring `where`).

    Args:
        prepared: The run's data; the labels of `rows` come from its manifest, and the suspects
            are named by their origin.
        rows: The manifest rows judged.
        probs: Out-of-sample class probabilities, one row for each of `rows`.
        warn_share: The estimated share of wrong labels above which it may warn
            (`inspect.label_issues_warn`).
        run_dir: The run folder the suspects are drawn in (images only).
        where: The rows as the advice names them ("train (sampled)", "val+test"); its first word
            names the plot.
        model: The model that gave `probs`, as the advice names it.

    Returns:
        The D12 verdict. Skip when there are fewer than 50 examples or 2 classes, when the model
        barely beats the priors out of fold (skill below SKILL_FLOOR), when it agrees with the
        labels little beyond chance (kappa below KAPPA_FLOOR), or when the share is above
        `warn_share` but the suspects' median sureness is below SURE. Warn when the share, less
        the suspects with an exact twin of another label, is above `warn_share` and the examples
        the model is surest of do not bound the labels flipped at random to `warn_share` or less.
        Pass otherwise, with the suspects listed.
    """
    labels = prepared.manifest.labels[rows].astype(np.int64)
    if len(labels) < 50 or len(np.unique(labels)) < 2:
        return verdict("D12", "skip", advice=f"{len(labels)} example(s) of {len(np.unique(labels))} class(es) "
                       f"in {where}: too few for confident learning (50 of two classes at least)")
    found = find_label_issues(labels, probs)
    measured = {"examples": len(labels), "scored_by": model, "estimated_share": round(found.share, 4),
                "issues_found": len(found.issues), "agreement_kappa": round(found.kappa, 3),
                "suspects_sureness": round(found.sureness, 3)}
    skilled, loss, prior_loss = skill(labels, probs)
    measured |= {"log_loss": round(loss, 4), "priors_log_loss": round(prior_loss, 4), "skill": round(skilled, 3)}
    expected = {"estimated_share_at_most": warn_share, "agreement_kappa_at_least": KAPPA_FLOOR,
                "skill_at_least": SKILL_FLOOR}
    unsure = found.share > warn_share and found.sureness < SURE
    if found.kappa >= KAPPA_FLOOR and skilled < SKILL_FLOOR:
        return verdict("D12", "skip", measured=measured, expected=expected,
                       advice=f"the {model} barely beats the priors on examples it did not see (log loss {loss:.3g} "
                       f"against {prior_loss:.3g}): as it reads them, the inputs barely separate the classes, so it "
                       "cannot judge the labels; B3 and `evaluate` say how far the real model gets")
    if found.kappa < KAPPA_FLOOR or unsure:
        why = (f"agrees with the labels little beyond chance (kappa {found.kappa:.2f} < {KAPPA_FLOOR})"
               if found.kappa < KAPPA_FLOOR else
               f"contradicts {found.share:.0%} of them, but unsure of its own answers (median sureness "
               f"{found.sureness:.2f} < {SURE}): a weak model, not proof of bad labels")
        return verdict("D12", "skip", measured=measured, expected=expected,
                       advice=f"the {model} {why}" + ("; `evaluate` judges val and test with the trained model"
                                                      if "cross" in model else ""))
    shown = found.issues[:SHOWN]
    suspects = [_suspect(prepared, int(rows[i]), probs[i], int(labels[i])) for i in shown]
    raw = prepared.raw_rows(rows[shown])
    for suspect, cells in zip(suspects, raw or [], strict=False):
        suspect["row"] = cells
    measured["suspects"] = suspects
    plots = [_plot_suspects(prepared, rows[shown], probs[shown], labels[shown], run_dir, where)] \
        if prepared.kind == "image" and len(shown) else []
    # only where the share would warn: reading the inputs again costs a pass over a big file
    twins = (int(ambiguous_in_data(prepared, rows)[found.issues].sum())
             if found.share > warn_share and len(found.issues) else 0)
    share = found.share * (1 - twins / len(found.issues)) if len(found.issues) else found.share
    if twins:
        measured |= {"suspects_with_a_twin_of_another_label": twins, "share_without_them": round(share, 4)}
    if found.share > warn_share and share <= warn_share:
        return verdict("D12", "pass", measured=measured, expected=expected, plots=plots,
                       advice=f"{twins} of the {len(found.issues)} suspects share their exact inputs with rows of "
                       "another label in the data: the same inputs with either outcome is noise in the task, which no "
                       f"relabelling removes, so they are not counted (the share without them: {share:.0%}).")
    floor = flip_floor(labels, probs)
    measured["surest"] = {"examples": floor.examples, "disagreeing": round(floor.disagreeing, 4),
                          "random_flips_at_most": round(floor.random_flips_at_most, 4)}
    surest = (f"among the {floor.examples} examples it is surest of (the most confident tenth of each class it "
              f"predicts), {floor.disagreeing:.1%} of the labels disagree with it")
    if share > warn_share and floor.random_flips_at_most <= warn_share:
        return verdict("D12", "pass", measured=measured, expected=expected, plots=plots,
                       advice=f"About {share:.0%} of the labels in {where} look wrong to the {model}, but {surest}: "
                       "labels flipped at random would disagree there as often as anywhere, so at most "
                       f"{floor.random_flips_at_most:.0%} can be (95% bound). The rest is most likely noise in the "
                       "task (inputs that do not settle the outcome), which relabelling does not remove; wrong labels "
                       "only on hard cases would look the same, so the suspects are listed for a look.")
    if share > warn_share:
        told = ("as labels flipped at random would; so would a task that stays partly chance even on its "
                "clearest cases, and these data cannot tell the two apart" if floor.disagreeing >= share / 2 else
                f"too few to rule out labels flipped at random: the bound is {floor.random_flips_at_most:.0%}")
        return verdict("D12", "warn", measured=measured, expected=expected, plots=plots,
                       advice=f"About {share:.0%} of the labels in {where} look wrong to the {model}, and {surest} "
                       f"({told}): look at the suspects (listed, most suspicious first); relabel or drop the ones "
                       "that are wrong, since label noise caps every score and hides real mistakes.")
    return verdict("D12", "pass", measured=measured, expected=expected, plots=plots,
                   advice=f"{len(found.issues)} suspect(s) listed for a look; the estimated share is low.")


def _suspect(prepared: Prepared, row: int, probs: np.ndarray, label: int) -> dict:
    likely = int(np.argmax(probs))
    return {"origin": prepared.origin(row), "given": label_text(prepared, label),
            "likely": label_text(prepared, likely), "p_likely": round(float(probs[likely]), 3),
            "p_given": round(float(probs[label]), 3)}


def _plot_suspects(prepared: Prepared, rows: np.ndarray, probs: np.ndarray, labels: np.ndarray, run_dir: Path,
                   where: str) -> str:
    from ..plots import save_figure

    images, _ = prepared.take(rows)
    low, high = value_range(images)
    titles = [f"given {label_text(prepared, y)}\nlikely {label_text(prepared, int(np.argmax(p)))} "
              f"{float(np.max(p)):.2f}\n{short_origin(prepared.origin(int(r)))}" for r, p, y in zip(rows, probs, labels,
                                                                                              strict=True)]
    name = "D12_label_issues_" + where.split()[0].replace("+", "_")
    return save_figure(image_grid(images, titles, low, high, f"D12: the most suspicious labels in {where}"),
                       run_dir, name)



# --- inspect: cross-validated probabilities of a cheap model on the training split ------------

def cheap_features(prepared: Prepared, rows: np.ndarray) -> np.ndarray:
    """The inputs of `rows` as a (N, features) matrix for a linear model, streamed: images
    area-averaged to at most SHRUNK_SIDE pixels a side, so that 10,000 photos take megabytes."""
    import tensorflow as tf

    dataset = prepared.stream("train", rows).map(lambda x, y: x).batch(256)
    if prepared.kind == "image":
        height, width = prepared.input_shape[:2]
        side = (min(height, SHRUNK_SIDE), min(width, SHRUNK_SIDE))
        if side != (height, width):
            dataset = dataset.map(lambda x: tf.image.resize(x, side, method="area"))
    parts = [batch.reshape(len(batch), -1) for batch in dataset.as_numpy_iterator()]
    return np.nan_to_num(np.concatenate(parts).astype("float64"), posinf=0.0, neginf=0.0)


def out_of_fold_probabilities(features: np.ndarray, labels: np.ndarray, classes: int, folds: int,
                              seed: int) -> np.ndarray:
    """K-fold probabilities of a standardised logistic regression: each example scored by a
    model that did not see it. A class smaller than K gets plain (unstratified) folds. Features
    that are mostly zeros (TF-IDF words) are fitted sparse and scaled, not centred: the unpenalised
    intercept takes up the centring, so the probabilities are the same, at a fraction of the cost
    (references.sparse_standardised)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import KFold, StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    sparse = mostly_zeros(features)
    if sparse:
        import scipy.sparse

        features = scipy.sparse.csr_matrix(features)
    stratify = np.bincount(labels, minlength=classes)[np.unique(labels)].min() >= folds
    splitter = (StratifiedKFold if stratify else KFold)(folds, shuffle=True, random_state=seed)
    probs = np.zeros((len(labels), classes))
    for fit_rows, score_rows in splitter.split(features, labels if stratify else None):
        model = make_pipeline(StandardScaler(with_mean=not sparse), LogisticRegression(max_iter=300))
        seen = np.unique(labels[fit_rows])
        if len(seen) < 2:  # a fold that saw one class: predicting it is all it can do
            probs[np.ix_(score_rows, seen)] = 1.0
            continue
        with one_blas_thread():
            model.fit(features[fit_rows], labels[fit_rows])
        probs[np.ix_(score_rows, model.classes_)] = model.predict_proba(features[score_rows])
    return probs


def check_label_issues(prepared: Prepared, limit: int, folds: int, warn_share: float, seed: int,
                       run_dir: Path) -> Verdict:
    """D12 at `inspect`: a seeded sample of at most `limit` training examples.

    The sample is scored by K-fold cross-validated logistic regression.

    Args:
        prepared: The run's data; the sample is drawn from its training split.
        limit: The most training examples sampled (`inspect.label_sample`).
        folds: K, the folds of the cross-validation (`inspect.label_folds`).
        warn_share: The estimated share of wrong labels above which it may warn
            (`inspect.label_issues_warn`).
        seed: The seed of the sample and of the folds.
        run_dir: The run folder the suspects are drawn in (images only).

    Returns:
        The D12 verdict of `judge_label_issues`: pass, warn or skip. Skip for regression.
    """
    if prepared.task == "regression":
        return verdict("D12", "skip", advice="confident learning needs classes; for a regression target, "
                       "E1's residuals at `evaluate` show the examples the model cannot fit")
    rows = prepared.sample_rows("train", limit, seed)
    labels = prepared.manifest.labels[rows].astype(np.int64)
    if len(rows) < 50 or len(np.unique(labels)) < 2:
        return judge_label_issues(prepared, rows, np.zeros((len(rows), 2)), warn_share, run_dir, "train",
                                  "cross-validated logistic regression")
    probs = out_of_fold_probabilities(cheap_features(prepared, rows), labels, prepared.num_classes, folds, seed)
    return judge_label_issues(prepared, rows, probs, warn_share, run_dir, "train (sampled)",
                              f"{folds}-fold cross-validated logistic regression")


@registers("inspect", "D12")
def _d12(c: Context) -> Verdict:
    s = c.config.inspect
    return check_label_issues(c.prepared, s.label_sample, s.label_folds, s.label_issues_warn, c.config.seed, c.run_dir)


@registers("evaluate", "D12")
def _d12_evaluate(c: EvaluateContext) -> Verdict:
    return check_held_out_label_issues(c.prepared, c.outputs, c.config.inspect.label_issues_warn, c.run_dir)


def check_held_out_label_issues(prepared: Prepared, outputs: dict[str, np.ndarray], warn_share: float,
                          run_dir: Path) -> Verdict:
    """D12 on val and test together, with the trained model's probabilities.

    The probabilities are out-of-sample, since it never trained on them, and from the strongest
    model the run has.

    Args:
        prepared: The run's data: the val and test splits' manifest rows.
        outputs: The trained model's outputs on "val" and "test", by split name.
        warn_share: The estimated share of wrong labels above which it may warn
            (`inspect.label_issues_warn`).
        run_dir: The run folder the suspects are drawn in (images only).

    Returns:
        The D12 verdict of `judge_label_issues`: pass, warn or skip. Skip for regression.
    """
    if prepared.task == "regression":
        return verdict("D12", "skip", stage="evaluate", advice="confident learning needs classes; E1's residuals "
                       "show the examples a regression model cannot fit")
    rows = np.concatenate([prepared.indices["val"], prepared.indices["test"]])
    probs = class_probabilities(np.concatenate([outputs["val"], outputs["test"]]), prepared.task)
    return judge_label_issues(prepared, rows, probs, warn_share, run_dir, "val+test", "trained model")
