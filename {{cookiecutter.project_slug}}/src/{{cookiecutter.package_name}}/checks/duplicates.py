"""D3: the same example twice (by content key), and near-duplicates across splits."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..data import SPLITS, Prepared
from ..plots import save_figure
from ..registry import registers
from ..verdicts import Verdict, verdict
from .context import Context
from .near_duplicates import near_duplicates_across_splits
from .split import split_by_row
from .visualise import image_grid, label_text, short_origin


def check_duplicates(prepared: Prepared, run_dir: Path | None = None) -> Verdict:
    """D3: the same example twice (by content key), and near-duplicates across splits.

    D3 from the content keys: the same content with different labels (conflicting labels:
    fail for images and arrays, where it is a labelling mistake; warn for table rows, whose
    coarse columns repeat by nature and then carry noise no model removes), the same content in
    two splits (fail; the hash split keeps copies together, so this means two keys collided or
    the split was made elsewhere; a warn with data.split_by=row, which splits rows by number),
    copies inside a split (warn). Then near-duplicates across splits (near_duplicates.py): a
    warn, below the exact fails, with the pairs drawn for images.

    Args:
        prepared: The run's data; its manifest's content keys, labels and splits are compared,
            and near_duplicates.py looks at the inputs.
        run_dir: The run folder the near-duplicate pairs are drawn in (images only); None draws
            nothing.

    Returns:
        The D3 verdict, the first that applies: fail when every example holds the same input;
        then conflicting labels (warn for tables, fail otherwise); the same content in two splits
        (warn with data.split_by=row, fail otherwise); near-duplicates across splits (warn);
        copies inside a split (warn); pass when there are none.
    """
    keys, labels, splits = prepared.manifest.keys, prepared.manifest.labels, prepared.manifest.splits
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    counts = np.diff(np.r_[starts, len(keys)])
    groups = [order[s:s + c] for s, c in zip(starts[counts > 1], counts[counts > 1], strict=True)]
    conflicts = [g for g in groups if len(np.unique(labels[g])) > 1]
    leaks = [g for g in groups if len(np.unique(splits[g])) > 1]
    measured = {"duplicate_groups": len(groups), "duplicated_examples": int(sum(len(g) for g in groups)),
                "conflicting_label_groups": len(conflicts), "across_splits": len(leaks)}
    shown = (leaks if not split_by_row(prepared) else []) or conflicts or leaks or groups  # what the status names
    measured["examples"] = [[f"{SPLITS[splits[r]]}:{prepared.origin(int(r))} ({label_text(prepared, labels[r])})"
                             for r in g[:4]] for g in shown[:5]]
    expected = {"duplicate_groups": 0, "conflicting_label_groups": 0, "across_splits": 0,
                "val_and_test_with_a_near_twin_in_train": 0}
    near = near_duplicates_across_splits(prepared)
    measured |= {"near_duplicates": {
        "examples_judged": near["judged"], "with_a_near_twin_in_train": near["twinned"],
        "labels_agree": round(near["labels_agree"], 3),
        "labels_agree_by_chance": round(near["labels_agree_by_chance"], 3), "counted": near["copies"],
        "examples": [[f"{SPLITS[splits[r]]}:{prepared.origin(int(r))} ({label_text(prepared, labels[r])})"
                      for r in pair] for pair in near["pairs"][:5]]}}
    drawn = _plot_near_pairs(prepared, near["pairs"], run_dir) if near["copies"] and run_dir else None
    plots = [drawn] if drawn else []
    if groups and len(groups) == 1 and len(groups[0]) == len(keys):
        return verdict("D3", "fail", measured=measured, expected=expected,
                       advice="Every example holds the same input: the source reads one file or row over and over, "
                       "or the inputs were lost before they were saved.")
    if leaks and not split_by_row(prepared):
        status, advice = "fail", "The same example is in two splits: remove the copies before trusting val or test."
    elif conflicts and prepared.kind == "tabular":
        status, advice = "warn", (f"{len(conflicts)} row(s) appear with different labels (listed): either a "
                                  "labelling mistake, or columns too coarse to tell those examples apart"
                                  + ("." if split_by_row(prepared) else
                                     " (then data.split_by=row splits such rows as the separate records they "
                                     "are)."))
    elif conflicts:
        status, advice = "fail", (f"{len(conflicts)} input(s) appear with different labels (listed): at most one "
                                  "label can be right; fix or remove them before trusting any score.")
    elif leaks and split_by_row(prepared):
        status, advice = "warn", (f"{len(leaks)} input(s) are in two splits, as data.split_by=row splits rows "
                                  "by their number: right for records that only look alike (a table of coarse "
                                  "columns), wrong for copies of one record, which val and test would then "
                                  "score as if unseen.")
    elif near["copies"]:
        twins = near["twinned"]
        kind = "images (8 x 8 thumbnails at a cosine >= 0.99)" if prepared.kind == "image" else "rows (equal to " \
            "1% of a standard deviation in every column the model uses)"
        status, advice = "warn", (
            f"{twins['val']} val and {twins['test']} test example(s) have a near-duplicate in train: {kind}, "
            f"whose labels agree in {near['labels_agree']:.0%} of {len(near['pairs'])} pair(s) (by chance: "
            f"{near['labels_agree_by_chance']:.0%}); listed{' and drawn' if plots else ''}. A re-encoded or "
            "lightly changed copy inflates val and test as an exact one does: remove the copies, or keep "
            "each group in one split with data.group_column.")
    elif groups:
        status, advice = "warn", "Exact duplicates inside a split weigh those examples double: remove them."
    else:
        status, advice = "pass", ""
    return verdict("D3", status, measured=measured, expected=expected, advice=advice, plots=plots)


def _plot_near_pairs(prepared: Prepared, pairs: list[tuple[int, int]], run_dir: Path) -> str | None:
    """Up to 8 near-duplicate pairs across splits, side by side (images only)."""
    if prepared.kind != "image":
        return None
    rows = [r for pair in pairs[:8] for r in pair]
    images, _ = prepared.take(np.asarray(rows))
    titles = [f"{SPLITS[prepared.manifest.splits[r]]} {short_origin(prepared.origin(r))}" for r in rows]
    fig = image_grid(images, titles, *prepared.stats.pixel_range, "D3 near-duplicates across splits, in pairs")
    return save_figure(fig, run_dir, "D3_near_duplicates")


@registers("inspect", "D3")
def _d3(c: Context) -> Verdict:
    return check_duplicates(c.prepared, c.run_dir)
