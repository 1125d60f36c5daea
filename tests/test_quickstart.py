"""The quickstart suite: it runs each listed spec, prints leaderboards, and refuses bad suites."""

from __future__ import annotations

from pathlib import Path

import pytest

from retaillab import quickstart, tracking
from retaillab.spec import SpecError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def store(tmp_path, monkeypatch):
    (tmp_path / "mlruns").mkdir()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlruns' / 'q.db'}")
    tracking._CLIENTS.clear()
    yield tmp_path
    tracking._CLIENTS.clear()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "suite.yaml"
    path.write_text(text)
    return path


def test_the_shipped_suite_is_valid():
    suite = quickstart.load_suite(ROOT / "experiments" / "quickstart.yaml")
    assert [p.name for p in suite.runs] == ["recsys_movielens.yaml", "churn_telco.yaml",
                                            "clv_cdnow.yaml"]
    assert suite.report is not None and suite.report.suffix == ".html"


def test_suite_runs_each_spec_and_prints_its_leaderboard(store, tmp_path, capsys):
    suite = write(tmp_path, "runs: [experiments/tour.yaml]\n")
    assert quickstart.load_suite(suite, root=ROOT).runs == [ROOT / "experiments" / "tour.yaml"]
    assert quickstart.run(suite, root=ROOT, progress=False) == 0
    out = capsys.readouterr().out
    assert "== leaderboards" in out and "\ntour\n" in out and "rmse" in out
    exp = tracking.client().get_experiment_by_name("tour")
    parents = [r for r in tracking.search_all(exp.experiment_id) if tracking.is_parent(r)]
    assert [r.info.status for r in parents] == ["FINISHED"]


@pytest.mark.parametrize("text, key", [
    ("runs: [experiments/tour.yaml]\nreprot: x.html\n", "reprot"),
    ("runs: experiments/tour.yaml\n", "runs"),
    ("runs: [experiments/nope.yaml]\n", "runs"),
    ("runs: []\ntune: {n_trials: 3}\n", "tune"),
])
def test_bad_suites_name_the_key(tmp_path, text, key):
    with pytest.raises(SpecError) as info:
        quickstart.load_suite(write(tmp_path, text), root=ROOT)
    assert repr(key) in str(info.value) or f"'{key}'" in str(info.value)
