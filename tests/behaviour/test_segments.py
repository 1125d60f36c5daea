"""Segments: the planted number of segments is found and matches the truth, stability tells
planted structure from none, runs are deterministic, personas and transitions add up."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from retaillab.behaviour import segments as sg
from retaillab.data import SyntheticParams, synthetic
from retaillab.errors import DataError

PLANTED = 4
#: the level the labels must agree with the planted membership (seeds 0-3 give 0.93-0.95)
ARI_TRUTH = 0.8
#: bootstrap stability on planted data (seeds 0-3 give 0.99) and the most on pure noise
STABLE, UNSTABLE = 0.9, 0.8


@pytest.fixture(scope="module")
def world():
    return synthetic(2000, 200, seed=0, params=SyntheticParams(segments=PLANTED))


@pytest.fixture(scope="module")
def features(world):
    return sg.customer_features(world.transactions, items=world.items, events=world.events)


@pytest.fixture(scope="module")
def fitted(features):
    return sg.segment(features, k=range(2, 7), seed=0, n_bootstrap=8)


def test_features_one_row_per_customer(world, features):
    assert features.index.is_unique and features.index.name == "customer"
    assert set(features.index) == set(world.transactions["customer"])
    for column in ("recency_days", "tenure_days", "frequency", "monetary_total",
                   "monetary_mean", "basket_size", "n_categories", "view_to_cart"):
        assert column in features.columns
    shares = features.filter(like="share_")
    assert np.allclose(shares.sum(axis=1), 1.0)
    assert np.isfinite(features.to_numpy()).all()


def test_finds_planted_segments(world, fitted):
    assert fitted.k == PLANTED
    assert fitted.scores.loc[fitted.scores["chosen"], "k"].item() == PLANTED
    assert fitted.scores["silhouette"].idxmax() == fitted.scores.index[fitted.scores["chosen"]][0]
    truth = world.truth.customers["segment"].reindex(fitted.labels.index)
    assert adjusted_rand_score(truth, fitted.labels) > ARI_TRUTH
    assert sorted(fitted.labels.unique()) == list(range(1, PLANTED + 1))
    sizes = fitted.labels.value_counts().sort_index()
    assert sizes.is_monotonic_decreasing  # numbered by descending size


def test_stability_high_on_planted_low_on_noise(fitted):
    assert len(fitted.stability) == 8
    assert fitted.stability_mean > STABLE
    rng = np.random.default_rng(0)
    noise = pd.DataFrame(rng.standard_normal((600, 5)), columns=list("abcde"),
                         index=pd.RangeIndex(600, name="customer"))
    flat = sg.segment(noise, k=4, seed=0, n_bootstrap=8)
    assert flat.stability_mean < UNSTABLE
    assert flat.stability_mean < fitted.stability_mean - 0.1
    assert flat.stability_sd > fitted.stability_sd


def test_same_seed_same_labels(features, fitted):
    again = sg.segment(features, k=range(2, 7), seed=0, n_bootstrap=8)
    pd.testing.assert_series_equal(again.labels, fitted.labels)
    pd.testing.assert_frame_equal(again.stability, fitted.stability)
    pd.testing.assert_frame_equal(again.scores, fitted.scores)


def test_assign_reproduces_labels(features, fitted):
    pd.testing.assert_series_equal(fitted.assign(features), fitted.labels)
    shuffled = features.sample(frac=1.0, random_state=1)
    assert fitted.assign(shuffled).reindex(fitted.labels.index).equals(fitted.labels)


def test_gmm_runs_by_bic(features):
    cols = ["frequency", "monetary_mean", "recency_days"]
    a = sg.segment(features[cols], method="gmm", k=[2, 3], seed=1, n_bootstrap=2)
    assert a.k == int(a.scores.loc[a.scores["bic"].idxmin(), "k"])
    b = sg.segment(features[cols], method="gmm", k=[2, 3], seed=1, n_bootstrap=2)
    pd.testing.assert_series_equal(a.labels, b.labels)


def test_personas_add_up(world, features, fitted):
    churn = pd.Series(0.5, index=features.index)
    table = sg.personas(fitted, features, world.transactions, churn=churn)
    assert table["share_customers"].sum() == pytest.approx(1.0)
    assert table["share_revenue"].sum() == pytest.approx(1.0)
    assert table["customers"].to_dict() == fitted.labels.value_counts().to_dict()
    assert table["mean_churn"].tolist() == pytest.approx([0.5] * PLANTED)
    assert table["name"].str.len().gt(0).all() and table["action"].str.len().gt(0).all()
    assert "top_categories" in table.columns
    assert not any(str(c) in " ".join(table["description"]) for c in ("customer 1",))
    fig = sg.persona_figure(table)
    assert len(fig.axes) == 3


def test_revenue_share_by_hand():
    tx = pd.DataFrame({"customer": ["a", "a", "b", "c", "d"],
                       "date": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-01-05",
                                               "2024-01-07", "2024-03-01"]),
                       "amount": [10.0, 30.0, 20.0, 15.0, 25.0]})
    features = pd.DataFrame({"x": [0.0, 0.1, 5.0, 5.1]},
                            index=pd.Index(list("abcd"), name="customer"))
    fitted = sg.segment(features, k=2, seed=0, n_bootstrap=0)
    # {a, b} and {c, d}: same size, numbered by centre, the lower x first
    assert fitted.labels.to_dict() == {"a": 1, "b": 1, "c": 2, "d": 2}
    table = sg.personas(fitted, features, tx, clv=pd.Series({"a": 1.0, "b": 3.0, "c": 5.0,
                                                             "d": 7.0}))
    assert table["revenue"].tolist() == [60.0, 40.0]
    assert table["share_revenue"].tolist() == pytest.approx([0.6, 0.4])
    assert table["revenue_per_customer"].tolist() == [30.0, 20.0]
    assert table["mean_clv"].tolist() == [2.0, 6.0]
    assert table["name"].tolist() == ["segment 1", "segment 2"]  # no RFM columns, no rules
    assert table["description"].tolist()[0].startswith("2 customers (50%), 60% of revenue, 30 ")


def test_persona_rules():
    tx = pd.DataFrame({"customer": [1, 2, 3, 4], "date": pd.to_datetime(["2024-01-01"] * 4),
                       "amount": [100.0, 100.0, 10.0, 10.0]})
    features = pd.DataFrame({"frequency": [8.0, 9.0, 1.0, 1.0],
                             "recency_days": [3.0, 5.0, 300.0, 310.0]},
                            index=pd.Index([1, 2, 3, 4], name="customer"))
    fitted = sg.segment(features, k=2, seed=0, n_bootstrap=0)
    table = sg.personas(fitted, features, tx).set_index("name")
    assert set(table.index) == {"loyal high spenders", "lapsed one-timers"}
    assert table.loc["loyal high spenders", "action"] == sg.ACTIONS["loyal"]
    assert table.loc["lapsed one-timers", "action"] == sg.ACTIONS["lapsed"]


def test_transitions_by_hand():
    before = pd.Series({"a": 1, "b": 1, "c": 2, "d": 2})
    after = pd.Series({"a": 1, "b": 2, "c": 2, "e": 1})
    table = sg.transitions(before, after)
    got = {(r["from"], r["to"]): (r["customers"], r["share"]) for _, r in table.iterrows()}
    assert got == {(1, 1): (1, 0.5), (1, 2): (1, 0.5), (2, 2): (1, 0.5), (2, "gone"): (1, 0.5),
                   ("new", 1): (1, 1.0)}
    assert table["customers"].sum() == 5


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_export_keeps_user_ids(tmp_path, suffix):
    ids = pd.Index(["000123", "000124", "A-7", "0009", "10", "010"], name="customer")
    features = pd.DataFrame({"x": [0.0, 0.2, 0.1, 9.0, 9.1, 9.3]}, index=ids)
    fitted = sg.segment(features, k=2, seed=0, n_bootstrap=0)
    path = sg.export(fitted, tmp_path / f"segments{suffix}")
    if suffix == ".csv":
        back = pd.read_csv(path, dtype={"customer": str})
        assert path.read_text().splitlines()[1].startswith("000123,")
    else:
        back = pd.read_parquet(path)
    assert back["customer"].tolist() == list(ids)
    assert back["segment"].tolist() == fitted.labels.tolist()


def test_refusals():
    small = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    with pytest.raises(DataError, match="too few for k up to 8"):
        sg.segment(small)
    constant = pd.DataFrame({"x": [1.0] * 20, "y": [2.0] * 20})
    with pytest.raises(DataError, match="every feature is the same"):
        sg.segment(constant, k=2)
    missing = pd.DataFrame({"x": [1.0, np.nan] * 10})
    with pytest.raises(DataError, match="missing or infinite"):
        sg.segment(missing, k=2)


def test_value_estimates_put_the_dead_at_risk_and_the_big_spenders_at_value(world, fitted,
                                                                            features):
    from scipy.stats import spearmanr
    from sklearn.metrics import roc_auc_score

    found = sg.value_estimates(world.transactions)
    truth = world.truth.customers.reindex(found.index)
    assert set(found.index) == set(features.index)
    assert found["churn"].between(0, 1).all() and (found["clv"] >= 0).all()
    # the planted dead carry the higher risk (AUC 0.7+); value ranks like the planted spend
    # rate of the living, alive x lambda x mean order value (Spearman 0.63 at seed 0)
    assert roc_auc_score(~truth["alive"], found["churn"]) > 0.7
    planted = truth["alive"] * truth["lambda"] * world.truth.params.p_gg / truth["nu"]
    assert spearmanr(found["clv"], planted).statistic > 0.5
    # order value ranks like the planted mean order value p / nu (Gamma-Gamma's own law)
    spend = world.truth.params.p_gg / truth["nu"]
    assert spearmanr(found["order_value"], spend).statistic > 0.5
    cards = sg.personas(fitted, features, world.transactions, churn=found["churn"],
                        clv=found["clv"])
    by_hand = found["clv"].groupby(fitted.labels).mean()
    assert cards["mean_clv"].to_numpy() == pytest.approx(by_hand.reindex(cards.index).to_numpy())
