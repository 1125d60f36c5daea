"""The quickstart suite: it runs each listed spec, a tuning study and the report through the
functions behind the commands (printing what they print), goes on past a failed stage, stops
at Ctrl-C, and refuses bad suites. The ``store`` fixture is the root conftest's."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from retaillab import quickstart, tracking
from retaillab.spec import SpecError

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "suite.yaml"
    path.write_text(text)
    return path


def tiny_tune_spec(folder: Path) -> Path:
    """SVD on 60 sampled MovieLens users, 3 epochs: a trial takes a fraction of a second."""
    path = folder / "tune_tiny.yaml"
    path.write_text(yaml.safe_dump({"name": "tiny-tune", "task": "recsys", "model": "svd",
                                    "metric": "rmse", "n_trials": 5, "seed": 0,
                                    "data": {"sample": 60}, "space": {"n_epochs": 3}}))
    return path


def test_the_shipped_suite_is_valid():
    suite = quickstart.load_suite(ROOT / "experiments" / "quickstart.yaml")
    assert [p.name for p in suite.runs] == [
        "recsys_movielens.yaml", "churn_telco.yaml", "clv_cdnow.yaml", "retention_cdnow.yaml",
        "behaviour_synthetic.yaml", "segments_synthetic.yaml", "campaign_synthetic.yaml"]
    assert suite.report is not None and suite.report.suffix == ".html"


@pytest.mark.notebook
@pytest.mark.slow
def test_suite_runs_specs_tuning_and_report_and_prints_leaderboards(store, capsys):
    report = store / "reports" / "quick.html"
    suite = write(store, f"runs: [experiments/tour.yaml]\ntune: {{spec: {tiny_tune_spec(store)}, "
                         f"n_trials: 2}}\nreport: {report}\n")
    assert quickstart.load_suite(suite, root=ROOT).runs == [ROOT / "experiments" / "tour.yaml"]
    assert quickstart.run(suite, root=ROOT, progress=False) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    # what `retaillab run` prints
    assert any(line.startswith("FINISHED ") for line in lines)
    assert "1 of 1 runs finished; browse them with `retaillab runs 'tour'`" in out
    # what `retaillab tune` prints: the trials asked for in the suite, not the spec's 5
    assert "study 'tiny-tune' in " in out and ": 2 trials of svd (rmse, minimize)" in out
    assert "trials: 2 complete" in out and "best params: {" in out
    # the leaderboards, in the terminal format of `retaillab runs`
    board = lines[lines.index("tour") + 1:]
    assert board[0].split()[:4] == ["model", "status", "rmse", "mae"]
    assert {board[1].split()[0], board[2].split()[0], board[3].split()[0]} == {
        "global_mean", "item_mean", "user_item_bias"}
    assert f"report of tour, tiny-tune written to {report}" in out
    assert lines[-1].startswith("== time: tour ") and "tuning" in lines[-1]
    page = report.read_text(encoding="utf-8")
    assert "<h2>tour</h2>" in page and "<h2>tiny-tune</h2>" in page
    exp = tracking.client().get_experiment_by_name("tour")
    parents = [r for r in tracking.search_all(exp.experiment_id) if tracking.is_parent(r)]
    assert [r.info.status for r in parents] == ["FINISHED"]


def test_a_failed_stage_is_reported_and_the_others_go_on(store, capsys):
    """A spec the runner refuses and a missing tuning spec: each stage says why on stderr, as
    its command would (exit code 2), the leaderboards still print, and the suite exits 1."""
    spec = store / "typo.yaml"
    spec.write_text(yaml.safe_dump({"name": "typo", "notebook": str(FIXTURES / "ok.ipynb"),
                                    "parameters": {"sed": 3}}))
    suite = write(store, f"runs: [{spec}]\ntune: {{spec: {store / 'missing.yaml'}}}\n")
    assert quickstart.run(suite, root=ROOT, progress=False) == 1
    captured = capsys.readouterr()
    errors = [line for line in captured.err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 2 and "'sed'" in errors[0] and "did you mean 'seed'" in captured.err
    assert "missing.yaml" in captured.err
    assert "== leaderboards" in captured.out and "\ntypo: " in captured.out
    assert "== time: typo " in captured.out


def test_ctrl_c_stops_the_suite(store, capsys, monkeypatch):
    """Ctrl-C in a run stops there with 130: no later spec, no tuning, no report."""
    from retaillab import runner

    started = []

    def interrupted(spec, **_):
        started.append(spec.name)
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "run_spec", interrupted)
    suite = write(store, "runs: [experiments/tour.yaml, experiments/tour.yaml]\n"
                         f"tune: {{spec: {tiny_tune_spec(store)}}}\nreport: {store / 'r.html'}\n")
    assert quickstart.run(suite, root=ROOT, progress=False) == 130
    captured = capsys.readouterr()
    assert started == ["tour"] and "interrupted" in captured.err
    assert "== leaderboards" not in captured.out and not (store / "r.html").exists()


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
