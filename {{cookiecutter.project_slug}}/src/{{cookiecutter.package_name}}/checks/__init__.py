"""Recipe checks: each `check_*` function takes what it looks at (the prepared data, a
model, the config's values) and returns its verdict; `judge_*` is the pure decision a test
calls with planted numbers. Which stage runs each, with what: ../registry.py.

data.py and visualise.py (D), model.py (M), training.py (T1), batch_independence.py (T2),
loss_trend.py (T3), inference_mode.py (T4), weights_learn.py (T5), lr_find.py (T10),
reproducibility.py (T14), label_issues.py (D12), leakage.py (D11), target.py (D13), error_analysis.py (E).
The baselines (B) live in ../baselines.py.
"""
