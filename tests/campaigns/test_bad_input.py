"""Bad input: one clear error each, of the right type, naming the problem and the fix, and
never a customer id."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from retaillab.campaigns import campaign_value, readout, recommender_payback, srm
from retaillab.errors import DataError, ParameterError


def table(n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"customer": [f"secret-{i}" for i in range(n)],
                         "arm": ["control", "treatment"] * (n // 2),
                         "converted": rng.integers(0, 2, n),
                         "revenue": rng.gamma(2.0, 10.0, n)})


def run(frame: pd.DataFrame, **kwargs):
    return readout(frame, n_resamples=100, **kwargs)


def error(exc_type, frame: pd.DataFrame, **kwargs) -> str:
    with pytest.raises(exc_type) as info:
        run(frame, **kwargs)
    text = str(info.value)
    assert "secret-" not in text  # no customer id in any message
    return text


def test_a_campaign_with_one_arm():
    frame = table()
    frame["arm"] = "control"
    text = error(DataError, frame)
    assert "only one arm ('control')" in text and "column 'arm'" in text
    assert "control and treatment together" in text


def test_the_control_arm_missing():
    text = error(DataError, table(), control="holdout")
    assert "no control arm 'holdout'" in text and "'control', 'treatment'" in text
    assert "control=" in text


@pytest.mark.parametrize("values", [["yes", "no"], ["True", "False"]])
def test_a_conversion_column_of_text(values):
    frame = table()
    frame["converted"] = values * 20
    text = error(DataError, frame)
    assert "column 'converted'" in text and "found text" in text
    assert repr(values[0]) in text and "map it to 0/1" in text


def test_a_conversion_column_of_other_numbers():
    frame = table()
    frame.loc[[0, 1], "converted"] = 2
    text = error(DataError, frame)
    assert "must be 0/1; 2 values are not (e.g. 2)" in text


def test_a_revenue_column_of_text_or_booleans():
    frame = table()
    frame["revenue"] = frame["revenue"].map("{:.2f} EUR".format)
    text = error(DataError, frame)
    assert "column 'revenue'" in text and "must be numbers; found text" in text
    assert "pd.to_numeric" in text
    frame["revenue"] = frame["converted"] == 1
    text = error(DataError, frame)
    assert "found booleans" in text and "conversion=" in text


def test_missing_outcomes_are_refused_with_their_count():
    frame = table()
    frame["converted"] = frame["converted"].astype(float)
    frame.loc[[2, 5], "converted"] = np.nan
    frame.loc[[7], "revenue"] = np.nan
    text = error(DataError, frame)
    assert "2 problems" in text
    assert "column 'converted': 2 of 40 customers have no value" in text
    assert "column 'revenue': 1 of 40 customers have no value" in text
    assert "missing='drop'" in text
    assert run(frame, missing="drop").dropped == 3


def test_an_arm_with_no_customers_after_filtering():
    frame = table()
    frame["arm"] = pd.Categorical(frame["arm"], categories=["control", "treatment", "extra"])
    text = error(DataError, frame)
    assert "arm 'extra' has 0 customers" in text
    # an arm emptied by dropping missing outcomes says so
    frame = table()
    frame.loc[frame["arm"] == "treatment", "revenue"] = np.nan
    text = error(DataError, frame, missing="drop")
    assert "arm 'treatment' has 0 customers left after dropping 20" in text


def test_a_planned_arm_with_no_customers():
    text = error(DataError, table(), planned={"control": 1, "treatment": 1, "extra": 1})
    assert "arm 'extra' is planned but has no customers" in text
    text = error(ParameterError, table(), planned={"control": 1})
    assert "a share for every arm (missing 'treatment')" in text


def test_a_customer_appearing_twice():
    frame = table()
    frame.loc[3, "customer"] = frame.loc[2, "customer"]  # once in each arm
    frame.loc[9, "customer"] = frame.loc[7, "customer"]  # twice in one arm
    text = error(DataError, frame)
    assert "2 customers appear in more than one row (4 rows, 1 of them in more than one arm)" \
        in text
    assert "one row per customer" in text and "drop_duplicates('customer')" in text
    run(frame, customer=None)  # the check can be turned off


def test_missing_columns_and_arms():
    text = error(DataError, table().drop(columns="revenue"))
    assert "no revenue column 'revenue'" in text and "revenue=None" in text
    frame = table()
    frame.loc[[0, 4], "arm"] = None
    text = error(DataError, frame)
    assert "2 of 40 customers have no arm" in text
    text = error(ParameterError, table(), conversion=None, revenue=None)
    assert "at least one outcome" in text
    with pytest.raises(ParameterError, match="missing must be one of 'error', 'drop'"):
        run(table(), missing="zero")
    with pytest.raises(ParameterError, match="table must be a DataFrame"):
        readout([1, 2, 3])


def test_a_target_population_smaller_than_the_customers_treated():
    with pytest.raises(ParameterError) as info:
        campaign_value(1.0, metric="revenue", customers=60_000, population=50_000, margin=0.3)
    text = str(info.value)
    assert text.startswith("customers must be at most the population (50,000 customers)")
    assert "got 60000" in text


@pytest.mark.parametrize("name", ["contact_cost", "offer_cost"])
def test_negative_costs(name):
    with pytest.raises(ParameterError) as info:
        campaign_value(1.0, metric="revenue", customers=100, margin=0.3, redemption_rate=0.1,
                       **{name: -0.5})
    assert str(info.value) == f"{name} must be a finite number >= 0; got -0.5."
    with pytest.raises(ParameterError, match=r"yearly_cost\['servers'\] must be a finite number "
                                             ">= 0; got -10"):
        recommender_payback(0.02, yearly_revenue=1e6, margin=0.3,
                            yearly_cost={"data": 100, "servers": -10})


def test_money_inputs_that_do_not_fit():
    with pytest.raises(ParameterError, match="metric must be 'revenue' or 'conversion'"):
        campaign_value(1.0, customers=10, margin=0.3)
    with pytest.raises(ParameterError, match="ci_low <= estimate <= ci_high"):
        campaign_value((1.0, 2.0, 0.5), metric="revenue", customers=10, margin=0.3)
    with pytest.raises(ParameterError, match="redemption_rate must be the share of treated"):
        campaign_value(1.0, metric="revenue", customers=10, margin=0.3, offer_cost=2.0)
    with pytest.raises(ParameterError, match="value_per_conversion must be the revenue"):
        campaign_value(0.01, metric="conversion", customers=10, margin=0.3)
    with pytest.raises(ParameterError, match="margin must be a finite number in"):
        campaign_value(1.0, metric="revenue", customers=10, margin=30)


def test_srm_input():
    with pytest.raises(ParameterError, match="at least 2 arms"):
        srm({"control": 10})
    with pytest.raises(ParameterError, match=r"counts\['b'\] must be a whole number >= 0"):
        srm({"a": 10, "b": -1})
