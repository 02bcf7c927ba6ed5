"""E1-E3: look at the mistakes of the trained model on val (the split choices are made on).

E1 confusion and per-class scores (regression: predicted against true, residuals), E2 the
worst predictions shown as the model saw them with their origins, E3 calibration (expected
calibration error and a reliability diagram). They take the val outputs `evaluate` has
already computed: no second pass over the data, except E2's handful of examples.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from ..data import Prepared
from ..models import class_probabilities
from ..plots import new_figure, save_figure
from ..registry import registers
from ..rundir import RunFiles, write_whole
from ..verdicts import Verdict, verdict
from .context import EvaluateContext
from .visualise import image_grid, label_text, short_origin, value_range

PAIRS_SHOWN = 5  # most-confused pairs listed
# E1 for regression: predictions whose spread is below this share of the target's predict about the
# mean for every input (a model whose inputs do not reach its output).
FLAT_PREDICTIONS = 0.1
CLASSES_LISTED = 20  # per-class scores in the verdict; beyond this, the worst by F1


def per_example_loss(task: str, labels: np.ndarray, outputs: np.ndarray) -> np.ndarray:
    """The loss each val example contributes: -log p(label), or the squared error."""
    if task == "regression":
        return (np.asarray(outputs, "float64").reshape(-1) - labels.astype("float64")) ** 2
    probs = class_probabilities(outputs, task)
    return -np.log(np.clip(probs[np.arange(len(labels)), labels.astype(np.int64)], 1e-12, 1.0))


# --- E1 ----------------------------------------------------------------------------------------

def confusion(labels: np.ndarray, predicted: np.ndarray, classes: int) -> np.ndarray:
    matrix = np.zeros((classes, classes), np.int64)
    np.add.at(matrix, (labels, predicted), 1)
    return matrix


def judge_confusion(prepared: Prepared, labels: np.ndarray, predicted: np.ndarray) -> tuple[Verdict, np.ndarray]:
    """E1 for classes: per-class precision, recall and F1 from the confusion matrix.

    Args:
        prepared: The run's data: the number of classes and their names.
        labels: The val labels, as class ids.
        predicted: The predicted class ids, one per label.

    Returns:
        The E1 verdict and the confusion matrix (rows true, columns predicted). The verdict warns
        when a class present in val is never predicted (the model gave up on it), and passes
        otherwise.
    """
    classes = prepared.num_classes
    matrix = confusion(labels, predicted, classes)
    support, predicted_count, hits = matrix.sum(axis=1), matrix.sum(axis=0), np.diag(matrix)
    precision = np.divide(hits, predicted_count, out=np.zeros(classes), where=predicted_count > 0)
    recall = np.divide(hits, support, out=np.zeros(classes), where=support > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(classes), where=precision + recall > 0)
    names = [label_text(prepared, c) for c in range(classes)]
    scores = {names[c]: {"precision": round(float(precision[c]), 3), "recall": round(float(recall[c]), 3),
                         "f1": round(float(f1[c]), 3), "support": int(support[c])}
              for c in range(classes) if support[c] > 0}
    if len(scores) > CLASSES_LISTED:
        worst = sorted(scores, key=lambda name: scores[name]["f1"])[:CLASSES_LISTED]
        scores = {name: scores[name] for name in worst}
    off = matrix.copy()
    np.fill_diagonal(off, 0)
    pairs = [(int(i), int(j)) for i, j in zip(*np.unravel_index(np.argsort(-off, axis=None), off.shape), strict=True)
             if off[i, j] > 0][:PAIRS_SHOWN]
    confused = [f"{names[i]} taken for {names[j]}: {off[i, j]} of {support[i]}" for i, j in pairs]
    never = [names[c] for c in range(classes) if support[c] > 0 and predicted_count[c] == 0]
    measured = {"accuracy": round(float(hits.sum() / max(len(labels), 1)), 4),
                "macro_f1": round(float(f1[support > 0].mean()), 4), "most_confused": confused,
                "never_predicted": never, "per_class" if classes <= CLASSES_LISTED else "worst_classes": scores}
    if never:
        return verdict("E1", "warn", measured=measured, expected={"never_predicted": []},
                       advice=f"The model never predicts {', '.join(never[:10])} on val: it has given up on "
                       f"{'them' if len(never) > 1 else 'it'}. Look at the class balance (D5: class weights, priors "
                       "as output bias) and at those classes' examples."), matrix
    return verdict("E1", "pass", measured=measured, expected="every class predicted; look at the most "
                   "confused pairs: do they make sense?"), matrix


def check_confusion(prepared: Prepared, labels: np.ndarray, outputs: np.ndarray, run_dir: Path) -> Verdict:
    """E1: the confusion matrix and per-class scores on val; for regression, the residuals.

    Args:
        prepared: The run's data: the task, the number of classes and their names.
        labels: The val labels.
        outputs: The model's val outputs (logits, or the predictions for regression).
        run_dir: The run folder the plot is saved in.

    Returns:
        The E1 verdict of `judge_confusion`, with the confusion plot: warn when a class present
        in val is never predicted, pass otherwise. For regression, the verdict of
        `check_residuals`.
    """
    if prepared.task == "regression":
        return check_residuals(prepared, labels, outputs, run_dir)
    predicted = class_probabilities(outputs, prepared.task).argmax(axis=1)
    verdict, matrix = judge_confusion(prepared, labels.astype(np.int64), predicted)
    verdict.plots.append(_plot_confusion(prepared, matrix, run_dir))
    return verdict


def _plot_confusion(prepared: Prepared, matrix: np.ndarray, run_dir: Path) -> str:
    classes = len(matrix)
    rows = matrix.sum(axis=1, keepdims=True)
    normalised = np.divide(matrix, rows, out=np.zeros(matrix.shape), where=rows > 0)
    side = min(3 + 0.45 * classes, 14)
    fig, axes = new_figure(2 * side, side, ncols=2)
    names = [label_text(prepared, c) for c in range(classes)]
    for ax, values, heading in ((axes[0], matrix, "counts"), (axes[1], normalised, "share of each true class")):
        image = ax.imshow(normalised, cmap="Blues", vmin=0, vmax=1)
        if classes <= 20:
            for i in range(classes):
                for j in range(classes):
                    text = f"{values[i, j]:d}" if values is matrix else f"{values[i, j]:.2f}"
                    ax.text(j, i, text, ha="center", va="center", fontsize=7,
                            color="white" if normalised[i, j] > 0.5 else "black")
            ax.set_xticks(range(classes), names, rotation=90, fontsize=7)
            ax.set_yticks(range(classes), names, fontsize=7)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(f"E1 confusion on val: {heading}", fontsize=9)
    fig.colorbar(image, ax=axes[1], label="share of the true class")
    return save_figure(fig, run_dir, "E1_confusion")


def check_residuals(prepared: Prepared, labels: np.ndarray, outputs: np.ndarray, run_dir: Path) -> Verdict:
    """E1 for regression: predicted against true and residuals against the target.

    Args:
        prepared: The run's data; not read (it takes the same arguments as `check_confusion`).
        labels: The val targets.
        outputs: The model's val predictions.
        run_dir: The run folder the two plots are saved in.

    Returns:
        The E1 verdict, with the plots. Warn when the predictions hardly vary (std below 10% of
        the target's): the model predicts the mean. Pass otherwise.
    """
    y = labels.astype("float64")
    predicted = np.asarray(outputs, "float64").reshape(-1)
    residual = predicted - y
    target_std, predicted_std = float(y.std()), float(predicted.std())
    total = float(((y - y.mean()) ** 2).sum())
    measured = {"mae": round(float(np.abs(residual).mean()), 4),
                "rmse": round(float(np.sqrt((residual ** 2).mean())), 4),
                "r2": round(1 - float((residual ** 2).sum()) / total, 4) if total > 0 else None,
                "mean_residual": round(float(residual.mean()), 4),
                "prediction_std_over_target_std": round(predicted_std / target_std, 3) if target_std > 0 else None}
    fig, axes = new_figure(10, 4, ncols=2)
    axes[0].scatter(y, predicted, s=8, alpha=0.6)
    low, high = float(min(y.min(), predicted.min())), float(max(y.max(), predicted.max()))
    axes[0].plot([low, high], [low, high], color="grey", linestyle="--", linewidth=1, label="predicted = true")
    axes[0].set_xlabel("true")
    axes[0].set_ylabel("predicted")
    axes[0].legend(fontsize="small")
    axes[1].scatter(y, residual, s=8, alpha=0.6)
    axes[1].axhline(0, color="grey", linestyle="--", linewidth=1)
    axes[1].set_xlabel("true")
    axes[1].set_ylabel("predicted - true")
    fig.suptitle("E1 on val: predicted against true, and the residuals", fontsize=9)
    plots = [save_figure(fig, run_dir, "E1_residuals")]
    title = "Predicted against true"  # E1 for regression: no confusion to show
    if target_std > 0 and predicted_std < FLAT_PREDICTIONS * target_std:
        return verdict("E1", "warn", measured=measured,
                       expected={"prediction_std_over_target_std": f">= {FLAT_PREDICTIONS:g}"},
                       title=title, plots=plots, advice="The predictions hardly vary: the model predicts about the "
                       "mean for every input. Check that inputs reach the output (T5) and that the target's scale "
                       "suits the head (D2).")
    return verdict("E1", "pass", measured=measured, plots=plots, title=title,
                   expected="residuals without a trend against the target; look at the plot")


# --- E2 ----------------------------------------------------------------------------------------

def check_worst_predictions(prepared: Prepared, labels: np.ndarray, outputs: np.ndarray, shown: int,
                            run_dir: Path) -> Verdict:
    """E2: the val examples with the highest loss, as the model saw them.

    Images are drawn on the val range, table rows with their columns' raw values, each with
    label, prediction and probability, and named by its origin; every one is also in
    `worst_predictions.csv`.

    Args:
        prepared: The run's data; the shown examples are read back by their manifest rows.
        labels: The val labels.
        outputs: The model's val outputs.
        shown: How many examples are listed (`evaluate.worst_shown`).
        run_dir: The run folder the CSV file and, for images, the grid are written to.

    Returns:
        The E2 verdict, always `info`: it judges nothing; a person looks at the examples.
    """
    losses = per_example_loss(prepared.task, labels, outputs)
    order = np.argsort(-np.nan_to_num(losses, nan=np.inf), kind="stable")[:shown]
    rows = prepared.indices["val"][order]
    records = []
    for i, row in zip(order, rows, strict=True):
        record = {"origin": prepared.origin(int(row)), "label": label_text(prepared, labels[i]),
                  "loss": round(float(losses[i]), 4)}
        if prepared.task == "regression":
            record["predicted"] = f"{float(np.asarray(outputs[i]).reshape(-1)[0]):.4g}"
        else:
            probs = class_probabilities(outputs[i:i + 1], prepared.task)[0]
            record["predicted"] = label_text(prepared, int(probs.argmax()))
            record["probability"] = round(float(probs.max()), 3)
            record["p_label"] = round(float(probs[int(labels[i])]), 3)
        records.append(record)
    cells = prepared.raw_rows(rows)
    for record, row_cells in zip(records, cells or [], strict=False):
        record["row"] = row_cells
    _write_worst(records, run_dir)
    plots = [_plot_worst(prepared, rows, records, run_dir)] if prepared.kind == "image" and len(rows) else []
    return verdict("E2", "info", measured={"examples": records, "file": RunFiles.WORST_PREDICTIONS},
                   expected="look at them: label errors (D12), hard cases, or a pattern the model misses?", plots=plots)


def _write_worst(records: list[dict], run_dir: Path) -> None:
    """One line per example: origin, label, prediction, loss, then a table row's own cells."""

    fields = [key for key in records[0] if key != "row"] if records else []
    cells = list(records[0].get("row", {})) if records else []
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(fields + cells)
    for record in records:
        writer.writerow([record[key] for key in fields] + [record.get("row", {}).get(name, "") for name in cells])
    write_whole(run_dir / RunFiles.WORST_PREDICTIONS, buffer.getvalue())


def _plot_worst(prepared: Prepared, rows: np.ndarray, records: list[dict], run_dir: Path) -> str:
    images, _ = prepared.take(rows)
    low, high = value_range(images)
    titles = [f"label {r['label']}\npred {r['predicted']} {r.get('probability', '')}\n{short_origin(r['origin'])}"
              for r in records]
    return save_figure(image_grid(images, titles, low, high, "E2: the val examples with the highest loss"),
                       run_dir, "E2_worst_predictions")



# --- E3 ----------------------------------------------------------------------------------------

def reliability(confidence: np.ndarray, correct: np.ndarray, bins: int) -> tuple[float, np.ndarray, np.ndarray,
                                                                                  np.ndarray]:
    """ECE over equal-width confidence bins: sum over bins of (share of examples) x
    |accuracy - mean confidence|; and each bin's accuracy, confidence and count."""
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    count = np.bincount(which, minlength=bins)
    accuracy = np.divide(np.bincount(which, correct, bins), count, out=np.full(bins, np.nan), where=count > 0)
    mean_confidence = np.divide(np.bincount(which, confidence, bins), count, out=np.full(bins, np.nan),
                                where=count > 0)
    gaps = np.nan_to_num(np.abs(accuracy - mean_confidence))
    return float((count * gaps).sum() / max(len(confidence), 1)), accuracy, mean_confidence, count


def equal_mass_ece(confidence: np.ndarray, correct: np.ndarray, bins: int) -> float:
    """ECE over bins that hold the same number of examples each (adaptive binning; Nixon et al.
    2019): for a model whose confidences crowd the last equal-width bin
    (BENCHMARKS.md, "Check notes: E3") it still compares accuracy and confidence inside
    that crowd. Reported beside the equal-width ECE, which the verdict judges (the threshold and
    Guo et al.'s figures are for equal width)."""
    order = np.argsort(confidence, kind="stable")
    groups = [g for g in np.array_split(order, min(bins, len(order))) if len(g)]
    gaps = [len(g) * abs(float(correct[g].mean()) - float(confidence[g].mean())) for g in groups]
    return float(sum(gaps) / max(len(confidence), 1))


def best_temperature(outputs: np.ndarray, labels: np.ndarray, task: str) -> float:
    """The temperature T that minimises the val log loss of logits / T (Guo et al. 2017)."""
    from scipy.optimize import minimize_scalar

    def loss(log_t: float) -> float:
        return float(per_example_loss(task, labels, np.asarray(outputs, "float64") / np.exp(log_t)).mean())

    return float(np.exp(minimize_scalar(loss, bounds=(-3, 3), method="bounded").x))


NULL_DRAWS = 200  # E3: label draws from the model's own confidences, for the ECE a calibrated model shows


def check_calibration(prepared: Prepared, labels: np.ndarray, outputs: np.ndarray, bins: int, warn: float,
                      run_dir: Path) -> Verdict:
    """E3: top-label expected calibration error on val, and a reliability diagram.

    On a few dozen val rows ECE is mostly noise, even for a perfectly calibrated model
    (BENCHMARKS.md, "Check notes: E3"), so it warns only beyond
    the 99th percentile of the ECE that a calibrated model would show on the same confidences
    (labels drawn from them, NULL_DRAWS times: Broecker and Smith's consistency resampling).

    Args:
        prepared: The run's data: the task.
        labels: The val labels, as class ids.
        outputs: The model's val outputs (logits).
        bins: How many equal-width confidence bins (`evaluate.calibration_bins`).
        warn: The ECE above which it may warn (`evaluate.calibration_warn`).
        run_dir: The run folder the reliability diagram is saved in.

    Returns:
        The E3 verdict: warn when the ECE is above both `warn` and that 99th percentile; above
        `warn`, the advice names the temperature that would calibrate the model on val. Pass
        otherwise; skip for regression.
    """
    if prepared.task == "regression":
        return verdict("E3", "skip", advice="calibration is about probabilities; a regression model's errors "
                       "are in E1's residuals")
    probs = class_probabilities(outputs, prepared.task)
    confidence, correct = probs.max(axis=1), (probs.argmax(axis=1) == labels).astype("float64")
    ece, accuracy, mean_confidence, count = reliability(confidence, correct, bins)
    measured = {"ece": round(ece, 4), "ece_equal_mass": round(equal_mass_ece(confidence, correct, bins), 4),
                "mean_confidence": round(float(confidence.mean()), 4),
                "accuracy": round(float(correct.mean()), 4), "examples": len(labels), "bins": bins}
    plots = [_plot_reliability(accuracy, mean_confidence, count, bins, ece, run_dir)]
    rng = np.random.default_rng(0)
    noise = [reliability(confidence, (rng.random(len(confidence)) < confidence).astype("float64"), bins)[0]
             for _ in range(NULL_DRAWS)]
    measured["ece_if_calibrated_99th_percentile"] = round(float(np.quantile(noise, 0.99)), 4)
    expected = {"ece_at_most": max(warn, measured["ece_if_calibrated_99th_percentile"])}
    if ece <= expected["ece_at_most"]:
        return verdict("E3", "pass", measured=measured, expected=expected, plots=plots)
    temperature = best_temperature(outputs, labels, prepared.task)
    scaled = class_probabilities(np.asarray(outputs, "float64") / temperature, prepared.task)
    measured["ece_at_best_temperature"] = round(reliability(scaled.max(axis=1), correct, bins)[0], 4)
    measured["best_temperature"] = round(temperature, 3)
    side = "over" if confidence.mean() > correct.mean() else "under"
    return verdict("E3", "warn", measured=measured, expected=expected, plots=plots,
                   advice=f"The model is {side}confident on val (ECE {ece:.3f}): its probabilities cannot be read "
                   f"as chances. Dividing the logits by a temperature of {temperature:.2f}, fitted on val, brings "
                   f"ECE to {measured['ece_at_best_temperature']:.3f} (temperature scaling); more data, label "
                   "smoothing or less training also help.")


def _plot_reliability(accuracy, mean_confidence, count, bins: int, ece: float, run_dir: Path) -> str:
    fig, axes = new_figure(9, 4, ncols=2)
    centres = (np.arange(bins) + 0.5) / bins
    axes[0].bar(centres, np.nan_to_num(accuracy), width=1 / bins, edgecolor="black", alpha=0.7, label="accuracy")
    axes[0].plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="perfect calibration")
    shown = count > 0
    axes[0].plot(mean_confidence[shown], accuracy[shown], "o", color="tab:red", markersize=4,
                 label="a bin: (mean confidence, accuracy)")
    axes[0].set_xlabel("confidence (top class probability)")
    axes[0].set_ylabel("accuracy")
    axes[0].set_xlim(0, 1)
    axes[0].set_ylim(0, 1)
    axes[0].legend(fontsize="small", loc="upper left")
    axes[0].set_title(f"E3 reliability on val: ECE {ece:.3f}", fontsize=9)
    axes[1].bar(centres, count, width=1 / bins, edgecolor="black", alpha=0.7)
    axes[1].set_yscale("log")  # a good model puts most examples in the last bin
    axes[1].set_xlim(0, 1)
    axes[1].set_xlabel("confidence")
    axes[1].set_ylabel("val examples (log scale)")
    axes[1].set_title("examples per bin", fontsize=9)
    return save_figure(fig, run_dir, "E3_reliability")


@registers("evaluate", "E1")
def _e1(c: EvaluateContext) -> Verdict:
    return check_confusion(c.prepared, c.prepared.labels("val"), c.outputs["val"], c.run_dir)


@registers("evaluate", "E2")
def _e2(c: EvaluateContext) -> Verdict:
    return check_worst_predictions(c.prepared, c.prepared.labels("val"), c.outputs["val"],
                                   c.config.evaluate.worst_shown, c.run_dir)


@registers("evaluate", "E3")
def _e3(c: EvaluateContext) -> Verdict:
    s = c.config.evaluate
    return check_calibration(c.prepared, c.prepared.labels("val"), c.outputs["val"], s.calibration_bins,
                             s.calibration_warn, c.run_dir)
