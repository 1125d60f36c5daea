"""Reruns that mean it, and a full disk that fails one run only."""

from __future__ import annotations

from pathlib import Path

import pytest

from retaillab import runner, tracking
from retaillab.cli import main

from .conftest import FIXTURES, parent_runs, project_spec, running, write_spec

pytestmark = [pytest.mark.notebook, pytest.mark.slow]


def test_rerun_flags_a_changed_metric_and_fails(store, capsys):
    """(An unchanged rerun exiting 0 is the churn test below.)"""
    spec = project_spec(store, "again", FIXTURES / "ok.ipynb", seed=3, alpha=2.0)
    assert main(["run", str(spec), "-q"]) == 0
    (first,), _ = parent_runs("again")
    # a changed metric on the original is reported and fails the command
    child = next(c for c in tracking.Run(first.info.run_id, first.info.experiment_id).children()
                 if c.data.tags[tracking.RUN_NAME_TAG] == "a")
    tracking.Run(child.info.run_id, first.info.experiment_id).log_metrics({"rmse": 99.0}, step=1)
    capsys.readouterr()
    assert main(["rerun", first.info.run_id, "-q"]) == 1
    out = capsys.readouterr().out
    assert "DIFFERS" in out and "a/rmse" in out and "b/rmse" in out
    assert "fit_seconds" not in out  # timings are not compared
    assert "same metrics" not in out
    parents, _ = parent_runs("again")
    rerun_run = next(p for p in parents if p.info.run_id != first.info.run_id)
    assert rerun_run.data.tags[tracking.TAG_RERUN_OF] == first.info.run_id
    assert rerun_run.info.status == "FINISHED"


def test_rerun_of_an_unknown_run_is_one_clear_error(store, capsys):
    assert main(["rerun", "0123456789abcdef"]) == 2
    err = capsys.readouterr().err
    assert "no such run" in err and "Traceback" not in err


def test_a_full_disk_fails_that_run_only(store, monkeypatch):
    """Grid point 1: the disk fills while papermill saves the executed notebook (half of it
    is written); point 2 (the grid went on): keeping the notebook as an artifact fails in the
    kernel, which uploads it (the notebook makes its own upload fail). Each ends FAILED
    saying so, no run stays RUNNING, no half-written notebook is left."""
    import errno

    import nbformat
    from papermill.iorw import LocalHandler

    real_write, seen = LocalHandler.write, []

    def write_half_then_fill_the_disk(self, buf, path):
        seen.append(path)
        if path == seen[0] and seen.count(path) >= 3:  # the first point's notebook: the disk
            Path(path).write_text(buf[: len(buf) // 2])  # fills on its third save, for good
            raise OSError(errno.ENOSPC, "No space left on device", path)
        return real_write(self, buf, path)

    book = nbformat.read(FIXTURES / "ok.ipynb", as_version=4)
    book.cells.insert(-1, nbformat.v4.new_code_cell(
        "if alpha == 2.0:  # the upload of this kernel finds the disk full\n"
        "    import errno\n"
        "    def full(self, path, folder=None):\n"
        "        raise OSError(errno.ENOSPC, 'No space left on device')\n"
        "    tracking.Run.log_artifact = full"))
    notebook = store / "fulldisk.ipynb"
    nbformat.write(book, notebook)
    monkeypatch.setattr(LocalHandler, "write", write_half_then_fill_the_disk)
    spec = write_spec(store, "fulldisk", "ok.ipynb", grid={"alpha": [1.0, 2.0]})
    spec.write_text(spec.read_text().replace(str(FIXTURES / "ok.ipynb"), str(notebook)))
    assert main(["run", str(spec), "-q"]) == 1
    parents, _ = parent_runs("fulldisk")
    by_alpha = {p.data.params["alpha"]: p for p in parents}
    assert {a: p.info.status for a, p in by_alpha.items()} == {"1.0": "FAILED",
                                                               "2.0": "FAILED"}
    first, second = by_alpha["1.0"].data.tags, by_alpha["2.0"].data.tags
    assert "No space left on device" in first[tracking.TAG_ERROR]
    assert "written only in part" in first[tracking.TAG_ERROR]
    assert "could not keep the executed notebook" in second[tracking.TAG_ERROR]
    assert "No space left on device" in second[tracking.TAG_ERROR]
    assert not running("fulldisk")
    outputs = store / "mlruns" / "outputs" / "fulldisk"
    assert not (outputs / f"{by_alpha['1.0'].info.run_id}.ipynb").exists()
    kept = outputs / f"{by_alpha['2.0'].info.run_id}.ipynb"  # kept whole, locally
    assert nbformat.read(kept, as_version=4).cells


@pytest.mark.parametrize("recorded, message", [
    ("../elsewhere/ok.ipynb", "outside this project"),
    (str(FIXTURES / "ok.ipynb"), "outside this project"),  # absolute, another project
    ("notebooks/gone.ipynb", "is missing"),
    ("experiments/tour.yaml", "is missing"),  # not a notebook
])
def test_rerun_refuses_a_notebook_outside_the_project_or_missing(store, capsys, recorded,
                                                                  message):
    """A record is data from a shared store: its notebook path is checked before anything
    runs."""
    exp = tracking.experiment_id("refused")
    run = tracking.create_run(exp, tags={tracking.TAG_KIND: "notebook",
                                         tracking.TAG_NOTEBOOK: recorded,
                                         tracking.TAG_PARAMETERS: "{}"})
    tracking.client().set_terminated(run.run_id, "FINISHED")
    (store / "experiments").mkdir()
    (store / "experiments" / "tour.yaml").write_text("name: tour\n")
    capsys.readouterr()
    assert main(["rerun", run.run_id, "-q"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert len(parent_runs("refused")[0]) == 1  # refused up front: nothing ran


def test_compare_metrics_leaves_timings_and_their_bounds_out(store):
    run = tracking.create_run(tracking.experiment_id("timings"))
    run.log_metrics({"roc_auc": 0.8, "fit_seconds": 1.0, "fit_seconds_ci_low": -17.5,
                     "fit_seconds_ci_high": 3.0, "roc_auc_ci_low": 0.7})
    assert set(runner.run_metrics(run.run_id)) == {"roc_auc", "roc_auc_ci_low"}
