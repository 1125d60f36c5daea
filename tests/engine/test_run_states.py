"""No run stays RUNNING: whatever kills the process writing a run, the next command that opens
the store ends it KILLED; a by-hand notebook whose cell raises ends its run FAILED; by-hand
runs say what they are (commit, notebook, name). (A by-hand notebook that runs through ends
FINISHED: tests/test_servers.py runs the tour that way in a real JupyterLab.)"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from retaillab import owners, tracking
from retaillab.cli import main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
pytestmark = [pytest.mark.notebook, pytest.mark.slow]


def wait_for(condition, what: str, deadline: float = 300.0) -> None:
    """Poll until ``condition()`` holds; the deadline is a safety net, not a timing."""
    end = time.time() + deadline
    while not condition():
        assert time.time() < end, f"gave up waiting for {what}"
        time.sleep(0.2)


def runs_of(experiment: str) -> list:
    client = tracking.client()
    exp = client.get_experiment_by_name(experiment)
    return [] if exp is None else client.search_runs([exp.experiment_id])


def owner_pids(experiment: str) -> set[int]:
    return {json.loads(r.data.tags[tracking.TAG_OWNER])["pid"] for r in runs_of(experiment)}


def code_cells(notebook: Path) -> list[str]:
    import nbformat

    book = nbformat.read(notebook, as_version=4)
    return [c.source for c in book.cells if c.cell_type == "code"]


class ByHand:
    """A kernel opened on a notebook the way JupyterLab opens one (``JPY_SESSION_NAME``)."""

    def __init__(self, notebook: Path) -> None:
        from jupyter_client import KernelManager

        self.manager = KernelManager(kernel_name="python3")
        self.manager.start_kernel(env={**os.environ, "JPY_SESSION_NAME": str(notebook)},
                                  cwd=str(notebook.parent))
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=300)

    def run(self, code: str) -> str:
        reply = self.client.execute_interactive(code, timeout=300, output_hook=lambda _: None)
        return reply["content"]["status"]

    def close(self) -> None:
        self.client.stop_channels()
        if self.manager.has_kernel:
            self.manager.shutdown_kernel(now=True)


def test_owners_tell_alive_dead_reused_and_foreign_processes():
    assert owners.alive(owners.owner()) is True
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    text = owners.owner(child.pid)
    child.wait()
    assert owners.alive(text) is False  # exited (and waited for)
    info = json.loads(owners.owner())
    assert owners.alive(json.dumps({**info, "start": "1"})) is False  # the pid was reused
    assert owners.alive(json.dumps({**info, "boot": "another-boot"})) is False  # rebooted
    assert owners.alive(json.dumps({**info, "host": socket.gethostname() + "-x"})) is None
    assert owners.alive("not json") is None


def test_runs_of_dead_processes_end_killed_and_live_ones_are_kept(store):
    exp = tracking.experiment_id("reap")
    mine = tracking.create_run(exp, run_name="alive")
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    dead_owner = owners.owner(child.pid)
    child.wait()
    orphan = tracking.client().create_run(exp, run_name="orphan",
                                          tags={tracking.TAG_OWNER: dead_owner})
    foreign = tracking.client().create_run(exp, run_name="elsewhere", tags={
        tracking.TAG_OWNER: json.dumps({**json.loads(dead_owner), "host": "another-host"})})
    assert tracking.reap_orphans() == [orphan.info.run_id]
    client = tracking.client()
    ended = client.get_run(orphan.info.run_id)
    assert ended.info.status == "KILLED"
    assert f"pid {child.pid}" in ended.data.tags[tracking.TAG_ENDED_BY]
    assert client.get_run(mine.run_id).info.status == "RUNNING"
    assert client.get_run(foreign.info.run_id).info.status == "RUNNING"  # cannot tell


def test_sigkill_of_the_runner_and_its_kernel_leaves_no_run_running(store, capsys):
    import yaml

    marker = store / "started"
    spec = store / "doomed.yaml"
    spec.write_text(yaml.safe_dump({"name": "doomed", "notebook": str(FIXTURES / "slow.ipynb"),
                                    "parameters": {"marker": str(marker)}}))
    proc = subprocess.Popen([sys.executable, "-m", "retaillab.cli", "run", str(spec), "-q"],
                            cwd=store, env=os.environ.copy(), start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: marker.exists() or proc.poll() is not None, "the slow cell")
        assert marker.exists()
        pids = owner_pids("doomed")  # the runner's (parent run) and the kernel's (child)
        assert proc.pid in pids and len(pids) == 2
        os.killpg(proc.pid, signal.SIGKILL)
        for pid in pids - {proc.pid}:
            os.kill(pid, signal.SIGKILL)
        proc.wait()
        wait_for(lambda: all(owners._start_time(p) is None for p in pids), "both to be gone")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert sorted(r.info.status for r in runs_of("doomed")) == ["RUNNING", "RUNNING"]
    assert main(["runs"]) == 0  # the next command that opens the store
    runs = runs_of("doomed")
    assert sorted(r.info.status for r in runs) == ["KILLED", "KILLED"]
    assert all("was gone" in r.data.tags[tracking.TAG_ENDED_BY] for r in runs)


def test_a_killed_kernel_under_a_by_hand_notebook_leaves_no_run_running(store, capsys):
    kernel = ByHand(FIXTURES / "ok.ipynb")
    try:
        cells = code_cells(FIXTURES / "ok.ipynb")
        assert kernel.run(cells[0] + '\nexperiment = "killed-kernel"') == "ok"
        assert kernel.run(cells[1]) == "ok"
        (run,) = runs_of("killed-kernel")
        assert run.info.status == "RUNNING"
        pid = json.loads(run.data.tags[tracking.TAG_OWNER])["pid"]
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: owners._start_time(pid) is None, "the kernel to die")
    finally:
        kernel.close()
    assert main(["runs"]) == 0
    (run,) = runs_of("killed-kernel")
    assert run.info.status == "KILLED"


def test_a_by_hand_notebook_whose_cell_raises_ends_failed_and_says_what_it_is(store):
    notebook = FIXTURES / "fail.ipynb"
    kernel = ByHand(notebook)
    try:
        cells = code_cells(notebook)
        statuses = [kernel.run(cells[0] + '\nexperiment = "raising"')]
        statuses += [kernel.run(cell) for cell in cells[1:4]]
        assert statuses == ["ok", "ok", "ok", "error"]
        parents = [r for r in runs_of("raising") if tracking.is_parent(r)]
        assert [p.info.status for p in parents] == ["FAILED"]
        (parent,) = parents
        tags = parent.data.tags
        assert "ValueError: boom in the fourth cell" in tags[tracking.TAG_ERROR]
        assert tags[tracking.TAG_INTERACTIVE] == "true"
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=FIXTURES, capture_output=True,
                              text=True).stdout.strip()
        assert tags[tracking.TAG_COMMIT] == head and tags[tracking.TAG_DIRTY] in ("true",
                                                                                  "false")
        assert tags[tracking.TAG_NOTEBOOK] == "tests/fixtures/fail.ipynb"
        assert tags[tracking.RUN_NAME_TAG] == "raising: by hand in fail.ipynb"
        # the models it finished before the error stay FINISHED; the next cell cannot revive
        # the run: closing it again changes nothing
        models = [r for r in runs_of("raising") if not tracking.is_parent(r)]
        assert sorted(m.info.status for m in models) == ["FINISHED", "FINISHED"]
        assert kernel.run(cells[4]) == "ok"
        assert tracking.client().get_run(parent.info.run_id).info.status == "FAILED"
    finally:
        kernel.close()
