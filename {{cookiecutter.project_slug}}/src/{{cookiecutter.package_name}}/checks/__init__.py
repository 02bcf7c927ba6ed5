"""Recipe checks: each check is a function of (model, data, config) that returns verdicts.

data.py and visualise.py (D), model.py (M), training.py (T1 and the helpers the T checks share),
batch_independence.py (T2), loss_trend.py (T3 before training), inference_mode.py (T4),
weights_learn.py (T5). The baselines (B) live in ../baselines.py.
"""
