"""``--workers N``: N processes on one study, each logging its own trials to MLflow.

The launcher has already created the study and its parent run; each worker opens the same
storage, loads the study, and runs its share of the remaining trials with its own seeded
sampler (``seed + worker``), so workers do not propose the same first configurations. Shares
add up to the remaining count, so N workers finish exactly the trials asked for.

Run as ``python -m retaillab.tuning.workers PAYLOAD`` (JSON); users never call it directly.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Sequence

from retaillab.errors import DataError
from retaillab.tuning.spec import TuneSpec

__all__ = ["launch", "shares"]


def shares(n_trials: int, workers: int) -> list[int]:
    """``n_trials`` split as evenly as possible over ``workers`` (no zero shares)."""
    base, extra = divmod(n_trials, workers)
    return [n for n in (base + (i < extra) for i in range(workers)) if n > 0]


def launch(spec: TuneSpec, url: str, parent_run_id: str, n_trials: int, *, workers: int,
           seed: int) -> None:
    """Run ``n_trials`` trials in ``workers`` processes and wait for all of them.

    Raises
    ------
    DataError
        When a worker exits with an error (its trials so far stay in the study).
    """
    processes = []
    for index, share in enumerate(shares(n_trials, workers)):
        payload = {"spec": spec.as_dict(), "storage": url, "parent": parent_run_id,
                   "n_trials": share, "seed": seed + index}
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "retaillab.tuning.workers", json.dumps(payload)],
            stderr=subprocess.PIPE, text=True))
    try:
        errors = [(p, p.communicate()[1]) for p in processes]
    except KeyboardInterrupt:
        for p in processes:
            p.send_signal(signal.SIGINT)
        for p in processes:
            p.wait()
        raise
    failed = [(p, err) for p, err in errors if p.returncode != 0]
    if failed:
        process, err = failed[0]
        last = (err or "").strip().splitlines()[-1:] or ["no message"]
        raise DataError(f"{len(failed)} of {len(processes)} workers failed; worker pid "
                        f"{process.pid} exited {process.returncode}: {last[0]}",
                        source=f"study {spec.study_name}",
                        fix="fix the cause and run the same command again: the study resumes")


def main(argv: Sequence[str] | None = None) -> int:
    """One worker process: run its share of the study's trials."""
    from retaillab import tracking
    from retaillab.tuning.storage import open_storage
    from retaillab.tuning.trials import run_trials

    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    signal.signal(signal.SIGTERM, interrupt)
    payload = json.loads((argv or sys.argv[1:])[0])
    spec = TuneSpec(**payload["spec"])
    found = tracking.client().get_run(payload["parent"])
    parent = tracking.Run(payload["parent"], found.info.experiment_id)
    run_trials(spec, open_storage(payload["storage"]), parent, payload["n_trials"],
               seed=payload["seed"], timeout=spec.timeout)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
