"""Safe reports: a store reached by a URI with a password never shows the password (report page,
what `report` and `runs` print), and an experiment named ``../../x`` writes its default
report inside ``reports/``.

The store is real: an ``mlflow server`` on 127.0.0.1 reached as
``http://reporter:PASSWORD@127.0.0.1:PORT`` (requests sends the credentials as HTTP basic
auth; this server ignores them), so the report notebook's kernel reads the record, artifacts
included, through that URI.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from retaillab import tracking
from retaillab.cli import main

from .conftest import CHURN, log_comparison

pytestmark = [pytest.mark.notebook, pytest.mark.slow]

PASSWORD = "s3cret-Pa55w0rd"
NAME = "../../x"
SLUG = "x"  # '/' is no file-name character and leading dots go: the name stays in reports/


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_up(process: subprocess.Popen, url: str, log: Path, seconds: float = 240) -> None:
    """Until ``url`` answers 200; fail with the server's log if it exits or never answers."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"mlflow server exited ({process.returncode}):\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"mlflow server did not answer {url} in {seconds:.0f} s:\n"
                f"{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def served(tmp_path_factory, copy_store):
    """A churn record in experiment ``../../x`` on a server reached with a password, reported
    by ``retaillab report ../../x`` from a project two folders deep. Yields the project
    folder, the port and everything the command printed."""
    root = tmp_path_factory.mktemp("served")
    backend = copy_store(root / "server")
    port = free_port()
    log = root / "server.log"
    with open(log, "w") as sink:
        server = subprocess.Popen(
            [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", backend,
             "--artifacts-destination", str(root / "server" / "artifacts"),
             "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
            stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"})  # no job runner
    try:
        wait_until_up(server, f"http://127.0.0.1:{port}/health", log)
        project = root / "deep" / "project"
        project.mkdir(parents=True)
        (project / "pyproject.toml").write_text("[project]\nname = 'scratch'\n")
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("MLFLOW_TRACKING_URI", f"http://reporter:{PASSWORD}@127.0.0.1:{port}")
            mp.chdir(project)
            tracking._CLIENTS.clear()
            log_comparison(NAME, CHURN)
            out, err = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = main(["report", NAME])
            assert code == 0, err.getvalue()
            yield project, port, out.getvalue() + err.getvalue()
            tracking._CLIENTS.clear()
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the server and the workers it started
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def test_the_report_masks_the_password(served):
    project, port, printed = served
    page = (project / "reports" / f"{SLUG}.html").read_text(encoding="utf-8")
    # the record came through the server
    assert ">gbm<" in page and "corrected resampled t over 3 folds" in page
    assert PASSWORD not in page and PASSWORD not in printed
    masked = f"http://reporter:***@127.0.0.1:{port}"
    assert page.count(masked) == 2  # the page header and the provenance table


def test_the_default_report_stays_inside_reports(served):
    project, _, printed = served
    expected = project / "reports" / f"{SLUG}.html"
    assert f"written to {Path('reports') / (SLUG + '.html')}" in printed
    pages = sorted(project.parent.parent.rglob("*.html"))
    assert pages == [expected]
    assert not (project.parent / "x.html").exists() and not (project / "x.html").exists()


def test_runs_masks_the_password(served, capsys):
    _, port, _ = served
    assert main(["runs"]) == 0
    listing = capsys.readouterr().out
    assert NAME in listing and f"store: http://reporter:***@127.0.0.1:{port}" in listing
    assert main(["runs", NAME]) == 0
    board = capsys.readouterr().out
    assert board.startswith(f"{NAME}: run ") and "gbm" in board
    assert PASSWORD not in listing + board
