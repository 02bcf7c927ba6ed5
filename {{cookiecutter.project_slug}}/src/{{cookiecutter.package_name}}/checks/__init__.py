"""Recipe checks, one module per family: each `check_*` function takes what it looks at (the
prepared data, a model, the config's values) and returns its verdict; `judge_*` is the pure
decision a test calls with planted numbers; a runner beside it, marked
`@registers(stage, id)` (../registry.py), says which stage runs it with what.

Importing this package imports every family, and so registers every runner of `inspect`,
`check` and `evaluate`. The file of each ID:

- split.py (D1, D2), duplicates.py and near_duplicates.py (D3), invalid.py (D4), balance.py (D5),
  outliers.py (D6), visualise.py (D7), batches.py (D8, D9), columns.py (D10), leakage.py (D11),
  label_issues.py (D12), target.py (D13), order_and_time.py (D14);
- model.py (M1-M3), architecture.py (M4);
- training.py (T1), batch_independence.py (T2), loss_trend.py (T3), inference_mode.py (T4),
  weights_learn.py (T5), lr_find.py (T10), reproducibility.py (T14), evaluation.py (T13);
- baselines.py (B1-B4), error_analysis.py (E1-E3);
- new_data.py (P1, P3: new rows at `predict`).

What `train` watches lives in ../callbacks/ (T6-T9, T11, T12), ../schedule.py (O1, O2) and
../resume.py (O5); the search in ../tune.py (O3) and the ensemble in ../evaluate.py (O4), which
rebuilds the search.
"""

from . import (  # noqa: F401  (imported for their registrations)
    architecture,
    balance,
    baselines,
    batch_independence,
    batches,
    columns,
    duplicates,
    error_analysis,
    evaluation,
    inference_mode,
    invalid,
    label_issues,
    leakage,
    loss_trend,
    lr_find,
    model,
    new_data,
    order_and_time,
    outliers,
    reproducibility,
    split,
    target,
    training,
    visualise,
    weights_learn,
)
