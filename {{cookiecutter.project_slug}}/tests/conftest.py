import socket

import pytest

from {{ cookiecutter.package_name }}.config import load_config, with_values
from {{ cookiecutter.package_name }}.data import prepare


@pytest.fixture()
def in_tmp(tmp_path, monkeypatch):
    """Run in an empty folder, so run folders land in tmp_path/runs."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="session")
def config():
    return load_config()


@pytest.fixture(scope="session")
def prepared(config):
    return prepare(config)


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
