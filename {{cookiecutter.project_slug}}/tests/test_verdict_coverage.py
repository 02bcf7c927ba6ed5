"""Every recipe ID that judges has a test in which it fails or warns (issue: a green PASS that
could not have been anything else teaches users to ignore green).

conftest.py records every verdict that the suite's tests build or read back from a run folder;
this test runs last and reads that record. It judges only a run of the whole suite: a subset
of the files cannot show what the others plant.
"""

import pytest

from {{ cookiecutter.package_name }}.recipe import CHECKS


def test_every_judging_id_was_seen_to_fail_or_warn(verdicts_seen):
    seen, whole_suite = verdicts_seen
    if not whole_suite:
        pytest.skip("judges the whole suite's verdicts; this run collected only part of it")
    judging = sorted({check.id for check in CHECKS if check.judges})
    never = [check_id for check_id in judging if not {"fail", "warn"} & set(seen.get(check_id, {}))]
    assert not never, (f"no test saw these recipe IDs fail or warn: {', '.join(never)}; plant the bug each "
                       "one judges, or declare the entry `judges=False` in recipe.py if it only measures")
    measuring = sorted({check.id for check in CHECKS} - set(judging))
    judged_anyway = [check_id for check_id in measuring if {"fail", "warn"} & set(seen.get(check_id, {}))]
    assert not judged_anyway, f"declared judges=False in recipe.py, yet seen to fail or warn: {judged_anyway}"
