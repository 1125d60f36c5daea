"""Where studies live: a journal file under ``mlruns/optuna/`` by default, or any Optuna URL.

- ``None``: ``<project>/mlruns/optuna/<study>.journal`` (one host, any number of processes;
  Optuna's journal file takes a file lock per write).
- a path ending in ``.journal`` or ``.log``, or ``journal:///abs/path``: that journal file.
- an SQLAlchemy URL (``sqlite:///...``, ``postgresql://user@host/db``): Optuna's RDB storage,
  for workers on several machines.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from retaillab.errors import DataError

__all__ = ["default_storage", "describe", "journal_path", "open_storage"]

JOURNAL_SUFFIXES = (".journal", ".log")


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


def open_storage(url: str) -> Any:
    """An Optuna storage for ``url``.

    Raises
    ------
    DataError
        When the storage cannot be opened: a missing folder, an unknown scheme, a database
        that does not answer. The message names the URL (password hidden) and the cause.
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
    try:
        return optuna.storages.RDBStorage(url)
    except Exception as exc:  # sqlalchemy/driver errors have no common base worth naming
        cause = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"cannot open the Optuna storage: {type(exc).__name__}: {cause}",
                        source=describe(url), fix=fix) from None
