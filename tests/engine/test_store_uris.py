"""One PostgreSQL URI for MLflow and Optuna: a plain ``postgresql://`` gets the driver that is
installed, for the tracking store, ``retaillab server`` and ``retaillab ui`` as for Optuna's
storage; URIs are printed with their secrets masked. No database server is needed: only the
URIs are checked, and SQLAlchemy says whether it can build an engine for them."""

from __future__ import annotations

import importlib.util

import pytest

from retaillab import servers, tracking
from retaillab.tuning.storage import database_url

URIS = ["postgresql://ana:s3cret@db:5432/ml", "postgresql://db/ml?user=ana&password=s3cret",
        "postgresql+psycopg2://ana@db/ml", "postgresql+psycopg://ana@db/ml",
        "sqlite:////tmp/x/mlflow.db", "http://127.0.0.1:5000", "mysql://ana@db/ml"]


def installed(*names: str):
    """``importlib.util.find_spec`` as if only ``names`` of the PostgreSQL drivers were
    installed."""
    real = importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        if name in ("psycopg", "psycopg2"):
            return real("json") if name in names else None  # any spec stands for "installed"
        return real(name, *args, **kwargs)

    return find_spec


@pytest.mark.parametrize("drivers, expected", [
    (("psycopg2",), "postgresql+psycopg2://ana:s3cret@db:5432/ml"),  # the postgres extra
    (("psycopg",), "postgresql://ana:s3cret@db:5432/ml"),  # SQLAlchemy's default driver
    (("psycopg", "psycopg2"), "postgresql://ana:s3cret@db:5432/ml"),
    ((), "postgresql://ana:s3cret@db:5432/ml"),  # nothing to choose: the error says so later
])
def test_a_plain_postgresql_uri_gets_the_installed_driver_as_optuna_does(
        monkeypatch, drivers, expected):
    monkeypatch.setattr(importlib.util, "find_spec", installed(*drivers))
    assert tracking.database_uri(URIS[0]) == expected
    for uri in URIS:  # the same rewriting as Optuna's storage: one URI serves both
        assert tracking.database_uri(uri) == database_url(uri)
    for uri in URIS[2:]:  # a named driver, or no PostgreSQL at all: left alone
        assert tracking.database_uri(uri) == uri


def test_the_store_the_server_and_the_ui_take_the_plain_uri(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", installed("psycopg2"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", URIS[0])
    assert tracking.tracking_uri() == "postgresql+psycopg2://ana:s3cret@db:5432/ml"
    command = servers.server_command(URIS[0], "/tmp/artifacts")
    assert command[command.index("--backend-store-uri") + 1] == tracking.tracking_uri()
    command = servers.ui_command(URIS[0], 5000)
    assert command[command.index("--backend-store-uri") + 1] == tracking.tracking_uri()
    assert tracking.display_uri() == "postgresql+psycopg2://ana:***@db:5432/ml"


@pytest.mark.skipif(importlib.util.find_spec("psycopg") is not None
                    or importlib.util.find_spec("psycopg2") is None,
                    reason="shows the case of the postgres extra: psycopg2 alone")
def test_sqlalchemy_builds_an_engine_for_the_rewritten_uri_only():
    """What the rewriting is for, told by SQLAlchemy itself (an engine connects lazily, so
    no server is needed): the plain URI wants psycopg 3, which is not installed."""
    import sqlalchemy

    with pytest.raises(ImportError):
        sqlalchemy.create_engine(URIS[0])
    engine = sqlalchemy.create_engine(tracking.database_uri(URIS[0]))
    assert engine.dialect.driver == "psycopg2"
    engine.dispose()
