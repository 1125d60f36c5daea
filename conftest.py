"""Test-session setup shared by tests/ and the notebooks run under nbval.

Every MLflow write during the tests goes to a throwaway store, never the project's mlruns/;
the notebook kernels nbval and papermill start inherit the variable.

Creating and migrating a SQLite MLflow store costs seconds, so it is done once per test
session (a template, shared by pytest-xdist workers under a file lock) and every test that
wants a store of its own gets a copy of it (the ``store`` fixture), which opens in ~0.1 s.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from pathlib import Path

import pytest

# under pytest-xdist each worker gets one core's worth of BLAS/OpenMP threads (set before numpy
# loads; kernels and subprocesses inherit it): two workers with two threads each would fight
if os.environ.get("PYTEST_XDIST_WORKER"):
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, "1")

# one folder for the whole session: the controller sets it, xdist workers inherit it
_OWNS_ROOT = "RETAILLAB_TEST_ROOT" not in os.environ
_ROOT = Path(os.environ.setdefault("RETAILLAB_TEST_ROOT",
                                   tempfile.mkdtemp(prefix="retaillab-tests-")))
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
_SESSION_STORE = _ROOT / f"session-{_WORKER}" / "mlflow.db"
_SESSION_STORE.parent.mkdir(parents=True, exist_ok=True)
os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{_SESSION_STORE}"


def template_store() -> Path:
    """A migrated, empty MLflow SQLite database, made once per session and then copied."""
    template = _ROOT / "template" / "mlflow.db"
    if template.is_file():
        return template
    template.parent.mkdir(parents=True, exist_ok=True)
    with open(_ROOT / "template.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not template.is_file():
            from mlflow import MlflowClient

            partial = template.with_suffix(".partial")
            client = MlflowClient(tracking_uri=f"sqlite:///{partial}")
            client.search_experiments(max_results=1)  # creates and migrates the schema
            partial.rename(template)
    return template


def copy_store(folder: Path) -> str:
    """A fresh store at ``folder/mlruns/mlflow.db`` (a copy of the template); its URI."""
    db = Path(folder) / "mlruns" / "mlflow.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template_store(), db)
    return f"sqlite:///{db}"


@pytest.fixture
def make_store():
    """:func:`copy_store`: ``make_store(folder)`` gives the URI of a fresh store there."""
    return copy_store


@pytest.fixture
def store(tmp_path, monkeypatch):
    """A fresh MLflow store in ``tmp_path/mlruns`` for this process and the processes and
    kernels it starts; the working directory is ``tmp_path``, a project of its own."""
    from retaillab import tracking

    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'scratch'\n")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", copy_store(tmp_path))
    monkeypatch.chdir(tmp_path)
    tracking._CLIENTS.clear()
    yield tmp_path
    tracking._CLIENTS.clear()


def pytest_collection_modifyitems(config, items):
    """Notebooks run under nbval are slow notebook tests. (Their cells share one kernel, so
    ``make test`` distributes by scope, ``--dist loadscope``: a notebook, or a test module,
    runs on one xdist worker.)"""
    for item in items:
        if str(getattr(item, "path", "")).endswith(".ipynb"):
            item.add_marker(pytest.mark.notebook)
            item.add_marker(pytest.mark.slow)
    # longest first: xdist hands out modules in this order (``--no-loadscope-reorder``; by
    # default it sorts them by their number of tests, which sends the few long ones last), so
    # the modules full of processes, kernels and servers start at once instead of leaving one
    # worker busy at the end. A module's weight estimates its seconds: a slow test 5 (or the
    # ``seconds`` its marker gives), a notebook cell 1, a quick test 0.05.
    weight: dict[str, float] = {}
    for item in items:
        path, marker = str(item.path), item.get_closest_marker("slow")
        if marker is None:
            cost = 0.05
        else:
            cost = marker.kwargs.get("seconds", 1.0 if path.endswith(".ipynb") else 5.0)
        weight[path] = weight.get(path, 0.0) + cost
    # the long modules that need the system packages go after the other long ones, by when
    # the apt-get call ``make test`` starts beside the suite is over; the quick ones last
    slow = {str(item.path) for item in items if item.get_closest_marker("slow")}
    late = {str(item.path) for item in items if item.get_closest_marker("system_packages")}

    def order(item) -> tuple[int, float]:
        path = str(item.path)
        return (2 if path not in slow else 1 if path in late else 0), -weight[path]

    items.sort(key=order)  # stable: the order within a module is kept


def pytest_sessionfinish(session, exitstatus):
    """The process that made the session folder removes it (xdist workers leave it)."""
    if _OWNS_ROOT and _WORKER == "main":
        shutil.rmtree(_ROOT, ignore_errors=True)


# ``RETAILLAB_TEST_CPU=FILE`` records each test's CPU seconds (its process and the processes
# and kernels it started and reaped) in FILE, one tab-separated line a test: the suite's time
# budget is spent in CPU on two cores, which wall-clock durations under load do not show
_CPU_LOG = os.environ.get("RETAILLAB_TEST_CPU")


def _cpu_seconds() -> float:
    import resource

    own, kids = (resource.getrusage(who) for who in (resource.RUSAGE_SELF,
                                                      resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    if not _CPU_LOG:
        yield
        return
    start = _cpu_seconds()
    yield
    with open(_CPU_LOG, "a") as out:
        out.write(f"{item.nodeid}\t{_cpu_seconds() - start:.2f}\n")
