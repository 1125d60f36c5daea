"""One contract test over every CLV model: scikit-learn's estimator contract, as recommenders
keep theirs (tests/recsys/test_contract.py)."""

from __future__ import annotations

import importlib
import pkgutil

import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError as SklearnNotFittedError
from sklearn.utils.validation import check_is_fitted

import retaillab.clv
from retaillab import clv
from retaillab.errors import NotFittedError

# non-default hyperparameters, so a copy that fell back to defaults would show; the starting
# values are near the CDNOW estimates of the papers (Fader, Hardie & Lee 2005; note 025)
INITIAL = {"bg_nbd": {"r": 0.3}, "mbg_nbd": {"r": 0.3}, "pareto_nbd": {"r": 0.5, "s": 0.5},
           "gamma_gamma": {"p": 6.0}}


def _model_classes() -> dict[str, type]:
    return {name: type(clv.create(name)) for name in clv.available()}


@pytest.mark.parametrize("name", clv.available())
def test_every_model_keeps_the_estimator_contract(name, cdnow_summary):
    cls = _model_classes()[name]
    initial = INITIAL.get(name, {})
    params = {"penalizer": 0.001, "initial": initial, "tol": 1e-8, "max_iter": 1500}
    model = cls(**params)

    # hyperparameters: keyword-only, stored as given, get/set_params round-trip
    with pytest.raises(TypeError):
        cls(0.1)
    assert model.initial is initial
    assert model.get_params(deep=False) == params
    assert model.get_params(deep=True) == params
    other = cls()
    assert other.get_params() != params
    assert other.set_params(**params) is other
    assert other.get_params() == params
    assert cls(**model.get_params()).get_params() == params
    with pytest.raises(ValueError, match="penalty"):
        other.set_params(penalty=1.0)

    # before fit: check_is_fitted refuses; learned attributes say "not fitted", typos do not
    with pytest.raises(SklearnNotFittedError):
        check_is_fitted(model)
    with pytest.raises(NotFittedError, match=f"{cls.__name__} is not fitted"):
        _ = model.params_
    _assert_no_such_attribute(model, "param_")
    copy = clone(model)
    assert copy is not model and copy.get_params() == params
    assert copy.initial == initial and copy.initial is not initial  # a copy, not shared

    # fit: returns self, learns only attributes ending in "_", leaves hyperparameters alone
    assert model.fit(cdnow_summary) is model
    check_is_fitted(model)
    assert model.get_params() == params
    learned = {a for a in vars(model) if not a.startswith("_")} - set(params)
    assert learned and all(a.endswith("_") for a in learned), learned
    assert list(model.params_) == list(model.standard_errors_)
    _assert_no_such_attribute(model, "param_")
    assert cls.__name__ in repr(model)

    table = model.summary()
    assert list(table.columns) == ["estimate", "se", "lower_95", "upper_95"]
    assert list(table.index) == list(model.params_)
    assert (table["lower_95"] < table["estimate"]).all()
    assert (table["estimate"] < table["upper_95"]).all()
    assert model.log_likelihood(cdnow_summary) == pytest.approx(model.log_likelihood_)

    # clone of a fitted model: unfitted, same hyperparameters; fitted again, the same results
    fresh = clone(model)
    with pytest.raises(SklearnNotFittedError):
        check_is_fitted(fresh)
    with pytest.raises(NotFittedError):
        fresh.summary()
    assert fresh.get_params() == params
    assert fresh.fit(cdnow_summary).params_ == model.params_
    assert fresh.log_likelihood_ == model.log_likelihood_
    assert fresh.standard_errors_ == model.standard_errors_
    pd.testing.assert_frame_equal(fresh.summary(), table)


def _assert_no_such_attribute(model, name: str) -> None:
    with pytest.raises(AttributeError) as caught:
        getattr(model, name)
    assert not isinstance(caught.value, NotFittedError)
    assert str(caught.value) == f"{type(model).__name__!r} object has no attribute {name!r}"


def test_every_model_class_is_in_the_contract():
    """Each concrete model class in retaillab.clv (a Fitter with parameters) is registered,
    so the contract test above covers it."""
    for info in pkgutil.iter_modules(retaillab.clv.__path__):
        importlib.import_module(f"retaillab.clv.{info.name}")
    found, todo = set(), [importlib.import_module("retaillab.clv._engine").Fitter]
    while todo:
        subclasses = todo.pop().__subclasses__()
        todo.extend(subclasses)
        found |= {c for c in subclasses if c.__module__.startswith("retaillab.clv.")
                  and c._names}
    assert found == set(_model_classes().values())
