"""Runner processes: Ctrl-C and SIGTERM end the run KILLED; two runners share one store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from retaillab import tracking

from .conftest import parent_runs, write_spec

pytestmark = [pytest.mark.notebook, pytest.mark.slow]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_interrupt_ends_the_run_killed_and_no_run_stays_running(store, signum):
    marker = store / "started"
    spec = write_spec(store, "interrupted", "slow.ipynb")
    cmd = [sys.executable, "-m", "retaillab.cli", "run", str(spec), "-q", "-p", f"marker={marker}"]
    # started with SIGINT ignored, as a background job is: `kill -INT` must still end it
    proc = subprocess.Popen(cmd, cwd=store, env=os.environ.copy(), start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    deadline = time.time() + 300  # a safety net: the marker says when the cell runs
    while not marker.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert marker.exists(), proc.communicate()
    os.killpg(proc.pid, signum)  # SIGINT: what Ctrl-C in a terminal does
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, (out, err)
    parents, children = parent_runs("interrupted")
    assert [p.info.status for p in parents] == ["KILLED"]
    assert [c.info.status for c in children] == ["KILLED"]


def test_two_runner_processes_share_one_store(store):
    specs = [write_spec(store, f"parallel{i}", "ok.ipynb") for i in range(2)]
    procs = [subprocess.Popen([sys.executable, "-m", "retaillab.cli", "run", str(s), "-q"],
                              cwd=store, env=os.environ.copy(), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for s in specs]
    outputs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert not any("without encryption" in err for _, err in outputs)  # kernels on IPC
    for i in range(2):
        parents, children = parent_runs(f"parallel{i}")
        assert len(parents) == 1 and len(children) == 2
        assert {r.info.status for r in parents + children} == {"FINISHED"}
        for run in parents + children:
            assert tracking.client().get_run(run.info.run_id).data.metrics


def test_sigterm_to_a_parallel_run_ends_every_running_point_killed(store):
    # SIGTERM to the command alone (a scheduler's stop): it must stop its workers' runs too
    markers = [store / "started-a", store / "started-b"]
    spec = write_spec(store, "interrupted-jobs", "slow.ipynb",
                      grid={"marker": [str(m) for m in markers]})
    cmd = [sys.executable, "-m", "retaillab.cli", "run", str(spec), "-q", "--jobs", "2"]
    proc = subprocess.Popen(cmd, cwd=store, env=os.environ.copy(), start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while not all(m.exists() for m in markers) and time.time() < deadline \
            and proc.poll() is None:
        time.sleep(0.2)
    assert all(m.exists() for m in markers), proc.communicate()
    os.kill(proc.pid, signal.SIGTERM)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, (out, err)
    parents, children = parent_runs("interrupted-jobs")
    assert sorted(p.info.status for p in parents) == ["KILLED", "KILLED"]
    assert sorted(c.info.status for c in children) == ["KILLED", "KILLED"]
