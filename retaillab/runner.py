"""Run experiment specs: one MLflow run per grid point, each a papermill-executed notebook.

The runner owns a run's life. It creates the run with its provenance tags, injects
``run_id`` into the notebook's parameters, executes it, keeps the executed notebook (under
``outputs/`` and as an artifact, also when a cell fails), and ends the run FINISHED, FAILED
(the failing cell's error in tag ``retaillab.error``) or KILLED (Ctrl-C). Child runs left
open by a notebook that died are ended with it, so no run stays RUNNING.

The runner's own process does not import MLflow on the common path (importing it and
opening the store cost seconds per command, issue #16). It starts the notebook's kernel
itself, and the kernel, which imports MLflow for the notebook anyway, creates the run before
the first cell and ends it after papermill has written the executed notebook
(:func:`retaillab.tracking.open_notebook_run`, :func:`~retaillab.tracking.end_notebook_run`).
The run's owner is still the runner process, so a runner killed by SIGKILL leaves a run the
next command ends KILLED. When the kernel cannot do it (it does not start, cannot import
retaillab, dies, or the run is interrupted) this process does the same work itself.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retaillab import tracking
from retaillab.spec import Spec, check_parameters

log = logging.getLogger(__name__)


def _skip_slow_iri_checker() -> None:
    """Keep jsonschema from loading ``rfc3987_syntax`` in this process.

    papermill imports nbformat, which imports jsonschema, which imports every format checker
    it finds; ``rfc3987_syntax`` builds some 35 Earley parsers at import time (4 s on the
    2-core machine, about half the runner's overhead) for the ``iri`` formats, which no
    notebook schema uses (python-jsonschema/jsonschema#1428). Hidden before jsonschema loads,
    jsonschema skips those two formats; once it has loaded, nothing changes.
    """
    if "jsonschema" not in sys.modules and "rfc3987_syntax" not in sys.modules:
        sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]  # import -> ImportError


_skip_slow_iri_checker()


@dataclass(frozen=True)
class RunResult:
    """How one grid point ended."""

    run_id: str
    status: str  # FINISHED, FAILED or KILLED
    parameters: dict[str, Any]
    output: Path
    error: str = ""
    promoted: str = ""  # with a spec's ``register: true``: what was registered


def provenance(spec: Spec, root: Path, parameters: dict[str, Any]) -> dict[str, str]:
    """The tags that say what produced a run (the commit is the notebook's repository's)."""
    spec_path = tracking.relative(spec.path, root)
    notebook = tracking.relative(spec.notebook, root)
    return {
        **tracking.code_tags(spec.notebook.parent), tracking.TAG_SPEC: spec_path,
        tracking.TAG_SPEC_HASH: spec.sha256, tracking.TAG_NOTEBOOK: notebook,
        tracking.TAG_SEED: str(parameters.get("seed", "")), tracking.TAG_KIND: "notebook",
        tracking.TAG_PARAMETERS: json.dumps(parameters, default=str),
        "mlflow.source.name": spec_path, **spec.tags,
    }


def declared_parameters(notebook: Path) -> list[str]:
    """Names in the notebook's ``parameters`` cell."""
    import papermill

    return list(papermill.inspect_notebook(str(notebook)))


def _run_name(spec: Spec, point: dict[str, Any]) -> str:
    varying = [f"{k}={point[k]}" for k in spec.grid]
    return spec.name + (" " + " ".join(varying) if varying else "")


def execute(spec: Spec, point: dict[str, Any], *, root: Path, extra_tags: dict | None = None,
            progress: bool = True, kernel: _Kernel | None = None) -> RunResult:
    """Run one grid point as one MLflow run and return how it ended.

    The run is owned by this process (so a SIGKILL leaves it to be ended KILLED by the next
    command); the notebook gets ``run_id`` and, when it declares it, ``experiment`` (the
    spec's name). The executed notebook is kept beside a SQLite store (``outputs/``) and as
    an artifact; with a server's store, as an artifact only. ``kernel``: one started for
    this notebook ahead of time (:func:`run_spec` starts the first), else one is started.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from retaillab import owners

    scratch = None
    with tracking.kernel_environment():
        try:  # until the run exists, an error stops the kernel and leaves nothing behind
            tags = {**provenance(spec, root, point), **(extra_tags or {})}
            local = tracking.outputs_folder()
            scratch = None if local is not None else tempfile.mkdtemp(prefix="retaillab-run-")
            folder = Path(scratch) if scratch else local / tracking.slug(spec.name)
            request = {"uri": tracking.tracking_uri(), "experiment": spec.name,
                       "description": spec.description, "run_name": _run_name(spec, point),
                       "tags": {k: str(v) for k, v in tags.items()}, "owner": owners.owner(),
                       "params": tracking.flatten(point),
                       "output_prefix": "artifacts/" if scratch else f"{folder}{os.sep}"}
            parameters = dict(point)
            if "experiment" in declared_parameters(spec.notebook):
                parameters["experiment"] = spec.name
            kernel = kernel or _Kernel.start(spec.notebook.parent)
            opened, kernel = _open_run(kernel, request)
        except BaseException:
            if kernel is not None:
                kernel.shutdown()
            if scratch:
                shutil.rmtree(scratch, ignore_errors=True)
            raise
        run = tracking.Run(opened["run_id"], opened["experiment_id"], uri=request["uri"])
        output = folder / f"{run.run_id}.ipynb"
        status, error, idle = "FAILED", opened["error"], True
        try:  # from here on, whatever happens, _finish ends the run
            if not error:
                output.parent.mkdir(parents=True, exist_ok=True)
                idle = False
                papermill.execute_notebook(
                    str(spec.notebook), str(output),
                    parameters={**parameters, "run_id": run.run_id}, progress_bar=progress,
                    cwd=str(spec.notebook.parent), kernel_name="python3",
                    km=kernel.manager if kernel is not None else None,
                    kernel_manager_class=tracking.kernel_manager())
                status, idle = "FINISHED", True
        except PapermillExecutionError as exc:
            idle = True  # the cell failed; the kernel waits for the next
            killed = exc.ename == "KeyboardInterrupt"
            status = "KILLED" if killed else "FAILED"
            error = f"cell {exc.exec_count}: {exc.ename}: {without_rows(exc.evalue)}"
        except KeyboardInterrupt:
            status, error = "KILLED", "interrupted (Ctrl-C)"
            raise
        except Exception as exc:  # the kernel died, a timeout, a bad notebook file, a full disk
            error = f"{type(exc).__name__}: {exc}"
        finally:
            if kernel is not None and not idle:  # busy or dead: stopped, and the run is
                kernel.shutdown()                # ended from here
                kernel = None
            status, error = _finish(run, status, error, output, kernel)
            if kernel is not None:
                kernel.shutdown()
            if scratch:
                shutil.rmtree(scratch, ignore_errors=True)
    shown = output if not scratch else Path(f"artifacts/{output.name}")
    promoted = _register(run.run_id) if spec.register and status == "FINISHED" else ""
    return RunResult(run.run_id, status, point, shown, error, promoted)


#: how long the kernel may take to start, import MLflow and create the run (a safety net on
#: a busy machine, not a timing), to end it, and to answer after an interrupt
OPEN_SECONDS, END_SECONDS, LATE_SECONDS = 300.0, 120.0, 30.0


class _Kernel:
    """A notebook's kernel started by the runner rather than by papermill, and kept after
    papermill is done with it, so the run's MLflow work is done in it (see the module's
    docstring). Calls go through a shell channel of its own, as silent user expressions:
    nothing shows in the notebook, its history or its namespace."""

    def __init__(self, manager: Any) -> None:
        self.manager = manager
        self.shell = manager.blocking_client()
        self.shell.start_channels(shell=True, iopub=False, stdin=False, hb=False,
                                  control=False)
        self.pending: str | None = None  # a call an interrupt left unanswered
        self.trouble = ""  # why the last call failed

    @classmethod
    def start(cls, cwd: Path) -> _Kernel | None:
        """The kernel papermill would start (``python3``, IPC sockets, this store), started in
        ``cwd`` and asked at once to import MLflow and open the store (nothing is recorded
        yet: the run is created by the next call), so that work overlaps this process's
        own; None if it cannot be started (then papermill tries, and its error is the
        run's)."""
        from jupyter_core.utils import run_sync

        manager = tracking.kernel_manager()(kernel_name="python3")
        try:
            with tracking.kernel_environment():
                run_sync(manager.start_kernel)(cwd=str(cwd))
        except Exception as exc:
            log.debug("kernel did not start here (%s); papermill starts one", exc)
            with contextlib.suppress(Exception):
                run_sync(manager.cleanup_resources)()
            return None
        kernel = cls(manager)
        kernel.send("warm", {"uri": tracking.tracking_uri()})  # its reply is not waited for
        return kernel

    def alive(self) -> bool:
        from jupyter_core.utils import run_sync

        try:
            return bool(run_sync(self.manager.is_alive)())
        except Exception:
            return False

    def send(self, name: str, request: dict[str, Any]) -> str:
        """Ask the kernel for :func:`retaillab.tracking.runner_call`; the request's id."""
        expression = (f"__import__('retaillab.tracking', fromlist=['tracking'])"
                      f".runner_call({name!r}, {json.dumps(request, default=str)!r})")
        return self.shell.execute("", silent=True, store_history=False,
                                  user_expressions={"reply": expression}, allow_stdin=False)

    def call(self, name: str, request: dict[str, Any], timeout: float) -> dict | None:
        """:func:`retaillab.tracking.runner_call` in the kernel; its reply, or None (with
        :attr:`trouble` saying why) if the kernel failed, died or did not answer in time."""
        self.trouble = ""
        self.pending = self.send(name, request)
        return self.answer(timeout)

    def answer(self, timeout: float) -> dict | None:
        """The reply to the pending call, waited for up to ``timeout`` seconds."""
        import ast
        import queue
        import time

        deadline = time.monotonic() + timeout
        while self.pending is not None:
            if time.monotonic() > deadline or not self.alive():
                self.trouble = ("the kernel died" if not self.alive() else
                                f"no answer within {timeout:g} s")
                self.pending = None
                return None
            try:
                message = self.shell.get_shell_msg(timeout=0.5)
            except queue.Empty:
                continue
            if message.get("parent_header", {}).get("msg_id") != self.pending:
                continue
            self.pending = None
            value = message["content"].get("user_expressions", {}).get("reply", {})
            if message["content"].get("status") != "ok" or value.get("status") != "ok":
                self.trouble = (f"{value.get('ename', 'error')}: {value.get('evalue', '')}"
                                if value else str(message["content"].get("evalue", "")))
                return None
            return json.loads(ast.literal_eval(value["data"]["text/plain"]))
        return None

    def shutdown(self) -> None:
        """Stop the kernel as papermill would (a shutdown request, then a kill)."""
        from jupyter_core.utils import run_sync

        with contextlib.suppress(Exception):
            self.shell.stop_channels()
        with contextlib.suppress(Exception):
            run_sync(self.manager.shutdown_kernel)(now=False)


def _open_run(kernel: _Kernel | None, request: dict[str, Any]) -> tuple[dict, _Kernel | None]:
    """Create the run in ``kernel`` (``tracking.open_notebook_run``); where the kernel
    cannot, stop it and create the run here, the notebook then running in a kernel papermill
    starts. Returns the opened run and the kernel that stays in use (or None).

    An interrupt while the kernel creates the run waits a little for it, so the run it made
    is ended KILLED rather than left RUNNING."""
    if kernel is not None:
        try:
            opened = kernel.call("open", request, OPEN_SECONDS)
        except KeyboardInterrupt:
            late = kernel.answer(LATE_SECONDS)
            if late is not None:
                _finish(tracking.Run(late["run_id"], late["experiment_id"], uri=request["uri"]),
                        "KILLED", "interrupted (Ctrl-C)", Path(os.devnull), kernel)
            raise
        if opened is not None:
            return opened, kernel
        log.debug("the kernel could not create the run (%s); this process does",
                  kernel.trouble)
        kernel.shutdown()
    return tracking.open_notebook_run(request), None


def _register(run_id: str) -> str:
    """Promote a finished run's winner (a spec's ``register: true``); what happened, as text.
    A run whose winner cannot be registered stays FINISHED: its numbers stand."""
    from retaillab.models.promotion import promote

    try:
        return promote(run_id).describe()
    except Exception as exc:  # a registry that refuses (a server without one) or no winner
        log.error("run %s: not registered: %s", run_id, exc)
        return f"not registered: {exc}"


def without_rows(message: str) -> str:
    """An error message without the data rows a :class:`DataError` shows (``line 6: ...``),
    for the run's record and the terminal summary: they stay aggregate. The executed
    notebook, the user's own, keeps the whole message."""
    import re

    kept = [line for line in str(message).splitlines()
            if not re.match(r"\s+(line|row) \d+: |\s+failing rows", line)]
    return "\n".join(kept)


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM (a CI timeout, a scheduler) like Ctrl-C, so the run ends KILLED.

    SIGINT is set too: a process started as a background job inherits SIGINT ignored, and
    ``kill -INT`` must still end its run KILLED (as for ``retaillab tune``)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous = {s: signal.signal(s, interrupt) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _finish(run: tracking.Run, status: str, error: str, output: Path,
            kernel: _Kernel | None = None) -> tuple[str, str]:
    """Keep the executed notebook, record the error, end the run; the final (status, error).

    The recording is :func:`retaillab.tracking.end_notebook_run`, in ``kernel`` when one is
    given and answers, else in this process. A record that cannot be written (a full disk, a
    vanished store) fails this run only: it is said in the error, the grid goes on, and a
    notebook written half is removed rather than left behind corrupt. Should even ending the
    run fail, the run's owner is this process, so the next command ends it KILLED.
    """
    problems = []
    try:
        if output.is_file() and not _readable_notebook(output):
            output.unlink()
            problems.append("the executed notebook was written only in part (disk full?) "
                            "and was removed")
    except OSError as exc:
        problems.append(f"could not check the executed notebook: {type(exc).__name__}: {exc}")
    request = {"uri": run.uri, "run_id": run.run_id, "experiment_id": run.experiment_id,
               "status": status, "error": error, "problems": problems,
               "artifact": str(output) if output.is_file() else None}
    reply = kernel.call("end", request, END_SECONDS) if kernel is not None else None
    if reply is None or reply["unended"]:
        if kernel is not None:
            log.debug("the kernel could not end run %s (%s); this process does", run.run_id,
                      kernel.trouble or (reply and reply["unended"]))
        reply = tracking.end_notebook_run(request)
    if reply["recording_failed"]:
        log.error("run %s: %s", run.run_id, reply["error"])
    if reply["unended"]:
        log.error("run %s could not be ended (%s); the next command ends it KILLED",
                  run.run_id, reply["unended"])
    return reply["status"], reply["error"]


def _readable_notebook(path: Path) -> bool:
    import nbformat

    try:
        nbformat.read(str(path), as_version=4)
    except Exception:
        return False
    return True


def run_spec(spec: Spec, *, fail_fast: bool = False, progress: bool = True,
             root: Path | None = None, jobs: int = 1) -> list[RunResult]:
    """Run every grid point of ``spec``; stop early only with ``fail_fast`` or on Ctrl-C.

    With ``jobs > 1`` the points run in that many worker processes (spawned, each owning the
    runs it creates): the records are those of a serial run, and the results come back in grid
    order. Ctrl-C or SIGTERM ends the running points KILLED and starts no more.
    """
    from tqdm.auto import tqdm

    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        from retaillab.errors import ParameterError

        raise ParameterError("jobs", "a whole number >= 1", jobs)
    root = root or tracking.project_root(spec.path.parent)
    parallel = jobs > 1 and len(spec.points()) > 1
    # the first point's kernel starts now: it boots while papermill loads here
    first = None if parallel else _Kernel.start(spec.notebook.parent)
    try:
        check_parameters(spec, declared_parameters(spec.notebook))
        points = spec.points()
        bar = tqdm(total=len(points), desc=f"{spec.name}: runs", unit="run",
                   disable=not progress, position=0, file=sys.stderr)
        with _sigterm_as_interrupt():
            try:
                if parallel:
                    return _run_parallel(spec, points, root, min(jobs, len(points)),
                                         fail_fast, bar)
                results: list[RunResult] = []
                for point in points:
                    kernel, first = first, None  # execute owns it from here
                    result = execute(spec, point, root=root, progress=progress, kernel=kernel)
                    results.append(result)
                    bar.update(1)
                    if not _went_on(result) and fail_fast:
                        break
                return results
            finally:
                bar.close()
    finally:
        if first is not None:  # the spec was refused, or an interrupt came first
            first.shutdown()


def _went_on(result: RunResult) -> bool:
    if result.status != "FINISHED":
        log.error("run %s %s: %s", result.run_id, result.status, result.error)
        return False
    return True


def _execute_in_worker(spec: Spec, point: dict[str, Any], root: Path) -> RunResult:
    """One grid point in a worker process: SIGTERM (sent by the parent when it is stopped)
    ends the run KILLED, as in a serial run."""
    with _sigterm_as_interrupt():
        return execute(spec, point, root=root, progress=False)


def _run_parallel(spec: Spec, points: list[dict[str, Any]], root: Path, jobs: int,
                  fail_fast: bool, bar: Any) -> list[RunResult]:
    """The grid in ``jobs`` spawned processes (spawn: no copy of this process's MLflow
    connections and threads), results in grid order."""
    import multiprocessing
    import os
    from concurrent.futures import ProcessPoolExecutor

    pool = ProcessPoolExecutor(max_workers=jobs,
                               mp_context=multiprocessing.get_context("spawn"))
    done: dict[int, RunResult] = {}
    pending = {}
    try:
        with tracking.kernel_environment():  # workers, started on demand, see this store
            pending = {pool.submit(_execute_in_worker, spec, point, root): i
                       for i, point in enumerate(points)}
            _collect(pending, done, fail_fast, bar)
    except KeyboardInterrupt:
        for future in pending:
            future.cancel()
        for process in list(getattr(pool, "_processes", {}).values()):  # stop what runs
            with contextlib.suppress(OSError):
                os.kill(process.pid, signal.SIGTERM)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return [done[i] for i in sorted(done)]


def _collect(pending: dict, done: dict[int, RunResult], fail_fast: bool, bar: Any) -> None:
    """Results as the workers finish them; with ``fail_fast`` no new point starts after a
    failure (those already running finish)."""
    from concurrent.futures import FIRST_COMPLETED, wait

    stop = False
    while pending and not stop:
        finished, _ = wait(pending, return_when=FIRST_COMPLETED)
        for future in finished:
            result = future.result()
            done[pending.pop(future)] = result
            bar.update(1)
            if not _went_on(result) and fail_fast:
                stop = True
    if stop:
        for future in pending:
            future.cancel()
        wait([f for f in pending if not f.cancelled()])
        for future, index in pending.items():
            if not future.cancelled() and future.exception() is None:
                done[index] = future.result()


def summary(spec: Spec, results: list[RunResult]) -> tuple[str, int]:
    """What ``retaillab run`` prints of a spec's runs, and its exit code (1 if one failed)."""
    lines = []
    for result in results:
        lines.append(f"{result.status:<8} {result.run_id}  {result.output}")
        if result.error:
            lines.append(f"         {result.error}")
        if result.promoted:
            lines.append(f"         {result.promoted}")
    failed = [r for r in results if r.status != "FINISHED"]
    lines.append(f"{len(results) - len(failed)} of {len(spec.points())} runs finished; "
                 f"browse them with `retaillab runs {spec.name!r}` or `retaillab ui`")
    return "\n".join(lines), 1 if failed else 0


@dataclass(frozen=True)
class RerunReport:
    """A rerun's new run and how its metrics compare with the original's."""

    original: str
    rerun: RunResult
    comparison: Any  # DataFrame: metric, original, rerun, rel_diff, same
    warnings: list[str]

    @property
    def same(self) -> bool:
        return bool(self.comparison["same"].all()) and self.rerun.status == "FINISHED"


def run_metrics(run_id: str) -> dict[str, float]:
    """A run's metrics and its children's (as ``model/metric``), timings left out.

    Timings and their bounds (:func:`retaillab.tracking.is_timing`) depend on the machine,
    so reruns report them but are not compared on them.
    """
    client = tracking.client()
    run = client.get_run(run_id)
    out = {k: v for k, v in run.data.metrics.items() if not tracking.is_timing(k)}
    seen: dict[str, int] = {}
    children = sorted(tracking.Run(run_id, run.info.experiment_id).children(),
                      key=lambda r: r.info.start_time)
    for child in children:
        name = child.data.tags.get(tracking.RUN_NAME_TAG, child.info.run_id)
        seen[name] = seen.get(name, 0) + 1
        label = name if seen[name] == 1 else f"{name}#{seen[name]}"
        out.update({f"{label}/{k}": v for k, v in child.data.metrics.items()
                    if not tracking.is_timing(k)})
    return out


def compare_metrics(first: dict[str, float], second: dict[str, float], rtol: float):
    """Metric-by-metric table; a metric on one side only counts as a difference."""
    import math

    import pandas as pd

    rows = []
    for name in sorted(set(first) | set(second)):
        a, b = first.get(name, math.nan), second.get(name, math.nan)
        scale = max(abs(a), abs(b))
        diff = abs(a - b) / scale if scale > 0 else abs(a - b)
        same = a == b or (math.isnan(a) and math.isnan(b)) or diff <= rtol
        rows.append({"metric": name, "original": a, "rerun": b, "rel_diff": diff, "same": same})
    return pd.DataFrame(rows, columns=["metric", "original", "rerun", "rel_diff", "same"])


def _recorded_notebook(recorded: str, root: Path, run_id: str) -> Path:
    """The notebook a run's record names, refused unless it is a file inside the project
    (a store is shared data: it must not make ``rerun`` execute arbitrary paths)."""
    from retaillab.errors import DataError

    notebook = (root / recorded).resolve()
    if not notebook.is_relative_to(root):
        raise DataError(f"its record names a notebook outside this project ({recorded})",
                        source=f"run {run_id}",
                        fix=f"rerun it from the project it was run in; this project is {root}")
    if notebook.suffix != ".ipynb" or not notebook.is_file():
        raise DataError(f"the notebook its record names, {recorded}, is missing from {root}",
                        source=f"run {run_id}",
                        fix="check out the commit the run was made at (retaillab.git_commit "
                            "tag) and rerun from the project root")
    return notebook


def changed_sources(tags: Mapping[str, str], root: Path) -> list[str]:
    """One line per user source whose file differs from (or is gone since) the run's record."""
    from retaillab.data.sources import file_digest

    out = []
    for key in sorted(k for k in tags if k.startswith(tracking.TAG_SOURCE)):
        table = key[len(tracking.TAG_SOURCE):]
        try:
            record = json.loads(tags[key])
            path, then = root / record["path"], record["sha256"]
        except (ValueError, KeyError, TypeError):
            continue
        if not path.exists():
            out.append(f"data changed: the {table} source {record['path']} is missing")
            continue
        now = file_digest(path)
        if now != then:
            out.append(f"data changed: the {table} source {record['path']} differs from the "
                       f"file the run read (sha256 {then[:12]} then, {now[:12]} now)")
    return out


def rerun(run_id: str, *, rtol: float = 1e-9, progress: bool = True,
          root: Path | None = None) -> RerunReport:
    """Run a recorded run again, same notebook and parameters, and compare the metrics."""
    from mlflow.exceptions import MlflowException

    from retaillab.errors import DataError

    client = tracking.client()
    try:
        original = client.get_run(run_id)
    except MlflowException:
        raise DataError("no such run in this store", source=f"run {run_id!r}",
                        fix=f"list runs with `retaillab runs EXPERIMENT` (store: "
                            f"{tracking.display_uri()})") from None
    tags = original.data.tags
    if tracking.TAG_PARAMETERS not in tags or tracking.TAG_NOTEBOOK not in tags:
        raise DataError("this run was not started by `retaillab run`, so its notebook and "
                        "parameters are not recorded", source=f"run {run_id}",
                        fix="rerun a parent run listed by `retaillab runs EXPERIMENT`")
    root = (root or tracking.project_root()).resolve()
    notebook = _recorded_notebook(tags[tracking.TAG_NOTEBOOK], root, run_id)
    experiment = client.get_experiment(original.info.experiment_id).name
    spec = Spec(root / tags.get(tracking.TAG_SPEC, "rerun"), experiment, notebook,
                json.loads(tags[tracking.TAG_PARAMETERS]), {}, {}, "",
                tags.get(tracking.TAG_SPEC_HASH, ""))
    warnings = []
    commit, dirty = tracking.git_state(spec.notebook.parent)
    then = tags.get(tracking.TAG_COMMIT)
    if commit != then or dirty or tags.get(tracking.TAG_DIRTY) == "true":
        warnings.append(f"code differs: the original ran at commit {then} "
                        f"(dirty={tags.get(tracking.TAG_DIRTY)}), this rerun at {commit} "
                        f"(dirty={str(dirty).lower()})")
    warnings.extend(changed_sources(tags, root))
    result = execute(spec, spec.parameters, root=root, progress=progress,
                     extra_tags={tracking.TAG_RERUN_OF: run_id})
    new_tags = client.get_run(result.run_id).data.tags
    for key in sorted(k for k in {*tags, *new_tags} if k.startswith(tracking.TAG_DATA)):
        if tags.get(key) != new_tags.get(key):
            warnings.append(f"data differs: {key[len(tracking.TAG_DATA):]} fingerprint "
                            f"{tags.get(key)} then, {new_tags.get(key)} now")
    comparison = compare_metrics(run_metrics(run_id), run_metrics(result.run_id), rtol)
    return RerunReport(run_id, result, comparison, warnings)
