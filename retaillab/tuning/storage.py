"""Where studies live: a journal file under ``mlruns/optuna/`` by default, or any Optuna URL.

- ``None``: ``<project>/mlruns/optuna/<study>.journal`` (one host, any number of processes;
  Optuna's journal file takes a file lock per write).
- a path ending in ``.journal`` or ``.log``, or ``journal:///abs/path``: that journal file.
- an SQLAlchemy URL (``sqlite:///...``, ``postgresql://user@host/db``): Optuna's RDB storage,
  for workers on several machines.

A database storage records heartbeats: every running trial's process writes one every
``heartbeat_seconds`` (default 10), and a trial whose last heartbeat is more than
``grace_seconds`` old (default 30) is failed by the next process that looks (see
:func:`retaillab.tuning.trials.fail_stale_trials`): the only check that works across machines.
A journal file has no heartbeat; there a dead process is told by its host and pid (one host).

A SQLite file is put in write-ahead-log mode with a busy timeout, so the processes of one
host share it without "database is locked" errors.

On PostgreSQL, :func:`study_lock` takes a study-wide lock held by the database server, so the
processes of every machine take turns where it matters (a study's budget, its parent run).
"""

from __future__ import annotations

import contextlib
import hashlib
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from retaillab.errors import DataError

__all__ = ["GRACE_SECONDS", "HEARTBEAT_SECONDS", "database_engine", "database_url",
           "default_storage", "describe", "heartbeat", "journal_path", "open_storage",
           "study_lock"]

JOURNAL_SUFFIXES = (".journal", ".log")
#: seconds between two heartbeats of a running trial, on a database storage
HEARTBEAT_SECONDS = 10
#: a running trial whose last heartbeat is older than this is failed as stale
GRACE_SECONDS = 30
#: how long a process waits for another's write to a SQLite study before it gives up
SQLITE_BUSY_SECONDS = 60


def default_storage(study: str) -> str:
    """The default journal file of ``study`` (its folder is created).

    It sits beside the MLflow store: ``optuna/`` next to a SQLite file store (by default
    ``mlruns/optuna/``), else ``mlruns/optuna/`` in the project (a journal file serves one
    machine; studies shared between machines need a database storage). A study and the MLflow record
    of its trials then move together: a throwaway store gets a fresh study.
    """
    from retaillab import tracking

    store = tracking.store_folder()
    folder = (store if store is not None else tracking.project_root() / "mlruns") / "optuna"
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder / f"{tracking.slug(study)}.journal")


def journal_path(url: str) -> Path | None:
    """The journal file ``url`` names, or None for a database URL."""
    if url.startswith("journal://"):
        return Path(url[len("journal://"):])
    if "://" not in url and url.endswith(JOURNAL_SUFFIXES):
        return Path(url)
    return None


def describe(url: str) -> str:
    """``url`` with any password hidden, for logs and tags."""
    if journal_path(url) is not None:
        return url
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL sqlalchemy understands: nothing secret to hide in it
        return url


def database_url(url: str) -> str:
    """``url`` with a PostgreSQL driver that is installed: the rule MLflow's store URIs follow
    too (:func:`retaillab.tracking.database_uri`), so one ``postgresql://`` URL serves both."""
    from retaillab.tracking import database_uri

    return database_uri(url)


def open_storage(url: str, *, heartbeat_seconds: int | None = HEARTBEAT_SECONDS,
                 grace_seconds: int | None = GRACE_SECONDS) -> Any:
    """An Optuna storage for ``url``; a database one with heartbeats.

    ``heartbeat_seconds`` (None: no heartbeat) and ``grace_seconds`` apply to database
    storages only (Optuna's ``heartbeat_interval`` and ``grace_period``); a journal file has
    no heartbeat. Processes opening a new database at once may race to create Optuna's
    tables: on PostgreSQL they take turns (a lock in the database), elsewhere the loser tries
    once more, when the tables exist.

    Raises
    ------
    DataError
        When the storage cannot be opened: a missing folder, an unknown scheme, a database
        that does not answer, a heartbeat not a whole number of seconds. The message names
        the URL (password hidden) and the cause.
    """
    import optuna

    journal = journal_path(url)
    fix = ("give a journal file path (e.g. mlruns/optuna/study.journal) or a database URL "
           "such as sqlite:///mlruns/optuna.db or postgresql://user@host/db")
    if journal is not None:
        from optuna.storages.journal import JournalFileBackend

        if not journal.parent.is_dir():
            raise DataError(f"cannot open the Optuna journal: folder {journal.parent} does not "
                            "exist", source=describe(url), fix=fix)
        try:
            return optuna.storages.JournalStorage(JournalFileBackend(str(journal)))
        except OSError as exc:
            raise DataError(f"cannot open the Optuna journal: {exc}", source=describe(url),
                            fix=fix) from None
    if "://" not in url:
        raise DataError("is neither a journal file (*.journal, *.log) nor a database URL",
                        source=describe(url), fix=fix)
    for name, value in (("heartbeat_seconds", heartbeat_seconds),
                        ("grace_seconds", grace_seconds)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 1):
            raise DataError(f"{name} must be a whole number of seconds >= 1; got {value!r}",
                            source=describe(url), fix="set it in the tuning spec, e.g. 10")
    for attempt in (1, 2):
        try:
            with warnings.catch_warnings(), _schema_lock(url):
                # heartbeat_interval is "experimental" in Optuna
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(
                    database_url(url), heartbeat_interval=heartbeat_seconds,
                    grace_period=grace_seconds if heartbeat_seconds else None,
                    engine_kwargs=_sqlite_options(url))
        except Exception as exc:  # sqlalchemy/driver errors have no common base worth naming
            if attempt == 1 and _lost_creation_race(exc):
                continue
            cause = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if isinstance(exc, ImportError):  # no driver for the database
                fix = "install the database's driver (PostgreSQL: pip install -e '.[postgres]')"
            raise DataError(f"cannot open the Optuna storage: {type(exc).__name__}: {cause}",
                            source=describe(url), fix=fix) from None
    raise AssertionError("unreachable")  # pragma: no cover


def _sqlite_options(url: str) -> dict[str, Any] | None:
    """For a SQLite file: write-ahead logging (set once in the file: readers no longer wait
    for a writer, and a commit is one append) and a busy timeout of
    :data:`SQLITE_BUSY_SECONDS`, so processes sharing the file wait for each other's
    writes instead of failing with "database is locked". None for other databases."""
    if not url.startswith("sqlite:"):
        return None
    import sqlite3

    from sqlalchemy.engine import make_url

    database = make_url(url).database
    if database and database != ":memory:" and Path(database).parent.is_dir():
        with contextlib.closing(sqlite3.connect(database, timeout=SQLITE_BUSY_SECONDS)) as db:
            db.execute("PRAGMA journal_mode=WAL")
    return {"connect_args": {"timeout": SQLITE_BUSY_SECONDS}}


@contextlib.contextmanager
def _schema_lock(url: str) -> Iterator[None]:
    """On PostgreSQL, hold a lock in the database while Optuna creates or checks its tables
    (processes opening a new database at once would collide); elsewhere nothing."""
    if not url.startswith(("postgresql:", "postgresql+")):
        yield
        return
    import sqlalchemy

    engine = sqlalchemy.create_engine(database_url(url), poolclass=sqlalchemy.pool.NullPool)
    try:
        with engine.connect() as connection, connection.begin():
            connection.execute(sqlalchemy.text("SELECT pg_advisory_xact_lock(:key)"),
                               {"key": _lock_key("retaillab optuna schema")})
            yield
    finally:
        engine.dispose()


def _lock_key(text: str) -> int:
    """A PostgreSQL advisory lock key for ``text``: its SHA-256's first 8 bytes, signed."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big", signed=True)


def _lost_creation_race(exc: BaseException) -> bool:
    """Whether ``exc`` is another process creating Optuna's tables at the same moment."""
    text = str(exc).lower()
    return "already exists" in text or "duplicate key" in text or "unique constraint" in text


def heartbeat(storage: Any) -> tuple[int, int] | None:
    """``(interval, grace)`` in seconds of a storage (or a study's) that records heartbeats,
    else None (a journal file, a database storage opened without them)."""
    storage = getattr(storage, "_storage", storage)  # a study: its storage
    get_interval = getattr(storage, "get_heartbeat_interval", None)
    interval = get_interval() if get_interval is not None else None
    if interval is None:
        return None
    backend = getattr(storage, "_backend", storage)  # Optuna wraps an RDBStorage in a cache
    grace = getattr(backend, "grace_period", None)
    return int(interval), int(grace if grace is not None else 2 * interval)


def database_engine(storage: Any) -> Any:
    """The SQLAlchemy engine of a database storage (or a study's), else None."""
    storage = getattr(storage, "_storage", storage)
    backend = getattr(storage, "_backend", storage)
    return getattr(backend, "engine", None)


@contextlib.contextmanager
def study_lock(storage: Any, study: str) -> Iterator[bool]:
    """Hold study ``study``'s lock in its PostgreSQL database for the block; yields whether
    there was one to hold.

    A transaction-scoped advisory lock (``pg_advisory_xact_lock``, key: the first 8 bytes of
    SHA-256 of the study name): every process on every machine waits for it, and the
    server releases it when the block ends or the process holding it dies. On any other
    storage nothing is held (callers add the host's file lock, see
    :func:`retaillab.tuning.trials.budget_lock`).
    """
    engine = database_engine(storage)
    if engine is None or engine.dialect.name != "postgresql":
        yield False
        return
    import sqlalchemy

    with engine.connect() as connection, connection.begin():
        connection.execute(sqlalchemy.text("SELECT pg_advisory_xact_lock(:key)"),
                           {"key": _lock_key(f"retaillab study\n{study}")})
        yield True
