"""Discounted CLV against lifetimes and against its definition."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from retaillab import clv
from retaillab.errors import ParameterError


def test_matches_lifetimes_customer_lifetime_value(cdnow_summary):
    """lifetimes' GammaGammaFitter.customer_lifetime_value (freq "W" = 4.345 weeks a month)
    with the same fitted parameters."""
    from lifetimes import BetaGeoFitter, GammaGammaFitter

    bg = clv.BetaGeo().fit(cdnow_summary)
    gg = clv.GammaGamma().fit(cdnow_summary)
    ref_bg, ref_gg = BetaGeoFitter(), GammaGammaFitter()
    ref_bg.params_ = pd.Series(bg.params_)
    ref_gg.params_ = pd.Series(
        {"p": gg.params_["p"], "q": gg.params_["q"], "v": gg.params_["gamma"]})
    ref_bg.predict = ref_bg.conditional_expected_number_of_purchases_up_to_time
    s = cdnow_summary
    expected = ref_gg.customer_lifetime_value(ref_bg, s["frequency"], s["recency"], s["T"],
                                              s["monetary_value"], time=12,
                                              discount_rate=0.01, freq="W")
    ours = clv.customer_lifetime_value(bg, gg, s, months=12, discount_rate=0.01,
                                       month_length=4.345)
    np.testing.assert_allclose(ours.to_numpy(), expected.to_numpy(), rtol=1e-6)


def test_definition_by_hand(cdnow_summary):
    """Undiscounted one-month CLV = expected spend x expected purchases in that month."""
    bg = clv.BetaGeo()
    bg.params_ = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    gg = clv.GammaGamma()
    gg.params_ = {"p": 6.25, "q": 3.74, "gamma": 15.44}
    s = cdnow_summary.head(50)
    value = clv.customer_lifetime_value(bg, gg, s, months=1, discount_rate=0.0)
    expected = (gg.conditional_expected_average_profit(s)
                * bg.conditional_expected_purchases(365.25 / 12 / 7, s))
    np.testing.assert_allclose(value, expected, rtol=1e-12)
    discounted = clv.customer_lifetime_value(bg, gg, s, months=1, discount_rate=0.1)
    np.testing.assert_allclose(discounted, expected / 1.1, rtol=1e-12)
    with pytest.raises(ParameterError, match="months must be a whole number >= 1"):
        clv.customer_lifetime_value(bg, gg, s, months=0)
