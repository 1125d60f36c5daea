"""The MLflow store: one place on disk per store, one message for a store that cannot work,
masked secrets, keyed user ids."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from retaillab import stores, tracking
from retaillab.cli import main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("case", ["corrupt", "read-only", "missing folder", "bogus scheme",
                                  "unreachable server"])
def test_a_store_that_cannot_work_gets_one_message_and_exit_2(tmp_path, make_store, case,
                                                             monkeypatch, capsys):
    db = tmp_path / "mlflow.db"
    if case == "corrupt":
        db.write_bytes(b"this is not a database\n" * 100)
        uri = f"sqlite:///{db}"
    elif case == "read-only":  # SQLite's own read-only mode: real for root as well
        uri = make_store(tmp_path) + "?mode=ro"
    elif case == "missing folder":
        uri = f"sqlite:///{tmp_path / 'no' / 'such' / 'mlflow.db'}"
    elif case == "bogus scheme":
        uri = "mlfow://typo/store"
    else:
        uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    tracking._CLIENTS.clear()
    assert main(["runs"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err[err.index("error: "):].strip().splitlines()  # after any log line of MLflow
    assert lines[0].startswith("error: MLflow store ") and "fix:" in lines[-1], err
    assert len(lines) <= 4  # one message: what and where, then how to fix
    tracking._CLIENTS.clear()


def test_explain_turns_store_errors_into_one_message():
    uri = "postgresql://ana:s3cret@db.example:5432/ml"
    error = stores.explain(RuntimeError("(sqlite3.OperationalError) attempt to write a "
                                        "readonly database"), uri)
    assert isinstance(error, stores.StoreError) and "read-only" in str(error)
    assert "s3cret" not in str(error) and "ana:***@db.example" in str(error)
    assert stores.explain(KeyError("a bug"), uri) is None  # keeps its traceback


@pytest.mark.parametrize("uri, shown", [
    ("postgresql://ana:s3cret@db:5432/ml", "postgresql://ana:***@db:5432/ml"),
    ("postgresql+psycopg2://ana:p%40ss@db/ml", "postgresql+psycopg2://ana:***@db/ml"),
    ("http://user:tok@127.0.0.1:5000", "http://user:***@127.0.0.1:5000"),
    ("postgresql://db/ml?user=ana&password=s3cret", "postgresql://db/ml?user=ana&password=***"),
    ("sqlite:////tmp/x/mlflow.db", "sqlite:////tmp/x/mlflow.db"),
    ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
])
def test_passwords_are_masked(uri, shown):
    assert tracking.display_uri(uri) == shown


@pytest.mark.slow
def test_artifacts_outputs_and_lock_follow_the_store_not_the_working_folder(
        tmp_path, monkeypatch, make_store):
    """A store named by MLFLOW_TRACKING_URI keeps everything beside its database, from
    whichever project folder the command starts in."""
    import yaml

    uri = make_store(tmp_path / "shared")
    elsewhere = tmp_path / "some-project"
    elsewhere.mkdir()
    (elsewhere / "pyproject.toml").write_text("[project]\nname = 'other'\n")
    spec = elsewhere / "follow.yaml"
    spec.write_text(yaml.safe_dump({"name": "follow", "notebook": str(FIXTURES / "ok.ipynb")}))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(elsewhere)
    tracking._CLIENTS.clear()
    assert main(["run", str(spec), "-q"]) == 0
    assert sorted(p.name for p in elsewhere.iterdir()) == ["follow.yaml", "pyproject.toml"]
    store = tmp_path / "shared" / "mlruns"
    assert {"mlflow.db", "artifacts", "outputs", ".lock"} <= {p.name for p in store.iterdir()}
    exp = tracking.client().get_experiment_by_name("follow")
    assert exp.artifact_location == (store / "artifacts" / "follow").as_uri()
    (run,) = tracking.client().search_runs([exp.experiment_id], "tags.`retaillab.kind` = "
                                           "'notebook'")
    assert (store / "outputs" / "follow" / f"{run.info.run_id}.ipynb").is_file()
    tracking._CLIENTS.clear()


def test_a_database_stores_artifacts_go_to_the_root_it_is_given_else_the_projects(
        tmp_path, monkeypatch):
    """Without a server a database store has no folder: MLflow's default would be ./mlruns of
    the process that creates the experiment (a kernel works in the notebook's folder)."""
    database = "postgresql://ana@db-host/mlflow"  # nothing connects: only the rule is asked
    project = tmp_path / "shop"
    (project / "notebooks").mkdir(parents=True)
    (project / "pyproject.toml").write_text("[project]\nname = 'shop'\n")
    monkeypatch.chdir(project / "notebooks")
    monkeypatch.delenv(tracking.ARTIFACT_ROOT_ENV, raising=False)
    assert tracking.artifact_location("a/b", database) == \
        (project / "mlruns" / "artifacts" / "a-b").as_uri()
    monkeypatch.setenv(tracking.ARTIFACT_ROOT_ENV, "s3://team-bucket/mlflow/")
    assert tracking.artifact_location("churn", database) == "s3://team-bucket/mlflow/churn"
    monkeypatch.setenv(tracking.ARTIFACT_ROOT_ENV, str(tmp_path / "shared"))
    assert tracking.artifact_location("churn", database) == \
        (tmp_path / "shared" / "churn").as_uri()
    assert tracking.artifact_location("churn", "http://127.0.0.1:5000") is None  # the server's
    assert tracking.artifact_location("churn", f"sqlite:///{tmp_path}/s/mlflow.db") == \
        (tmp_path / "s" / "artifacts" / "churn").as_uri()  # beside the database, as before


def test_kernels_get_the_projects_artifact_root_with_a_database_store(tmp_path, monkeypatch):
    import os

    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'shop'\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(tracking.ARTIFACT_ROOT_ENV, raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "postgresql+psycopg2://ana@db-host/mlflow")
    with tracking.kernel_environment():
        assert os.environ[tracking.ARTIFACT_ROOT_ENV] == str(tmp_path / "mlruns" / "artifacts")
    assert tracking.ARTIFACT_ROOT_ENV not in os.environ  # restored
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    with tracking.kernel_environment():  # a server's artifact store decides
        assert tracking.ARTIFACT_ROOT_ENV not in os.environ
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "postgresql+psycopg2://ana@db-host/mlflow")
    monkeypatch.setenv(tracking.ARTIFACT_ROOT_ENV, "s3://team-bucket/mlflow")
    with tracking.kernel_environment():  # one the user set is left alone
        assert os.environ[tracking.ARTIFACT_ROOT_ENV] == "s3://team-bucket/mlflow"


def test_user_keys_are_stable_per_store_and_differ_between_stores(tmp_path, make_store):
    first, second = make_store(tmp_path / "a"), make_store(tmp_path / "b")
    ids = [1, 2, "0042", "0042"]
    keys = tracking.user_keys(ids, uri=first)
    assert keys == tracking.user_keys(ids, uri=first)  # the secret is kept, not redrawn
    assert keys[2] == keys[3] and len(set(keys)) == 3 and all(len(k) == 16 for k in keys)
    assert tracking.user_keys(ids, uri=second) != keys
    secret = tmp_path / "a" / "mlruns" / ".retaillab-secret"
    assert secret.stat().st_mode & 0o077 == 0  # readable by its owner only
    tracking._CLIENTS.clear()


def test_the_report_and_runs_never_print_a_stores_password(store, monkeypatch, capsys):
    """Printing goes through display_uri: check the command that prints the store."""
    monkeypatch.setattr(tracking, "tracking_uri", lambda: "http://ana:s3cret@127.0.0.1:1")
    assert "s3cret" not in tracking.display_uri()
    assert main(["runs"]) == 2
    assert "s3cret" not in capsys.readouterr().err


@pytest.mark.parametrize("name, expected", [("../../x", "x"), ("..", "default"),
                                            (".hidden", "hidden"), ("churn telco", "churn-telco"),
                                            ("a/b", "a-b"), ("v1.2", "v1.2")])
def test_experiment_names_become_safe_folder_names(name, expected):
    assert tracking.slug(name) == expected


@pytest.mark.slow
def test_a_process_that_opened_the_store_exits_with_its_objects_frozen(tmp_path, make_store):
    """The final garbage collections are skipped (tracking._exit_uncollected): an exit handler
    registered before the store opened runs after the freeze and sees the objects frozen."""
    import os
    import subprocess
    import sys

    code = ("import atexit, gc\n"
            "atexit.register(lambda: print('frozen', gc.get_freeze_count()))\n"
            "from retaillab import tracking\n"
            "tracking.client()\n")
    env = {**os.environ, "MLFLOW_TRACKING_URI": make_store(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.split()[-1]) > 10_000  # MLflow's objects, not a handful
    bare = subprocess.run([sys.executable, "-c", code.split("from retaillab")[0]],
                          capture_output=True, text=True, timeout=60)
    assert bare.stdout.split() == ["frozen", "0"]  # nothing opened, nothing frozen
