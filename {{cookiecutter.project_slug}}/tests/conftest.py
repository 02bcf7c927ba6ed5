import os
import socket
from collections import defaultdict
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.config import load_config, with_values
from {{ cookiecutter.package_name }}.data import prepare
from {{ cookiecutter.package_name }}.data.batching import settled
from {{ cookiecutter.package_name }}.verdicts import Verdict

COVERAGE_TEST = "test_verdict_coverage.py"
VERDICTS_SEEN = pytest.StashKey[dict]()
WHOLE_SUITE = pytest.StashKey[bool]()


def pytest_configure(config):
    """Record every verdict a test builds or reads back (id -> statuses and the tests that saw
    each), so that test_verdict_coverage.py can say which IDs no test ever saw fail or warn."""
    seen = config.stash[VERDICTS_SEEN] = defaultdict(lambda: defaultdict(set))
    config.stash[WHOLE_SUITE] = True
    checked = Verdict.__post_init__

    def recording(verdict):
        checked(verdict)
        test = os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0]
        seen[verdict.id][verdict.status].add(test)

    Verdict.__post_init__ = recording


def pytest_deselected(items):
    if items:
        items[0].config.stash[WHOLE_SUITE] = False


def pytest_collection_modifyitems(session, config, items):
    """The coverage test runs last, and only judges when every test file was collected."""
    collected = {Path(str(item.fspath)).name for item in items}
    on_disk = {path.name for path in Path(__file__).parent.glob("test_*.py")}
    if collected != on_disk:
        config.stash[WHOLE_SUITE] = False
    items.sort(key=lambda item: Path(str(item.fspath)).name == COVERAGE_TEST)


@pytest.fixture()
def verdicts_seen(request):
    """(every verdict seen so far by ID and status, whether the whole suite runs)."""
    return request.config.stash[VERDICTS_SEEN], request.config.stash[WHOLE_SUITE]


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
    """The default config as a stage runs with it on the bundled data: data.batch_size decided."""
    return settled(load_config(), prepared)


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
