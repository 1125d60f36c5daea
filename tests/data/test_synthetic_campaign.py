"""The synthetic campaign: well-formed tables, outcomes that follow the planted truth (checked
against the world's own truth and closed forms, not the generator's output), an effect that is
not monotone in churn risk, the same tables for the same arguments, refusals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from retaillab.data.dataset import Dataset
from retaillab.data.synthetic_campaign import ARMS, KINDS, CampaignParams, synthetic_campaign
from retaillab.data.synthetic_world import synthetic
from retaillab.errors import DataError, ParameterError

END = "2025-06-30"


@pytest.fixture(scope="module")
def world():
    return synthetic(5000, 200, seed=11, end=END)


@pytest.fixture(scope="module")
def campaign(world):
    return synthetic_campaign(world, seed=3)


def test_tables_are_well_formed(world, campaign):
    table, truth = campaign.table, campaign.truth
    assert list(table.columns) == ["customer", "arm", "converted", "revenue", "pre_revenue"]
    assert table["customer"].tolist() == sorted(world.customers["customer"])
    assert list(table["arm"].cat.categories) == list(ARMS)
    assert (table["arm"] == "treatment").sum() == 2500  # complete randomisation, exactly
    assert set(table["converted"].unique()) <= {0, 1}
    assert ((table["revenue"] > 0) == (table["converted"] == 1)).all()
    assert truth.index.equals(pd.Index(table["customer"], name="customer"))
    assert list(truth["kind"].cat.categories) == list(KINDS)
    np.testing.assert_allclose(truth["uplift"], truth["p_treatment"] - truth["p_control"])
    np.testing.assert_allclose(truth["incremental_revenue"],
                               truth["revenue_treatment"] - truth["revenue_control"])
    assert (truth.loc[~truth["alive"], ["p_control", "p_treatment", "uplift"]] == 0).all().all()
    assert campaign.start == pd.Timestamp(END)  # the day after the world's last day
    assert campaign.end == pd.Timestamp(END) + pd.Timedelta(days=60)
    assert campaign.cutoff == pd.Timestamp("2025-06-29")
    assert "customer" not in repr(campaign).lower().replace("customers", "")


def test_truth_follows_the_worlds_planted_laws(world, campaign):
    """``p_control = alive (1 - exp(-lambda t))``, ``E[orders] = (1 - exp(-p lambda t)) / p``
    and mean order value ``p_gg / nu``, from the world's truth; persuasion and annoyance from
    the weeks since each customer's last purchase in the transactions."""
    planted = world.truth.customers
    params = world.truth.params
    t = 60 / 7
    alive = planted["alive"].to_numpy()
    lam, p, nu = planted["lambda"].to_numpy(), planted["p"].to_numpy(), planted["nu"].to_numpy()
    p_control = np.where(alive, 1 - np.exp(-lam * t), 0.0)
    revenue_control = np.where(alive, (1 - np.exp(-p * lam * t)) / p, 0.0) * params.p_gg / nu
    truth = campaign.truth
    np.testing.assert_allclose(truth["p_control"], p_control, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(truth["revenue_control"], revenue_control, rtol=1e-9, atol=1e-8)
    last = world.transactions.groupby("customer")["date"].max()
    weeks = ((pd.Timestamp(END) - last) / pd.Timedelta(days=7)).to_numpy()
    x = weeks / 12.0
    persuade = np.where(alive, 0.3 * x * np.exp(1 - x), 0.0)
    annoy = np.where(alive, 0.1 * np.exp(-weeks / 2.0), 0.0)
    np.testing.assert_allclose(truth["p_treatment"],
                               (1 - annoy) * p_control + persuade * (1 - p_control), rtol=1e-10)


def test_expected_orders_formula_by_simulation():
    """``E[min(Poisson(l t), Geometric(p))] = (1 - exp(-p l t)) / p``, the closed form the
    truth uses, against a direct simulation of BG/NBD purchases with dropout."""
    rng = np.random.default_rng(0)
    for lam_t, p in ((0.5, 0.3), (3.0, 0.1), (8.0, 0.6)):
        orders = np.minimum(rng.poisson(lam_t, 400_000), rng.geometric(p, 400_000))
        assert orders.mean() == pytest.approx((1 - np.exp(-p * lam_t)) / p, rel=0.01)


def test_outcomes_agree_with_the_truth_within_their_noise(campaign):
    """Observed rates and mean revenue per arm against the truth's expectations, within 4
    standard errors (of the planted probabilities for conversion, of the sample for revenue).
    """
    table, truth = campaign.table, campaign.truth
    for arm, p_col, rev_col in (("control", "p_control", "revenue_control"),
                                ("treatment", "p_treatment", "revenue_treatment")):
        rows = (table["arm"] == arm).to_numpy()
        y, p = table.loc[rows, "converted"], truth.loc[rows, p_col]
        se = np.sqrt((p * (1 - p)).sum()) / rows.sum()  # independent Bernoulli(p_i)
        assert abs(y.mean() - p.mean()) < 4 * se
        revenue = table.loc[rows, "revenue"]
        assert abs(revenue.mean() - truth.loc[rows, rev_col].mean()) < 4 * revenue.std(
            ) / np.sqrt(rows.sum())


def test_pre_revenue_is_the_spend_of_the_days_before(world, campaign):
    tx = world.transactions
    start = pd.Timestamp(END)
    before = tx[(tx["date"] >= start - pd.Timedelta(days=60)) & (tx["date"] < start)]
    expected = before.groupby("customer")["amount"].sum().reindex(
        campaign.table["customer"], fill_value=0.0)
    np.testing.assert_allclose(campaign.table["pre_revenue"], expected.to_numpy())


def test_the_effect_is_not_monotone_in_churn_risk(world, campaign):
    """The customers a BG/NBD model finds most at risk are mostly dead and gain nearly
    nothing; the middle gains most; the safest (one-time buyers, whom BG/NBD calls alive) gain
    less than the middle. Found (world seed 11, campaign seed 3): mean true uplift 0.054,
    0.099, 0.002."""
    from retaillab.clv import BetaGeo, rfm_summary

    summary = rfm_summary(world.transactions, calibration_end=campaign.cutoff, unit="W")
    risk = pd.Series(1 - BetaGeo().fit(summary).conditional_probability_alive(summary),
                     summary.index).reindex(campaign.truth.index)
    uplift = campaign.truth["uplift"]
    safest, middle, riskiest = (uplift[risk < 0.01].mean(),
                                uplift[(risk > 0.2) & (risk < 0.6)].mean(),
                                uplift[risk > 0.85].mean())
    assert middle > 1.5 * safest and safest > 3 * riskiest and riskiest < 0.01
    kinds = campaign.truth["kind"].value_counts()
    assert (kinds > 0).all()  # sure things, persuadables, sleeping dogs and lost causes


def test_the_same_arguments_give_the_same_tables(world, campaign):
    again = synthetic_campaign(world, seed=3)
    pd.testing.assert_frame_equal(again.table, campaign.table)
    pd.testing.assert_frame_equal(again.truth, campaign.truth)
    other = synthetic_campaign(world, seed=4)
    assert not other.table["arm"].equals(campaign.table["arm"])
    pd.testing.assert_frame_equal(other.truth, campaign.truth)  # the truth is the world's


def test_options_change_what_they_say(world):
    third = synthetic_campaign(world, seed=0, treat_share=0.3, days=30)
    assert (third.table["arm"] == "treatment").sum() == 1500
    assert third.end - third.start == pd.Timedelta(days=30)
    inert = synthetic_campaign(world, seed=0, persuasion=0.0, annoyance=0.0)
    assert (inert.truth["uplift"] == 0).all()
    assert (inert.truth["incremental_revenue"] == 0).all()
    no_dogs = synthetic_campaign(world, seed=0, annoyance=0.0)
    assert (no_dogs.truth["uplift"] >= 0).all() and "sleeping dog" not in set(
        no_dogs.truth["kind"])
    assert CampaignParams().persuaded(np.array([12.0]))[0] == pytest.approx(0.3)


@pytest.mark.parametrize(("options", "name"), [
    (dict(seed=-1), "seed"), (dict(seed=1.5), "seed"), (dict(days=0), "days"),
    (dict(days=400), "days"), (dict(treat_share=0.0), "treat_share"),
    (dict(treat_share=1.0), "treat_share"), (dict(persuasion=1.2), "persuasion"),
    (dict(peak_weeks=0), "peak_weeks"), (dict(annoyance=-0.1), "annoyance"),
    (dict(annoyance_weeks=float("nan")), "annoyance_weeks"),
])
def test_bad_arguments_are_refused(world, options, name):
    with pytest.raises(ParameterError, match=f"^{name} must be"):
        synthetic_campaign(world, **options)


def test_a_world_without_truth_is_refused(world):
    real = Dataset(name="mine", source="files", customers=world.customers,
                   transactions=world.transactions)
    with pytest.raises(DataError, match="needs a synthetic world with its planted truth"):
        synthetic_campaign(real)
