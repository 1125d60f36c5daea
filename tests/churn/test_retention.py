"""The retention calculator against hand computations and a brute-force reference."""

from __future__ import annotations

import numpy as np
import pytest

from retaillab.churn import retention_value
from retaillab.errors import DataError, ParameterError

ECONOMICS = {"contact_cost": 2.0, "offer_cost": 10.0, "acceptance_rate": 0.3,
             "value_kept": 200.0}


def test_depth_zero_and_everyone_by_hand():
    scores = [0.9, 0.8, 0.4, 0.1, 0.3]
    churned = [True, False, True, False, False]
    found = retention_value(scores, churned, **ECONOMICS)
    # 2 churners: each 0.3 * (200 - 10) = 57; 3 non-churners take the offer: -10 each;
    # 5 contacts at 2: 2 * 57 - 3 * 10 - 5 * 2 = 74
    assert found.everyone == pytest.approx(74.0)
    assert found.no_one == 0.0 and found.curve["profit"].iloc[0] == 0.0
    # top 1: a churner, 57 - 2 = 55; top 2 adds a non-churner: 55 - 12 = 43;
    # top 3 adds the second churner: 43 + 55 = 98 (the best); then -12 for each of the last two
    assert found.curve["profit"].tolist() == pytest.approx([0, 55, 43, 98, 86, 74])
    assert (found.best_targeted, found.best_depth, found.best_profit) == (3, 0.6, pytest.approx(98))
    assert found.curve["churners"].tolist() == pytest.approx([0, 1, 1, 2, 2, 2])


def test_per_customer_values_and_probabilities_by_hand():
    # outcome as churn probabilities; value per customer
    found = retention_value([0.5, 0.9], [0.5, 0.9], contact_cost=1.0, offer_cost=4.0,
                            acceptance_rate=0.5, value_kept=[100.0, 20.0],
                            non_churner_acceptance=0.25)
    # customer 2 (score 0.9): 0.9 * 0.5 * (20 - 4) - 0.1 * 0.25 * 4 - 1 = 6.1
    # customer 1 (score 0.5): 0.5 * 0.5 * (100 - 4) - 0.5 * 0.25 * 4 - 1 = 22.5
    assert found.curve["profit"].tolist() == pytest.approx([0, 6.1, 28.6])
    assert found.everyone == pytest.approx(28.6) and found.best_targeted == 2
    # outcome None: the scores are the probabilities
    same = retention_value([0.5, 0.9], contact_cost=1.0, offer_cost=4.0, acceptance_rate=0.5,
                           value_kept=[100.0, 20.0], non_churner_acceptance=0.25)
    assert same.curve.equals(found.curve)


def test_expensive_contacts_make_no_one_the_best():
    found = retention_value([0.9, 0.1], [True, False], contact_cost=1000.0, offer_cost=1.0,
                            acceptance_rate=0.5, value_kept=10.0)
    assert found.best_targeted == 0 and found.best_profit == 0.0 and found.everyone < 0


@pytest.mark.parametrize("seed", range(3))
def test_curve_matches_a_naive_loop_without_ties(seed):
    rng = np.random.default_rng(seed)
    scores, churned = rng.random(40), rng.random(40) < 0.3
    values = rng.gamma(2.0, 50.0, 40)
    found = retention_value(scores, churned, contact_cost=1.5, offer_cost=8.0,
                            acceptance_rate=0.4, value_kept=values)
    ranked = sorted(range(40), key=lambda i: -scores[i])
    for k in (0, 1, 7, 20, 40):
        naive = sum((0.4 * (values[i] - 8.0) if churned[i] else -8.0) - 1.5
                    for i in ranked[:k])
        assert found.curve.loc[k, "profit"] == pytest.approx(naive)
    assert found.best_profit == pytest.approx(found.curve["profit"].max())


def test_ties_count_at_their_expected_value():
    # two tied scores, one churner: contacting one of them is worth the mean of the two
    found = retention_value([0.5, 0.5], [True, False], contact_cost=0.0, offer_cost=10.0,
                            acceptance_rate=1.0, value_kept=110.0)
    assert found.curve["profit"].tolist() == pytest.approx([0, (100 - 10) / 2, 90])


def test_bad_input_is_named():
    with pytest.raises(ParameterError, match="acceptance_rate must be"):
        retention_value([0.1], [True], **{**ECONOMICS, "acceptance_rate": 1.5})
    with pytest.raises(ParameterError, match="contact_cost must be"):
        retention_value([0.1], [True], **{**ECONOMICS, "contact_cost": -1})
    with pytest.raises(DataError, match="outcome must have 1 values"):
        retention_value([0.1], [True, False], **ECONOMICS)
    with pytest.raises(DataError, match=r"outcome are not finite numbers in \[0, 1\]"):
        retention_value([0.1, 0.2], [2, 0], **ECONOMICS)
    with pytest.raises(DataError, match="scores are not finite"):
        retention_value([np.nan, 0.2], [1, 0], **ECONOMICS)
    with pytest.raises(DataError, match="value_kept must have 2 values"):
        retention_value([0.1, 0.2], [1, 0], **{**ECONOMICS, "value_kept": [1.0]})
