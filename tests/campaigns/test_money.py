"""What an effect pays, on small fixed campaigns with the arithmetic written out, and its
interval as the formula at the effect's interval ends."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from retaillab.campaigns import campaign_value, readout, recommender_payback


def test_revenue_campaign_by_hand():
    # +1.20 revenue per customer [0.40, 2.00]; 20,000 treated; margin 35%; contact 0.10 each;
    # an offer of 5.00 redeemed by 4% of the treated
    found = campaign_value((1.20, 0.40, 2.00), metric="revenue", customers=20_000,
                           margin=0.35, contact_cost=0.10, offer_cost=5.0,
                           redemption_rate=0.04, level=0.95)
    p = found.parts
    # incremental revenue 20,000 x 1.20 = 24,000; margin 0.35 x 24,000 = 8,400
    assert p.loc["incremental_revenue", "estimate"] == pytest.approx(24_000)
    assert p.loc["incremental_margin", "estimate"] == pytest.approx(8_400)
    # costs: contact 20,000 x 0.10 = 2,000; offers 20,000 x 0.04 x 5 = 4,000; total 6,000
    assert p.loc["contact_cost", "estimate"] == pytest.approx(2_000)
    assert p.loc["offer_cost", "estimate"] == pytest.approx(4_000)
    assert p.loc["cost", "estimate"] == pytest.approx(6_000)
    # net 8,400 - 6,000 = 2,400; ROI 2,400 / 6,000 = 0.40
    assert found.estimate == pytest.approx(2_400)
    assert found.roi[0] == pytest.approx(0.40)
    # at 0.40: margin 0.35 x 8,000 = 2,800, net -3,200, ROI -0.5333;
    # at 2.00: margin 0.35 x 40,000 = 14,000, net 8,000, ROI 1.3333
    assert (found.ci_low, found.ci_high) == pytest.approx((-3_200, 8_000))
    assert found.roi[1:] == pytest.approx((-3_200 / 6_000, 8_000 / 6_000))
    line = str(found)
    assert "campaign net margin: 2,400 [-3,200, 8,000]" in line and "ROI 40%" in line
    assert "95% interval" in line


def test_conversion_campaign_by_hand_offer_cost_scales_with_the_effect():
    # +1.8 points [0.9, 2.7] over a 10% control; 50,000 treated; a conversion is worth 60.00
    # at a 40% margin; contact 0.05 each; an offer of 3.00 to every converting treated customer
    found = campaign_value((0.018, 0.009, 0.027), metric="conversion", customers=50_000,
                           margin=0.40, value_per_conversion=60.0, baseline_rate=0.10,
                           contact_cost=0.05, offer_cost=3.0)
    p = found.parts
    # 50,000 x 0.018 = 900 more conversions, 900 x 60 = 54,000 revenue, 21,600 margin
    assert p.loc["incremental_conversions", "estimate"] == pytest.approx(900)
    assert p.loc["incremental_revenue", "estimate"] == pytest.approx(54_000)
    assert p.loc["incremental_margin", "estimate"] == pytest.approx(21_600)
    # offers: 50,000 x (0.10 + 0.018) x 3 = 17,700; contact 2,500; cost 20,200
    assert p.loc["offer_cost", "estimate"] == pytest.approx(17_700)
    assert p.loc["cost", "estimate"] == pytest.approx(20_200)
    assert found.estimate == pytest.approx(1_400)
    assert found.roi[0] == pytest.approx(1_400 / 20_200)
    # the offer cost's own interval: 50,000 x 0.109 x 3 = 16,350 to 50,000 x 0.127 x 3 = 19,050
    assert tuple(p.loc["offer_cost", ["ci_low", "ci_high"]]) == pytest.approx((16_350, 19_050))
    # net at 0.009: 10,800 - (2,500 + 16,350) = -8,050; at 0.027: 32,400 - 21,550 = 10,850
    assert (found.ci_low, found.ci_high) == pytest.approx((-8_050, 10_850))
    # ROI at the ends: -8,050 / 18,850 and 10,850 / 21,550 (the cost moves with the effect)
    assert found.roi == pytest.approx((1_400 / 20_200, -8_050 / 18_850, 10_850 / 21_550))


def test_the_interval_is_the_formula_at_the_effect_interval_ends():
    kwargs = dict(metric="conversion", customers=12_345, margin=0.3, value_per_conversion=80.0,
                  baseline_rate=0.05, contact_cost=0.2, offer_cost=10.0)
    found = campaign_value((0.01, -0.004, 0.024), **kwargs)
    at_low = campaign_value(-0.004, **kwargs)
    at_high = campaign_value(0.024, **kwargs)
    for name in found.parts.index:
        ends = sorted([at_low.parts.loc[name, "estimate"], at_high.parts.loc[name, "estimate"]])
        assert tuple(found.parts.loc[name, ["ci_low", "ci_high"]]) == pytest.approx(ends)
    # the margin per conversion (0.3 x 80 = 24) exceeds the offer (10), so net rises with it
    assert found.ci_low == pytest.approx(at_low.estimate)
    assert found.ci_high == pytest.approx(at_high.estimate)


def test_an_offer_worth_more_than_a_conversion_turns_the_interval_around():
    # margin per conversion 0.5 x 4 = 2 < offer 3: each extra conversion loses 1
    found = campaign_value((0.02, 0.01, 0.03), metric="conversion", customers=1_000,
                           margin=0.5, value_per_conversion=4.0, baseline_rate=0.1,
                           offer_cost=3.0)
    # net(D) = 1,000 x (2 D - 3 (0.1 + D)) = -300 - 1,000 D: -310 at 0.01, -330 at 0.03
    assert found.estimate == pytest.approx(-320)
    assert (found.ci_low, found.ci_high) == pytest.approx((-330, -310))


def test_campaign_value_takes_a_readout_row():
    rng = np.random.default_rng(2)
    arm = np.repeat(["control", "offer"], 4000)
    table = pd.DataFrame({"arm": arm, "converted": (rng.random(8000) < np.where(
        arm == "offer", 0.13, 0.10)).astype(int)})
    row = readout(table, revenue=None, customer=None, n_resamples=200).row("conversion")
    found = campaign_value(row, customers=10_000, margin=0.5, value_per_conversion=40.0,
                           offer_cost=2.0)
    by_hand = campaign_value((row["difference"], row["ci_low"], row["ci_high"]),
                             metric="conversion", baseline_rate=row["control_value"],
                             customers=10_000, margin=0.5, value_per_conversion=40.0,
                             offer_cost=2.0)
    assert (found.estimate, found.ci_low, found.ci_high) == pytest.approx(
        (by_hand.estimate, by_hand.ci_low, by_hand.ci_high))
    assert found.inputs["metric"] == "conversion"


def test_recommender_payback_by_hand():
    # +4% revenue [1%, 7%] on 5,000,000 a year at a 30% margin; yearly cost 20,000 data +
    # 60,000 development + 10,000 servers = 90,000
    found = recommender_payback((0.04, 0.01, 0.07), yearly_revenue=5_000_000, margin=0.3,
                                yearly_cost={"data": 20_000, "development": 60_000,
                                             "servers": 10_000})
    p = found.parts
    # incremental margin 5e6 x 0.04 x 0.3 = 60,000 (15,000 at 1%, 105,000 at 7%)
    assert tuple(p.loc["incremental_margin"]) == pytest.approx((60_000, 15_000, 105_000))
    # net 60,000 - 90,000 = -30,000 [-75,000, 15,000]
    assert (found.estimate, found.ci_low, found.ci_high) == pytest.approx(
        (-30_000, -75_000, 15_000))
    # payback 12 x 90,000 / 60,000 = 18 months; 72 months at 1%, 10.29 at 7% (ends swapped)
    assert tuple(p.loc["payback_months"]) == pytest.approx((18, 12 * 90 / 105, 72))
    assert found.roi == pytest.approx((-1 / 3, -75 / 90, 15 / 90))
    assert "payback 18.0 months [10.3 months, 72.0 months]" in str(found)


def test_a_lift_interval_through_zero_pays_back_never_at_its_low_end():
    found = recommender_payback((0.02, -0.01, 0.05), yearly_revenue=1_000_000, margin=0.5,
                                yearly_cost=5_000)
    months = found.parts.loc["payback_months"]
    assert months["estimate"] == pytest.approx(6.0)  # 12 x 5,000 / 10,000
    assert months["ci_low"] == pytest.approx(12 * 5_000 / 25_000)
    assert math.isinf(months["ci_high"])
    assert "never" in str(found)
