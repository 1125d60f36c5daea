"""churn.timeline: one label, one set of holdout customers and one bootstrap for BTYD models,
classifiers and survival models; checked against scikit-learn, scikit-survival, naive loops
and hand-made weights."""

from __future__ import annotations

import importlib

import numpy as np
import pandas as pd
import pytest

from retaillab import churn
from retaillab.churn.metrics import capture_at, expected_calibration_error, lift_at
from retaillab.errors import DataError, ParameterError, UnknownNameError

# the module (``churn.timeline`` is the function it defines)
tl = importlib.import_module("retaillab.churn.timeline")

CUTOFF, H = "1997-09-30", 180
MODELS = ["bg_nbd", "mbg_nbd", "pareto_nbd", "bg_nbd_palive", "logistic", "cox", "rsf"]
PARAMS = {"rsf": {"n_estimators": 8}, "logistic": {"C": 0.5}}


@pytest.fixture(scope="module")
def orders() -> pd.DataFrame:
    """900 customers of the CDNOW sample, named by text ids (none may be printed)."""
    from retaillab import data

    tx = data.load("cdnow_sample").transactions
    kept = np.sort(tx["customer"].unique())[:900]
    tx = tx[tx["customer"].isin(kept)].copy()
    tx["customer"] = "cust-" + tx["customer"].astype(str).str.zfill(5)
    return tx.reset_index(drop=True)


def _run(orders, **changes):
    settings = {"cutoff": CUTOFF, "horizon_days": H, "models": MODELS, "model_params": PARAMS,
                "n_resamples": 100, "seed": 0, "progress": False, **changes}
    return churn.timeline(orders, **settings)


@pytest.fixture(scope="module")
def found(orders):
    return _run(orders)


# -- labels and customers --------------------------------------------------------------------

def test_next_purchase_equals_a_loop_over_customers():
    day = pd.Timestamp
    tx = pd.DataFrame({
        "customer": [1, 1, 1, 2, 2, 3, 3, 4, 5, 5, 6],
        "date": [day("2024-01-05"), day("2024-01-10 18:00"), day("2024-01-11"),   # 1: day 1
                 day("2024-01-02"), day("2024-01-20"),                           # 2: day 10
                 day("2024-01-09"), day("2024-01-21 09:00"),                     # 3: day 11
                 day("2024-01-08"),                                              # 4: none
                 day("2024-01-01"), day("2024-02-01"),                           # 5: after
                 day("2024-01-12")],                                             # 6: too new
        "amount": 1.0})
    cutoff, h = pd.Timestamp("2024-01-10"), 10
    found = churn.next_purchase(tx, "2024-01-10", h)
    rows = {}
    for customer, own in tx.groupby("customer"):
        dates = sorted(own["date"])
        if dates[0] >= cutoff + pd.Timedelta(days=1):
            continue  # no history at the cut-off
        later = [d for d in dates if d >= cutoff + pd.Timedelta(days=1)]
        gap = (later[0].normalize() - cutoff).days if later else None
        bought = gap is not None and gap <= h
        rows[customer] = {"days": float(gap if bought else h), "bought": bought,
                          "churn": not bought}
    expected = pd.DataFrame(rows).T.astype({"days": float, "bought": bool, "churn": bool})
    assert list(found.index) == [1, 2, 3, 4, 5]
    pd.testing.assert_frame_equal(found, expected, check_names=False)
    assert found["churn"].equals(churn.churn_labels(tx, "2024-01-10", h).rename("churn"))


def test_every_model_scores_the_same_holdout_customers(found, orders):
    labels = churn.churn_labels(orders, CUTOFF, H)
    scores = found.scores
    assert scores.index.equals(labels.index)
    assert scores["churn"].to_numpy().tolist() == labels.to_numpy().tolist()
    for model in MODELS:
        assert scores[model].between(0, 1).all()
        assert found.markers[model].index.equals(labels.index)
    assert found.models == MODELS and found.td_days == (45, 90, 135)
    assert set(found.table.index.get_level_values("metric")) == {
        *churn.METRICS, "c_index", "td_auc_45d", "td_auc_90d", "td_auc_135d"}
    assert found.sizes.loc["evaluate", "customers"] == 900


def test_classifiers_train_at_the_fit_cutoff_on_labels_that_end_by_the_cutoff(found, orders):
    fit_at = pd.Timestamp(CUTOFF) - pd.Timedelta(days=H)
    assert found.fit_cutoff == f"{fit_at:%Y-%m-%d}"
    labels = churn.churn_labels(orders, found.fit_cutoff, H)
    assert found.sizes.loc["train", "customers"] == len(labels)
    assert found.sizes.loc["train", "churn_rate"] == pytest.approx(labels.mean())
    earlier = _run(orders, models=["logistic"], fit_cutoff="1997-03-01", n_resamples=50)
    assert earlier.fit_cutoff == "1997-03-01"
    assert earlier.sizes.loc["train", "customers"] == len(churn.churn_labels(
        orders, "1997-03-01", H))


# -- the metrics ---------------------------------------------------------------------------

def test_metrics_equal_scikit_learns_and_scikit_survivals_on_the_returned_scores(found):
    from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score
    from sksurv.metrics import concordance_index_censored, cumulative_dynamic_auc
    from sksurv.util import Surv

    s = found.scores
    y, bought, days = s["churn"].to_numpy(), s["bought"].to_numpy(), s["days"].to_numpy()
    # censored at the horizon, after every purchase: the censoring weights are all 1
    train = Surv.from_arrays(bought, np.where(bought, days, H + 1.0))
    test = Surv.from_arrays(bought, days)
    for model in MODELS:
        p, row = s[model].to_numpy(), found.table.loc[model, "mean"]
        expected = {
            "roc_auc": roc_auc_score(y, p), "pr_auc": average_precision_score(y, p),
            "brier": brier_score_loss(y, p), "log_loss": log_loss(y, p),
            "ece": expected_calibration_error(y, p), "lift_at_10": lift_at(y, p, 0.1),
            "lift_at_20": lift_at(y, p, 0.2), "capture_at_10": capture_at(y, p, 0.1),
            "c_index": concordance_index_censored(bought, days, -p, tied_tol=0)[0]}
        auc, _ = cumulative_dynamic_auc(train, test, found.markers[model].to_numpy(),
                                        list(found.td_days), tied_tol=0)
        expected.update({f"td_auc_{t}d": a for t, a in zip(found.td_days, auc, strict=True)})
        for metric, value in expected.items():
            assert row[metric] == pytest.approx(value, rel=1e-9, abs=1e-12), (model, metric)


def _naive_c_index(event, days, score, w):
    """Harrell's C by its definition, every pair: i bought and j later (or censored at the same
    time); concordant when i's churn score is lower, half when tied."""
    i, j = np.meshgrid(np.arange(event.size), np.arange(event.size), indexing="ij")
    comparable = event[i] & ((days[j] > days[i]) | ((days[j] == days[i]) & ~event[j]))
    weight = w[i] * w[j] * comparable
    concordant = np.where(score[i] < score[j], 1.0, np.where(score[i] == score[j], 0.5, 0.0))
    return (weight * concordant).sum() / weight.sum()


def _case(n=420, seed=0):
    """Churners censored at day 30, buyers on days 1..30, scores with many ties (a block of
    200 equal scores, larger than a concordance block)."""
    rng = np.random.default_rng(seed)
    bought = rng.random(n) < 0.4
    days = np.where(bought, rng.integers(1, 31, n), 30).astype(float)
    score = np.round(rng.random(n) * 0.6 + 0.35 * ~bought, 2)
    score[:200] = 0.5
    return ~bought, bought, days, score


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_resampled_metrics_are_the_metrics_of_the_resampled_customers(dtype):
    """A column of bootstrap counts gives what scikit-learn, scikit-survival and the churn
    metrics give on the customers repeated that many times (zeros: left out)."""
    from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score
    from sksurv.metrics import concordance_index_censored, cumulative_dynamic_auc
    from sksurv.util import Surv

    y, bought, days, score = _case()
    rng = np.random.default_rng(1)
    marker = np.column_stack([rng.random(y.size), 1 - score])
    td = (10, 20)
    counts = np.column_stack([rng.multinomial(y.size, np.ones(y.size) / y.size)
                              for _ in range(3)] + [rng.random(y.size) < 0.9])
    concordance = tl._Concordance(bought, days)
    for constant in (False, True):  # markers ranked as 1 - score take the score's ranking
        chosen = np.repeat((1 - score)[:, None], 2, axis=1) if constant else marker
        metrics = tl._Metrics(y, score, chosen, bought, days, td, concordance)
        assert (metrics.td[0][1] is None) == constant
        w = counts.T.astype(dtype)
        got = metrics(w, concordance.buyer_pairs(w))
        for col in range(counts.shape[1]):
            rows = np.repeat(np.arange(y.size), counts[:, col].astype(int))
            yy, pp, ee, dd = y[rows], score[rows], bought[rows], days[rows]
            expected = {
                "roc_auc": roc_auc_score(yy, pp), "pr_auc": average_precision_score(yy, pp),
                "brier": brier_score_loss(yy, pp), "log_loss": log_loss(yy, pp),
                "ece": expected_calibration_error(yy, pp), "lift_at_10": lift_at(yy, pp, 0.1),
                "capture_at_20": capture_at(yy, pp, 0.2),
                "c_index": concordance_index_censored(ee, dd, -pp, tied_tol=0)[0]}
            auc, _ = cumulative_dynamic_auc(Surv.from_arrays(ee, np.where(ee, dd, 31.0)),
                                            Surv.from_arrays(ee, dd), chosen[rows], list(td),
                                            tied_tol=0)
            expected.update({"td_auc_10d": auc[0], "td_auc_20d": auc[1]})
            tol = 1e-9 if dtype == "float64" else 1e-5
            for metric, value in expected.items():
                assert got[metric][col] == pytest.approx(value, rel=tol, abs=tol), metric


def test_concordance_equals_a_double_loop_with_weights():
    y, bought, days, score = _case(n=300, seed=3)
    w = np.random.default_rng(4).integers(0, 4, size=(2, 300)).astype(float)
    concordance = tl._Concordance(bought, days)
    metrics = tl._Metrics(y, score, np.zeros((300, 0)), bought, days, (), concordance)
    got = metrics(w, concordance.buyer_pairs(w))["c_index"]
    for row in range(2):
        assert got[row] == pytest.approx(_naive_c_index(bought, days, score, w[row]),
                                         rel=1e-12)


def test_bca_bounds_are_scipys_on_the_same_replicates():
    """Given scipy's own bootstrap distribution of a mean and the delete-one jackknife, the
    BCa bounds are scipy's exactly; with the timeline's own resamples and grouped jackknife
    they agree within the Monte Carlo error of two independent bootstraps."""
    from scipy import stats

    x = np.random.default_rng(5).exponential(size=400) ** 2  # skewed
    ref = stats.bootstrap((x,), np.mean, n_resamples=4000, method="BCa", random_state=2)
    delete_one = (x.sum() - x) / (x.size - 1)
    low, high = tl._bca(x.mean(), ref.bootstrap_distribution, delete_one, 0.95)
    assert (low, high) == pytest.approx(tuple(ref.confidence_interval), rel=1e-10)
    boot, jack = [], []
    for kind, w in tl._weights(x.size, 4000, seed=2):
        (boot if kind == "boot" else jack).append((w @ x) / w.sum(axis=1))
    assert len(np.concatenate(jack)) == tl.JACKKNIFE_GROUPS
    low, high = tl._bca(x.mean(), np.concatenate(boot), np.concatenate(jack), 0.95)
    se = x.std(ddof=1) / np.sqrt(x.size)
    assert low == pytest.approx(ref.confidence_interval.low, abs=0.4 * se)
    assert high == pytest.approx(ref.confidence_interval.high, abs=0.4 * se)
    assert high - x.mean() > 1.1 * (x.mean() - low)  # the skew shows


def _delong_se(y, a, b):
    """DeLong, DeLong & Clarke-Pearson (1988): the standard error of AUC(a) - AUC(b) on the
    same customers, from each customer's placement values."""
    pos, neg = y, ~y

    def placements(s):
        sp, sn = s[pos][:, None], s[neg][None, :]
        kernel = (sp > sn) + 0.5 * (sp == sn)
        return kernel.mean(axis=1), kernel.mean(axis=0)

    (va, wa), (vb, wb) = placements(a), placements(b)
    s10 = np.cov(np.vstack([va, vb]))
    s01 = np.cov(np.vstack([wa, wb]))
    var = (s10[0, 0] + s10[1, 1] - 2 * s10[0, 1]) / pos.sum() \
        + (s01[0, 0] + s01[1, 1] - 2 * s01[0, 1]) / neg.sum()
    return np.sqrt(var)


def test_paired_tests_read_the_bootstrap_spread_as_delongs_standard_error(found):
    from scipy.special import ndtri

    tests = found.tests.loc["roc_auc"]
    y = found.scores["churn"].to_numpy()
    checked = 0
    for model, row in tests.iterrows():
        if not 1e-10 < row["p_value"] < 0.5:
            continue
        se = abs(row["difference"]) / ndtri(1 - row["p_value"] / 2)
        reference = _delong_se(y, found.scores[row["best"]].to_numpy(),
                               found.scores[model].to_numpy())
        assert 0.7 < se / reference < 1.4, model
        checked += 1
    assert checked >= 2


def test_holm_and_the_choice_of_the_best_by_hand():
    rng = np.random.default_rng(0)
    names = ["a", "b", "c"]
    point = {"a": {"roc_auc": 0.70, "brier": 0.20}, "b": {"roc_auc": 0.70, "brier": 0.18},
             "c": {"roc_auc": 0.60, "brier": 0.25}}
    boot = {m: {k: v + rng.normal(0, 0.02, 500) for k, v in d.items()}
            for m, d in point.items()}
    jack = {m: {k: v + rng.normal(0, 0.001, 50) for k, v in d.items()}
            for m, d in point.items()}
    settings = {"level": 0.95, "alpha": 0.05, "family": "pairs"}
    pairs = tl._tests(point, boot, jack, names, ["roc_auc", "brier"], settings)
    best = tl._tests(point, boot, jack, names, ["roc_auc", "brier"],
                     {**settings, "family": "best"})
    assert (pairs["best"].loc["roc_auc"] == "a").all()  # a tie: the first listed
    assert (pairs["best"].loc["brier"] == "b").all()  # lower is better
    assert (pairs["p_holm"] >= pairs["p_value"] - 1e-15).all()
    assert (best["p_holm"] <= pairs["p_holm"] + 1e-15).all()
    assert pairs.loc[("brier", "c"), "difference"] == pytest.approx(0.18 - 0.25)
    assert pairs.loc[("brier", "c"), "better"]  # lower and clearly so
    assert not pairs.loc[("roc_auc", "b"), "better"]  # equal


# -- leakage, seeds, refusals -----------------------------------------------------------------

def test_the_future_changes_no_score_and_after_the_horizon_nothing(found, orders):
    end = pd.Timestamp(CUTOFF) + pd.Timedelta(days=H)
    churners = found.scores.index[found.scores["churn"]][:150]
    late = pd.DataFrame({"customer": churners, "date": end + pd.Timedelta(days=20),
                         "quantity": 1, "amount": 30.0})
    after = _run(pd.concat([orders, late], ignore_index=True))
    pd.testing.assert_frame_equal(after.table, found.table)
    pd.testing.assert_frame_equal(after.scores, found.scores)
    inside = late.assign(date=pd.Timestamp(CUTOFF) + pd.Timedelta(days=40))
    moved = _run(pd.concat([orders, inside], ignore_index=True))
    for model in MODELS:  # no model read the holdout window
        assert np.array_equal(moved.scores[model], found.scores[model]), model
    assert (~moved.scores.loc[churners, "churn"]).all()
    assert moved.scores["churn"].sum() == found.scores["churn"].sum() - len(churners)


def test_seeds_move_the_intervals_not_the_values(found, orders):
    # the forest keeps its own seed: the timeline's seed then draws only the resamples
    other = _run(orders, seed=1, model_params={**PARAMS, "rsf": {**PARAMS["rsf"], "seed": 0}})
    assert np.array_equal(other.table["mean"], found.table["mean"])
    assert not np.allclose(other.table["ci_low"], found.table["ci_low"])


def test_refusals(orders):
    cases = [
        ({"cutoff": "1998-05-01"}, DataError, "after the last transaction"),
        ({"cutoff": "1998-07-15"}, DataError, "at or after the last transaction"),
        ({"cutoff": "1997-09-30 12:00"}, ParameterError, "cutoff must be"),
        ({"horizon_days": 0}, ParameterError, "horizon_days must be"),
        ({"horizon_days": 1.5}, ParameterError, "horizon_days must be"),
        ({"fit_cutoff": CUTOFF}, ParameterError, "fit_cutoff must be a day on or before "
                                                 "1997-04-03"),
        ({"fit_cutoff": "1997-04-04"}, ParameterError, "fit_cutoff must be"),
        ({"models": ["bgnbd"]}, UnknownNameError, "Did you mean 'bg_nbd'"),
        ({"models": []}, ParameterError, "models must be"),
        ({"model_params": {"logistic": {"depth": 3}}}, ParameterError, "depth"),
        ({"model_params": {"bg_nbd": {"alpha": 3}}}, ParameterError, "alpha"),
        ({"model_params": {"rfs": {"n_estimators": 3}}}, UnknownNameError, "Did you mean"),
        ({"n_resamples": 10}, ParameterError, "n_resamples must be"),
        ({"level": 95}, ParameterError, "level must be"),
        ({"td_days": [0, 90]}, ParameterError, "td_days must be"),
        ({"td_days": [180]}, ParameterError, "td_days must be"),
        ({"metric": "auc"}, ParameterError, "metric must be"),
        ({"family": "all"}, ParameterError, "family must be"),
        ({"active_days": 0}, ParameterError, "active_days must be"),
    ]
    for change, error, text in cases:
        with pytest.raises(error, match=text):
            _run(orders, **{"models": ["bg_nbd", "logistic"], **change})


def test_active_customers_only(orders):
    found = _run(orders, models=["logistic"], active_days=120, n_resamples=50)
    assert found.tests.empty and found.best == "logistic"
    assert found.verdict().startswith("logistic alone: roc_auc")
    features = churn.transaction_features(orders, CUTOFF)
    active = features.index[features["recency_days"] < 120]
    assert found.scores.index.equals(active)
    assert found.sizes.loc["evaluate", "customers"] == len(active) < 900


# -- what is shown and logged ----------------------------------------------------------------

def test_printed_output_names_no_customer(found):
    shown = " ".join([repr(found), found._repr_html_(), found.verdict(), found.summary(),
                      found.wide().to_string(), found.tests.to_string(),
                      found.table.to_string(), found.verdict("brier")])
    assert "cust-" not in shown
    assert found.verdict().startswith(f"best by roc_auc: {found.best} (")
    assert found.best == found.tests.loc["roc_auc", "best"].iloc[0]
    means = found.table.xs("roc_auc", level="metric")["mean"]
    assert found.best == means.idxmax()
    with pytest.raises(ParameterError, match="metric must be"):
        found.verdict("auc")


def test_each_model_is_one_child_run_with_its_intervals(store, orders, tmp_path):
    from retaillab import tracking
    from retaillab.metrics.compare import TAG_INTERVAL

    run = tracking.notebook_run(None, experiment="timeline-test", params={})
    found = _run(orders, models=["bg_nbd", "logistic"], n_resamples=50, run=run)
    run.close()
    children = {c.data.tags[tracking.RUN_NAME_TAG]: c
                for c in tracking.Run(run.run_id, run.experiment_id).children()}
    assert set(children) == {"bg_nbd", "logistic"}
    logistic = children["logistic"].data
    row = found.table.loc[("logistic", "roc_auc")]
    assert logistic.metrics["roc_auc"] == pytest.approx(row["mean"])
    assert logistic.metrics["roc_auc_ci_low"] == pytest.approx(row["ci_low"])
    assert logistic.metrics["c_index_ci_high"] == pytest.approx(
        found.table.loc[("logistic", "c_index"), "ci_high"])
    assert "BCa bootstrap over 900 holdout customers" in logistic.tags[TAG_INTERVAL]
    assert logistic.params["fit_cutoff"] == found.fit_cutoff and logistic.params["C"] == "0.5"
    assert "fit_cutoff" not in children["bg_nbd"].data.params
    client = tracking.client()
    files = {f.path for f in client.list_artifacts(children["logistic"].info.run_id)}
    assert files == {"calibration.csv"}
    for name in ("timeline.csv", "timeline_tests.csv", "timeline_sizes.csv"):
        path = client.download_artifacts(run.run_id, name, str(tmp_path))
        assert "cust-" not in open(path).read()
