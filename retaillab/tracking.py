"""MLflow conventions, in one place: where the store is, how runs are named, tagged and logged.

The default store is ``sqlite:///<project>/mlruns/mlflow.db`` with artifacts under
``<project>/mlruns/artifacts``, where ``<project>`` is the nearest folder above the working
directory holding ``pyproject.toml`` (so a notebook in ``notebooks/`` and a shell at the root
share one store). ``MLFLOW_TRACKING_URI`` overrides it (a tracking server, PostgreSQL).
Artifacts, executed notebooks, the lock and the key secret always sit beside a SQLite store
(:func:`store_folder`), never in the folder a command started in.

Every run is created with its owner process (:func:`create_run`); :func:`reap_orphans`, which
every command calls, ends the RUNNING runs of owners that are gone as KILLED.

Notebooks use :func:`notebook_run` once, then the helpers::

    run = tracking.notebook_run(run_id, experiment="tour", params=params)
    with run.model("svd", {"factors": 50}) as child:
        child.log_metrics({"rmse": 0.87, "fit_seconds": 1.2})
    run.log_table(table, "comparison.csv")
    run.close()

Everything goes through :class:`mlflow.MlflowClient`, never mlflow's global "active run", so
the runner, a notebook kernel and parallel workers cannot step on each other's state.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import functools
import json
import logging
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retaillab.project import project_root, relative

if TYPE_CHECKING:  # pragma: no cover
    from mlflow import MlflowClient
    from mlflow.entities import Run as MlflowRun

log = logging.getLogger(__name__)

TAG_PREFIX = "retaillab."
TAG_PARAMETERS = TAG_PREFIX + "parameters"  # the exact parameters, as JSON (params are text)
TAG_NOTEBOOK = TAG_PREFIX + "notebook"
TAG_KIND = TAG_PREFIX + "kind"  # "notebook" for a parent run, "model" for a compared model
TAG_MODEL = TAG_PREFIX + "model"
TAG_DATA = TAG_PREFIX + "data."  # + name: a data fingerprint
TAG_SOURCE = TAG_PREFIX + "source."  # + table: a user source (path, options, file sha256), JSON
TAG_ERROR = TAG_PREFIX + "error"
TAG_INTERACTIVE = TAG_PREFIX + "interactive"  # "true": a notebook opened by hand started it
# provenance: what produced a run (the runner, the tuner and by-hand notebooks write them)
TAG_COMMIT = TAG_PREFIX + "git_commit"
TAG_DIRTY = TAG_PREFIX + "git_dirty"
TAG_SPEC = TAG_PREFIX + "spec"
TAG_SPEC_HASH = TAG_PREFIX + "spec_sha256"
TAG_SEED = TAG_PREFIX + "seed"
TAG_VERSIONS = TAG_PREFIX + "versions"
TAG_PYTHON = TAG_PREFIX + "python"
TAG_RERUN_OF = TAG_PREFIX + "rerun_of"
TAG_OUTPUT = TAG_PREFIX + "output"
# tuning: a study's parent run has kind "study", each trial is a child run of kind "trial"
TAG_STUDY = TAG_PREFIX + "study"
TAG_TRIAL = TAG_PREFIX + "trial"
TAG_TRIAL_STATE = TAG_PREFIX + "trial_state"
# run ownership: which process on which machine is writing the run (see reap_orphans)
TAG_OWNER = TAG_PREFIX + "owner"  # host, boot id, pid, start time (see retaillab.owners)
TAG_ENDED_BY = TAG_PREFIX + "ended_by"  # why a run was ended by someone other than its owner
PARENT_TAG = "mlflow.parentRunId"
RUN_NAME_TAG = "mlflow.runName"

#: the packages whose versions a result depends on (recorded on every notebook run)
PACKAGES = ("retaillab", "numpy", "pandas", "scikit-learn", "scikit-surprise", "optuna",
            "mlflow", "papermill", "implicit", "mlxtend")


def tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI`` if set (see :func:`database_uri`), else the project's SQLite
    store."""
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return database_uri(uri)
    db = project_root() / "mlruns" / "mlflow.db"
    return f"sqlite:///{db}"


def database_uri(uri: str) -> str:
    """``uri`` with a PostgreSQL driver that is installed, so one ``postgresql://`` URI serves
    MLflow and Optuna alike (:func:`retaillab.tuning.storage.database_url` calls it).

    SQLAlchemy 2.1 reads ``postgresql://`` as psycopg 3; where only psycopg2 is installed (the
    ``postgres`` extra), such a URI becomes ``postgresql+psycopg2://``. Any other URI, or one
    naming its driver, is returned as it is.
    """
    import importlib.util

    if not uri.startswith("postgresql://"):
        return uri
    if importlib.util.find_spec("psycopg") is None and \
            importlib.util.find_spec("psycopg2") is not None:
        return "postgresql+psycopg2://" + uri[len("postgresql://"):]
    return uri


def store_folder(uri: str | None = None) -> Path | None:
    """The folder of a SQLite store (the database file's folder), else None (a server).

    Artifacts, executed notebooks, the Optuna journal and the store's lock live there, so
    one store is one folder wherever the command that wrote to it was started.
    """
    uri = uri or tracking_uri()
    if uri.startswith("sqlite:///"):
        path = uri[len("sqlite:///"):].split("?", 1)[0]
        return Path(path).resolve().parent if path and path != ":memory:" else None
    return None


def artifact_root(uri: str | None = None) -> Path | None:
    """Where artifacts of experiments created in a SQLite store go: beside the database.

    None for a server or database store: there the server's artifact store is used.
    """
    folder = store_folder(uri)
    return None if folder is None else folder / "artifacts"


#: the artifact root of a database store reached without a tracking server (PostgreSQL):
#: a folder every machine that logs sees, or an object-store URI (``s3://bucket/mlflow``)
ARTIFACT_ROOT_ENV = "RETAILLAB_ARTIFACT_ROOT"
#: stores behind a tracking server, whose artifact store decides where artifacts go
SERVER_SCHEMES = ("http://", "https://", "databricks")


def artifact_location(name: str, uri: str | None = None) -> str | None:
    """Where the artifacts of a new experiment ``name`` go, as a URI; None for a tracking
    server, whose artifact store decides.

    Beside a SQLite store (:func:`artifact_root`). A database store has no folder of its own,
    and MLflow's default, ``./mlruns`` of whichever process creates the experiment, would put
    them in a notebook's folder: they go under ``RETAILLAB_ARTIFACT_ROOT``, by default the
    project's ``mlruns/artifacts`` (the runner hands its project's to the kernels it starts).
    """
    uri = uri or tracking_uri()
    root = artifact_root(uri)
    if root is not None:
        return (root / slug(name)).as_uri()
    if not _database_store(uri):
        return None
    base = os.environ.get(ARTIFACT_ROOT_ENV) or _project_artifacts()
    if "://" in base:
        return base.rstrip("/") + "/" + slug(name)
    return (Path(base).resolve() / slug(name)).as_uri()


def _database_store(uri: str) -> bool:
    """A store that is neither a SQLite file (artifacts beside it) nor behind a server."""
    return store_folder(uri) is None and not uri.startswith(SERVER_SCHEMES)


def _project_artifacts() -> str:
    """A database store's default artifact root: the project's ``mlruns/artifacts``."""
    return str(project_root() / "mlruns" / "artifacts")


def outputs_folder(uri: str | None = None) -> Path | None:
    """Where executed notebooks are kept: ``outputs/`` beside a SQLite store, else None
    (a server's store keeps them as run artifacts only)."""
    folder = store_folder(uri)
    return None if folder is None else folder / "outputs"


@contextlib.contextmanager
def _store_lock(uri: str | None = None) -> Iterator[None]:
    """Serialise store and experiment creation between processes on this host.

    The lock file sits beside a SQLite store; for other stores, in the temporary folder,
    named by a digest of the URI.
    """
    import hashlib
    import tempfile

    uri = uri or tracking_uri()
    folder = store_folder(uri)
    if folder is None:
        digest = hashlib.sha256(uri.encode()).hexdigest()[:16]
        lock = Path(tempfile.gettempdir()) / f"retaillab-{digest}.lock"
    else:
        folder.mkdir(parents=True, exist_ok=True)
        lock = folder / ".lock"
    with file_lock(lock):
        yield


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created if missing) for the block: one
    process on this host at a time (the store's lock, a study's trial budget)."""
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


_CLIENTS: dict[str, Any] = {}


def client(uri: str | None = None) -> MlflowClient:
    """An :class:`mlflow.MlflowClient` on ``uri`` (default :func:`tracking_uri`), one per store.

    The first use in a process checks the store (a broken, read-only or unreachable one is
    refused with one :class:`~retaillab.stores.StoreError` within seconds), creates the
    SQLite schema under a file lock (two processes starting at once do not both migrate a
    fresh database), and ends runs whose owner process is gone (:func:`reap_orphans`).
    """
    uri = database_uri(uri or tracking_uri())
    if uri not in _CLIENTS:
        from mlflow import MlflowClient

        from retaillab import stores

        stores.check(uri)
        try:
            with _store_lock(uri):
                instance = MlflowClient(tracking_uri=uri)
                instance.search_experiments(max_results=1)  # creates/migrates the store now
        except Exception as exc:
            explained = stores.explain(exc, uri)
            if explained is None:
                raise
            raise explained from None
        _CLIENTS[uri] = instance
        _exit_uncollected()
        reap_orphans(uri)
    return _CLIENTS[uri]


@functools.cache
def _exit_uncollected() -> None:
    """Let this process, which has MLflow loaded, exit without its final garbage collections.

    As the interpreter shuts down, its collections walk every object of the ~3,000 modules
    MLflow, SQLAlchemy and their kin import: 1.1-1.4 s of CPU in every command, tuning
    worker and notebook kernel that opened a store, on the 2-core machine (an empty exit:
    0.1 s). :func:`gc.freeze`, run at exit, moves them out of the collector's sight; every
    other exit handler and the reference-count clean-up still run, and the operating system
    frees the memory. Registered once per process (cached: a second store opens no second).
    """
    import gc

    atexit.register(gc.freeze)


def reap_orphans(uri: str | None = None) -> list[str]:
    """End as KILLED every RUNNING run whose owner process is gone; their ids.

    Every command that opens the store calls it (so does the first :func:`client` of a
    process). The run gets the tag ``retaillab.ended_by`` saying whose it was and who ended
    it. Owners on other hosts are left alone (see :mod:`retaillab.owners`). A store that
    cannot be written only warns: it can still be listed and reported.
    """
    mlflow_client = client(uri)  # a store that cannot be opened says so here
    try:
        return _reap(mlflow_client)
    except Exception as exc:
        log.warning("could not end orphaned runs in %s: %s", display_uri(uri), exc)
        return []


def _reap(mlflow_client: MlflowClient) -> list[str]:
    import socket

    from mlflow.entities import ViewType

    from retaillab import owners

    experiments, token = [], None
    while True:
        page = mlflow_client.search_experiments(view_type=ViewType.ACTIVE_ONLY,
                                                max_results=1000, page_token=token)
        experiments.extend(e.experiment_id for e in page)
        token = page.token
        if not token:
            break
    ended: list[str] = []
    for start in range(0, len(experiments), 100):
        token = None
        while True:
            page = mlflow_client.search_runs(experiments[start:start + 100],
                                             "attributes.status = 'RUNNING'",
                                             max_results=1000, page_token=token)
            for run in page:
                text = run.data.tags.get(TAG_OWNER)
                if not text or owners.alive(text) is not False:
                    continue
                info = json.loads(text)
                mlflow_client.set_tag(run.info.run_id, TAG_ENDED_BY, (
                    f"its owner, pid {info.get('pid')} on {info.get('host')}, was gone; "
                    f"ended KILLED by pid {os.getpid()} on {socket.gethostname()} at "
                    f"{time.strftime('%Y-%m-%d %H:%M:%S')}"))
                mlflow_client.set_terminated(run.info.run_id, "KILLED")
                ended.append(run.info.run_id)
            token = page.token
            if not token:
                break
    if ended:
        log.warning("ended %d run(s) whose process had died as KILLED", len(ended))
    return ended


def create_run(experiment: str, *, run_name: str | None = None,
               tags: Mapping[str, Any] | None = None, uri: str | None = None,
               owner: str | None = None) -> Run:
    """A new RUNNING run owned by this process, or by ``owner`` (an :func:`owners.owner` text:
    the runner's, for the run a kernel creates on its behalf); tag ``retaillab.owner``, set at
    creation."""
    from retaillab import owners

    uri = uri or tracking_uri()
    every = {k: str(v) for k, v in (tags or {}).items()}
    every[TAG_OWNER] = owner or owners.owner()
    created = client(uri).create_run(experiment, run_name=run_name, tags=every)
    return Run(created.info.run_id, experiment, uri=uri)


def take_over(run_id: str, uri: str | None = None) -> None:
    """Make this process the owner of an existing run and set it RUNNING (a resumed study)."""
    from retaillab import owners

    mlflow_client = client(uri)
    mlflow_client.set_tag(run_id, TAG_OWNER, owners.owner())
    mlflow_client.update_run(run_id, status="RUNNING")


def experiment_id(name: str, uri: str | None = None) -> str:
    """The id of experiment ``name``, created if new (artifacts: :func:`artifact_location`)."""
    mlflow_client = client(uri)
    found = mlflow_client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    with _store_lock(uri):
        found = mlflow_client.get_experiment_by_name(name)
        if found is not None:
            return found.experiment_id
        return mlflow_client.create_experiment(name,
                                               artifact_location=artifact_location(name, uri))


def slug(name: str) -> str:
    """``name`` as one safe path component (an experiment name as a folder or file name).

    Characters other than letters, digits, ``-``, ``_`` and ``.`` become ``-``; leading and
    trailing dots and dashes go, so no slug is ``.``, ``..`` or a hidden name:
    ``"../../x"`` -> ``"x"``, ``".."`` -> ``"default"``.
    """
    text = "".join(c if c.isalnum() or c in "-_." else "-" for c in name)
    return text.strip("-.") or "default"


#: metrics of a logged model's own checks (``model.training_roc_auc``): on the record and
#: compared by ``rerun``, but not columns of a leaderboard or report
MODEL_METRICS = "model."


def leaderboard_metrics(metrics: Mapping[str, float]) -> dict[str, float]:
    """``metrics`` without a logged model's own checks (:data:`MODEL_METRICS`)."""
    return {k: v for k, v in metrics.items() if not k.startswith(MODEL_METRICS)}


def is_timing(metric: str) -> bool:
    """Whether ``metric`` is a timing (``fit_seconds``, ``fit_seconds_ci_low``, ...).

    Timings depend on the machine and its load: they are reported, never judged by ``rerun``
    and never marked best.
    """
    return "_seconds" in metric


def display_uri(uri: str | None = None) -> str:
    """``uri`` (default: :func:`tracking_uri`) with any password masked, for printing."""
    from retaillab.stores import display_uri as masked

    return masked(tracking_uri() if uri is None else str(uri))


def git_state(folder: Path) -> tuple[str, bool]:
    """The commit checked out at ``folder`` and whether the work tree has changes (tracked
    files only), from one ``git status``: its ``branch.oid`` header is the commit."""
    import subprocess

    try:
        lines = subprocess.run(["git", "status", "--porcelain=v2", "--branch",
                                "--untracked-files=no"], cwd=folder, capture_output=True,
                               text=True, check=True).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        return "unknown", True
    heads = [line.split()[2] for line in lines if line.startswith("# branch.oid ")]
    commit = heads[0] if heads and heads[0] != "(initial)" else "unknown"
    return commit, commit == "unknown" or any(not line.startswith("#") for line in lines)


def versions() -> dict[str, str]:
    """Installed versions of the packages a result depends on (:data:`PACKAGES`)."""
    from importlib import metadata

    found = {}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def code_tags(folder: Path) -> dict[str, str]:
    """Tags for the code behind a run: commit and dirty flag of ``folder``'s repository,
    package versions and the Python version (every run carries them)."""
    import platform

    commit, dirty = git_state(folder)
    return {TAG_COMMIT: commit, TAG_DIRTY: str(dirty).lower(),
            TAG_VERSIONS: json.dumps(versions()), TAG_PYTHON: platform.python_version(),
            "mlflow.source.git.commit": commit}


@contextlib.contextmanager
def kernel_environment() -> Iterator[None]:
    """Point notebook kernels started inside the block at this store.

    A kernel inherits the environment, and papermill offers no other way to hand it one, so
    ``MLFLOW_TRACKING_URI`` is set for the block and restored afterwards, and with a database
    store ``RETAILLAB_ARTIFACT_ROOT`` too, where unset: this project's artifact root, not the
    one above the notebook's folder the kernel works in.
    """
    uri = tracking_uri()
    setting = {"MLFLOW_TRACKING_URI": uri}
    if _database_store(uri) and not os.environ.get(ARTIFACT_ROOT_ENV):
        setting[ARTIFACT_ROOT_ENV] = _project_artifacts()
    before = {name: os.environ.get(name) for name in setting}
    os.environ.update(setting)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def kernel_manager() -> type:
    """The kernel manager class for notebooks retaillab executes (papermill's
    ``kernel_manager_class``): kernels on IPC sockets rather than loopback TCP, so nothing
    else on the machine can connect to them, and ipykernel's "running over TCP without
    encryption" warning, printed at every run, has no cause to be printed."""
    import tempfile
    import uuid

    from jupyter_client.manager import AsyncKernelManager

    class IpcKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs: Any) -> None:
            kwargs.setdefault("transport", "ipc")
            # a socket path of its own: the default ("kernel-ipc" in the working folder) is
            # shared by every kernel started there at once
            kwargs.setdefault("ip", str(Path(tempfile.gettempdir()) /
                                        f"retaillab-{uuid.uuid4().hex[:12]}-ipc"))
            super().__init__(**kwargs)

    return IpcKernelManager


def open_notebook_run(request: Mapping[str, Any]) -> dict[str, str]:
    """Create the run ``retaillab run`` executes a notebook for: ``run_id``, ``experiment_id``
    and ``error`` (empty unless recording its parameters failed once the run existed).

    The runner calls it in the notebook's kernel before the first cell (that process imports
    MLflow for the notebook anyway, so the runner's own need not; see
    :mod:`retaillab.runner`), or in its own process when the kernel cannot. ``request``:
    ``uri``, ``experiment``, ``description`` (the experiment's, as the MLflow UI shows it),
    ``run_name``, ``tags`` (provenance, as text), ``owner`` (the runner process: the run is
    its to end, and :func:`reap_orphans` ends it KILLED should the runner die), ``params``
    (flat, as :func:`flatten` makes them) and ``output_prefix`` (the executed notebook's
    place, before ``RUN_ID.ipynb``). An error once the run exists is returned, not raised,
    so the runner ends that run FAILED instead of making another.
    """
    uri = request["uri"]
    exp = experiment_id(request["experiment"], uri=uri)
    if request.get("description"):
        client(uri).set_experiment_tag(exp, "mlflow.note.content", request["description"])
    run = create_run(exp, run_name=request["run_name"], tags=request["tags"], uri=uri,
                     owner=request["owner"])
    error = ""
    try:
        run.log_params(request["params"])
        run.set_tags({TAG_OUTPUT: f"{request['output_prefix']}{run.run_id}.ipynb"})
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
    return {"run_id": run.run_id, "experiment_id": exp, "error": error}


def end_notebook_run(request: Mapping[str, Any]) -> dict[str, Any]:
    """End a run :func:`open_notebook_run` made: keep the executed notebook as an artifact,
    record the error, end the children a dead notebook left open, set the status.

    ``request``: ``uri``, ``run_id``, ``experiment_id``, ``status`` (FINISHED, FAILED,
    KILLED), ``error``, ``artifact`` (the executed notebook's path, or None) and ``problems``
    (what the runner found wrong with it). A record that cannot be written fails this run
    only: it is said in the error. Returns the final ``status`` and ``error``, whether the
    recording failed (``recording_failed``) and, should even ending the run have failed, why
    (``unended``; the run's owner is the runner, so the next command ends it KILLED).
    """
    run = Run(request["run_id"], request["experiment_id"], uri=request["uri"])
    status, error = request["status"], request["error"]
    problems = list(request.get("problems") or ())
    failed, unended = False, ""
    try:
        if request.get("artifact"):
            try:
                run.log_artifact(request["artifact"])
            except Exception as exc:
                problems.append(f"could not keep the executed notebook as an artifact: "
                                f"{type(exc).__name__}: {exc}")
        if problems:
            status = "FAILED" if status == "FINISHED" else status
            error = "; ".join([error, *problems] if error else problems)
        if error:
            run.set_tags({TAG_ERROR: error[:4000]})
        run.end_open_children(status if status != "FINISHED" else "FAILED")
    except Exception as exc:
        status, failed = ("FAILED" if status == "FINISHED" else status), True
        error = "; ".join(filter(None, [error, f"recording the run failed: "
                                        f"{type(exc).__name__}: {exc}"]))
    finally:
        try:
            client(run.uri).set_terminated(run.run_id, status)
        except Exception as exc:
            unended = f"{type(exc).__name__}: {exc}"
    return {"status": status, "error": error, "recording_failed": failed, "unended": unended}


def _open_store(request: Mapping[str, Any]) -> dict[str, str]:
    """Import MLflow and open the store ``request["uri"]`` (ending orphaned runs): what a
    kernel does first, while the runner still prepares the run."""
    client(request["uri"])
    return {}


def runner_call(name: str, request: str) -> str:
    """The runner's way into a notebook's kernel: open the store (``"warm"``),
    :func:`open_notebook_run` (``"open"``) or :func:`end_notebook_run` (``"end"``) on a JSON
    request; the JSON reply."""
    function = {"warm": _open_store, "open": open_notebook_run, "end": end_notebook_run}[name]
    return json.dumps(function(json.loads(request)))


SECRET_TAG = TAG_PREFIX + "key_secret"


def _secret(uri: str | None = None) -> bytes:
    """The store's secret for :func:`user_keys`, created on first use.

    A SQLite store keeps it in a file beside the database, readable by its owner only; any
    other store keeps it as a tag of the Default experiment (whoever can read the store can
    read the runs anyway; what it protects is an exported ``per_user.csv`` or report).
    """
    import secrets

    uri = uri or tracking_uri()
    folder = store_folder(uri)
    if folder is not None:
        path = folder / ".retaillab-secret"
        if not path.is_file():
            with _store_lock(uri):
                if not path.is_file():
                    folder.mkdir(parents=True, exist_ok=True)
                    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                    with os.fdopen(fd, "w") as handle:
                        handle.write(secrets.token_hex(32))
        return bytes.fromhex(path.read_text().strip())
    mlflow_client = client(uri)
    default = mlflow_client.get_experiment("0")
    value = default.tags.get(SECRET_TAG)
    if not value:
        with _store_lock(uri):
            value = mlflow_client.get_experiment("0").tags.get(SECRET_TAG)
            if not value:
                value = secrets.token_hex(32)
                mlflow_client.set_experiment_tag("0", SECRET_TAG, value)
    return bytes.fromhex(value)


def user_keys(ids: Any, uri: str | None = None) -> list[str]:
    """Pseudonymous keys for customer or user ids: HMAC-SHA256 with the store's secret.

    Keys are stable within one store (so reports pair users across models and runs) and
    cannot be reversed by hashing candidate ids without the secret, which never leaves the
    store. 16 hex characters (64 bits) each.
    """
    import hmac

    secret = _secret(uri)
    return [hmac.digest(secret, str(value).encode(), "sha256").hex()[:16] for value in ids]


def flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested parameters as MLflow params: ``{"a": {"b": 1}}`` -> ``{"a.b": "1"}``."""
    out: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, prefix=name + "."))
        else:
            text = json.dumps(value) if isinstance(value, (list, tuple)) else str(value)
            out[name] = text[:6000]
    return out


@dataclass
class Run:
    """One MLflow run, logged through the client: parameters, metrics, tags, artifacts."""

    run_id: str
    experiment_id: str
    _step: dict[str, int] = field(default_factory=dict, repr=False)
    #: the store the run lives in, fixed at creation so a later change of
    #: ``MLFLOW_TRACKING_URI`` (or the exit-time close) still reaches it
    uri: str = field(default_factory=tracking_uri, repr=False)

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Log parameters (nested dicts are flattened with dots), in one batch."""
        from mlflow.entities import Param

        items = [Param(k, v) for k, v in flatten(params).items()]
        for start in range(0, len(items), 100):
            client(self.uri).log_batch(self.run_id, params=items[start:start + 100])

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Log many metrics in one batched call (not one call per value)."""
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [Metric(k, float(v), now, step or 0) for k, v in metrics.items()
                 if v is not None]
        for start in range(0, len(items), 1000):
            client(self.uri).log_batch(self.run_id, metrics=items[start:start + 1000])

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        """Set tags in one batch."""
        from mlflow.entities import RunTag

        items = [RunTag(k, str(v)[:8000]) for k, v in tags.items()]
        if items:
            client(self.uri).log_batch(self.run_id, tags=items)

    def log_data(self, name: str, table: Any) -> str:
        """Record the fingerprint of a table, split or Dataset as tag ``retaillab.data.NAME``,
        and as an MLflow dataset input (name and digest; the UI's Dataset column)."""
        from mlflow.entities import Dataset as MlflowDataset
        from mlflow.entities import DatasetInput

        from retaillab.data.fingerprinting import fingerprint

        digest = fingerprint(table)
        self.set_tags({TAG_DATA + name: digest})
        source = str(getattr(table, "source", "") or "retaillab")
        self._log_inputs([DatasetInput(
            MlflowDataset(name, digest[:32], "retaillab", source[:1000]))])
        return digest

    def _log_inputs(self, inputs: list) -> None:
        """``log_inputs``, once more when another process made the same data set at the same
        moment: MLflow's SQL store looks a data set up, then inserts it, and the loser of two
        kernels logging one table at once (``run --jobs``) gets a unique-constraint error; its
        transaction was rolled back, and the second look finds the winner's row."""
        try:
            client(self.uri).log_inputs(self.run_id, inputs)
        except Exception as exc:
            text = str(exc).lower()
            if "unique constraint" not in text and "duplicate key" not in text:
                raise
            client(self.uri).log_inputs(self.run_id, inputs)

    def log_source(self, dataset: Any) -> dict[str, str]:
        """Record which user files a data set was read from and what reading them did.

        For each table read from a source: tag ``retaillab.source.TABLE`` (path relative to
        the project, kind, columns, options and the file's SHA-256, as JSON; ``rerun`` checks
        the file against it), the data-quality counts as metrics ``data.TABLE.*`` (rows read,
        dropped by reason, altered, kept, customers, items), ``data_quality.json`` and an MLflow
        dataset input (the UI's Dataset column). Built-in data sets have no origins: nothing
        is logged. Returns ``{table: file sha256}``.
        """
        from mlflow.entities import Dataset as MlflowDataset
        from mlflow.entities import DatasetInput, InputTag

        origins = getattr(dataset, "origins", ())
        if not origins:
            return {}
        inputs, metrics, tags = [], {}, {}
        for origin in origins:
            record = {**origin.record, "sha256": origin.sha256}
            tags[TAG_SOURCE + origin.table] = json.dumps(record, sort_keys=True, default=str)
            metrics.update(origin.quality.metrics(f"data.{origin.table}"))
            inputs.append(DatasetInput(
                MlflowDataset(f"{origin.record['name']}.{origin.table}", origin.sha256[:32],
                              "local", origin.record["path"]),
                [InputTag("mlflow.data.context", origin.table)]))
        self.set_tags(tags)
        self.log_metrics(metrics)
        report = {o.table: o.as_dict() for o in origins}
        client(self.uri).log_text(self.run_id, json.dumps(report, indent=2, default=str),
                                  "data_quality.json")
        self._log_inputs(inputs)
        return {o.table: o.sha256 for o in origins}

    def log_figure(self, figure: Any, name: str) -> None:
        """Save a matplotlib figure as an artifact (PNG unless ``name`` says otherwise)."""
        client(self.uri).log_figure(self.run_id, figure, name if "." in name else name + ".png")

    def log_table(self, table: Any, name: str) -> None:
        """Save a DataFrame as a CSV (or ``.html``) artifact."""
        text = table.to_html() if name.endswith(".html") else table.to_csv()
        client(self.uri).log_text(self.run_id, text, name if "." in name else name + ".csv")

    def log_artifact(self, path: str | Path, folder: str | None = None) -> None:
        client(self.uri).log_artifact(self.run_id, str(path), folder)

    @contextlib.contextmanager
    def model(self, name: str, params: Mapping[str, Any] | None = None,
              tags: Mapping[str, Any] | None = None) -> Iterator[Run]:
        """A child run for one compared model; FAILED if its block raises.

        ``tags`` are set as the run is created, so a process killed at once still leaves
        them on the record (e.g. the trial number a resumed study looks for).
        """
        mlflow_client = client(self.uri)
        extra = {k: str(v) for k, v in (tags or {}).items()}
        run = create_run(self.experiment_id, run_name=extra.get(RUN_NAME_TAG, name),
                         tags={PARENT_TAG: self.run_id, TAG_KIND: "model", TAG_MODEL: name,
                               **extra}, uri=self.uri)
        try:
            if params:
                run.log_params(params)
            yield run
        except GeneratorExit:  # abandoned, or the kernel is exiting: whoever ends the parent
            raise              # run ends this one too (see end_open_children)
        except BaseException as exc:
            run.set_tags({TAG_ERROR: f"{type(exc).__name__}: {exc}"[:2000]})
            mlflow_client.set_terminated(run.run_id, "KILLED" if isinstance(
                exc, KeyboardInterrupt) else "FAILED")
            raise
        mlflow_client.set_terminated(run.run_id, "FINISHED")

    def children(self) -> list[MlflowRun]:
        """Every child run (compared model) of this run, oldest first."""
        return search_all(self.experiment_id, f"tags.`{PARENT_TAG}` = '{self.run_id}'",
                          order_by=["attributes.start_time ASC"], uri=self.uri)

    def end_open_children(self, status: str) -> None:
        """End child runs still RUNNING (their notebook died or was interrupted)."""
        for child in self.children():
            if child.info.status == "RUNNING":
                client(self.uri).set_terminated(child.info.run_id, status)


@dataclass
class NotebookRun(Run):
    """The run a notebook logs to: handed over by the runner, or its own when opened by hand."""

    owned: bool = False

    def close(self, status: str = "FINISHED") -> None:
        """End the run if this notebook started it; the runner ends the runs it started.

        Called at interpreter exit too, so a notebook closed without it leaves nothing RUNNING.
        """
        if self.owned:
            self.owned = False
            _stop_watching(self)
            self.end_open_children("KILLED" if status == "FINISHED" else status)
            client(self.uri).set_terminated(self.run_id, status)

    def fail(self, error: BaseException, where: str = "") -> None:
        """End a by-hand run FAILED (KILLED for an interrupt) with the error as its tag."""
        if not self.owned:
            return
        text = f"{where}{type(error).__name__}: {error}"
        self.set_tags({TAG_ERROR: text[:4000]})
        self.close("KILLED" if isinstance(error, KeyboardInterrupt) else "FAILED")
        log.warning("MLflow run %s ended %s: %s", self.run_id,
                    "KILLED" if isinstance(error, KeyboardInterrupt) else "FAILED", text)


def _close_at_exit(run: NotebookRun) -> None:
    """End an interactive run the notebook left open; a vanished store is only a warning."""
    try:
        run.close()
    except Exception as exc:  # the interpreter is exiting: report, never raise
        log.warning("could not end MLflow run %s at exit: %s", run.run_id, exc)


_WATCHED: dict[str, Any] = {}


def _watch_cells(run: NotebookRun) -> None:
    """In IPython, end ``run`` FAILED as soon as a cell raises (a by-hand notebook has no
    runner to do it). Outside IPython (a script) nothing is watched: the exception ends the
    interpreter, and the exit-time close ends the run."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover  (IPython comes with ipykernel)
        return
    shell = get_ipython()
    if shell is None:
        return

    def after_cell(result: Any) -> None:
        error = getattr(result, "error_in_exec", None) or getattr(result, "error_before_exec",
                                                                  None)
        if error is not None:
            count = getattr(result, "execution_count", None)
            run.fail(error, where=f"cell {count}: " if count else "")

    shell.events.register("post_run_cell", after_cell)
    _WATCHED[run.run_id] = (shell, after_cell)


def _stop_watching(run: NotebookRun) -> None:
    shell, callback = _WATCHED.pop(run.run_id, (None, None))
    if shell is not None:
        with contextlib.suppress(ValueError):
            shell.events.unregister("post_run_cell", callback)


def _notebook_path() -> Path | None:
    """The notebook this kernel runs: JupyterLab/Notebook say it in ``JPY_SESSION_NAME``,
    VS Code in ``__vsc_ipynb_file__``; None in a plain Python process."""
    text = os.environ.get("JPY_SESSION_NAME", "")
    if not text:
        try:
            from IPython import get_ipython

            shell = get_ipython()
            text = str(shell.user_ns.get("__vsc_ipynb_file__", "")) if shell else ""
        except ImportError:  # pragma: no cover
            text = ""
    if not text.endswith(".ipynb"):
        return None
    path = Path(text)
    if not path.is_absolute():  # an API path, relative to the server's root
        for base in (project_root(), Path.cwd()):
            if (base / path).is_file():
                return (base / path).resolve()
        return (Path.cwd() / path.name).resolve()
    return path


def search_all(experiment_id: str, filter_string: str = "",
               order_by: list[str] | None = None, uri: str | None = None) -> list[MlflowRun]:
    """All runs matching ``filter_string``, page by page (MLflow returns 1,000 at a time)."""
    found, token = [], None
    while True:
        page = client(uri).search_runs([experiment_id], filter_string=filter_string,
                                    order_by=order_by, page_token=token)
        found.extend(page)
        token = page.token
        if not token:
            return found


def is_parent(run: MlflowRun) -> bool:
    """Whether ``run`` is a notebook's run (a parent), not one compared model."""
    return run.data.tags.get(TAG_KIND) == "notebook"


def notebook_run(run_id: str | None, *, experiment: str,
                 params: Mapping[str, Any] | None = None) -> NotebookRun:
    """Attach to the runner's run, or start one for interactive work in JupyterLab.

    Parameters
    ----------
    run_id
        The id the runner injected (papermill parameter), or ``None`` when the notebook was
        opened by hand: then a new run is started in ``experiment`` and logs ``params``.
    """
    if run_id:
        found = client().get_run(run_id)
        return NotebookRun(run_id, found.info.experiment_id)
    exp = experiment_id(experiment)
    notebook = _notebook_path()
    root = project_root(notebook.parent if notebook else None)
    tags = {TAG_KIND: "notebook", TAG_INTERACTIVE: "true",
            **code_tags(notebook.parent if notebook else root)}
    if notebook is not None:
        tags[TAG_NOTEBOOK] = relative(notebook, root)
        tags["mlflow.source.name"] = tags[TAG_NOTEBOOK]
    if params and "seed" in params:
        tags[TAG_SEED] = str(params["seed"])
    where = notebook.name if notebook else "python"
    run = create_run(exp, run_name=f"{experiment}: by hand in {where}", tags=tags)
    run = NotebookRun(run.run_id, exp, uri=run.uri, owned=True)
    atexit.register(_close_at_exit, run)
    _watch_cells(run)
    if params:
        run.log_params(params)
        run.set_tags({TAG_PARAMETERS: json.dumps(dict(params), default=str)})
    log.info("started MLflow run %s in experiment %r", run.run_id, experiment)
    return run
