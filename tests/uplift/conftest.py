"""The synthetic campaigns the uplift tests share: the whole pipeline a user would run, per seed.

A world of 5,000 customers, a campaign on it with its planted truth, the transaction features
at the cut-off (``churn.transaction_features``), BG/NBD + Gamma-Gamma fitted on the history up
to the cut-off (churn risk ``1 - P(alive)``, 12-month CLV, expected spend per order), and the
T-learner and class transformation fitted on the campaign (in-sample predictions: the tests
compare them with the truth, not with the campaign's outcomes). Gradient boosting runs on one
OpenMP thread: on two shared cores more threads only wait for each other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

SEEDS = (0, 1, 2)
CUSTOMERS = 5000


@dataclass(frozen=True)
class Pipeline:
    campaign: object
    features: pd.DataFrame
    treatment: np.ndarray
    converted: np.ndarray
    revenue: np.ndarray
    churn_risk: np.ndarray
    clv: np.ndarray
    spend: np.ndarray
    two_uplift: np.ndarray
    two_p_treatment: np.ndarray
    ct_uplift: np.ndarray


def _pipeline(seed: int) -> Pipeline:
    import sklearn.ensemble  # noqa: F401 - the OpenMP runtime, loaded before it is limited
    from threadpoolctl import threadpool_limits

    from retaillab import churn, data
    from retaillab.clv import BetaGeo, GammaGamma, customer_lifetime_value, rfm_summary
    from retaillab.data.synthetic_campaign import synthetic_campaign
    from retaillab.uplift import ClassTransformation, TwoModel

    world = data.synthetic(CUSTOMERS, 200, seed=seed)
    campaign = synthetic_campaign(world, seed=seed)
    table = campaign.table
    ids = table["customer"]
    features = churn.transaction_features(world.transactions, campaign.cutoff).reindex(ids)
    summary = rfm_summary(world.transactions, calibration_end=campaign.cutoff, unit="W")
    purchases, spend = BetaGeo().fit(summary), GammaGamma().fit(summary)
    risk = pd.Series(1 - purchases.conditional_probability_alive(summary), summary.index)
    value = customer_lifetime_value(purchases, spend, summary, months=12)
    per_order = pd.Series(spend.conditional_expected_average_profit(summary), summary.index)
    w = (table["arm"] == "treatment").to_numpy()
    y = table["converted"].to_numpy()
    with threadpool_limits(limits=1, user_api="openmp"):  # a session fixture: set up first
        two = TwoModel().fit(features, w, y)
        ct_uplift = ClassTransformation().fit(features, w, y).predict(features)
        _, p_treatment = two.predict_arms(features)
        two_uplift = two.predict(features)
    return Pipeline(campaign=campaign, features=features, treatment=w, converted=y,
                    revenue=table["revenue"].to_numpy(),
                    churn_risk=risk.reindex(ids).to_numpy(),
                    clv=value.reindex(ids).to_numpy(), spend=per_order.reindex(ids).to_numpy(),
                    two_uplift=two_uplift, two_p_treatment=p_treatment, ct_uplift=ct_uplift)


@pytest.fixture(scope="module", autouse=True)
def one_openmp_thread():
    """Gradient boosting on one OpenMP thread while this folder's modules run (module scope:
    the limit ends with the module, so other folders' tests keep theirs). threadpoolctl limits
    only runtimes already loaded, hence the import of scikit-learn's gradient boosting first."""
    import sklearn.ensemble  # noqa: F401
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="openmp"):
        yield


@pytest.fixture(scope="session")
def pipelines() -> dict[int, Pipeline]:
    """Seed -> :class:`Pipeline`, for :data:`SEEDS` (world and campaign share the seed)."""
    return {seed: _pipeline(seed) for seed in SEEDS}
