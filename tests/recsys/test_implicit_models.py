"""ALS and BPR: our one-pass scores rank as implicit's own recommend, seeds reproduce, no
BLAS warning and no lasting change to the threadpools."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_info

from retaillab import data
from retaillab.recsys.implicit_models import ALS, BPR

FAST = {ALS: {"factors": 16, "iterations": 5}, BPR: {"factors": 16, "iterations": 30}}


@pytest.fixture(scope="module")
def train() -> pd.DataFrame:
    ratings = data.load("movielens").interactions
    return ratings[ratings["user"] <= 150]


@pytest.fixture(scope="module", params=[ALS, BPR], ids=["als", "bpr"])
def fitted(request, train):
    return request.param(**FAST[request.param]).fit(train)


def test_ranking_matches_implicit_recommend(fitted):
    codes = np.arange(len(fitted.users_))
    ids, _ = fitted.model_.recommend(codes, fitted.seen_[codes].astype(np.float32), N=10,
                                     filter_already_liked_items=True)
    ours = fitted.recommend(fitted.users_, k=10)
    ours_codes = fitted.items_.get_indexer(ours["item"]).reshape(len(codes), 10)
    scores = fitted._scores(codes)
    # where float32 rounding could order a near-tie differently, the scores must agree
    same = ours_codes == ids
    theirs = np.take_along_axis(scores, ids, axis=1)
    mine = np.take_along_axis(scores, ours_codes, axis=1)
    assert same.mean() > 0.99
    np.testing.assert_allclose(mine[~same], theirs[~same], rtol=1e-5, atol=1e-6)


def test_bpr_scores_include_the_item_bias(train):
    model = BPR(**FAST[BPR]).fit(train)
    users, items = model.user_factors_, model.item_factors_
    assert users.shape[1] == items.shape[1] == 16 + 1
    np.testing.assert_array_equal(users[:, -1], 1.0)
    assert np.abs(items[:, -1]).max() > 0
    expected = users[:, :-1] @ items[:, :-1].T + items[:, -1][None, :]
    np.testing.assert_allclose(model._scores(np.arange(len(users))), expected, rtol=1e-5,
                               atol=1e-6)


@pytest.mark.parametrize("cls", [ALS, BPR], ids=["als", "bpr"])
def test_same_seed_same_scores(cls, train):
    codes = np.arange(50)
    first = cls(**FAST[cls], random_state=3).fit(train)._scores(codes)
    second = cls(**FAST[cls], random_state=3).fit(train)._scores(codes)
    other = cls(**FAST[cls], random_state=4).fit(train)._scores(codes)
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, other)


@pytest.mark.parametrize("cls", [ALS, BPR], ids=["als", "bpr"])
def test_no_blas_warning_and_threadpools_restored(cls, train):
    before = [(p["filepath"], p["num_threads"]) for p in threadpool_info()]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cls(**FAST[cls]).fit(train)
    assert [(p["filepath"], p["num_threads"]) for p in threadpool_info()] == before


def test_importing_the_module_does_not_load_implicit():
    import subprocess
    import sys

    code = ("import sys, retaillab.recsys.implicit_models, retaillab.recsys;"
            "print('implicit' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
