"""MLflow's backend store on a real PostgreSQL server: retaillab's tracking helpers write runs
that come back from a search (and sit in PostgreSQL's tables), and three `retaillab run`
processes at once record exactly their runs, none lost, none twice, none left RUNNING."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from retaillab import tracking

from .conftest import runs_of

pytestmark = [pytest.mark.slow, pytest.mark.system_packages]

TINY = Path(__file__).resolve().with_name("notebooks") / "tiny.ipynb"


def _query(url: str, statement: str) -> list[tuple]:
    import psycopg2
    from sqlalchemy.engine import make_url

    where = make_url(url)
    connection = psycopg2.connect(host=where.host, port=where.port, user=where.username,
                                  dbname=where.database)
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement)
            return cursor.fetchall()
    finally:
        connection.close()


def test_the_server_listens_on_loopback_only_with_its_socket_in_a_temporary_folder(postgres):
    from sqlalchemy.engine import make_url

    settings = dict(_query(postgres, "SELECT name, setting FROM pg_settings WHERE name IN "
                                     "('listen_addresses', 'unix_socket_directories', 'port')"))
    assert settings["listen_addresses"] == "127.0.0.1"
    assert int(settings["port"]) == make_url(postgres).port
    folder = Path(settings["unix_socket_directories"])
    assert folder.name.startswith("retaillab-pg-") and (folder / "data").is_dir()


def test_runs_written_with_the_tracking_helpers_come_back_from_a_search(pg_store):
    experiment = tracking.experiment_id("shared-store")
    assert tracking.experiment_id("shared-store") == experiment  # found, not made twice
    parent = tracking.create_run(experiment, run_name="comparison",
                                 tags={tracking.TAG_KIND: "notebook"})
    parent.log_params({"seed": 7, "split": {"ratio": 0.75}})
    with parent.model("svd", {"factors": 50}) as child:
        child.log_metrics({"rmse": 0.875, "fit_seconds": 1.5})
    with pytest.raises(ValueError), parent.model("broken") as broken:
        raise ValueError("no such column")
    parent.log_metrics({"best_rmse": 0.875})
    tracking.client().set_terminated(parent.run_id)

    parents, children = runs_of("shared-store")
    assert [p.info.run_id for p in parents] == [parent.run_id]
    assert parents[0].info.status == "FINISHED"
    assert parents[0].data.params == {"seed": "7", "split.ratio": "0.75"}
    assert parents[0].data.metrics == {"best_rmse": 0.875}
    status = {c.data.tags[tracking.TAG_MODEL]: c.info.status for c in children}
    assert status == {"svd": "FINISHED", "broken": "FAILED"}
    assert {c.data.tags[tracking.PARENT_TAG] for c in children} == {parent.run_id}
    (svd,) = [c for c in children if c.info.run_id == child.run_id]
    assert svd.data.metrics == {"rmse": 0.875, "fit_seconds": 1.5}
    assert svd.data.params == {"factors": "50"}
    assert "ValueError: no such column" in tracking.client().get_run(
        broken.run_id).data.tags[tracking.TAG_ERROR]
    found = tracking.client().search_runs([experiment], "metrics.rmse < 0.9")  # in SQL
    assert [r.info.run_id for r in found] == [child.run_id]
    # the record is in PostgreSQL's tables, not in some local file
    rows = _query(pg_store, "SELECT key, value FROM latest_metrics ORDER BY key")
    assert rows == [("best_rmse", 0.875), ("fit_seconds", 1.5), ("rmse", 0.875)]
    assert _query(pg_store, "SELECT count(*) FROM runs") == [(3,)]
    assert not list(Path.cwd().glob("**/*.db"))


def test_three_runner_processes_at_once_record_exactly_their_runs(pg_store, tmp_path):
    specs = []
    for i in range(3):
        path = tmp_path / f"parallel{i}.yaml"
        path.write_text(yaml.safe_dump({"name": f"parallel{i}", "notebook": str(TINY),
                                        "parameters": {"seed": i}}))
        specs.append(path)
    processes = [subprocess.Popen([sys.executable, "-m", "retaillab.cli", "run", str(spec),
                                   "-q"], cwd=tmp_path, env=os.environ.copy(), text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for spec in specs]
    outputs = [p.communicate(timeout=300) for p in processes]
    assert [p.returncode for p in processes] == [0, 0, 0], outputs

    client = tracking.client()
    for i in range(3):
        parents, children = runs_of(f"parallel{i}")
        assert len(parents) == 1 and len(children) == 2  # the notebook's two models, once
        assert {r.info.status for r in parents + children} == {"FINISHED"}
        assert {c.data.tags[tracking.PARENT_TAG] for c in children} == {parents[0].info.run_id}
        assert parents[0].data.params["seed"] == str(i)
        assert sorted(c.data.tags[tracking.TAG_MODEL] for c in children) == ["a", "b"]
        assert sorted(c.data.metrics["rmse"] for c in children) == pytest.approx([1 + i, 1.1 + i])
        assert parents[0].data.metrics["n_models"] == 2
        artifacts = {a.path for a in client.list_artifacts(parents[0].info.run_id)}
        assert "summary.csv" in artifacts
    assert _query(pg_store, "SELECT status, count(*) FROM runs GROUP BY status") == [
        ("FINISHED", 9)]
    # the artifacts are the project's (the runners' working folder), not under the notebook's
    for i in range(3):
        location = client.get_experiment_by_name(f"parallel{i}").artifact_location
        assert location == (tmp_path / "mlruns" / "artifacts" / f"parallel{i}").as_uri()
    assert not (TINY.parent / "mlruns").exists()
