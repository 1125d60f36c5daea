"""retaillab.registry.Registry: the one name lookup and hyperparameter check of every family."""

from __future__ import annotations

import pytest

from retaillab import churn, recsys
from retaillab.errors import ParameterError, UnknownNameError
from retaillab.registry import Registry


def _tiny(*, size: int = 3, colour: str = "red") -> tuple:
    return size, colour


def _anything(**options: object) -> dict:
    return options


FAMILY = Registry("gadget", {"tiny": _tiny, "anything": _anything,
                             "lazy": "retaillab_no_such_module:Thing"})


def test_names_and_lazy_entries():
    assert FAMILY.available() == ["tiny", "anything", "lazy"]
    assert "tiny" in FAMILY and "huge" not in FAMILY
    # listing and checking names imports nothing; the factory's module only on use
    with pytest.raises(ModuleNotFoundError, match="retaillab_no_such_module"):
        FAMILY.factory("lazy")
    assert Registry("number", {"fraction": "fractions:Fraction"}).create(
        "fraction", numerator=3, denominator=6) == pytest.approx(0.5)


def test_unknown_name_suggests_the_closest_and_lists_all():
    with pytest.raises(UnknownNameError) as caught:
        FAMILY.create("tiyn")
    assert str(caught.value) == ("unknown gadget 'tiyn'. Did you mean 'tiny'? "
                                 "Known: anything, lazy, tiny.")
    with pytest.raises(UnknownNameError, match="unknown gadget 3"):
        FAMILY.factory(3)


def test_hyperparameters_and_their_check():
    assert FAMILY.hyperparameters("tiny") == {"size": 3, "colour": "red"}
    assert FAMILY.create("tiny", colour="blue") == (3, "blue")
    with pytest.raises(ParameterError) as caught:
        FAMILY.create("tiny", weight=2, age=1)
    assert str(caught.value) == ("tiny hyperparameter 'age' must be one of size, colour; "
                                 "got 'age'.")
    assert FAMILY.create("anything", weight=2) == {"weight": 2}  # **options: no check


@pytest.mark.parametrize(("family", "kind", "name", "defaults"), [
    (recsys, "recommender", "ease", {"l2": 500.0}),
    (churn, "churn model", "logistic",
     {"C": 1.0, "class_weight": None, "max_iter": 2000, "calibration": None, "seed": 0}),
])
def test_both_families_answer_through_the_one_helper(family, kind, name, defaults):
    registry = family.registry.REGISTRY
    assert isinstance(registry, Registry) and registry.kind == kind
    assert registry.hyperparameters(name) == defaults
    assert family.available() == registry.available()
    with pytest.raises(UnknownNameError, match=f"unknown {kind} 'nope'"):
        family.create("nope")
    with pytest.raises(ParameterError, match=f"{name} hyperparameter 'nope' must be one of "
                                             + ", ".join(defaults)):
        family.create(name, nope=1)


def test_a_model_without_hyperparameters_says_so():
    with pytest.raises(ParameterError, match=r"one of \(none\)"):
        recsys.create("most_popular", k=3)
