"""A tracking store checked before use: one message for a store that cannot work.

MLflow reports a corrupt SQLite file, a read-only database, a typo in the URI or a server
that does not answer as SQLAlchemy or HTTP tracebacks, and retries an unreachable server for
minutes first. :func:`check` looks before MLflow does, within seconds, and :func:`explain`
turns what MLflow raised later into the same kind of message: what, where, how to fix.
"""

from __future__ import annotations

import os
from pathlib import Path

from retaillab.errors import DataError

#: URI schemes MLflow's tracking stores accept
SCHEMES = ("sqlite", "http", "https", "postgresql", "mysql", "mssql", "databricks", "file")
PROBE_SECONDS = 3.0
SQLITE_HEADER = b"SQLite format 3\x00"


class StoreError(DataError):
    """An MLflow tracking store that cannot be used as it is."""


def display_uri(uri: str) -> str:
    """``uri`` with any password masked, for printing.

    ``postgresql://ana:s3cret@db:5432/ml`` -> ``postgresql://ana:***@db:5432/ml``; a secret
    in the query (``?password=...``, ``token=...``) is masked too.
    """
    import re

    text = re.sub(r"(//[^/:@?#]*:)[^/@?#]*@", r"\1***@", str(uri))
    return re.sub(r"(?i)([?&](?:password|passwd|pwd|token|secret|key)=)[^&#]*", r"\1***", text)


def _where(uri: str) -> str:
    return f"MLflow store {display_uri(uri)}"


def check(uri: str) -> None:
    """Refuse, with one :class:`StoreError`, a store that cannot work; cheap when it can."""
    scheme = uri.split(":", 1)[0].split("+", 1)[0].lower() if ":" in uri else ""
    if scheme not in SCHEMES:
        raise StoreError(f"is not a tracking URI MLflow knows (scheme {scheme or 'none'!r})",
                         source=_where(uri),
                         fix="set MLFLOW_TRACKING_URI to sqlite:////path/mlflow.db, "
                             "http://host:port or postgresql://user@host/db, or unset it "
                             "for the project's mlruns/mlflow.db")
    if scheme == "sqlite":
        _check_sqlite(uri)
    elif scheme in ("http", "https"):
        _check_server(uri)


def _check_sqlite(uri: str) -> None:
    path_text = uri[len("sqlite:///"):].split("?", 1)[0] if uri.startswith("sqlite:///") else ""
    if not path_text or path_text == ":memory:":
        return
    path = Path(path_text)
    if not path.parent.is_dir():
        raise StoreError(f"the folder {path.parent} does not exist", source=_where(uri),
                         fix=f"create it (mkdir -p {path.parent}) or point "
                             "MLFLOW_TRACKING_URI at an existing folder")
    if path.exists():
        try:
            with open(path, "rb") as handle:
                head = handle.read(len(SQLITE_HEADER))
        except OSError as exc:
            raise StoreError(f"cannot be read: {exc.strerror}", source=_where(uri),
                             fix=f"check the permissions of {path}") from None
        if head and head != SQLITE_HEADER:
            raise StoreError("is not an SQLite database (the file is corrupt or something "
                             "else)", source=_where(uri),
                             fix=f"move {path} aside; a new store is created in its place")
    writable = os.access(path if path.exists() else path.parent, os.W_OK) and \
        os.access(path.parent, os.W_OK)
    if not writable or "mode=ro" in uri:
        raise StoreError("is read-only: runs cannot be recorded or ended", source=_where(uri),
                         fix=f"make {path} and its folder writable, or copy the store to a "
                             "writable folder and point MLFLOW_TRACKING_URI there")


def _check_server(uri: str) -> None:
    import base64
    import urllib.error
    import urllib.parse
    import urllib.request

    parts = urllib.parse.urlsplit(uri)
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    base = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
    request = urllib.request.Request(base + "/health")
    if parts.username:
        token = f"{urllib.parse.unquote(parts.username)}:" \
                f"{urllib.parse.unquote(parts.password or '')}"
        request.add_header("Authorization", "Basic " + base64.b64encode(token.encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=PROBE_SECONDS):
            return
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            raise StoreError(f"refused the credentials (HTTP {exc.code})", source=_where(uri),
                             fix="set MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD or "
                                 "put the right user in the URI") from None
        return  # it answers; a server without /health is still a server
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise StoreError(f"does not answer within {PROBE_SECONDS:g} s ({reason})",
                         source=_where(uri),
                         fix="start the server (retaillab server / mlflow server), check the "
                             "host and port, or unset MLFLOW_TRACKING_URI for the local "
                             "store") from None


def explain(exc: BaseException, uri: str) -> StoreError | None:
    """The :class:`StoreError` for an error MLflow or SQLAlchemy raised on ``uri``, if it is
    one about the store itself (else None: a bug, keep its traceback)."""
    text = f"{type(exc).__name__}: {exc}"
    lowered = text.lower()
    if "readonly database" in lowered or "read-only" in lowered:
        return StoreError("is read-only: runs cannot be recorded or ended", source=_where(uri),
                          fix="make the store writable, or copy it to a writable folder")
    if "file is not a database" in lowered or "database disk image is malformed" in lowered:
        return StoreError("is not a readable SQLite database (corrupt)", source=_where(uri),
                          fix="move the file aside; a new store is created in its place")
    if "unable to open database" in lowered or "disk i/o error" in lowered:
        return StoreError("cannot be opened", source=_where(uri),
                          fix="check that its folder exists and is writable")
    if "database or disk is full" in lowered or "no space left" in lowered:
        return StoreError("has no space left on its disk", source=_where(uri),
                          fix="free some space, then rerun: finished runs are kept")
    if "could not find a registered tracking store" in lowered or \
            "unsupported uri" in lowered:
        return StoreError("is not a tracking URI MLflow knows", source=_where(uri),
                          fix="set MLFLOW_TRACKING_URI to a sqlite:///, http:// or "
                              "postgresql:// URI")
    if "connection refused" in lowered or "max retries exceeded" in lowered or \
            "could not connect" in lowered or "could not translate host" in lowered:
        return StoreError("does not answer", source=_where(uri),
                          fix="start the server or database, or check the URI")
    return None
