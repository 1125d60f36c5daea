"""The experiment engine end to end: specs run real notebooks through papermill and the MLflow
record holds params, metrics, tags, the executed notebook and child runs, for success, failure
in a cell and interruption. Two runner processes can share one store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from retaillab import runner, tracking
from retaillab.cli import main
from retaillab.spec import SpecError, load_spec

FIXTURES = Path(__file__).parent / "fixtures"
pytestmark = pytest.mark.notebook


def write_spec(folder: Path, name: str, notebook: str, **extra) -> Path:
    import yaml

    body = {"name": name, "notebook": str(FIXTURES / notebook),
            "parameters": {"seed": 3, "alpha": 2.0}, **extra}
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(body))
    return path


def project_spec(folder: Path, name: str, notebook: Path, **parameters) -> Path:
    """A spec whose notebook is copied into the project at ``folder`` (so it can be rerun)."""
    import shutil

    import yaml

    (folder / "notebooks").mkdir(exist_ok=True)
    shutil.copy(notebook, folder / "notebooks" / notebook.name)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"name": name, "notebook": f"notebooks/{notebook.name}",
                                    "parameters": parameters}))
    return path


def running(experiment: str) -> list:
    """The runs of ``experiment`` still RUNNING."""
    client = tracking.client()
    exp = client.get_experiment_by_name(experiment)
    return [r for r in client.search_runs([exp.experiment_id]) if r.info.status == "RUNNING"]


def parent_runs(experiment: str):
    client = tracking.client()
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id])
    return [r for r in runs if tracking.PARENT_TAG not in r.data.tags], \
        [r for r in runs if tracking.PARENT_TAG in r.data.tags]


def test_grid_run_records_everything(store, capsys):
    spec = write_spec(store, "grid", "ok.ipynb", grid={"alpha": [1.0, 3.0]},
                      tags={"owner": "tests"})
    assert main(["run", str(spec), "-q"]) == 0
    parents, children = parent_runs("grid")
    assert len(parents) == 2 and len(children) == 4
    by_alpha = {json.loads(p.data.tags[tracking.TAG_PARAMETERS])["alpha"]: p for p in parents}
    assert set(by_alpha) == {1.0, 3.0}
    for alpha, parent in by_alpha.items():
        assert parent.info.status == "FINISHED"
        assert parent.data.params["alpha"] == str(alpha) and parent.data.params["seed"] == "3"
        tags = parent.data.tags
        assert tags["owner"] == "tests" and tags[tracking.TAG_SEED] == "3"
        assert len(tags[tracking.TAG_SPEC_HASH]) == 64 and tags[tracking.TAG_PYTHON]
        assert "pandas" in json.loads(tags[tracking.TAG_VERSIONS])
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=FIXTURES, capture_output=True,
                              text=True).stdout.strip()
        changed = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                 cwd=FIXTURES, capture_output=True, text=True).stdout.strip()
        assert tags[tracking.TAG_COMMIT] == head and len(head) == 40
        assert tags[tracking.TAG_DIRTY] == ("true" if changed else "false")
        assert len(tags[tracking.TAG_DATA + "toy"]) >= 16
        assert parent.data.metrics["n_rows"] == 50
        mine = [c for c in children if c.data.tags[tracking.PARENT_TAG] == parent.info.run_id]
        assert sorted(c.data.tags[tracking.RUN_NAME_TAG] for c in mine) == ["a", "b"]
        assert all(c.info.status == "FINISHED" for c in mine)
        # the metric the notebook computed: mean |x| * alpha + index, x ~ N(0,1) seeded
        import numpy as np

        x = np.random.default_rng(3).normal(size=50)
        rmse = {c.data.tags[tracking.RUN_NAME_TAG]: c.data.metrics["rmse"] for c in mine}
        assert rmse["a"] == pytest.approx(np.abs(x).mean() * alpha)
        assert rmse["b"] == pytest.approx(np.abs(x).mean() * alpha + 1)
        artifacts = tracking.client().list_artifacts(parent.info.run_id)
        assert sorted(a.path for a in artifacts) == sorted(
            [f"{parent.info.run_id}.ipynb", "histogram.png", "summary.csv"])
        summary = tracking.client().download_artifacts(parent.info.run_id, "summary.csv",
                                                       str(store))
        assert "count,50.0" in Path(summary).read_text()
        assert (store / "mlruns" / "outputs" / "grid" / f"{parent.info.run_id}.ipynb").is_file()
        assert parent.data.tags["seen.experiment"] == "grid"  # the runner passed the name


def test_failing_cell_ends_failed_keeps_partial_notebook_and_goes_on(store, capsys):
    import nbformat

    spec = write_spec(store, "failing", "fail.ipynb", grid={"alpha": [1.0, 2.0]})
    assert main(["run", str(spec), "-q"]) == 1
    parents, children = parent_runs("failing")
    assert len(parents) == 2  # the second grid point ran after the first failed
    for parent in parents:
        assert parent.info.status == "FAILED"
        assert "ValueError: boom in the fourth cell" in parent.data.tags[tracking.TAG_ERROR]
        output = store / "mlruns" / "outputs" / "failing" / f"{parent.info.run_id}.ipynb"
        executed = nbformat.read(output, as_version=4)
        assert any(o.get("ename") == "ValueError" for c in executed.cells
                   for o in c.get("outputs", []))
    assert all(c.info.status == "FINISHED" for c in children)  # models before the failure


def test_fail_fast_stops_after_the_first_failure(store, capsys):
    spec = write_spec(store, "fastfail", "fail.ipynb", grid={"alpha": [1.0, 2.0]})
    assert main(["run", str(spec), "-q", "--fail-fast"]) == 1
    parents, _ = parent_runs("fastfail")
    assert len(parents) == 1


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_interrupt_ends_the_run_killed_and_no_run_stays_running(store, signum):
    marker = store / "started"
    spec = write_spec(store, "interrupted", "slow.ipynb")
    cmd = [sys.executable, "-m", "retaillab.cli", "run", str(spec), "-q", "-p", f"marker={marker}"]
    proc = subprocess.Popen(cmd, cwd=store, env=os.environ.copy(), start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300  # a safety net: the marker says when the cell runs
    while not marker.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert marker.exists(), proc.communicate()
    os.killpg(proc.pid, signum)  # SIGINT: what Ctrl-C in a terminal does
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err
    parents, children = parent_runs("interrupted")
    assert [p.info.status for p in parents] == ["KILLED"]
    assert [c.info.status for c in children] == ["KILLED"]


def test_two_runner_processes_share_one_store(store):
    specs = [write_spec(store, f"parallel{i}", "ok.ipynb", grid={"alpha": [1.0, 2.0]})
             for i in range(2)]
    procs = [subprocess.Popen([sys.executable, "-m", "retaillab.cli", "run", str(s), "-q"],
                              cwd=store, env=os.environ.copy(), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for s in specs]
    outputs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    for i in range(2):
        parents, children = parent_runs(f"parallel{i}")
        assert len(parents) == 2 and len(children) == 4
        assert {r.info.status for r in parents + children} == {"FINISHED"}
        for run in parents + children:
            assert tracking.client().get_run(run.info.run_id).data.metrics


def test_rerun_reproduces_metrics_and_flags_differences(store, capsys):
    spec = project_spec(store, "again", FIXTURES / "ok.ipynb", seed=3, alpha=2.0)
    assert main(["run", str(spec), "-q"]) == 0
    (first,), _ = parent_runs("again")
    capsys.readouterr()
    assert main(["rerun", first.info.run_id, "-q"]) == 0
    out = capsys.readouterr().out
    assert "same metrics" in out and "a/rmse" in out and "fit_seconds" not in out
    parents, _ = parent_runs("again")
    rerun_run = next(p for p in parents if p.info.run_id != first.info.run_id)
    assert rerun_run.data.tags[tracking.TAG_RERUN_OF] == first.info.run_id
    # a changed metric on the original is reported and fails the command
    child = next(c for c in tracking.Run(first.info.run_id, first.info.experiment_id).children()
                 if c.data.tags[tracking.RUN_NAME_TAG] == "a")
    tracking.Run(child.info.run_id, first.info.experiment_id).log_metrics({"rmse": 99.0}, step=1)
    assert main(["rerun", first.info.run_id, "-q"]) == 1
    assert "DIFFERS" in capsys.readouterr().out


def test_runs_lists_experiments_and_a_leaderboard(store, capsys):
    spec = write_spec(store, "board", "ok.ipynb")
    assert main(["run", str(spec), "-q"]) == 0
    capsys.readouterr()
    assert main(["runs"]) == 0
    assert "board" in capsys.readouterr().out
    assert main(["runs", "board"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [line.split() for line in lines[2:]]
    assert rows[0][0] == "a" and rows[1][0] == "b"  # lower rmse first
    assert rows[0][2].endswith("*") and not rows[1][2].endswith("*")
    assert main(["runs", "bored"]) == 2


def test_notebook_opened_by_hand_starts_its_own_run(store):
    run = tracking.notebook_run(None, experiment="by-hand", params={"k": 5})
    with run.model("m") as child:
        child.log_metrics({"ndcg_at_10": 0.3})
    run.close()
    parents, children = parent_runs("by-hand")
    assert [p.info.status for p in parents] == ["FINISHED"]
    assert parents[0].data.params == {"k": "5"}
    assert children[0].data.metrics == {"ndcg_at_10": 0.3}


def test_a_run_stays_in_the_store_it_started_in(store, monkeypatch):
    run = tracking.notebook_run(None, experiment="by-hand", params={})
    first = tracking.tracking_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store / 'other.db'}")
    run.log_metrics({"rmse": 0.9})
    run.close()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", first)
    parents, _ = parent_runs("by-hand")
    assert [(p.info.status, p.data.metrics) for p in parents] == [("FINISHED", {"rmse": 0.9})]


def test_exit_time_close_of_a_vanished_store_only_warns(store, caplog):
    run = tracking.notebook_run(None, experiment="by-hand", params={})
    tracking.client().delete_run(run.run_id)
    tracking._close_at_exit(run)  # must not raise
    assert "could not end MLflow run" in caplog.text


@pytest.mark.parametrize("body, key", [
    ({"notebook": "x.ipynb"}, "name"),
    ({"name": "x", "notebook": "missing.ipynb"}, "notebook"),
    ({"name": "x", "notebook": str(FIXTURES / "ok.ipynb"), "grdi": {}}, "grdi"),
    ({"name": "x", "notebook": str(FIXTURES / "ok.ipynb"), "grid": {"alpha": 1}}, "grid.alpha"),
    ({"name": "x", "notebook": str(FIXTURES / "ok.ipynb"), "parameters": [1]}, "parameters"),
])
def test_bad_specs_name_the_file_and_key(tmp_path, body, key):
    import yaml

    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(body))
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert str(path) in str(info.value) and repr(key) in str(info.value)


def test_unknown_parameter_is_caught_before_running(store, capsys):
    spec = write_spec(store, "typo", "ok.ipynb", grid={"alpah": [1, 2]})
    assert main(["run", str(spec), "-q"]) == 2
    err = capsys.readouterr().err
    assert "'alpah'" in err and "did you mean 'alpha'" in err
    assert tracking.client().get_experiment_by_name("typo") is None


def test_rerun_of_an_unknown_run_is_one_clear_error(store, capsys):
    assert main(["rerun", "0123456789abcdef"]) == 2
    err = capsys.readouterr().err
    assert "no such run" in err and "Traceback" not in err


def test_compare_metrics_rules():
    nan = float("nan")
    table = runner.compare_metrics({"a": 1.0, "b": nan, "c": 2.0, "d": 0.0},
                                   {"a": 1.0 + 1e-12, "b": nan, "c": 2.1, "e": 1.0}, rtol=1e-9)
    same = dict(zip(table["metric"], table["same"], strict=True))
    # equal within rtol; both missing values; 5% apart; one side only (twice)
    assert same == {"a": True, "b": True, "c": False, "d": False, "e": False}


def test_spec_overrides_collapse_a_grid_axis(tmp_path):
    path = write_spec(tmp_path, "over", "ok.ipynb", grid={"alpha": [1.0, 2.0],
                                                          "seed": [1, 2, 3]})
    spec = load_spec(path)
    assert len(spec.points()) == 6
    fixed = spec.with_overrides({"alpha": 5.0})
    assert sorted((p["alpha"], p["seed"]) for p in fixed.points()) == [(5.0, 1), (5.0, 2),
                                                                         (5.0, 3)]


def test_params_are_flattened_with_dots():
    assert tracking.flatten({"a": {"b": 1, "c": {"d": "x"}}, "e": [1, 2], "f": None}) == {
        "a.b": "1", "a.c.d": "x", "e": "[1, 2]", "f": "None"}


@pytest.mark.parametrize("metric, lower", [("rmse", True), ("mae", True), ("log_loss", True),
                                           ("brier_score", True), ("fit_seconds", True),
                                           ("ndcg_at_10", False), ("roc_auc", False),
                                           ("precision_at_5", False)])
def test_metric_direction(metric, lower):
    from retaillab.leaderboard import lower_is_better

    assert lower_is_better(metric) is lower


def test_an_artifact_that_cannot_be_written_fails_that_run_only(store, monkeypatch, capsys):
    """A full disk while keeping the executed notebook: the run ends FAILED saying so, the
    next grid point runs, no run stays RUNNING, no half-written notebook is left."""
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

    monkeypatch.setattr(LocalHandler, "write", write_half_then_fill_the_disk)
    spec = write_spec(store, "fulldisk", "ok.ipynb", grid={"alpha": [1.0, 2.0]})
    assert main(["run", str(spec), "-q"]) == 1
    parents, _ = parent_runs("fulldisk")
    by_alpha = {p.data.params["alpha"]: p for p in parents}
    assert sorted(by_alpha) == ["1.0", "2.0"]  # the grid went on
    failed, finished = by_alpha["1.0"], by_alpha["2.0"]
    assert failed.info.status == "FAILED" and finished.info.status == "FINISHED"
    assert "No space left on device" in failed.data.tags[tracking.TAG_ERROR]
    assert "written only in part" in failed.data.tags[tracking.TAG_ERROR]
    assert not running("fulldisk")
    outputs = store / "mlruns" / "outputs" / "fulldisk"
    assert not (outputs / f"{failed.info.run_id}.ipynb").exists()
    nbformat.read(outputs / f"{finished.info.run_id}.ipynb", as_version=4)  # whole


def test_a_failed_artifact_upload_fails_the_run_and_the_grid_goes_on(store, monkeypatch):
    import errno

    real, calls = tracking.Run.log_artifact, {"n": 0}

    def full_disk_once(self, path, folder=None):
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, path, folder)

    monkeypatch.setattr(tracking.Run, "log_artifact", full_disk_once)
    spec = write_spec(store, "upload", "ok.ipynb", grid={"alpha": [1.0, 2.0]})
    assert main(["run", str(spec), "-q"]) == 1
    parents, _ = parent_runs("upload")
    statuses = sorted((p.data.params["alpha"], p.info.status) for p in parents)
    assert statuses == [("1.0", "FAILED"), ("2.0", "FINISHED")]
    failed = next(p for p in parents if p.info.status == "FAILED")
    assert "could not keep the executed notebook" in failed.data.tags[tracking.TAG_ERROR]
    assert not running("upload")


def test_rerun_of_an_unchanged_churn_comparison_exits_0(store, capsys):
    """The real churn notebook at a small size: timings and their interval bounds
    (``fit_seconds_ci_low``) are reported, not judged, so an unchanged rerun is the same."""
    root = Path(__file__).resolve().parents[1]
    spec = project_spec(store, "churn-again", root / "notebooks" / "churn_compare.ipynb",
                        models=["dummy", "logistic"], n_splits=2, sample_customers=400,
                        importance_repeats=1, seed=0)
    assert main(["run", str(spec), "-q"]) == 0
    (first,), _ = parent_runs("churn-again")
    capsys.readouterr()
    assert main(["rerun", first.info.run_id, "-q"]) == 0
    out = capsys.readouterr().out
    assert "same metrics" in out and "logistic/roc_auc" in out
    assert "_seconds" not in out  # timings and their bounds are not compared


def test_rerun_refuses_a_notebook_outside_the_project_or_missing(store, capsys):
    outside = write_spec(store, "outside", "ok.ipynb")  # the notebook lives in tests/fixtures
    assert main(["run", str(outside), "-q"]) == 0
    (run,), _ = parent_runs("outside")
    capsys.readouterr()
    assert main(["rerun", run.info.run_id, "-q"]) == 2
    err = capsys.readouterr().err
    assert "outside this project" in err and "Traceback" not in err
    inside = project_spec(store, "vanished", FIXTURES / "ok.ipynb")
    assert main(["run", str(inside), "-q"]) == 0
    (run,), _ = parent_runs("vanished")
    (store / "notebooks" / "ok.ipynb").unlink()
    capsys.readouterr()
    assert main(["rerun", run.info.run_id, "-q"]) == 2
    assert "is missing" in capsys.readouterr().err
    assert len(parent_runs("vanished")[0]) == 1  # refused up front: nothing ran


@pytest.mark.parametrize("key", ["experiment", "run_id"])
def test_the_runner_owns_the_experiment_name_and_run_id(tmp_path, key):
    path = write_spec(tmp_path, "owned", "ok.ipynb")
    import yaml

    body = yaml.safe_load(path.read_text())
    body["parameters"][key] = "x"
    path.write_text(yaml.safe_dump(body))
    with pytest.raises(SpecError, match="set by the runner"):
        load_spec(path)
    clean = write_spec(tmp_path, "owned", "ok.ipynb")
    with pytest.raises(SpecError, match="set by the runner"):
        load_spec(clean).with_overrides({key: "y"})


def test_no_shipped_spec_repeats_its_name_as_a_parameter():
    root = Path(__file__).resolve().parents[1]
    specs = [p for p in (root / "experiments").glob("*.yaml")
             if "notebook:" in p.read_text()]
    assert len(specs) >= 5
    for path in specs:
        spec = load_spec(path)
        assert "experiment" not in spec.parameters, path


def test_compare_metrics_leaves_timings_and_their_bounds_out(store):
    run = tracking.create_run(tracking.experiment_id("timings"))
    run.log_metrics({"roc_auc": 0.8, "fit_seconds": 1.0, "fit_seconds_ci_low": -17.5,
                     "fit_seconds_ci_high": 3.0, "roc_auc_ci_low": 0.7})
    assert set(runner.run_metrics(run.run_id)) == {"roc_auc", "roc_auc_ci_low"}
