"""P1's unknown-word share on real text: each table's test split must stay quiet, and the same
rows with their text taken from another table (another domain, the same language) must be flagged.

The held-out text tables of heldout_media.py (none of them chose TEXT_OOV_MARGIN or any other
P1 setting), each over several seeds (the seed moves every row's split): `prepare`, the training
profile as `train` saves it, then P1's column comparison (`compare_columns`, what `predict`
runs block by block) on
- the test split's own text cells (healthy: any finding is a false warning),
- the test rows with a quarter of their texts from the next table (a partial drift),
- the test rows with every text from the next table.
No model is trained: the profile depends on the training rows alone.

    python benchmarks/heldout_media.py --work build/audit_heldout   # writes the CSVs, once
    python benchmarks/text_drift_audit.py --project /abs/path/to/project \\
        --media /abs/path/to/build/audit_heldout/heldout_media [--seeds 3]
"""

from __future__ import annotations

import csv
import sys
import time
from pathlib import Path

import numpy as np
from common import package, project_from_args

TABLES = ["reuters_r8", "election_tweets", "food_reviews", "health_tweets", "debates_2016"]


def more(parser):
    parser.add_argument("--media", type=Path, required=True, help="heldout_media.py's folder of CSVs")
    parser.add_argument("--seeds", type=int, default=3)


args, project = project_from_args(__doc__, epochs=False, more=more)
config_module, data, new_data = package(project, "config"), package(project, "data"), package(project, "checks.new_data")
csv.field_size_limit(sys.maxsize)


def texts_of(name: str) -> list[str]:
    with (args.media / f"{name}.csv").open(newline="", encoding="utf-8") as handle:
        return [row["text"] for row in csv.DictReader(handle)]


def flagged(known: dict, cells: list[str]) -> bool:
    found = new_data.compare_columns({"text": known}, {"text": cells}, list(range(2, len(cells) + 2)))
    return any(f["column"] == "text" and f["what"] == "words outside the vocabulary" for f in found)


def mean_share(known: dict, cells: list[str]) -> float:
    shares, worded = new_data.unknown_shares(cells, set(known["words"]))
    return float(shares[worded].mean())


print(f"{'table':16} {'seed':>4} {'val share':>9} {'test share':>10} {'test':>6} {'25% swapped':>11} "
      f"{'all swapped':>11} {'its share':>9} {'s':>5}")
false_warns = caught_all = caught_quarter = runs = 0
for index, name in enumerate(TABLES):
    other = texts_of(TABLES[(index + 1) % len(TABLES)])
    for seed in range(args.seeds):
        start = time.perf_counter()
        labels = {row["label"] for row in csv.DictReader((args.media / f"{name}.csv").open(encoding="utf-8"))}
        config = config_module.load_config(None, [
            f"task={'binary' if len(labels) == 2 else 'classification'}", "data.source=csv",
            f"data.location={args.media / f'{name}.csv'}", "data.label_column=label", "data.drop_invalid=true",
            f"seed={seed}"])
        prepared = data.prepare(config)
        known = new_data.training_profile(prepared, seed).get("text")
        if known is None:
            print(f"{name:16} {seed:>4} no text profile (the column was not read as free text)")
            continue
        test = [row["text"] for row in prepared.raw_rows(prepared.indices["test"])]
        rng = np.random.default_rng(seed)
        swapped = list(rng.choice(other, len(test)))
        quarter = [s if i % 4 == 0 else t for i, (t, s) in enumerate(zip(test, swapped, strict=True))]
        healthy, partly, wholly = flagged(known, test), flagged(known, quarter), flagged(known, swapped)
        runs += 1
        false_warns += healthy
        caught_quarter += partly
        caught_all += wholly
        print(f"{name:16} {seed:>4} {known['unknown_share']:>9.3f} {mean_share(known, test):>10.3f} "
              f"{'WARN' if healthy else 'quiet':>6} {'warn' if partly else 'quiet':>11} "
              f"{'warn' if wholly else 'quiet':>11} {mean_share(known, swapped):>9.3f} "
              f"{time.perf_counter() - start:>5.1f}", flush=True)
print(f"\n{runs} runs: false warnings on the test split {false_warns}/{runs}; a quarter swapped flagged "
      f"{caught_quarter}/{runs}; every text swapped flagged {caught_all}/{runs}")
