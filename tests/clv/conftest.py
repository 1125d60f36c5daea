"""Shared CDNOW summaries and seeded generators with known parameters."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

CALIBRATION_END, HOLDOUT_END = "1997-09-30", "1998-06-30"


@pytest.fixture(scope="session")
def cdnow_tx() -> pd.DataFrame:
    from retaillab import data

    return data.load("cdnow_sample").transactions


@pytest.fixture(scope="session")
def cdnow_summary(cdnow_tx) -> pd.DataFrame:
    from retaillab import clv

    return clv.rfm_summary(cdnow_tx, calibration_end=CALIBRATION_END, unit="W",
                           holdout_end=HOLDOUT_END)


@pytest.fixture(scope="session")
def simulate():
    """The seeded generator below, as a fixture (conftest modules are not importable)."""
    return _simulate


@pytest.fixture(scope="session")
def simulate_bg():
    """:func:`_simulate_bg`, vectorised BG/NBD data with known parameters, as a fixture."""
    return _simulate_bg


def _simulate_bg(params: dict, n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """A BG/NBD calibration summary with known parameters, vectorised, and who is alive at T.

    From the model's story (Fader, Hardie & Lee 2005): with ``K ~ Poisson(lambda T)`` purchase
    chances in ``(0, T]`` and dropout after the ``N``-th repeat, ``N ~ Geometric(p)``, the
    customer makes ``x = min(K, N)`` repeats and is alive at T iff ``K < N``; the last repeat
    is the x-th of K uniform times, ``T * Beta(x, K - x + 1)``. Ages T are uniform on
    [26, 39] weeks, like the CDNOW cohort.
    """
    rng = np.random.default_rng(seed)
    big_t = rng.uniform(26, 39, n)
    lam = rng.gamma(params["r"], 1 / params["alpha"], n)
    p = rng.beta(params["a"], params["b"], n)
    k = rng.poisson(lam * big_t)
    dropout = rng.geometric(p)
    x = np.minimum(k, dropout)
    recency = np.zeros(n)
    has = x > 0
    recency[has] = big_t[has] * rng.beta(x[has], k[has] - x[has] + 1)
    return pd.DataFrame({"frequency": x, "recency": recency, "T": big_t}), k < dropout


def _simulate(model: str, params: dict, n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """A calibration summary drawn from ``model`` with ``params``, and who is alive at T.

    Written from the models' stories (not from retaillab's likelihoods): BG/NBD and MBG/NBD
    (Fader, Hardie & Lee 2005; Batislam et al. 2007), Pareto/NBD (Schmittlein et al. 1987).
    Ages T are uniform on [26, 39] weeks, like the CDNOW cohort.
    """
    rng = np.random.default_rng(seed)
    big_t = rng.uniform(26, 39, n)
    lam = rng.gamma(params["r"], 1 / params["alpha"], n)
    rows, alive = [], np.zeros(n, dtype=bool)
    if model == "pareto_nbd":
        death = rng.exponential(1 / rng.gamma(params["s"], 1 / params["beta"], n))
    else:
        p = rng.beta(params["a"], params["b"], n)
    for i in range(n):
        t, times = 0.0, []
        dead = model == "mbg_nbd" and rng.random() < p[i]
        while not dead:
            t += rng.exponential(1 / lam[i])
            if model == "pareto_nbd" and t > death[i]:
                dead = True
                break
            if t > big_t[i]:
                break
            times.append(t)
            if model != "pareto_nbd" and rng.random() < p[i]:
                dead = True
        if model == "pareto_nbd":
            dead = death[i] <= big_t[i]
        alive[i] = not dead
        rows.append((len(times), times[-1] if times else 0.0, big_t[i]))
    summary = pd.DataFrame(rows, columns=["frequency", "recency", "T"])
    return summary, alive
