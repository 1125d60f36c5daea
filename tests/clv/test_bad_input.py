"""Bad summaries get one clear message naming the column, the rows and the fix."""

from __future__ import annotations

import pandas as pd
import pytest

from retaillab import clv
from retaillab.errors import DataError, NotFittedError, ParameterError

MODELS = [clv.BetaGeo, clv.ModifiedBetaGeo, clv.ParetoNBD]


def frame(**cols):
    base = {"frequency": [2, 0, 1], "recency": [5.0, 0.0, 3.0], "T": [10.0, 8.0, 9.0]}
    base.update(cols)
    return pd.DataFrame(base, index=pd.Index(["a", "b", "c"], name="customer"))


@pytest.mark.parametrize("cls", MODELS)
def test_recency_greater_than_t(cls):
    with pytest.raises(DataError, match=r"recency is greater than T") as err:
        cls().fit(frame(recency=[12.0, 0.0, 3.0]))
    assert "row 0" in str(err.value) and "fix:" in str(err.value)


@pytest.mark.parametrize("cls", MODELS)
def test_negative_frequency(cls):
    with pytest.raises(DataError, match=r"column 'frequency': frequency .* must be >= 0"):
        cls().fit(frame(frequency=[2, -1, 1]))


@pytest.mark.parametrize("cls", MODELS)
def test_missing_and_non_finite(cls):
    with pytest.raises(DataError, match="missing column"):
        cls().fit(frame().drop(columns="T"))
    with pytest.raises(DataError, match="finite"):
        cls().fit(frame(T=[10.0, float("nan"), 9.0]))
    with pytest.raises(DataError, match="recency must be 0 when frequency is 0"):
        cls().fit(frame(recency=[5.0, 1.0, 3.0]))


@pytest.mark.parametrize("cls", [*MODELS, clv.GammaGamma])
def test_not_fitted_and_bad_hyperparameters(cls):
    with pytest.raises(NotFittedError, match=f"{cls.__name__} is not fitted"):
        cls().summary()
    with pytest.raises(ParameterError, match="penalizer must be a number >= 0"):
        cls(penalizer=-1).fit(frame(monetary_value=[10.0, 0.0, 5.0]))


def test_gamma_gamma_without_repeat_spend():
    with (pytest.raises(DataError, match="no customer has frequency > 0"),
          pytest.warns(UserWarning, match="dropped 2 of 2 repeat customers")):
        clv.GammaGamma().fit(frame(monetary_value=[0.0, 0.0, -2.0]))


def test_fit_that_cannot_converge_says_what_to_do():
    # every customer bought once and never again: rates run to a boundary
    summary = pd.DataFrame({"frequency": [0] * 50, "recency": [0.0] * 50, "T": [30.0] * 50})
    with pytest.raises(clv.FitError, match=r"BetaGeo: .*penalizer"):
        clv.BetaGeo().fit(summary)


def test_the_registry_refuses_unknown_names_and_hyperparameters():
    from retaillab.errors import ParameterError, UnknownNameError

    with pytest.raises(UnknownNameError, match="Did you mean 'bg_nbd'"):
        clv.create("bg_nbb")
    with pytest.raises(ParameterError, match="penaliser"):
        clv.create("bg_nbd", penaliser=0.1)
    assert clv.create("pareto_nbd", penalizer=0.1).penalizer == 0.1
