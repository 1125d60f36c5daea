"""Who writes a run: a process named so that another process can tell if it is gone.

Every run retaillab creates carries the tag ``retaillab.owner`` (:func:`owner`): the host,
its boot id, and the pid and start time of the process writing the run (the runner for a
notebook's run, the kernel for compared models and by-hand notebooks, the tuner for studies
and trials). :func:`alive` tells whether that process still runs: not when there is no such
pid, it is a zombie, a new process reused the pid (another start time) or the host rebooted.
``retaillab.tracking.reap_orphans`` uses it to end the runs of dead owners as KILLED.

Owners on another host cannot be checked from here (:func:`alive` says None): their runs
are left to their own host's next command (there is no heartbeat).

Written by hand: MLflow has no notion of a run's owner, and Optuna's heartbeat covers only
trials in its RDB storage.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _start_time(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot), or None if it is not alive."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    except OSError:  # no /proc (macOS): ask psutil
        try:
            import psutil

            process = psutil.Process(pid)
            if process.status() == psutil.STATUS_ZOMBIE:
                return None
            return f"{process.create_time():.2f}"
        except Exception:
            return None
    fields = stat.rsplit(")", 1)[1].split()  # the command name may hold spaces and ')'
    if fields[0] in ("Z", "X"):  # a zombie: dead, not yet waited for by its parent
        return None
    return fields[19]  # field 22 of proc(5): starttime


def owner(pid: int | None = None) -> str:
    """This process (or ``pid``) as the owner tag's JSON text."""
    pid = os.getpid() if pid is None else pid
    return json.dumps({"host": socket.gethostname(), "boot": _boot_id(), "pid": pid,
                       "start": _start_time(pid)}, separators=(",", ":"))


def alive(text: str) -> bool | None:
    """Whether the owner described by ``text`` is alive: None when it cannot be told here
    (another host, an unreadable tag)."""
    try:
        info = json.loads(text)
        pid = int(info["pid"])
    except (ValueError, TypeError, KeyError):
        return None
    if info.get("host") != socket.gethostname():
        return None
    boot = _boot_id()
    if info.get("boot") and boot and info["boot"] != boot:
        return False  # the host rebooted since
    start = _start_time(pid)
    if start is None:
        return False
    return info.get("start") is None or start == info["start"]
