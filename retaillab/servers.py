"""Processes retaillab starts and must stop again: the MLflow UI, JupyterLab, tuning workers.

A server (``retaillab ui``, ``retaillab lab``) runs in a process group of its own, because
it is a tree: ``mlflow ui`` starts uvicorn, which starts its workers, and stopping only the
first process leaves the others answering. :func:`serve` starts the group, prints the URL
once the server answers (not when it was merely started), and on SIGINT or SIGTERM ends the
whole group: SIGTERM, then SIGKILL after a grace period. The group is not the terminal's
foreground group, so Ctrl-C reaches only retaillab, which then stops the server in order.

:func:`die_with_parent` makes a child process (a tuning worker) end with the process that
started it, even when that one is killed by SIGKILL and cannot forward anything.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO

from retaillab.errors import RetailLabError

__all__ = ["ServerError", "die_with_parent", "kernel_spec", "lab", "lab_command",
           "port_is_free", "serve", "server_command", "start_group", "stop_group", "ui_command",
           "ui_environment", "wait_until_answers"]

HOST = "127.0.0.1"
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
#: how long a server may take to answer the first time (JupyterLab on a busy 2-core machine)
STARTUP_SECONDS = 180.0
#: how long a server may take to stop after SIGTERM before its group gets SIGKILL
GRACE_SECONDS = 20.0


class ServerError(RetailLabError):
    """A server that cannot be started: the port is taken, or it exited before answering."""

    def __init__(self, what: str, *, where: str, fix: str) -> None:
        super().__init__(f"{where}: {what}\n  fix: {fix}")


# -- children that end with their parent -------------------------------------------------


def _prctl() -> Callable[..., int] | None:
    """libc's ``prctl`` on Linux, else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def _set_parent_death_signal(sig: int, prctl: Callable[..., int] | None = None) -> bool:
    """Ask the Linux kernel to send ``sig`` to this process when its parent dies."""
    prctl = prctl or _prctl()
    return prctl is not None and prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0


def die_with_parent(parent: int | None = None, sig: int = signal.SIGTERM,
                    grace: float = 10.0, interval: float = 0.5) -> None:
    """End this process when ``parent`` (default: the current parent) ends, however it ends.

    Two mechanisms, because either can miss: the kernel's parent-death signal (Linux
    ``prctl(PR_SET_PDEATHSIG)``), and a watchdog thread that notices the parent changed
    (``os.getppid()``: the process was handed to init or a subreaper), sends ``sig`` itself
    and, should the process still live ``grace`` seconds later (stuck in C code), exits it.
    ``sig`` should run this process's own clean-up (a handler that raises, e.g.).
    """
    parent = os.getppid() if parent is None else parent
    _set_parent_death_signal(sig)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        with contextlib.suppress(ProcessLookupError):
            os.kill(os.getpid(), sig)
        time.sleep(grace)
        os._exit(128 + int(sig))

    threading.Thread(target=watch, name="die-with-parent", daemon=True).start()
    if os.getppid() != parent:  # the parent died before the kernel was asked to tell us
        os.kill(os.getpid(), sig)


# -- servers in a process group of their own -----------------------------------------------


def port_is_free(port: int, host: str = HOST) -> bool:
    """Whether ``host:port`` can be listened on (as a server would: with SO_REUSEADDR)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def start_group(command: Sequence[str], *, env: Mapping[str, str] | None = None,
                cwd: str | Path | None = None, output: IO | None = None) -> subprocess.Popen:
    """Start ``command`` as the leader of a new session and process group.

    The leader also gets the parent-death signal SIGTERM, so a retaillab killed by SIGKILL
    does not leave it serving (the processes it started are its own to stop).
    """
    target = sys.stderr if output is None else output
    prctl = _prctl()  # looked up here: the child only calls it, between fork and exec
    return subprocess.Popen(list(command), env=None if env is None else dict(env), cwd=cwd,
                            stdin=subprocess.DEVNULL, stdout=target, stderr=target,
                            start_new_session=True,
                            preexec_fn=lambda: _set_parent_death_signal(signal.SIGTERM, prctl))


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover  (a member changed user: it exists)
        return True
    return True


def stop_group(process: subprocess.Popen, grace: float = GRACE_SECONDS) -> int | None:
    """End ``process`` and every process of its group: SIGTERM, SIGKILL after ``grace``.

    Returns the leader's exit code. Members that are already zombies waiting for init count
    as gone once the leader is reaped and SIGKILL was sent.
    """
    pgid = process.pid  # the leader of its own group (start_group)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass
    deadline = time.monotonic() + grace
    while _group_alive(pgid) and time.monotonic() < deadline:  # the leader's children
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    return process.wait()


def wait_until_answers(url: str, process: subprocess.Popen, *,
                       headers: Mapping[str, str] | None = None,
                       timeout: float = STARTUP_SECONDS) -> bool:
    """Poll ``url`` until it answers 200; False if ``process`` exits or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    request = urllib.request.Request(url, headers=dict(headers or {}))
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                if response.status == 200:
                    return True
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.25)
    return False


class _Stop(Exception):
    """SIGINT or SIGTERM arrived: stop the server."""


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[list[int]]:
    """Turn the first SIGINT or SIGTERM into :class:`_Stop`. Once the yielded list is not
    empty (a signal came, or the server is being stopped) signals are ignored: a second
    Ctrl-C must not cut the clean-up short."""
    stopping: list[int] = []
    if threading.current_thread() is not threading.main_thread():  # pragma: no cover
        yield stopping
        return

    def handler(signum: int, _frame: object) -> None:
        if not stopping:
            stopping.append(signum)
            raise _Stop(signum)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stopping
    finally:
        for s, old in previous.items():
            signal.signal(s, old)


def serve(command: Sequence[str], *, health: str, ready: Callable[[], str], name: str,
          port: int, env: Mapping[str, str] | None = None, cwd: str | Path | None = None,
          headers: Mapping[str, str] | None = None, timeout: float = STARTUP_SECONDS,
          out: IO | None = None) -> int:
    """Run a server until SIGINT or SIGTERM; print ``ready()`` once ``health`` answers.

    The server's own output goes to stderr, so stdout holds only retaillab's lines. Returns 0
    when stopped by a signal, else the server's exit code (it stopped by itself).

    Raises
    ------
    ServerError
        The port is taken, or the server exited (or never answered) before it was ready.
    """
    out = out or sys.stdout
    where = f"{name} at {HOST}:{port}"
    if not port_is_free(port):
        raise ServerError(f"port {port} is in use", where=where,
                          fix="stop what is using it, or pass another --port")
    process = None
    with _stop_on_signals() as stopping:
        try:
            process = start_group(command, env=env, cwd=cwd)
            if not wait_until_answers(health, process, headers=headers, timeout=timeout):
                code = process.poll()
                what = (f"exited with code {code} before it answered" if code is not None
                        else f"did not answer {health} within {timeout:.0f} s")
                raise ServerError(what, where=where, fix="its messages above say why")
            print(ready(), file=out, flush=True)
            return process.wait()
        except _Stop:
            return 0
        finally:
            stopping.append(0)
            if process is not None:
                stop_group(process)


# -- the two servers -------------------------------------------------------------------------


def ui_command(store: str, port: int) -> list[str]:
    """``mlflow ui`` on ``store`` at 127.0.0.1:``port``; one worker is plenty for one user and
    starts in a fraction of the time of mlflow's default four. A plain ``postgresql://`` store
    gets the installed driver (:func:`retaillab.tracking.database_uri`)."""
    from retaillab.tracking import database_uri

    return [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", database_uri(store),
            "--host", HOST, "--port", str(port), "--workers", "1"]


def server_command(backend: str, artifacts: str, *, host: str = HOST, port: int = 5000,
                   workers: int = 2) -> list[str]:
    """``mlflow server`` on ``backend`` (a database URI) serving and proxying the artifacts in
    ``artifacts`` (a folder or object-store URI): clients on other machines log artifacts
    through the server (``mlflow-artifacts:/``) and need no access to the artifact store.
    A plain ``postgresql://`` backend, the URI Optuna's storage takes too, gets the installed
    driver (:func:`retaillab.tracking.database_uri`)."""
    from retaillab.tracking import database_uri

    return [sys.executable, "-m", "mlflow", "server", "--backend-store-uri",
            database_uri(backend),
            "--artifacts-destination", artifacts, "--serve-artifacts", "--host", host,
            "--port", str(port), "--workers", str(workers)]


def ui_environment() -> dict[str, str]:
    """This environment, with MLflow's server-side job runner off unless asked for: it starts
    seven more processes (GenAI evaluation jobs) a store of model comparisons never uses,
    and on two cores it doubles the time until the UI answers."""
    return {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", **os.environ}


def kernel_spec(folder: Path) -> Path:
    """Write a ``python3`` kernel spec that starts this interpreter under ``folder``
    (``folder/kernels/python3``): put first on ``JUPYTER_PATH``, it wins over any other
    ``python3`` spec (a user's, the system's), so notebooks run on the project's environment.
    """
    from ipykernel.kernelspec import write_kernel_spec

    target = folder / "kernels" / "python3"
    target.parent.mkdir(parents=True, exist_ok=True)
    write_kernel_spec(str(target), overrides={
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (retaillab)"})
    return target


def lab_command(root: Path, port: int) -> list[str]:
    """JupyterLab at ``root`` on 127.0.0.1:``port``, no browser, no port hopping (the token
    comes through the environment, never the command line other users can read). As root
    (a container, typically) it is allowed: the server is on loopback and needs the token."""
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--ServerApp.ip={HOST}",
               f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
               f"--ServerApp.root_dir={root}", "--ServerApp.allow_remote_access=False"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    return command


def lab(root: Path, port: int, store: str, display_store: str) -> int:
    """Serve JupyterLab at ``root`` with a fresh token and kernels on this interpreter that
    log to ``store``; prints the URL with its token once the server answers."""
    token = secrets.token_hex(24)
    with tempfile.TemporaryDirectory(prefix="retaillab-lab-") as folder:
        kernel_spec(Path(folder))
        paths = [folder, *filter(None, os.environ.get("JUPYTER_PATH", "").split(os.pathsep))]
        env = {**os.environ, "JUPYTER_TOKEN": token, "MLFLOW_TRACKING_URI": store,
               "JUPYTER_PATH": os.pathsep.join(paths)}
        url = f"http://{HOST}:{port}/lab?token={token}"
        return serve(lab_command(root, port), health=f"http://{HOST}:{port}/api/status",
                     headers={"Authorization": f"token {token}"}, name="JupyterLab",
                     port=port, env=env, cwd=root,
                     ready=lambda: (f"JupyterLab at {root} (kernels log to {display_store})\n"
                                    f"  {url}\n  Ctrl-C stops it"))
