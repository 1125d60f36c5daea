"""``retaillab`` as if run on another machine, for the shared-store tests.

    python tests/services/machine.py HOST [OPTION ...] -- retaillab arguments...

``socket.gethostname()`` answers HOST in this process: retaillab names a run's owner and a
trial's worker by host and pid (:mod:`retaillab.owners`), so a process on "another machine"
cannot be judged alive or dead from here, as on a real second machine; only heartbeats tell.
The caller gives each machine its own working folder and ``TMPDIR`` (no shared lock files).

Options act when this process's K-th trial starts (its objective is called), so a test can
line processes up on files instead of guessing with sleeps:

- ``--gate K DIR N``: create ``DIR/HOST``, wait (a minute at most) until DIR holds N files;
- ``--await K FLAG``: wait (a minute at most) until the file FLAG exists;
- ``--hang K FLAG``: create the file FLAG and wait forever (to be killed mid-trial).

Optuna's plots at the end of a study are skipped: seconds of matplotlib that the stores
under test have nothing to do with.
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from pathlib import Path

WAIT_SECONDS = 60.0


def _wait(done) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not done() and time.monotonic() < deadline:
        time.sleep(0.05)


def _hooks(host: str, options: list[str]) -> dict[int, list]:
    """Trial number (1-based, in this process) -> what to do as it starts."""
    hooks: dict[int, list] = {}
    while options:
        name, k = options[0], int(options[1])
        if name == "--gate":
            folder, n = Path(options[2]), int(options[3])
            hooks.setdefault(k, []).append(
                lambda f=folder, n=n: ((f / host).touch(),
                                       _wait(lambda: len(list(f.iterdir())) >= n)))
            options = options[4:]
        elif name == "--await":
            flag = Path(options[2])
            hooks.setdefault(k, []).append(lambda f=flag: _wait(f.exists))
            options = options[3:]
        elif name == "--hang":
            flag = Path(options[2])
            hooks.setdefault(k, []).append(
                lambda f=flag: (f.write_text(host), threading.Event().wait()))
            options = options[3:]
        else:
            raise SystemExit(f"unknown option {name!r}")
    return hooks


def main(argv: list[str]) -> int:
    host, rest = argv[0], argv[1:]
    split = rest.index("--")
    hooks, args = _hooks(host, rest[:split]), rest[split + 1:]
    socket.gethostname = lambda: host

    from retaillab.tuning import study
    from retaillab.tuning.objectives import Problem

    original, started = Problem.validate, []

    def validate(self, params, report=None):
        started.append(True)
        for hook in hooks.get(len(started), []):
            hook()
        return original(self, params, report)

    Problem.validate = validate
    study._plots = lambda *args, **kwargs: {}
    from retaillab.cli import main as cli

    return cli(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
