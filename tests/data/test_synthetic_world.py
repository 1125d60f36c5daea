"""The synthetic world: well-formed tables, and the laws it claims to plant, checked from theory.

Expected values come from the model's closed forms (BG/NBD, Gamma-Gamma, the logistic dwell law,
Dirichlet category choice), never from the generator's own output. Tolerances are 4 standard
errors computed from the sample, unless a comment says otherwise.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.special import expit, hyp2f1

from retaillab.data.schema import COLUMNS as C
from retaillab.data.schema import EVENT_TYPES
from retaillab.data.synthetic_world import CATEGORIES, SyntheticParams, SyntheticTruth, synthetic
from retaillab.errors import ParameterError

START, END = "2024-01-01", "2025-06-30"
N = 20_000
WEEK = pd.Timedelta(days=7)


@pytest.fixture(scope="module")
def world():
    return synthetic(N, 200, seed=7, start=START, end=END)


@pytest.fixture(scope="module")
def sessions(world):
    """One row per session: customer, item, log dwell, whether it ended in a purchase."""
    ev = world.events
    view = ev[ev[C.event] == "view"].set_index(C.session)
    bought = view.index.isin(ev.loc[ev[C.event] == "purchase", C.session])
    return pd.DataFrame({C.customer: view[C.customer].to_numpy(),
                         C.item: view[C.item].to_numpy(),
                         "log_dwell": np.log(view[C.dwell].to_numpy()),
                         "bought": bought}, index=view.index)


def _repeats_and_T(world):
    """Repeat orders per customer and weeks from signup to END, read from the tables."""
    cust = world.customers.set_index(C.customer)
    orders = world.transactions.groupby(C.customer)[C.order].nunique()
    x = orders.reindex(cust.index).to_numpy() - 1
    t = ((pd.Timestamp(END) - cust["signup_date"]) / WEEK).to_numpy()
    return x, t


def _within(observed, expected, se, k=4.0):
    assert abs(observed - expected) < k * se, (observed, expected, se)


def _theta_of(world, customers, items):
    """theta[customer, category of item] for aligned arrays of customer and item ids."""
    theta = world.truth.affinity
    category = world.items.set_index(C.item)["category"].cat.codes
    return theta.to_numpy()[customers - 1, category.loc[items].to_numpy()]


# --- tables ---------------------------------------------------------------------------------

def test_tables_have_the_canonical_columns_and_dtypes(world):
    assert world.name == "synthetic" and "seed=7" in world.source
    assert list(world.customers) == [C.customer, "age_band", "gender", "region", "signup_date"]
    assert list(world.items) == [C.item, "category", "brand", "price", "price_band"]
    assert list(world.transactions) == [C.order, C.customer, C.date, C.item, C.quantity,
                                        C.amount]
    assert list(world.events) == [C.session, C.customer, C.item, C.event, C.timestamp, C.dwell]
    assert list(world.interactions) == [C.user, C.item, C.rating, C.timestamp]

    assert world.customers[C.customer].tolist() == list(range(1, N + 1))
    assert list(world.customers["age_band"].cat.categories) == [
        "18-24", "25-34", "35-44", "45-54", "55-64", "65+"]
    assert world.customers["region"].cat.categories.size == 5
    assert list(world.items["category"].cat.categories) == list(CATEGORIES)
    assert list(world.items["price_band"].cat.categories) == ["low", "mid", "high"]
    assert list(world.events[C.event].cat.categories) == list(EVENT_TYPES)
    assert world.events[C.event].cat.ordered
    for table, col in ((world.customers, "signup_date"), (world.transactions, C.date),
                       (world.events, C.timestamp), (world.interactions, C.timestamp)):
        assert pd.api.types.is_datetime64_dtype(table[col]), col
    for table, col in ((world.transactions, C.order), (world.transactions, C.quantity),
                       (world.events, C.session), (world.interactions, C.user)):
        assert pd.api.types.is_integer_dtype(table[col]), col
    assert isinstance(world.truth, SyntheticTruth)
    assert list(world.truth.affinity.columns) == list(CATEGORIES)


def test_items_prices_and_bands(world):
    items = world.items
    assert (items["price"] > 0).all()
    assert items["category"].nunique() == len(CATEGORIES)
    by_band = items.groupby("price_band", observed=True)["price"]
    assert (by_band.max().iloc[:-1].to_numpy() <= by_band.min().iloc[1:].to_numpy()).all()
    assert by_band.size().min() >= len(items) // 3 - 1
    popularity = world.truth.items["popularity"].groupby(items.set_index(C.item)["category"],
                                                         observed=True).sum()
    np.testing.assert_allclose(popularity, 1.0)


def test_every_reference_exists(world):
    customers, items = set(world.customers[C.customer]), set(world.items[C.item])
    for table, who in ((world.transactions, C.customer), (world.events, C.customer),
                       (world.interactions, C.user)):
        assert set(table[who]) <= customers
        assert set(table[C.item]) <= items
    bought = set(zip(world.transactions[C.customer], world.transactions[C.item], strict=True))
    rated = set(zip(world.interactions[C.user], world.interactions[C.item], strict=True))
    assert rated <= bought


def test_orders_fall_in_each_customers_life(world):
    tx = world.transactions.merge(world.customers[[C.customer, "signup_date"]], on=C.customer)
    assert (tx[C.date] >= tx["signup_date"]).all()
    assert (tx[C.date] < pd.Timestamp(END)).all()
    first = tx.groupby(C.customer)[C.date].min()
    signup = world.customers.set_index(C.customer)["signup_date"]
    assert first.reindex(signup.index).equals(signup)  # the trial order is at signup

    truth = world.truth.customers
    last = tx.groupby(C.customer)[C.date].max().reindex(truth.index)
    dead = ~truth["alive"]
    assert dead.any() and truth["alive"].any()
    assert last[dead].equals(truth.loc[dead, "death_date"])  # nothing after death
    assert truth.loc[~dead, "death_date"].isna().all()
    assert (last[dead] > signup[dead]).all()  # dropout only follows a repeat purchase


def test_order_lines(world):
    tx = world.transactions
    assert (tx[C.quantity] >= 1).all() and (tx[C.amount] > 0).all()
    assert not tx.duplicated([C.order, C.item]).any()
    per_order = tx.groupby(C.order).agg(customers=(C.customer, "nunique"),
                                        dates=(C.date, "nunique"))
    assert (per_order == 1).all().all()
    assert tx[C.order].is_monotonic_increasing and tx[C.date].is_monotonic_increasing


def test_every_purchased_line_has_its_purchase_event(world):
    keys = [C.customer, C.item, C.timestamp]
    bought = world.events.loc[world.events[C.event] == "purchase", keys]
    lines = world.transactions.rename(columns={C.date: C.timestamp})[keys]
    pd.testing.assert_frame_equal(bought.sort_values(keys, ignore_index=True),
                                  lines.sort_values(keys, ignore_index=True))


def test_sessions_run_through_the_funnel_in_time_order(world):
    ev = world.events.sort_values([C.session, C.timestamp], kind="stable")
    stage = ev[C.event].cat.codes.to_numpy()
    position = ev.groupby(C.session).cumcount().to_numpy()
    assert (stage == position).all()  # view, then click, then cart, then purchase, no gaps
    same = ev[C.session].to_numpy()[1:] == ev[C.session].to_numpy()[:-1]
    assert (np.diff(ev[C.timestamp].to_numpy())[same] > np.timedelta64(0)).all()
    per_session = ev.groupby(C.session).agg(customers=(C.customer, "nunique"),
                                            items=(C.item, "nunique"))
    assert (per_session == 1).all().all()
    assert ev[C.dwell].notna().eq(stage == 0).all()
    assert (ev[C.dwell] > 0).sum() == (stage == 0).sum()
    assert ev[C.timestamp].min() >= pd.Timestamp(START)
    assert ev[C.timestamp].max() < pd.Timestamp(END)


def test_browse_sessions_start_in_the_customers_active_life(world, sessions):
    browse = sessions[~sessions["bought"]]
    assert len(browse) > len(sessions) - len(browse)
    first = world.events.groupby(C.session)[C.timestamp].min().loc[browse.index]
    truth = world.truth.customers.loc[browse[C.customer]]
    signup = world.customers.set_index(C.customer)["signup_date"].loc[browse[C.customer]]
    life_end = truth["death_date"].fillna(pd.Timestamp(END))
    assert (first.to_numpy() >= signup.to_numpy()).all()
    assert (first.to_numpy() <= life_end.to_numpy()).all()


def test_ratings_are_one_per_pair_on_the_scale(world):
    ix = world.interactions
    assert not ix.duplicated([C.user, C.item]).any()
    assert ix[C.rating].isin([1.0, 2.0, 3.0, 4.0, 5.0]).all()
    assert ix[C.rating].nunique() == 5
    first_buy = world.transactions.groupby([C.customer, C.item])[C.date].min()
    bought_at = first_buy.loc[list(zip(ix[C.user], ix[C.item], strict=True))].to_numpy()
    assert (ix[C.timestamp].to_numpy() >= bought_at).all()
    assert ix[C.timestamp].max() < pd.Timestamp(END)


def test_rating_count_matches_the_rating_share(world):
    # A pair bought on k lines is rated unless all k lines go unrated: P = 1 - (1 - s)^k.
    share = world.truth.params.rating_share
    k = world.transactions.groupby([C.customer, C.item]).size().to_numpy()
    prob = 1 - (1 - share) ** k
    _within(len(world.interactions), prob.sum(), np.sqrt((prob * (1 - prob)).sum()))


# --- determinism and arguments -----------------------------------------------------------------

def _frames(ds):
    return [*ds.tables().values(), ds.truth.customers, ds.truth.affinity, ds.truth.items]


def test_same_arguments_same_world_and_no_global_seeding():
    state = np.random.get_state()[1].copy()  # noqa: NPY002 - checking it is untouched
    one, two = synthetic(300, 40, seed=3), synthetic(300, 40, seed=3)
    for a, b in zip(_frames(one), _frames(two), strict=True):
        pd.testing.assert_frame_equal(a, b)
    assert (np.random.get_state()[1] == state).all()  # noqa: NPY002
    other = synthetic(300, 40, seed=4)
    assert not other.transactions.equals(one.transactions)
    assert not other.customers.equals(one.customers)


def test_smallest_world():
    tiny = synthetic(1, len(CATEGORIES), seed=0)
    assert len(tiny.customers) == 1 and len(tiny.items) == len(CATEGORIES)
    assert tiny.items["category"].nunique() == len(CATEGORIES)
    assert len(tiny.transactions) >= 1 and len(tiny.events) >= 4


def test_params_are_used_and_returned():
    params = SyntheticParams(r=2.0, alpha=2.0, rating_share=1.0)
    ds = synthetic(200, 30, seed=1, params=params)
    assert ds.truth.params is params
    assert ds.truth.dwell_coefficients == (params.dwell_beta0, params.dwell_beta1)
    # every purchased (customer, item) pair is rated when the share is 1
    assert len(ds.interactions) == len(ds.transactions[[C.customer, C.item]].drop_duplicates())


BAD_ARGUMENTS = [
    ({"n_customers": 0}, "n_customers"),
    ({"n_customers": 2.5}, "n_customers"),
    ({"n_customers": True}, "n_customers"),
    ({"n_products": len(CATEGORIES) - 1}, "n_products"),
    ({"seed": -1}, "seed"),
    ({"seed": "a"}, "seed"),
    ({"start": "not a date"}, "start"),
    ({"end": "2023-12-31"}, "end"),
    ({"end": START}, "end"),
    ({"params": {"r": 1}}, "params"),
]
BAD_PARAMS = [
    ({"r": 0.0}, "SyntheticParams.r"),
    ({"alpha": -1.0}, "SyntheticParams.alpha"),
    ({"a": 0.0}, "SyntheticParams.a"),
    ({"b": -2.0}, "SyntheticParams.b"),
    ({"q": 0.0}, "SyntheticParams.q"),
    ({"gamma": float("nan")}, "SyntheticParams.gamma"),
    ({"p_gg": "6"}, "SyntheticParams.p_gg"),
    ({"affinity_concentration": 0.0}, "SyntheticParams.affinity_concentration"),
    ({"lines_extra_mean": -0.1}, "SyntheticParams.lines_extra_mean"),
    ({"signup_share": 1.5}, "SyntheticParams.signup_share"),
    ({"rating_share": 0.0}, "SyntheticParams.rating_share"),
    ({"browse_stop": (0.5, 0.5, 0.5)}, "SyntheticParams.browse_stop"),
    ({"dwell_beta0": -40.0}, "SyntheticParams.dwell_beta0"),
]


@pytest.mark.parametrize(("kwargs", "name"), BAD_ARGUMENTS)
def test_bad_arguments_raise_parameter_error(kwargs, name):
    with pytest.raises(ParameterError, match=f"^{name} must be"):
        synthetic(**{"n_customers": 10, "n_products": 20, **kwargs})


@pytest.mark.parametrize(("kwargs", "name"), BAD_PARAMS)
def test_bad_params_raise_parameter_error(kwargs, name):
    with pytest.raises(ParameterError, match=f"^{name} must be"):
        SyntheticParams(**kwargs)


# --- BG/NBD ---------------------------------------------------------------------------------

def test_drawn_rates_and_dropout_probabilities_follow_their_priors(world):
    pr, truth = world.truth.params, world.truth.customers
    _within(truth["lambda"].mean(), pr.r / pr.alpha, np.sqrt(pr.r) / pr.alpha / np.sqrt(N))
    mean_p = pr.a / (pr.a + pr.b)
    sd_p = np.sqrt(pr.a * pr.b / ((pr.a + pr.b) ** 2 * (pr.a + pr.b + 1)))
    _within(truth["p"].mean(), mean_p, sd_p / np.sqrt(N))


def test_repeat_orders_match_bgnbd_expectation(world):
    # Fader, Hardie & Lee (2005), eq. 7, at each customer's own T.
    pr = world.truth.params
    x, t = _repeats_and_T(world)
    expected = (pr.a + pr.b - 1) / (pr.a - 1) * (
        1 - (pr.alpha / (pr.alpha + t)) ** pr.r * hyp2f1(pr.r, pr.b, pr.a + pr.b - 1,
                                                         t / (pr.alpha + t)))
    _within(x.mean(), expected.mean(), (x - expected).std() / np.sqrt(N))


def test_share_alive_matches_survival_of_killing_purchases(world):
    # Given lambda and p, dropout purchases arrive at rate lambda * p: P(alive) = exp(-lambda p T).
    truth = world.truth.customers
    _, t = _repeats_and_T(world)
    prob = np.exp(-truth["lambda"].to_numpy() * truth["p"].to_numpy() * t)
    alive = truth["alive"].to_numpy()
    _within(alive.mean(), prob.mean(), (alive - prob).std() / np.sqrt(N))


# --- Gamma-Gamma ----------------------------------------------------------------------------

def _order_values(world):
    by_order = world.transactions.groupby(C.order).agg(customer=(C.customer, "first"),
                                                       value=(C.amount, "sum"))
    nu = world.truth.customers["nu"].loc[by_order["customer"]].to_numpy()
    return by_order, nu


def test_order_values_given_nu_are_gamma(world):
    # z | nu ~ Gamma(p_gg, rate nu), so z * nu ~ Gamma(p_gg, 1) for every order.
    pr = world.truth.params
    by_order, nu = _order_values(world)
    scaled = by_order["value"].to_numpy() * nu
    _within(scaled.mean(), pr.p_gg, np.sqrt(pr.p_gg / scaled.size))
    assert stats.kstest(scaled, stats.gamma(pr.p_gg).cdf).pvalue > 1e-3


def test_mean_order_value_matches_gamma_gamma(world):
    # Per-customer mean order value has expectation p_gg * gamma / (q - 1); 1/nu is inverse
    # gamma with shape q = 3.74 > 2, so the variance is finite but the tail heavy: 5 SE.
    pr = world.truth.params
    by_order, _ = _order_values(world)
    per_customer = by_order.groupby("customer")["value"].mean()
    _within(per_customer.mean(), pr.p_gg * pr.gamma / (pr.q - 1),
            per_customer.std() / np.sqrt(per_customer.size), k=5)
    assert 25 < by_order["value"].median() < 40  # "a typical order is about $35"


# --- dwell law ------------------------------------------------------------------------------

def _logistic(x, y):
    """Maximum-likelihood logistic regression of y on (1, x) by Newton; estimate and SE."""
    design = np.column_stack([np.ones_like(x), x])
    beta = np.zeros(2)
    for _ in range(50):
        mu = expit(design @ beta)
        hessian = design.T @ (design * (mu * (1 - mu))[:, None])
        step = np.linalg.solve(hessian, design.T @ (y - mu))
        beta += step
        if np.abs(step).max() < 1e-10:
            break
    return beta, np.sqrt(np.diag(np.linalg.inv(hessian)))


def test_dwell_raises_purchase_odds_by_the_planted_law(world, sessions):
    beta, se = _logistic(sessions["log_dwell"].to_numpy(), sessions["bought"].to_numpy(float))
    beta0, beta1 = world.truth.dwell_coefficients
    assert beta1 > 0
    _within(beta[0], beta0, se[0])
    _within(beta[1], beta1, se[1])


# --- category affinity ----------------------------------------------------------------------

def test_browsed_categories_follow_affinity(world, sessions):
    # A browse session's category c ~ theta_i, so E[theta_ic] = sum_c theta_ic^2 for customer i.
    browse = sessions[~sessions["bought"]]
    who = browse[C.customer].to_numpy()
    got = _theta_of(world, who, browse[C.item].to_numpy())
    expected = (world.truth.affinity.to_numpy()[who - 1] ** 2).sum(axis=1)
    _within(got.mean(), expected.mean(), (got - expected).std() / np.sqrt(got.size))
    # and far from what taste-blind choice would give (1 / number of categories)
    assert got.mean() > 2 / len(CATEGORIES)


def test_purchased_categories_correlate_with_affinity(world):
    tx = world.transactions
    category = world.items.set_index(C.item)["category"].cat.codes.loc[tx[C.item]].to_numpy()
    counts = np.zeros((N, len(CATEGORIES)))
    np.add.at(counts, (tx[C.customer].to_numpy() - 1, category), 1)
    many = counts.sum(axis=1) >= 5
    share = counts[many] / counts[many].sum(axis=1, keepdims=True)
    r = np.corrcoef(share.ravel(), world.truth.affinity.to_numpy()[many].ravel())[0, 1]
    assert r > 0.6  # no planted taste would give r near 0


def test_ratings_are_higher_in_top_affinity_categories(world):
    ix = world.interactions
    theta = _theta_of(world, ix[C.user].to_numpy(), ix[C.item].to_numpy())
    rated = pd.DataFrame({"user": ix[C.user].to_numpy(), "theta": theta,
                          "rating": ix[C.rating].to_numpy()})
    per = rated.groupby(["user", "theta"], as_index=False)["rating"].mean()
    top = per.loc[per.groupby("user")["theta"].idxmax()].set_index("user")
    bottom = per.loc[per.groupby("user")["theta"].idxmin()].set_index("user")
    both = top.index[top["theta"] > bottom.loc[top.index, "theta"]]
    diff = top.loc[both, "rating"] - bottom.loc[both, "rating"]
    gap = top.loc[both, "theta"] - bottom.loc[both, "theta"]
    # Unrounded, unclipped, the mean difference would be kappa * mean gap; rounding is nearly
    # unbiased and clipping at 5 shrinks it, so ask for at least half of it, and 5 SE above 0.
    assert diff.mean() > 5 * diff.std() / np.sqrt(diff.size)
    assert diff.mean() > 0.5 * world.truth.params.rating_kappa * gap.mean()
