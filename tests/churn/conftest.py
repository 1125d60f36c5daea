"""Small customer tables with a known churn law, shared by the churn tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

#: Hyperparameters that keep the ensembles quick in tests.
FAST = {"forest": {"n_estimators": 25}, "gbm": {"max_iter": 25}}


def toy_customers(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """Churn follows ``logit = 1.5 x + 1[cat == 'a'] - 1``; ``noise`` and ``flag`` carry none."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    cat = rng.choice(["a", "b", "c"], n)
    logit = 1.5 * x + (cat == "a") - 1.0
    return pd.DataFrame({
        "customer": np.arange(1, n + 1),
        "x": x,
        "noise": rng.normal(size=n),
        "flag": rng.random(n) < 0.5,
        "cat": pd.Categorical(cat),
        "churn": rng.random(n) < 1 / (1 + np.exp(-logit)),
    })


@pytest.fixture(autouse=True)
def one_openmp_thread():
    """Histogram gradient boosting's OpenMP threads spin-wait: on a busy 2-core machine a
    tiny fit takes seconds instead of a fraction of one. Results do not depend on threads."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="openmp"):
        yield


@pytest.fixture
def toy() -> pd.DataFrame:
    return toy_customers()
