import socket
from collections import defaultdict
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.config import load_config, with_values
from {{ cookiecutter.package_name }}.data import prepare
from {{ cookiecutter.package_name }}.recipe import CHECKS
from {{ cookiecutter.package_name }}.resolve import resolve
from {{ cookiecutter.package_name }}.verdicts import Verdict

# Every recipe ID that judges must be seen to fail or warn in some test of the suite (a green PASS
# that could not have been anything else teaches users to ignore green). conftest records every
# verdict the tests build or read back from a run folder, and the suite's end judges the record:
# not a test, because under pytest-xdist (`make test` runs two workers) each worker sees only its
# own tests' verdicts, and only the controller, once every worker is done, sees them all.
VERDICTS_SEEN = pytest.StashKey[dict]()
WHOLE_SUITE = pytest.StashKey[bool]()


def pytest_configure(config):
    """Record every verdict a test builds or reads back: ID -> the statuses seen."""
    seen = config.stash[VERDICTS_SEEN] = defaultdict(set)
    config.stash[WHOLE_SUITE] = True
    checked = Verdict.__post_init__

    def recording(verdict):
        checked(verdict)
        seen[verdict.id].add(verdict.status)

    Verdict.__post_init__ = recording


def pytest_deselected(items):
    if items:
        items[0].config.stash[WHOLE_SUITE] = False


def pytest_collection_modifyitems(session, config, items):
    """The coverage is judged only when every test file was collected (a subset of the files
    cannot show what the others plant)."""
    collected = {Path(str(item.fspath)).name for item in items}
    on_disk = {path.name for path in Path(__file__).parent.glob("test_*.py")}
    if collected != on_disk:
        config.stash[WHOLE_SUITE] = False


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """pytest-xdist's controller: a worker is done; add what its tests saw to the record."""
    output = getattr(node, "workeroutput", {})
    seen = node.config.stash[VERDICTS_SEEN]
    for check_id, statuses in output.get("verdicts_seen", {}).items():
        seen[check_id].update(statuses)
    node.config.stash[WHOLE_SUITE] &= output.get("whole_suite", False) and error is None


def pytest_sessionfinish(session, exitstatus):
    config = session.config
    seen, whole_suite = config.stash[VERDICTS_SEEN], config.stash[WHOLE_SUITE]
    if hasattr(config, "workeroutput"):  # a pytest-xdist worker: the controller judges
        config.workeroutput["verdicts_seen"] = {check_id: sorted(statuses) for check_id, statuses in seen.items()}
        config.workeroutput["whole_suite"] = whole_suite and session.testscollected > 0
        return
    if not whole_suite or exitstatus != pytest.ExitCode.OK:
        return
    problems = verdict_coverage_problems(seen)
    if problems:
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        reporter.line("")
        reporter.write_sep("=", "verdict coverage", red=True)
        for problem in problems:
            reporter.write_line(problem)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def verdict_coverage_problems(seen: dict) -> list[str]:
    """What the whole suite's verdicts leave unshown: a judging recipe ID never seen to fail or
    warn, or one declared to measure only (`judges=False`) seen to."""
    judging = sorted({check.id for check in CHECKS if check.judges})
    never = [check_id for check_id in judging if not {"fail", "warn"} & seen.get(check_id, set())]
    measuring = sorted({check.id for check in CHECKS} - set(judging))
    judged_anyway = [check_id for check_id in measuring if {"fail", "warn"} & seen.get(check_id, set())]
    problems = []
    if never:
        problems.append(f"no test saw these recipe IDs fail or warn: {', '.join(never)}; plant the bug each one "
                        "judges, or declare the entry `judges=False` in recipe.py if it only measures")
    if judged_anyway:
        problems.append(f"declared judges=False in recipe.py, yet seen to fail or warn: {', '.join(judged_anyway)}")
    return problems


@pytest.fixture()
def in_tmp(tmp_path, monkeypatch):
    """Run in an empty folder, so run folders land in tmp_path/runs."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="session")
def prepared():
    return prepare(load_config())


@pytest.fixture(scope="session")
def config(prepared):
    """The default config as a stage runs with it on the bundled data: every auto decided."""
    return resolve(load_config(), prepared).config


@pytest.fixture()
def small_config(config):
    """Budgets small enough for a test: a narrow model, few steps."""
    return with_values(config, {"model.hidden_units": 32, "model.filters": 8, "train.epochs": 1,
                               "train.min_steps": 0})


@pytest.fixture()
def free_ports():
    """free_ports(n): n ports free on 127.0.0.1 now, for the processes of a distributed test."""
    return _free_ports


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()
