"""Heartbeat settings: in the spec (checked, with defaults), on database storages only, and
recorded by every trial of a study on one; ``postgresql://`` opens with the installed driver.
(The server-backed tests, a killed worker on another machine among them, are in
tests/services.)"""

from __future__ import annotations

import sqlite3

import pytest

from retaillab.cli import main
from retaillab.errors import DataError
from retaillab.tuning import load_tune_spec, tune
from retaillab.tuning.storage import database_url, heartbeat, open_storage, study_lock

from .conftest import write_spec


def test_the_spec_has_heartbeat_defaults_and_takes_its_own(store):
    spec = load_tune_spec(write_spec(store))
    assert (spec.heartbeat_seconds, spec.grace_seconds) == (10, 30)
    spec = load_tune_spec(write_spec(store, heartbeat_seconds=2, grace_seconds=5))
    assert (spec.heartbeat_seconds, spec.grace_seconds) == (2, 5)


@pytest.mark.parametrize(("changes", "message"), [
    ({"heartbeat_seconds": 0}, "'heartbeat_seconds' must be a whole number of seconds >= 1"),
    ({"heartbeat_seconds": 1.5}, "'heartbeat_seconds' must be a whole number of seconds >= 1"),
    ({"grace_seconds": True}, "'grace_seconds' must be a whole number of seconds >= 1"),
    ({"heartbeat_seconds": 10, "grace_seconds": 10},
     "'grace_seconds' must be more than heartbeat_seconds (10)"),
])
def test_bad_heartbeat_settings_name_the_key(store, capsys, changes, message):
    assert main(["tune", str(write_spec(store, **changes))]) == 2
    assert message in capsys.readouterr().err


def test_only_database_storages_have_heartbeats(tmp_path):
    journal = open_storage(str(tmp_path / "s.journal"), heartbeat_seconds=2, grace_seconds=5)
    assert heartbeat(journal) is None
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    assert heartbeat(open_storage(url)) == (10, 30)
    assert heartbeat(open_storage(url, heartbeat_seconds=2, grace_seconds=5)) == (2, 5)
    assert heartbeat(open_storage(url, heartbeat_seconds=None)) is None
    with pytest.raises(DataError, match="heartbeat_seconds must be a whole number"):
        open_storage(url, heartbeat_seconds=0)
    with study_lock(journal, "s") as held:  # a lock in the database on PostgreSQL only
        assert held is False


def test_every_trial_of_a_study_on_a_database_records_its_heartbeat(store):
    """A study on an SQLite database: each trial wrote a row in Optuna's heartbeat table
    (read with sqlite3, not Optuna), and all of them completed."""
    db = store / "optuna.db"
    result = tune(load_tune_spec(write_spec(store, n_trials=3)), storage=f"sqlite:///{db}",
                  plots=False)
    assert result.counts == {"COMPLETE": 3}
    with sqlite3.connect(db) as connection:
        beats = connection.execute("SELECT trial_id FROM trial_heartbeats").fetchall()
        trials = connection.execute("SELECT trial_id FROM trials").fetchall()
    assert sorted(beats) == sorted(trials) and len(trials) == 3


def test_postgresql_urls_open_with_the_driver_that_is_installed(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    url = "postgresql://ana@db:5432/optuna"

    def only(*installed):
        monkeypatch.setattr(importlib.util, "find_spec",
                            lambda name, *a: real("json") if name in installed else None)

    only("psycopg2")  # the postgres extra; SQLAlchemy 2.1 would look for psycopg 3
    assert database_url(url) == "postgresql+psycopg2://ana@db:5432/optuna"
    only("psycopg", "psycopg2")
    assert database_url(url) == url
    only("psycopg2")
    for other in ("postgresql+psycopg://ana@db/o", "sqlite:///x.db", "mysql://a@b/c"):
        assert database_url(other) == other


def test_a_running_trial_beats_every_interval_until_it_ends(tmp_path):
    """Between the first heartbeat (recorded as the trial is created) and the end, a thread
    records one per interval; none after the block."""
    import threading

    import optuna

    from retaillab.tuning.trials import _beating

    storage = open_storage(f"sqlite:///{tmp_path / 'optuna.db'}", heartbeat_seconds=1,
                           grace_seconds=3)
    study = optuna.create_study(storage=storage)
    with pytest.warns(UserWarning, match="Heartbeat of storage"):  # ask outside optimize
        trial = study.ask()
    beats, twice = [], threading.Event()
    record = storage.record_heartbeat

    def counting(trial_id):
        record(trial_id)
        beats.append(trial_id)
        if len(beats) == 2:
            twice.set()

    storage.record_heartbeat = counting
    with _beating(study, trial):
        assert twice.wait(timeout=30), "no second heartbeat"
    after = len(beats)
    assert set(beats) == {trial._trial_id} and after >= 2
    assert not any(t.name.startswith("heartbeat-") for t in threading.enumerate())
    assert len(beats) == after  # the thread is gone: nothing more is recorded
