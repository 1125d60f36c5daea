"""``--workers N``: N processes on one study, each logging its own trials to MLflow.

The launching process is one of the N: it runs trials itself, in-process, as with one
worker, and starts N - 1 worker processes as its first step, before it opens the study, so
their start-up (imports, the data and folds) overlaps its own; once it has created the study
and its parent run it tells them to go (a file in their start folder naming the parent run
and the seed), and each opens the same storage, loads the study, and runs trials with its own
seeded sampler (``seed + index``), so processes do not propose the same first
configurations. No process has a fixed share: each takes the next trial while the study has
room for it (see :mod:`retaillab.tuning.trials`), so N processes, a resumed launcher and
stragglers together finish exactly the trials asked for. A process with no trial to start
takes one of the study's final scores (:mod:`retaillab.tuning.final`) instead of waiting.

Each process gets an equal share of the cores for its BLAS and OpenMP threads (one each for
two workers on two cores: :func:`thread_env`, :func:`thread_limit`), so N processes do not
run N times as many threads as there are cores.

On a database storage each worker records its running trial's heartbeat (the spec's
``heartbeat_seconds``), so a worker that dies, here or on another machine, has its trial
failed by whichever process looks next.

Workers stop with their launcher: Ctrl-C or SIGTERM of the launcher is forwarded to them
(each fails its current trial and ends its child run KILLED), and a launcher killed outright
(SIGKILL) takes them along through :func:`retaillab.servers.die_with_parent`.

Run as ``python -m retaillab.tuning.workers PAYLOAD`` (JSON); users never call it directly.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from retaillab.errors import DataError
from retaillab.tuning.spec import TuneSpec

__all__ = ["Workers", "start", "stop_workers", "thread_env", "thread_limit"]

#: how long workers may take to end their trials after SIGTERM before they get SIGKILL
GRACE_SECONDS = 30.0
#: how long a loaded worker waits for the other workers before it starts on its own
START_SECONDS = 120.0
#: seconds between a waiting worker's looks at its start folder
GO_POLL_SECONDS = 0.05
#: environment variables that size the BLAS and OpenMP thread pools of a new process
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def threads_per_process(processes: int) -> int:
    """BLAS/OpenMP threads for each of ``processes`` processes sharing this machine's cores."""
    return max(1, cores() // max(1, processes))


def thread_env(processes: int) -> dict[str, str]:
    """This environment with each thread-pool variable the user has not set sized to
    :func:`threads_per_process` (the variables are read when numpy and OpenMP load)."""
    env = dict(os.environ)
    for name in THREAD_VARIABLES:
        env.setdefault(name, str(threads_per_process(processes)))
    return env


@contextlib.contextmanager
def thread_limit(processes: int) -> Iterator[None]:
    """Limit this process's BLAS and OpenMP pools to its share of the cores for the block
    (threadpoolctl: they are loaded already); nothing for one process."""
    if processes <= 1:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads_per_process(processes)):
        yield


class Workers:
    """Worker processes started before their study exists; see :func:`start`."""

    def __init__(self, spec: TuneSpec, url: str, count: int) -> None:
        self.spec, self.count = spec, count
        self._folder = tempfile.TemporaryDirectory(prefix="retaillab-workers-")
        self.folder = Path(self._folder.name)
        self.processes: list[tuple[subprocess.Popen, Path]] = []
        env = thread_env(count + 1)
        try:
            for index in range(1, count + 1):
                payload = {"spec": spec.as_dict(), "storage": url, "launcher": os.getpid(),
                           "start": str(self.folder), "index": index, "workers": count}
                log = self.folder / f"worker-{index}.log"
                with open(log, "w") as err:  # a file, not a pipe: a chatty worker never blocks
                    self.processes.append((subprocess.Popen(
                        [sys.executable, "-m", "retaillab.tuning.workers", json.dumps(payload)],
                        stdin=subprocess.DEVNULL, stderr=err, env=env), log))
        except BaseException:
            self.stop()
            raise

    def go(self, parent_run_id: str, n_trials: int, *, seed: int,
           attempts: int | None = None) -> None:
        """Tell the workers to run the study up to ``n_trials`` finished trials under
        ``parent_run_id``: worker ``i`` seeds its sampler ``seed + i``; ``attempts`` caps the
        trials each starts (failed ones included)."""
        self._signal("go", {"parent": parent_run_id, "n_trials": n_trials, "seed": seed,
                            "attempts": attempts})

    def _signal(self, name: str, content: dict[str, Any]) -> None:
        partial = self.folder / f".{name}.json"
        partial.write_text(json.dumps(content))
        partial.rename(self.folder / f"{name}.json")  # whole or absent, for the workers

    def wait(self) -> None:
        """Wait for every worker to end.

        Raises
        ------
        DataError
            When a worker exited with an error (its trials so far stay in the study).
        """
        for process, _ in self.processes:
            process.wait()
        failed = [(p, log.read_text(errors="replace")) for p, log in self.processes
                  if p.returncode]
        if failed:
            process, err = failed[0]
            last = err.strip().splitlines()[-1:] or ["no message"]
            raise DataError(f"{len(failed)} of {len(self.processes)} workers failed; worker "
                            f"pid {process.pid} exited {process.returncode}: {last[0]}",
                            source=f"study {self.spec.study_name}",
                            fix="fix the cause and run the same command again: the study "
                                "resumes")

    def stop(self) -> None:
        """SIGTERM the workers still running (each fails its trial, if it has one), SIGKILL
        them after :data:`GRACE_SECONDS`; also how workers are let go unused (a full study)."""
        stop_workers([p for p, _ in self.processes])

    def close(self) -> None:
        """Remove the start folder (the workers have ended)."""
        self._folder.cleanup()


def start(spec: TuneSpec, url: str, count: int) -> Workers:
    """Start ``count`` worker processes on the spec's study at storage ``url``; they load the
    data, then wait for :meth:`Workers.go` (or :meth:`Workers.stop`)."""
    return Workers(spec, url, count)


def stop_workers(processes: Sequence[subprocess.Popen], grace: float = GRACE_SECONDS) -> None:
    """SIGTERM every worker still running, wait ``grace`` seconds, SIGKILL the rest."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for process in processes:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _start_together(folder: Path, index: int, workers: int,
                    timeout: float = START_SECONDS) -> None:
    """Say this worker is ready (its data loaded) and wait until every worker is, so the
    first to load does not take the whole study alone; after ``timeout``, start anyway."""
    (folder / f"ready-{index}").touch()
    deadline = time.monotonic() + timeout
    while (len(list(folder.glob("ready-*"))) < workers and time.monotonic() < deadline):
        time.sleep(0.1)


def _await_go(folder: Path) -> dict[str, Any]:
    """The launcher's word (:meth:`Workers.go`), once it is there."""
    path = folder / "go.json"
    while not path.exists():
        time.sleep(GO_POLL_SECONDS)
    return json.loads(path.read_text())


def main(argv: Sequence[str] | None = None) -> int:
    """One worker process: load the data, wait for the launcher's go, run trials of the study
    until it is full, then take final scores while there are any; 130 if stopped."""
    stopping: list[int] = []

    def stop(signum: int, _frame: object) -> None:  # once: a second signal must not cut
        if not stopping:                            # the clean-up of the first short
            stopping.append(signum)
            raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    payload = json.loads((argv or sys.argv[1:])[0])
    from retaillab.servers import die_with_parent

    die_with_parent(payload.get("launcher"))
    try:
        import optuna

        from retaillab import tracking
        from retaillab.tuning.final import config_key, take
        from retaillab.tuning.objectives import make_problem
        from retaillab.tuning.storage import open_storage
        from retaillab.tuning.trials import budget_lock_path, fixed_params, make_study, run_trials

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        spec = TuneSpec(**payload["spec"])
        fixed = fixed_params(spec)[1]
        mlflow_client = tracking.client()
        problem = make_problem(spec.task, spec.model, spec.metric, spec.data, fixed, spec.seed)
        storage = open_storage(payload["storage"], heartbeat_seconds=spec.heartbeat_seconds,
                               grace_seconds=spec.grace_seconds)
        folder = Path(payload["start"])
        _start_together(folder, payload["index"], payload["workers"])
        go = _await_go(folder)
        parent = tracking.Run(go["parent"],
                              mlflow_client.get_run(go["parent"]).info.experiment_id)
        lock = budget_lock_path(payload["storage"], spec.study_name)
        key, n_trials = config_key(spec, fixed), go["n_trials"]

        def final(study: Any) -> bool:
            return take(study, key, problem, lock, n_trials)

        seed = go["seed"] + payload["index"]
        run_trials(spec, storage, parent, n_trials, seed=seed, attempts=go.get("attempts"),
                   lock=lock, timeout=spec.timeout, problem=problem, idle=final)
        study = make_study(spec, storage, seed=seed, load=True)
        while final(study):
            pass
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
