"""The experiment engine end to end: specs run real notebooks through papermill and the MLflow
record holds params, metrics, tags, the executed notebook and child runs, for success and
failure in a cell; specs are checked before anything runs."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from retaillab import runner, tracking
from retaillab.cli import main
from retaillab.spec import SpecError, load_spec

from .conftest import FIXTURES, ROOT, parent_runs, write_spec

pytestmark = pytest.mark.notebook


@pytest.mark.slow
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
    # what `retaillab runs` makes of it: the experiment listed, its newest run's models
    capsys.readouterr()
    assert main(["runs"]) == 0
    assert "grid" in capsys.readouterr().out
    assert main(["runs", "grid"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [line.split() for line in lines[2:]]
    assert rows[0][0] == "a" and rows[1][0] == "b"  # lower rmse first
    assert rows[0][2].endswith("*") and not rows[1][2].endswith("*")
    assert main(["runs", "gird"]) == 2


@pytest.mark.slow
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


@pytest.mark.slow
def test_fail_fast_stops_after_the_first_failure(store, capsys):
    spec = write_spec(store, "fastfail", "fail.ipynb", grid={"alpha": [1.0, 2.0]})
    assert main(["run", str(spec), "-q", "--fail-fast"]) == 1
    parents, _ = parent_runs("fastfail")
    assert len(parents) == 1


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


def test_survival_metrics_are_higher_is_better():
    from retaillab.leaderboard import direction

    assert direction("c_index") == direction("td_auc_90d") == "higher"
    assert direction("td_auc_90d_ci_low") is None


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
    root = ROOT
    specs = [p for p in (root / "experiments").glob("*.yaml")
             if "notebook:" in p.read_text()]
    assert len(specs) >= 5
    for path in specs:
        spec = load_spec(path)
        assert "experiment" not in spec.parameters, path
