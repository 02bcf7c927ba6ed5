"""D12's cheap model and B3's linear reference with OpenBLAS' own threads against one thread.

    python benchmarks/blas_threads.py [--project PATH] [--only NAME,...] [--pairs 2] [--work DIR]

Both fits are scikit-learn's L-BFGS over a weight vector of a few thousand values: many small
BLAS products, where threads may cost more than they save. The checks run them under
`references.one_blas_thread`; here that context is swapped for a no-op (A: OpenBLAS' default
threads) and back (B: one thread), A B A B in one process on the same prepared data, and prints
each fit's seconds (medians), the ratio B / A pair by pair, and whether the results are the same.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from pathlib import Path

import numpy as np
from common import audit_tables, package, project_from_args


def more(parser):
    parser.add_argument("--only", default="breast_cancer,wide 2000x2000,diamonds cut=Fair,MNIST 5k digit,"
                                          "mn_police force_type,reuters_r8,election_tweets,health_tweets",
                        help="comma-separated dataset names of sparse_inputs.py's list")
    parser.add_argument("--pairs", type=int, default=2)
    parser.add_argument("--work", type=Path, default=Path(__file__).resolve().parents[1] / "build" / "audit_heldout")


args, project = project_from_args(__doc__, epochs=False, more=more)
config_module, data = package(project, "config"), package(project, "data")
references, label_issues = package(project, "references"), package(project, "checks.label_issues")
ONE_THREAD = references.one_blas_thread


def threads(one: bool) -> None:
    """The checks' fits on one BLAS thread (one) or on OpenBLAS' own (not one)."""
    context = ONE_THREAD if one else contextlib.nullcontext
    references.one_blas_thread = label_issues.one_blas_thread = context


def timed(prepared, config) -> dict:
    """D12's out-of-fold probabilities and B3's linear reference: seconds and results."""
    seed, settings = config.seed, config.inspect
    rows = prepared.sample_rows("train", settings.label_sample, seed)
    labels = prepared.manifest.labels[rows].astype(np.int64)
    features = label_issues.cheap_features(prepared, rows)
    started = time.perf_counter()
    probs = label_issues.out_of_fold_probabilities(features, labels, prepared.num_classes, settings.label_folds, seed)
    d12 = time.perf_counter() - started
    linear = references.score_references(prepared, config.check.reference_rows, seed)[0]["linear"]
    return {"d12": d12, "probs": probs, "b3": linear["seconds"], "val": linear["val"]["loss"]}


def main() -> None:
    tables = audit_tables(args.work)
    print(f"{args.pairs} pairs, A: OpenBLAS' own threads, B: one thread; medians, B / A per pair")
    print("| table | D12 s A, B | D12 B / A | B3 linear s A, B | B3 B / A | largest difference in D12's probabilities | "
          "B3 val loss A, B |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for table in filter(None, args.only.split(",")):
        make, label, task = tables[table]
        sets = [f"task={task}", "data.source=csv", f"data.location={make(args.work)}", f"data.label_column={label}"]
        config = config_module.load_config(None, sets)
        prepared = data.prepare(config)
        runs = {False: [], True: []}
        for _ in range(args.pairs):
            for one in (False, True):
                threads(one)
                runs[one].append(timed(prepared, config))
        threads(True)
        median = {one: {k: statistics.median(r[k] for r in found) for k in ("d12", "b3")} for one, found in runs.items()}
        ratio = {k: statistics.median(b[k] / a[k] for a, b in zip(runs[False], runs[True], strict=True))
                 for k in ("d12", "b3")}
        gap = float(np.abs(runs[False][0]["probs"] - runs[True][0]["probs"]).max())
        print(f"| {table} | {median[False]['d12']:.2f}, {median[True]['d12']:.2f} | {ratio['d12']:.2f} | "
              f"{median[False]['b3']:.2f}, {median[True]['b3']:.2f} | {ratio['b3']:.2f} | {gap:.1e} | "
              f"{runs[False][0]['val']:.5f}, {runs[True][0]['val']:.5f} |", flush=True)


main()
