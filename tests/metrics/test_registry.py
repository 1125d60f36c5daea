"""The metric registry: names stored in configs resolve to the functions; the package API."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from retaillab import metrics
from retaillab.errors import UnknownNameError

RECS = pd.DataFrame({"user": ["a", "a", "b"], "item": ["x", "y", "x"], "rank": [1, 2, 1]})
TEST = pd.DataFrame({"user": ["a", "b"], "item": ["y", "z"]})


def test_every_registered_name_is_public_and_resolves_to_itself():
    for name, fn in metrics.METRICS.items():
        assert metrics.get(name) is fn
        assert getattr(metrics, name) is fn and name in metrics.__all__


def test_ranking_names_as_logged_bind_k():
    table = metrics.ranking_per_user(RECS, TEST, 2)
    for column in table.columns:
        assert metrics.get(column)(RECS, TEST) == pytest.approx(table[column].mean())
    assert metrics.get("mrr_at_1")(RECS, TEST) == 0.0


@pytest.mark.parametrize("name", ["ndgc_at_10", "ndcg", "rmse_at_10", "ndcg_at_0", ""])
def test_unknown_names_raise_with_a_suggestion(name):
    with pytest.raises(UnknownNameError, match="unknown metric"):
        metrics.get(name)


def test_unknown_name_suggests_the_closest():
    with pytest.raises(UnknownNameError, match="Did you mean 'rmse'"):
        metrics.get("rmsee")


def test_all_names_exist():
    assert sorted(metrics.__all__) == metrics.__all__
    for name in metrics.__all__:
        assert hasattr(metrics, name)


def test_import_loads_neither_scipy_nor_sklearn():
    code = "import sys, retaillab.metrics; print(' '.join(sys.modules))"
    loaded = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                check=True).stdout.split())
    assert not loaded & {"scipy", "sklearn"}
