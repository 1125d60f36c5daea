"""The runner's MLflow work happens in the notebook's kernel: the command's own process never
imports MLflow on the common path, yet the record is the one it always was; where the kernel
cannot do it (it fails to create the run, it dies), the command does the same work itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from retaillab import owners, runner, tracking
from retaillab.cli import main

from .conftest import FIXTURES, parent_runs, running, write_spec

pytestmark = pytest.mark.notebook

PROBE = """
import sys
from retaillab.cli import main
code = main(["run", sys.argv[1], "-q"])
print("mlflow imported:", sorted(m for m in sys.modules if m.split(".")[0] == "mlflow")[:3])
sys.exit(code)
"""


@pytest.mark.slow
def test_the_command_never_imports_mlflow_and_records_everything(store):
    import nbformat

    spec = write_spec(store, "lean", "ok.ipynb")
    done = subprocess.Popen([sys.executable, "-c", PROBE, str(spec)], cwd=store,
                            env=os.environ.copy(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    out, err = done.communicate(timeout=600)
    assert done.returncode == 0, (out, err)
    assert "mlflow imported: []" in out
    (parent,), children = parent_runs("lean")
    assert parent.info.status == "FINISHED"
    assert parent.data.params == {"seed": "3", "alpha": "2.0"}
    tags = parent.data.tags
    assert json.loads(tags[tracking.TAG_OWNER])["pid"] == done.pid  # the command owns it
    assert {json.loads(c.data.tags[tracking.TAG_OWNER])["pid"] for c in children} != {
        done.pid}  # the kernel owns the models it logs
    assert tags[tracking.TAG_SEED] == "3" and tags[tracking.TAG_KIND] == "notebook"
    assert json.loads(tags[tracking.TAG_PARAMETERS]) == {"seed": 3, "alpha": 2.0}
    assert len(tags[tracking.TAG_COMMIT]) == 40 and "mlflow" in tags[tracking.TAG_VERSIONS]
    assert tags[tracking.RUN_NAME_TAG] == "lean" and tags["seen.experiment"] == "lean"
    assert tracking.TAG_ERROR not in tags
    output = store / "mlruns" / "outputs" / "lean" / f"{parent.info.run_id}.ipynb"
    assert tags[tracking.TAG_OUTPUT] == str(output)
    assert sorted(c.info.status for c in children) == ["FINISHED", "FINISHED"]
    artifacts = {a.path for a in tracking.client().list_artifacts(parent.info.run_id)}
    assert artifacts == {output.name, "histogram.png", "summary.csv"}
    # the executed notebook: the real run id in its parameters, no trace of the runner's
    # calls (one injected cell, the notebook's own cells counted from 1)
    executed = nbformat.read(output, as_version=4)
    original = nbformat.read(FIXTURES / "ok.ipynb", as_version=4)
    assert len(executed.cells) == len(original.cells) + 1
    injected = next(c for c in executed.cells if "injected-parameters" in c.metadata.get(
        "tags", []))
    assert f'run_id = "{parent.info.run_id}"' in injected.source
    assert [c.execution_count for c in executed.cells] == list(range(1, len(executed.cells)
                                                                    + 1))


@pytest.mark.slow
def test_where_the_kernel_cannot_the_command_creates_and_ends_the_run(store, monkeypatch):
    """Point 1: the kernel fails to create the run (as one that cannot import retaillab
    would), so this process creates it and papermill starts the notebook's kernel. Point 2:
    the kernel dies in the middle of a model, so this process ends the run and the model."""
    import nbformat

    book = nbformat.read(FIXTURES / "ok.ipynb", as_version=4)
    book.cells.insert(-1, nbformat.v4.new_code_cell(
        "if alpha == 2.0:  # the kernel dies in the middle of a model\n"
        "    import os, signal\n"
        "    run.model('dying').__enter__()\n"
        "    os.kill(os.getpid(), signal.SIGKILL)"))
    notebook = store / "dying.ipynb"
    nbformat.write(book, notebook)
    spec = write_spec(store, "fallback", "ok.ipynb", grid={"alpha": [1.0, 2.0]})
    spec.write_text(spec.read_text().replace(str(FIXTURES / "ok.ipynb"), str(notebook)))
    real_call, calls = runner._Kernel.call, []

    def call(self, name, request, timeout):
        calls.append((name, request.get("params", {}).get("alpha")))
        if name == "open" and request["params"]["alpha"] == "1.0":
            self.trouble = "ModuleNotFoundError: No module named 'retaillab'"
            return None
        return real_call(self, name, request, timeout)

    monkeypatch.setattr(runner._Kernel, "call", call)
    assert main(["run", str(spec), "-q"]) == 1
    assert calls == [("open", "1.0"), ("open", "2.0")]  # neither run was ended in a kernel
    parents, children = parent_runs("fallback")
    by_alpha = {p.data.params["alpha"]: p for p in parents}
    first, second = by_alpha["1.0"], by_alpha["2.0"]
    assert (first.info.status, second.info.status) == ("FINISHED", "FAILED")
    for parent in parents:
        assert parent.data.tags[tracking.TAG_OWNER] == owners.owner()
        artifacts = {a.path for a in tracking.client().list_artifacts(parent.info.run_id)}
        assert f"{parent.info.run_id}.ipynb" in artifacts  # kept, also by a dead kernel
    assert "DeadKernelError" in second.data.tags[tracking.TAG_ERROR]
    mine = {c.data.tags[tracking.RUN_NAME_TAG]: c.info.status for c in children
            if c.data.tags[tracking.PARENT_TAG] == second.info.run_id}
    assert mine == {"a": "FINISHED", "b": "FINISHED", "dying": "FAILED"}
    assert first.data.metrics["n_rows"] == 50 and not running("fallback")


def test_a_data_set_two_kernels_log_at_once_is_logged_once_more(store, monkeypatch):
    """MLflow's SQL store looks a data set up, then inserts it: of two processes logging the
    same table at once (``run --jobs``), one gets a unique-constraint error; it is tried
    again, and then finds the other's row. Other errors are not retried."""
    import numpy as np
    import pandas as pd
    from mlflow.exceptions import MlflowException

    table = pd.DataFrame({"x": np.arange(5)})
    run = tracking.create_run(tracking.experiment_id("race"))
    other = tracking.create_run(run.experiment_id)
    mlflow_client = tracking.client()
    real, seen = mlflow_client.log_inputs, []

    def lost_the_race(run_id, datasets=None, **kwargs):
        seen.append(run_id)
        if len(seen) == 1:  # the other process inserts the row between lookup and insert
            real(other.run_id, datasets, **kwargs)
            raise MlflowException("(sqlite3.IntegrityError) UNIQUE constraint failed: "
                                  "datasets.experiment_id, datasets.name, datasets.digest")
        return real(run_id, datasets, **kwargs)

    monkeypatch.setattr(mlflow_client, "log_inputs", lost_the_race)
    digest = run.log_data("toy", table)
    assert seen == [run.run_id, run.run_id]
    for run_id in (run.run_id, other.run_id):
        inputs = mlflow_client.get_run(run_id).inputs.dataset_inputs
        assert [(i.dataset.name, i.dataset.digest) for i in inputs] == [("toy", digest[:32])]

    def broken(run_id, datasets=None, **kwargs):
        seen.append(run_id)
        raise MlflowException("database is locked")

    monkeypatch.setattr(mlflow_client, "log_inputs", broken)
    seen.clear()
    with pytest.raises(MlflowException, match="locked"):
        run.log_data("other", table)
    assert seen == [run.run_id]
