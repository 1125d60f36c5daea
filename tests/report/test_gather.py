"""The record as tables: intervals from the right source, the winner and its paired test,
provenance, studies; per-user keys taken as opaque text; bad input refused with messages that
say what exists.

Tests that only read the CHURN record share one module-wide store (``churn``); the others
get a fresh copy of the template store each (the root conftest's ``store``).
"""

from __future__ import annotations

import math

import pandas as pd
import pytest
from scipy import stats

from retaillab import report, tracking
from retaillab.cli import main
from retaillab.errors import DataError, ParameterError, UnknownNameError

from .conftest import CHURN, COMMIT, log_comparison, open_store

T_975_2 = 4.302652729911275  # Student t quantile, 2 degrees of freedom
FACTOR = 1 / 3 + 100 / 200  # Nadeau-Bengio: 1/J + n_test/n_train, J = 3 folds of 200 / 100


def t_p(t: float, df: int = 2) -> float:
    """Two-sided p-value of a t statistic."""
    return float(2 * stats.t.sf(abs(t), df))


@pytest.fixture(scope="module")
def churn_record(tmp_path_factory, copy_store):
    """One store holding the CHURN comparison, logged once for the tests that only read it."""
    folder = tmp_path_factory.mktemp("churn-record")
    with pytest.MonkeyPatch.context() as mp:
        uri = open_store(folder, mp, copy_store)
        pid = log_comparison("churn", CHURN, sizes=(200, 100))  # 3-fold of 300 customers
    return folder, uri, pid


@pytest.fixture
def churn(churn_record, monkeypatch):
    """The shared CHURN record as this test's store (read only); the parent run's id."""
    folder, uri, pid = churn_record
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(folder)
    return pid


def test_intervals_over_folds_and_paired_test(churn):
    pid = churn
    rep = report.gather("churn")
    assert rep.run_id == pid and rep.main == "roc_auc" and not rep.lower_is_better
    assert rep.ranking == ["gbm", "logistic", "dummy"] and rep.winner == "gbm"
    row = rep.intervals.set_index(["model", "metric"]).loc[("gbm", "roc_auc")]
    # 0.80, 0.82, 0.84: s^2 = 0.0004; corrected: t * sqrt((1/3 + 100/200) * s^2), not s/sqrt 3
    half = T_975_2 * math.sqrt(FACTOR * 0.0004)
    assert row["mean"] == pytest.approx(0.82)
    assert (row["low"], row["high"]) == pytest.approx((0.82 - half, 0.82 + half))
    assert row["n"] == 3
    assert row["source"] == "corrected resampled t over 3 folds (Nadeau\u2013Bengio)"
    # gbm - logistic: 0.10, 0.09, 0.09 (mean 0.28/3, s^2 = 1/3 * 1e-4);
    # gbm - dummy: 0.30, 0.32, 0.34 (mean 0.32, s^2 = 4e-4);
    # logistic - dummy: 0.20, 0.23, 0.25 (mean 0.68/3, s^2 = 19/3 * 1e-4)
    t_log = (0.28 / 3) / math.sqrt(FACTOR * 1e-4 / 3)
    t_dummy = 0.32 / math.sqrt(FACTOR * 4e-4)
    t_other = (0.68 / 3) / math.sqrt(FACTOR * 19e-4 / 3)
    p = {"logistic": t_p(t_log), "dummy": t_p(t_dummy), "other": t_p(t_other)}
    assert p["logistic"] < p["dummy"] < p["other"]  # Holm: x3, x2 (at least the first), x1
    holm_log = 3 * p["logistic"]
    holm_dummy = max(holm_log, 2 * p["dummy"])
    paired = rep.paired
    assert (paired["winner"], paired["runner_up"]) == ("gbm", "logistic")
    tests = paired["tests"]
    assert list(tests.index) == ["logistic", "dummy"] and paired["n_tests"] == 3
    assert tests.loc["logistic", "mean_difference"] == pytest.approx(0.28 / 3)
    assert tests.loc["logistic", "t_statistic"] == pytest.approx(t_log, rel=1e-6)
    assert tests.loc["dummy", "t_statistic"] == pytest.approx(t_dummy, rel=1e-6)
    assert tests.loc["logistic", "p_value"] == pytest.approx(p["logistic"], rel=1e-6)
    assert tests.loc["logistic", "p_holm"] == pytest.approx(holm_log, rel=1e-6)
    assert tests.loc["dummy", "p_holm"] == pytest.approx(holm_dummy, rel=1e-6)
    assert holm_dummy < 0.05 and paired["significant"] is True
    assert paired["better_than"] == ["logistic", "dummy"]
    assert paired["verdict"].startswith("gbm is the significant winner: better than all 2")
    board = rep.leaderboard()
    assert list(board.index) == ["gbm", "logistic", "dummy"]
    assert list(board.columns) == ["roc_auc", "brier"]
    assert board.loc["gbm", "roc_auc"] == f"0.820 [{0.82 - half:.3f}, {0.82 + half:.3f}]"


def test_close_models_are_not_called_better(store):
    log_comparison("churn", {"a": {"roc_auc": [0.80, 0.85, 0.82]},
                             "b": {"roc_auc": [0.81, 0.83, 0.82]}})
    rep = report.gather("churn")
    assert rep.winner == "a" and rep.paired["not_better_than"] == ["b"]
    assert rep.paired["tests"].loc["b", "p_holm"] > 0.5
    assert rep.paired["verdict"].startswith("No significant winner: a has the best mean")


def test_lower_is_better_metric_ranks_ascending(churn):
    rep = report.gather("churn", metric="brier")
    assert rep.lower_is_better and rep.ranking == ["gbm", "logistic", "dummy"]
    tests = rep.paired["tests"]
    assert tests.loc["logistic", "mean_difference"] == pytest.approx(0.16 - 0.55 / 3)
    # gbm's Brier is lower on each of 3 folds: -0.03, -0.02, -0.02 (s^2 = 1/3 * 1e-4); with
    # the folds' overlap counted, 3 folds are not enough to call that significant
    t_log = (0.16 - 0.55 / 3) / math.sqrt(FACTOR * 1e-4 / 3)
    assert tests.loc["logistic", "t_statistic"] == pytest.approx(t_log, rel=1e-6)
    assert tests.loc["logistic", "p_value"] == pytest.approx(t_p(t_log), rel=1e-6)
    assert 0.04 < t_p(t_log) < 0.05 and tests.loc["logistic", "p_holm"] > 0.05
    # against dummy: -0.05, -0.04, -0.03 (s^2 = 1e-4): t = -0.04 / sqrt(5/6 * 1e-4) = -4.38
    t_dummy = -0.04 / math.sqrt(FACTOR * 1e-4)
    assert tests.loc["dummy", "t_statistic"] == pytest.approx(t_dummy, rel=1e-6)
    assert tests.loc["dummy", "p_holm"] > 0.05 and rep.paired["better_than"] == []
    assert rep.paired["verdict"].startswith(
        "No significant winner: gbm has the best mean but is not significantly better than "
        "any other model: logistic (p = ")
    with pytest.raises(DataError, match=r"(?s)'auc'.*roc_auc"):
        report.gather("churn", metric="auc")


def test_interval_from_logged_table_or_bounds_or_none(store):
    table = pd.DataFrame({"ndcg_at_10": ["0.300 [0.250, 0.350]", "0.200 [0.150, 0.260]"]},
                         index=pd.Index(["ease", "pop"], name="model"))
    log_comparison("recsys", {"ease": {"ndcg_at_10": [0.3]}, "pop": {"ndcg_at_10": [0.2]}},
                   per_fold=False, table=table,
                   extra={"ease": {"rmse": 0.9, "rmse_ci_low": 0.85, "rmse_ci_high": 0.95}})
    rep = report.gather("recsys")
    rows = rep.intervals.set_index(["model", "metric"])
    assert tuple(rows.loc[("pop", "ndcg_at_10"), ["low", "high"]]) == (0.15, 0.26)
    assert tuple(rows.loc[("ease", "rmse"), ["low", "high"]]) == (0.85, 0.95)
    assert "rmse_ci_low" not in set(rep.intervals["metric"])
    assert rep.winner == "ease" and "only means" in rep.paired["reason"]
    log_comparison("clv", {"bg": {"rmse": [1.5]}, "pareto": {"rmse": [1.4]}}, per_fold=False)
    rep = report.gather("clv")
    assert rep.winner == "pareto" and set(rep.intervals["source"]) == {"no interval available"}
    assert rep.leaderboard().loc["pareto", "rmse"] == "1.400"


def test_rounded_logged_cells_still_hold_the_exact_mean(store):
    """comparison.csv shows 3 decimals: a mean of 0.00026 reads "0.000 [0.000, 0.000]"."""
    table = pd.DataFrame({"recall_at_10": ["0.000 [0.000, 0.000]", "0.100 [0.090, 0.110]"]},
                         index=pd.Index(["nmf", "ease"], name="model"))
    log_comparison("rounded", {"nmf": {"recall_at_10": [0.00026]},
                               "ease": {"recall_at_10": [0.1]}}, per_fold=False, table=table)
    rows = report.gather("rounded").intervals.set_index(["model", "metric"])
    assert tuple(rows.loc[("nmf", "recall_at_10"), ["low", "mean", "high"]]) == \
        (0.0, 0.00026, 0.00026)
    from retaillab import visuals

    visuals.bars_with_intervals(rows.reset_index(), ["recall_at_10"])  # no negative error bar


def test_newest_finished_run_and_provenance(store):
    old = log_comparison("churn", {"a": {"roc_auc": [0.6, 0.7]}})
    new = log_comparison("churn", CHURN)
    log_comparison("churn", {"a": {"roc_auc": [0.9, 0.9]}}, status="FAILED")
    rep = report.gather("churn")
    assert rep.run_id == new and report.gather("churn", old).run_id == old
    prov = rep.provenance
    assert prov["commit"] == COMMIT and prov["spec"] == "experiments/churn.yaml"
    assert prov["spec sha256"] == "ab" * 32 and prov["data telco"] == "fp-telco-42"
    assert prov["seed"] == "7" and prov["rerun"] == f"retaillab rerun {new}"
    by_hand = log_comparison("hand", CHURN, by_runner=False)
    prov = report.gather("hand").provenance
    assert prov["run"] == by_hand and prov["rerun"].startswith("not rerunnable")


def test_tuning_study_history(store):
    client = tracking.client()
    exp = tracking.experiment_id("tune-churn")
    study = tracking.Run(client.create_run(exp, run_name="gbm-study", tags={
        tracking.TAG_KIND: "study"}).info.run_id, exp)
    study.log_params({"metric": "roc_auc", "direction": "maximize"})
    study.log_metrics({"best_validation_roc_auc": 0.8, "test_roc_auc": 0.79})
    for number, value, state in [(0, 0.70, "COMPLETE"), (1, 0.75, "COMPLETE"),
                                 (2, 0.90, "PRUNED"), (3, 0.72, "COMPLETE"),
                                 (4, 0.80, "COMPLETE")]:
        with study.model("gbm") as trial:
            trial.set_tags({tracking.TAG_KIND: "trial", "retaillab.trial": number,
                            "retaillab.trial_state": state})
            trial.log_metrics({"validation_roc_auc": value, "fit_seconds": 1.0})
    client.set_terminated(study.run_id, "FINISHED")
    (found,) = report.gather("tune-churn").studies
    assert found.metric == "validation_roc_auc" and not found.lower_is_better
    assert found.trials["trial"].tolist() == [0, 1, 3, 4]  # the pruned trial left out
    assert found.trials["best_so_far"].tolist() == [0.70, 0.75, 0.75, 0.80]
    assert found.summary["test_roc_auc"] == 0.79
    assert "tuning history gbm-study" in report.render_html([report.gather("tune-churn")])


def test_unknown_experiment(churn):
    with pytest.raises(UnknownNameError, match=r"'chrun'.*Did you mean 'churn'"):
        report.gather("chrun")


def test_experiment_without_finished_runs_says_what_it_holds(store, capsys):
    log_comparison("recsys", {"a": {"ndcg_at_10": [0.3, 0.2]}}, status="FAILED")
    with pytest.raises(DataError) as err:
        report.gather("recsys")
    text = str(err.value)
    assert "experiment 'recsys'" in text and "no finished run" in text
    assert "2 runs" in text and "1 notebook FAILED" in text and "1 model FINISHED" in text
    tracking.experiment_id("empty")
    with pytest.raises(DataError, match=r"(?s)'empty'.*holds no runs"):
        report.gather("empty")
    out = store / "reports" / "x.html"
    assert main(["report", "empty", "-o", str(out)]) == 2
    assert "experiment 'empty'" in capsys.readouterr().err and not out.exists()
    assert main(["report", "nope"]) == 2
    assert "unknown experiment 'nope'" in capsys.readouterr().err


def test_run_id_needs_exactly_one_experiment(store):
    pid = log_comparison("churn", CHURN)
    log_comparison("other", CHURN)
    with pytest.raises(ParameterError, match="run_id"):
        report.check_request(["churn", "other"], pid)
    with pytest.raises(DataError, match="not a notebook run"):
        report.gather("other", pid)


# valid 16-hex-digit keys that read as numbers: 1e5 and 100000 (one value as floats), two
# infinities, leading zeros. A small test set can draw such HMACs only (no letter among them).
NUMERIC_LOOKING = ["00000000000001e5", "0000000000100000", "1234e56789012345",
                   "9999e99999999999", "0000000000000042"]


@pytest.mark.parametrize("kind", ["numeric-looking", "hmac"])
def test_per_user_keys_are_opaque(store, kind):
    """per_user.csv keys (HMACs, hashes: any text) pair users as written, whatever they look
    like, with the key as a column or as the index."""
    keys = NUMERIC_LOOKING if kind == "numeric-looking" else tracking.user_keys(range(7))
    a = [0.50, 0.40, 0.30, 0.20, 0.10, 0.60, 0.70][:len(keys)]
    gap = [0.10, 0.12, 0.08, 0.11, 0.09, 0.10, 0.13][:len(keys)]
    client = tracking.client()
    exp = tracking.experiment_id("keys")
    parent = tracking.Run(client.create_run(exp, tags={tracking.TAG_KIND: "notebook"})
                          .info.run_id, exp)
    tables = {"ease": pd.DataFrame({"ndcg_at_10": a, "fold": 0, "user": keys}),
              "svd": pd.DataFrame({"ndcg_at_10": [x - g for x, g in zip(a, gap, strict=True)],
                                   "fold": 0, "user": keys}).iloc[::-1].set_index("user")}
    for name, table in tables.items():
        with parent.model(name) as child:
            child.log_metrics({"ndcg_at_10": float(table["ndcg_at_10"].mean())})
            child.log_table(table, "per_user.csv")
    client.set_terminated(parent.run_id, "FINISHED")
    rep = report.gather("keys")
    assert rep.winner == "ease" and rep.unit_kind == "users"
    assert sorted(rep.units["svd"]["user"]) == sorted(keys)  # every key kept as written
    n = len(keys)
    row = rep.intervals.set_index(["model", "metric"]).loc[("ease", "ndcg_at_10")]
    assert row["n"] == n and row["source"] == f"BCa bootstrap over {n} users"
    paired = rep.paired
    assert paired["tests"].loc["svd", "n"] == n
    assert paired["tests"].loc["svd", "mean_difference"] == pytest.approx(sum(gap) / n)
    assert paired["better_than"] == ["svd"] and paired["test"] == f"paired t over {n} users"
    page = report.render_html([rep])
    assert not any(key in page for key in keys)  # keys pair users; the page never shows one
