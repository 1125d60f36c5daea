"""Search spaces live next to their models, use real hyperparameter names, and can be
overridden; bad overrides are refused with the valid names."""

from __future__ import annotations

import inspect

import optuna
import pytest

from retaillab.errors import ParameterError
from retaillab.tuning.spaces import default_space, hyperparameters, resolve_space, suggest

TUNABLE = [("recsys", m) for m in ("svd", "svdpp", "knn_baseline", "item_knn", "ease", "als",
                                   "bpr")] + [("churn", m) for m in ("logistic", "tree",
                                                                     "forest", "gbm")] + [
    ("clv", m) for m in ("bg_nbd", "mbg_nbd", "pareto_nbd")]


@pytest.mark.parametrize(("task", "model"), TUNABLE, ids=lambda v: str(v))
def test_every_tunable_model_has_a_space_of_its_own_hyperparameters(task, model):
    space = default_space(task, model)
    assert space, f"{model} has no search space"
    assert set(space) <= set(hyperparameters(task, model))
    params = suggest(optuna.trial.FixedTrial({}), {}) or {}
    assert params == {}
    # every entry can be sampled and the draw is inside its bounds
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    trial = study.ask()
    drawn = suggest(trial, space)
    for name, entry in space.items():
        if entry[0] == "categorical":
            assert drawn[name] in entry[1]
        else:
            assert entry[1] <= drawn[name] <= entry[2]


def test_svd_space_is_a_class_attribute_next_to_the_model():
    from retaillab.recsys.surprise_family import SVD

    assert "search_space" in vars(SVD)
    assert set(SVD.search_space) <= set(inspect.signature(SVD).parameters)


def test_override_replaces_fixes_and_removes_entries():
    space, fixed = resolve_space("recsys", "svd", {"n_factors": ["int", 5, 8],
                                                    "n_epochs": 7, "reg_all": None})
    assert space["n_factors"] == ("int", 5, 8)
    assert fixed == {"n_epochs": 7}
    assert "n_epochs" not in space and "reg_all" not in space and "lr_all" in space


def test_unknown_parameter_names_the_valid_hyperparameters():
    with pytest.raises(ParameterError) as caught:
        resolve_space("recsys", "svd", {"n_factor": ["int", 5, 8]})
    message = str(caught.value)
    assert "'n_factor'" in message and "did you mean 'n_factors'" in message
    for valid in ("n_factors", "n_epochs", "lr_all", "reg_all", "biased"):
        assert valid in message


@pytest.mark.parametrize("entry", [["int", 10], ["float", 5, 1], ["uniform", 0, 1],
                                   ["float", 0, 1, {"log": True}], ["categorical", []],
                                   ["int", 1, 5, {"steps": 2}]])
def test_bad_distributions_are_refused(entry):
    with pytest.raises(ParameterError, match=r"search space entry 'n_factors'|log scale"):
        resolve_space("recsys", "svd", {"n_factors": entry})
