"""``--workers N``: N processes on one study, each logging its own trials to MLflow.

The launcher has already created the study and its parent run; each worker opens the same
storage, loads the study, and runs trials with its own seeded sampler (``seed + worker``), so
workers do not propose the same first configurations. No worker has a fixed share: each
takes the next trial while the study has room for it (see :mod:`retaillab.tuning.trials`),
so N workers, a resumed launcher and stragglers together finish exactly the trials asked for.

On a database storage each worker records its running trial's heartbeat (the spec's
``heartbeat_seconds``), so a worker that dies, here or on another machine, has its trial
failed by whichever process looks next.

Workers stop with their launcher: Ctrl-C or SIGTERM of the launcher is forwarded to them
(each fails its current trial and ends its child run KILLED), and a launcher killed outright
(SIGKILL) takes them along through :func:`retaillab.servers.die_with_parent`.

Run as ``python -m retaillab.tuning.workers PAYLOAD`` (JSON); users never call it directly.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from retaillab.errors import DataError
from retaillab.tuning.spec import TuneSpec

__all__ = ["launch", "stop_workers"]

#: how long workers may take to end their trials after SIGTERM before they get SIGKILL
GRACE_SECONDS = 30.0
#: how long a loaded worker waits for the others before it starts on its own
START_SECONDS = 120.0


def launch(spec: TuneSpec, url: str, parent_run_id: str, n_trials: int, *, workers: int,
           seed: int, attempts: int | None = None) -> None:
    """Run the study up to ``n_trials`` finished trials in ``workers`` processes; wait.

    ``attempts`` caps the trials each worker starts (failed ones included). On Ctrl-C or
    SIGTERM (as KeyboardInterrupt) the workers get SIGTERM and are waited for.

    Raises
    ------
    DataError
        When a worker exits with an error (its trials so far stay in the study).
    """
    processes: list[tuple[subprocess.Popen, Path]] = []
    with tempfile.TemporaryDirectory(prefix="retaillab-workers-") as folder:
        try:
            for index in range(workers):
                payload = {"spec": spec.as_dict(), "storage": url, "parent": parent_run_id,
                           "n_trials": n_trials, "attempts": attempts, "seed": seed + index,
                           "launcher": os.getpid(), "start": folder, "index": index,
                           "workers": workers}
                log = Path(folder) / f"worker-{index}.log"
                with open(log, "w") as err:  # a file, not a pipe: a chatty worker never blocks
                    processes.append((subprocess.Popen(
                        [sys.executable, "-m", "retaillab.tuning.workers", json.dumps(payload)],
                        stdin=subprocess.DEVNULL, stderr=err), log))
            for process, _ in processes:
                process.wait()
        except BaseException:  # KeyboardInterrupt (Ctrl-C, SIGTERM), or a failed start
            stop_workers([p for p, _ in processes])
            raise
        failed = [(p, log.read_text(errors="replace")) for p, log in processes if p.returncode]
    if failed:
        process, err = failed[0]
        last = err.strip().splitlines()[-1:] or ["no message"]
        raise DataError(f"{len(failed)} of {len(processes)} workers failed; worker pid "
                        f"{process.pid} exited {process.returncode}: {last[0]}",
                        source=f"study {spec.study_name}",
                        fix="fix the cause and run the same command again: the study resumes")


def stop_workers(processes: Sequence[subprocess.Popen], grace: float = GRACE_SECONDS) -> None:
    """SIGTERM every worker still running, wait ``grace`` seconds, SIGKILL the rest."""
    import time

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
    import time

    (folder / f"ready-{index}").touch()
    deadline = time.monotonic() + timeout
    while (len(list(folder.glob("ready-*"))) < workers and time.monotonic() < deadline):
        time.sleep(0.1)


def main(argv: Sequence[str] | None = None) -> int:
    """One worker process: run trials of the study until it is full; 130 if stopped."""
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
        from retaillab.tuning.storage import open_storage
        from retaillab.tuning.trials import budget_lock_path, run_trials

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        spec = TuneSpec(**payload["spec"])
        found = tracking.client().get_run(payload["parent"])
        parent = tracking.Run(payload["parent"], found.info.experiment_id)
        storage = open_storage(payload["storage"], heartbeat_seconds=spec.heartbeat_seconds,
                               grace_seconds=spec.grace_seconds)
        run_trials(spec, storage, parent, payload["n_trials"],
                   seed=payload["seed"], attempts=payload.get("attempts"),
                   lock=budget_lock_path(payload["storage"], spec.study_name),
                   timeout=spec.timeout,
                   ready=lambda: _start_together(Path(payload["start"]), payload["index"],
                                                 payload["workers"]))
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
