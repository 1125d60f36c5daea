"""A throwaway PostgreSQL server for the tests of shared stores, one per test session.

``postgres`` (session) runs Debian's ``initdb`` and ``pg_ctl`` (found on PATH or under
``/usr/lib/postgresql/<version>/bin``, the newest version) in a temporary folder: the server
listens on 127.0.0.1 only, on a free port, with its unix socket in that folder and trust
authentication, durability off (a test server). As root (CI) they run as the ``postgres``
system user, since initdb refuses root. It yields ``postgresql://postgres@127.0.0.1:PORT/retaillab``
and is stopped (``pg_ctl stop -m immediate``) and removed at the end of the session. Tests are
skipped, with the reason, only when there is no initdb or no psycopg2 driver.

MLflow's schema migrations take seconds, so they run once per session into a template
database; ``pg_store`` gives each test a fresh copy of it (``CREATE DATABASE ... TEMPLATE``,
a fraction of a second) as ``MLFLOW_TRACKING_URI``, like the root conftest's SQLite ``store``.
MLflow is given the URL with its driver named (``postgresql+psycopg2://`` where psycopg 3,
SQLAlchemy 2.1's default for ``postgresql://``, is not installed); Optuna gets the plain URL,
which :func:`retaillab.tuning.storage.open_storage` resolves the same way.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from retaillab import tracking
from retaillab.tuning.storage import database_url
from tests.system_packages import wait_for_system_packages

collect_ignore = ["notebooks", "machine.py"]  # inputs of the tests, not tests

SERVER_USER = "postgres"
START_SECONDS = 30  # pg_ctl -w waits for the server at most this long (it takes < 1 s)
_NAMES = itertools.count()


def find_initdb() -> Path | None:
    """``initdb`` on PATH, else the newest ``/usr/lib/postgresql/<version>/bin/initdb``."""
    found = shutil.which("initdb")
    if found:
        return Path(found)
    candidates = glob.glob("/usr/lib/postgresql/*/bin/initdb")

    def version(path: str) -> tuple[int, ...]:
        text = Path(path).parts[-3]
        return tuple(int(p) for p in text.split(".") if p.isdigit())

    return Path(max(candidates, key=version)) if candidates else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _as_server_user() -> list[str]:
    """The prefix that runs a command as the ``postgres`` user when we are root, else []."""
    if os.geteuid() != 0:
        return []
    if shutil.which("runuser"):
        return ["runuser", "-u", SERVER_USER, "--"]
    return ["setpriv", f"--reuid={SERVER_USER}", f"--regid={SERVER_USER}", "--init-groups"]


class Server:
    """A PostgreSQL server in ``folder`` (data in ``folder/data``) on 127.0.0.1:``port``."""

    def __init__(self, bin_dir: Path, folder: Path) -> None:
        self.bin, self.folder, self.data = bin_dir, folder, folder / "data"
        self.prefix = _as_server_user()
        self.port = 0

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*self.prefix, *args], capture_output=True, text=True,
                              timeout=120, cwd=self.folder)

    def start(self) -> None:
        done = self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", SERVER_USER,
                         "--auth-local=trust", "--auth-host=trust", "--no-sync",
                         "--no-instructions", "--encoding=UTF8", "--no-locale")
        if done.returncode:
            raise RuntimeError(f"initdb failed: {done.stderr.strip()[-2000:]}")
        for _ in range(3):  # the free port can be taken between probe and bind: try another
            self.port = _free_port()
            options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder} "
                       "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                       "-c max_connections=200")
            done = self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l",
                             str(self.folder / "server.log"), "-w", "-t", str(START_SECONDS),
                             "-o", options, "start")
            if done.returncode == 0:
                return
        log = (self.folder / "server.log").read_text(errors="replace")[-2000:]
        raise RuntimeError(f"pg_ctl could not start the server: {done.stderr.strip()}\n{log}")

    def stop(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "stop", "-m", "immediate")

    def url(self, database: str) -> str:
        return f"postgresql://{SERVER_USER}@127.0.0.1:{self.port}/{database}"


def create_database(url: str, name: str, template: str | None = None) -> str:
    """Create database ``name`` on the server of ``url`` (a copy of ``template``); its URL."""
    import psycopg2
    from sqlalchemy.engine import make_url

    server = make_url(url)
    connection = psycopg2.connect(host=server.host, port=server.port, user=server.username,
                                  dbname="postgres")
    try:
        connection.autocommit = True  # CREATE DATABASE cannot run inside a transaction
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"'
                           + (f' TEMPLATE "{template}"' if template else ""))
    finally:
        connection.close()
    return server.set(database=name).render_as_string(hide_password=False)


def fresh_name(prefix: str) -> str:
    """A database name not used before in this session (this xdist worker's pid in it)."""
    return f"{prefix}_{os.getpid()}_{next(_NAMES)}"


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    """The URL of database ``retaillab`` on a throwaway server (see the module docstring)."""
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        pytest.skip("no psycopg2: pip install -e '.[dev]' (or '.[postgres]')")
    wait_for_system_packages()
    initdb = find_initdb()
    if initdb is None:
        pytest.skip("no PostgreSQL server binaries (initdb): `make postgres` installs Debian's "
                    "postgresql where apt-get can")
    if os.geteuid() == 0:
        import pwd

        try:
            pwd.getpwnam(SERVER_USER)
        except KeyError:
            pytest.skip(f"running as root without a {SERVER_USER!r} user to run initdb as")
    # not under pytest's tmp_path: its folders are private to root, the server user must enter
    base = tempfile.gettempdir()
    if os.geteuid() == 0 and not os.stat(base).st_mode & 0o001:  # not searchable by others
        base = "/tmp"
    folder = Path(tempfile.mkdtemp(prefix="retaillab-pg-", dir=base))
    if os.geteuid() == 0:
        shutil.chown(folder, SERVER_USER, SERVER_USER)
    server = Server(initdb.parent, folder)
    try:
        server.start()
        yield create_database(server.url("postgres"), "retaillab")
    finally:
        server.stop()
        # its thousand files take seconds to delete: done by a process that outlives pytest
        subprocess.Popen(["rm", "-rf", str(folder)], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)


@pytest.fixture(scope="session")
def mlflow_template(postgres: str) -> str:
    """The name of a database holding MLflow's migrated, empty schema (made once).

    Its connections are closed afterwards: a database with connections cannot be a template.
    """
    from mlflow import MlflowClient

    name = fresh_name("mlflow_template")
    client = MlflowClient(tracking_uri=database_url(create_database(postgres, name)))
    client.search_experiments(max_results=1)  # creates and migrates the schema
    client._tracking_client.store.engine.dispose()
    return name


@pytest.fixture
def pg_store(postgres: str, mlflow_template: str, tmp_path: Path,
             monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh MLflow store on PostgreSQL as ``MLFLOW_TRACKING_URI`` for this process and
    those it starts; the working directory is ``tmp_path``, a project of its own. Its URI."""
    uri = database_url(create_database(postgres, fresh_name("mlflow"), template=mlflow_template))
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'scratch'\n")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)
    tracking._CLIENTS.clear()
    yield uri
    tracking._CLIENTS.clear()


@pytest.fixture
def optuna_db(postgres: str) -> str:
    """The URL of a fresh, empty database for an Optuna study (Optuna creates its tables)."""
    return create_database(postgres, fresh_name("optuna"))


MACHINE = Path(__file__).with_name("machine.py")


def write_tune_spec(folder: Path, name: str, **changes) -> Path:
    """SVD on 60 sampled MovieLens users, 3 epochs (a trial takes a fraction of a second),
    with a short heartbeat: 1 s, failed as stale after 3 s of silence."""
    import yaml

    body = {"name": name, "task": "recsys", "model": "svd", "metric": "rmse", "n_trials": 4,
            "seed": 0, "data": {"sample": 60}, "space": {"n_epochs": 3},
            "heartbeat_seconds": 1, "grace_seconds": 3, **changes}
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(body))
    return path


def on_machine(host: str, folder: Path, args: list[str], *,
               options: tuple[str, ...] = ()) -> subprocess.Popen:
    """``retaillab ARGS`` in a new process as if on machine ``host`` (machine.py, with its
    ``options``): its own working folder (a project of its own) and temporary folder (no
    lock file shared with another machine); its output in ``folder/out.log``."""
    (folder / "tmp").mkdir(parents=True, exist_ok=True)
    (folder / "pyproject.toml").write_text("[project]\nname = 'machine'\n")
    every = {**os.environ, "TMPDIR": str(folder / "tmp"), "PYTHONPATH": os.pathsep.join(sys.path)}
    command = [sys.executable, str(MACHINE), host, *options, "--", *args]
    with open(folder / "out.log", "w") as out:
        return subprocess.Popen(command, cwd=folder, env=every, stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT)


def runs_of(experiment: str) -> tuple[list, list]:
    """(parent runs, child runs) of ``experiment`` in the current store."""
    client = tracking.client()
    found = client.get_experiment_by_name(experiment)
    assert found is not None, f"no experiment {experiment!r}"
    runs = tracking.search_all(found.experiment_id)
    return ([r for r in runs if tracking.PARENT_TAG not in r.data.tags],
            [r for r in runs if tracking.PARENT_TAG in r.data.tags])
