"""Planted segments in the synthetic world: off by default with the world unchanged, and when
on, segments that differ in behaviour as planted (purchase rate, spend, category tastes)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from retaillab.data.fingerprinting import fingerprint
from retaillab.data.schema import COLUMNS as C
from retaillab.data.synthetic_world import CATEGORIES, SyntheticParams, synthetic
from retaillab.errors import ParameterError

#: fingerprints of synthetic(300, seed=0), computed before segments existed; the events'
#: dwell times (exp of a normal draw) are rounded to 1e-6 s first, because their last bits
#: moved with numpy's vectorised exp between 2.3 and 2.4 (pinned again from the pre-segments
#: code, commit cb7bbb8, which gives the same as today's)
BEFORE = {
    "customers": "c3263b907cbe69ac",
    "items": "f648b42d3d35adce",
    "transactions": "f06cab551c0d1c59",
    "events": "998db709b62a8bec",
    "interactions": "aa4fcd987ee4d2fc",
    "truth.customers": "87ee91e5709a0b60",
    "truth.affinity": "3ce76d6c9cb777cb",
    "truth.items": "274bb19e53ed98be",
}
S = 4


def _fingerprints(world) -> dict[str, str]:
    tables = {name: getattr(world, name) for name in
              ("customers", "items", "transactions", "events", "interactions")}
    tables.update({f"truth.{name}": getattr(world.truth, name)
                   for name in ("customers", "affinity", "items")})
    events = tables["events"]
    tables["events"] = events.assign(dwell_seconds=events["dwell_seconds"].round(6))
    return {name: fingerprint(table) for name, table in tables.items()}


@pytest.mark.parametrize("params", [None, SyntheticParams(), SyntheticParams(segments=0)])
def test_segments_off_world_is_unchanged(params):
    world = synthetic(300, seed=0, params=params)
    assert _fingerprints(world) == BEFORE
    assert "segment" not in world.truth.customers.columns
    assert world.truth.segments is None


@pytest.fixture(scope="module")
def world():
    return synthetic(4000, 200, seed=3, params=SyntheticParams(segments=S))


def test_truth_records_membership(world):
    segment = world.truth.customers["segment"]
    assert sorted(segment.unique()) == list(range(S))
    # equally likely segments: each share within 4 standard errors of 1/S
    share = segment.value_counts(normalize=True)
    assert (share - 1 / S).abs().max() < 4 * np.sqrt(1 / S * (1 - 1 / S) / len(segment))
    table = world.truth.segments
    assert list(table.index) == list(range(S))
    assert table["customers"].tolist() == segment.value_counts().sort_index().tolist()


def test_segments_differ_as_planted(world):
    truth, seg = world.truth, world.truth.customers["segment"]
    table, params = truth.segments, truth.params
    # rate scales are a geometric ladder with the planted ratio, spend scales a permutation
    assert np.allclose(table["rate_scale"].iloc[1:].to_numpy()
                       / table["rate_scale"].iloc[:-1].to_numpy(), params.segment_separation)
    assert sorted(table["spend_scale"]) == pytest.approx(sorted(table["rate_scale"]))
    # observed orders per customer-week follow the rate ladder (dropout is shared, so the
    # order of the means must follow the order of the scales)
    tx = world.transactions
    orders = tx.groupby(C.customer)[C.order].nunique().reindex(seg.index, fill_value=0)
    rate = (orders / truth.customers["weeks_observed"]).groupby(seg).mean()
    assert list(rate.sort_values().index) == list(table["rate_scale"].sort_values().index)
    # observed mean order value follows the spend scales (ratio within 25% of planted)
    value = tx.groupby([C.customer, C.order])[C.amount].sum().groupby(C.customer).mean()
    mean_value = value.groupby(seg.reindex(value.index)).mean()
    ratio = mean_value / mean_value.iloc[0]
    planted = table["spend_scale"] / table["spend_scale"].iloc[0]
    assert np.allclose(ratio, planted, rtol=0.25)
    # spend lands mostly in each segment's favourite category
    category = world.items.set_index(C.item)["category"].astype(str)
    lines = pd.DataFrame({"segment": seg.reindex(tx[C.customer]).to_numpy(),
                          "category": category.reindex(tx[C.item]).to_numpy(),
                          C.amount: tx[C.amount].to_numpy()})
    for s, favourites in table["favourites"].items():
        mine = lines[lines["segment"] == s]
        fav = mine["category"].isin(favourites.split(", "))
        assert mine.loc[fav, C.amount].sum() / mine[C.amount].sum() > 0.7
    # segment s favours category s
    assert table["favourites"].tolist() == list(CATEGORIES[:S])


def test_segments_are_seeded():
    params = SyntheticParams(segments=3)
    a, b = (synthetic(300, 50, seed=5, params=params) for _ in range(2))
    assert _fingerprints(a) == _fingerprints(b)
    c = synthetic(300, 50, seed=6, params=params)
    assert not a.truth.customers["segment"].equals(c.truth.customers["segment"])


@pytest.mark.parametrize("field, value", [
    ("segments", -1), ("segments", 13), ("segments", 2.5), ("segments", True),
    ("segment_separation", 1.0), ("segment_shape", 0.0), ("segment_focus", 1.0),
    ("segment_focus", 0.0),
])
def test_segment_parameters_are_checked(field, value):
    with pytest.raises(ParameterError, match=f"SyntheticParams.{field}"):
        SyntheticParams(**{field: value})
