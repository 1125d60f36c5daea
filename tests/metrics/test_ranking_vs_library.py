"""Every ranking metric against trec_eval, the field's reference evaluator, on MovieLens top-10
lists: per user and in mean, to 1e-12, under each selectable convention.

trec_eval's C code runs through ``pytrec_eval`` (the ``pytrec-eval-terrier`` wheel) and
``ir-measures`` on top of it; ``ir-measures`` is in the ``dev`` extra and brings the other. The
names match one to one: ``P@10`` precision, ``R@10`` recall, ``nDCG@10`` (trec_eval's
``ndcg_cut_10``) NDCG, ``AP@10`` (``map_cut_10``) AP, ``RR`` (``recip_rank``; the run holds
only the top 10, so it is RR@10) reciprocal rank, ``Success@10`` hit rate.

Conversions: a user is a query and an item a document; the run scores an item ``11 - rank``
(distinct within a list, so trec_eval's own order is the rank order, with no tie). The qrels
hold every test pair, with relevance 1 if it is relevant (``rating >= threshold``) and 0 if
not; for graded NDCG and for the relevance-level check, ``2 * rating`` instead (MovieLens
ratings are halves: 0.5 -> 1 ... 5 -> 10, whole numbers as trec_eval needs), so a threshold is
trec_eval's relevance level ``2 * threshold``, and graded NDCG, which does not change when
every gain is doubled, is trec_eval's NDCG on those qrels. One user in ten has their list
removed, so users without a list are in every comparison.
"""

from __future__ import annotations

import math

import ir_measures
import numpy as np
import pandas as pd
import pytest
import pytrec_eval
from ir_measures import AP, RR, P, R, Success, nDCG

from retaillab import data, metrics, recsys
from retaillab.errors import DataError, ParameterError
from retaillab.metrics.ranking import RANKING_STEMS

K = 10
MODELS = ("most_popular", "als")
# retaillab stem -> the ir-measures measure (trec_eval underneath)
LIBRARY = {"precision": P @ K, "recall": R @ K, "ndcg": nDCG @ K, "map": AP @ K, "mrr": RR,
           "hit_rate": Success @ K}
# the binary ones at a relevance level (R@k and nDCG@k take none: their qrels carry it)
AT_LEVEL = {"precision": lambda rel: P(rel=rel) @ K, "map": lambda rel: AP(rel=rel) @ K,
            "mrr": lambda rel: RR(rel=rel), "hit_rate": lambda rel: Success(rel=rel) @ K}
# the same in trec_eval's own names, for pytrec_eval
TREC_EVAL = {"precision": f"P_{K}", "recall": f"recall_{K}", "ndcg": f"ndcg_cut_{K}",
             "map": f"map_cut_{K}", "mrr": "recip_rank", "hit_rate": f"success_{K}"}


@pytest.fixture(scope="module")
def movielens():
    ml = data.load("movielens")
    train, test = data.split(ml.interactions, "stratified", ratio=0.75, seed=42)
    users = test["user"].unique()
    dropped = np.sort(users)[::10]  # a fixed tenth of the users get no list
    lists = {}
    for name in MODELS:
        recs = recsys.create(name).fit(train).recommend(users, k=K)
        lists[name] = recs[~recs["user"].isin(dropped)].reset_index(drop=True)
    doubled = test["rating"] * 2
    assert (doubled == doubled.round()).all() and doubled.min() >= 1
    return test, lists, dropped


def as_run(recs: pd.DataFrame) -> dict[str, dict[str, float]]:
    assert recs["rank"].max() <= K  # so trec_eval's recip_rank is RR@K
    run: dict[str, dict[str, float]] = {}
    for user, item, rank in zip(recs["user"], recs["item"], recs["rank"], strict=True):
        run.setdefault(str(user), {})[str(item)] = float(K + 1 - rank)
    return run


def as_qrels(test: pd.DataFrame, threshold: float | None = None,
             gain: str = "binary") -> dict[str, dict[str, int]]:
    """Every test pair: relevance 0 below the threshold, else 1 or (graded) 2 * rating."""
    relevant = np.ones(len(test), bool) if threshold is None else test["rating"] >= threshold
    value = np.round(2 * test["rating"]).astype(int) if gain == "graded" else 1
    value = np.where(relevant, value, 0)
    qrels: dict[str, dict[str, int]] = {}
    for user, item, rel in zip(test["user"], test["item"], value, strict=True):
        qrels.setdefault(str(user), {})[str(item)] = int(rel)
    return qrels


def library_table(measures: dict, qrels, run) -> pd.DataFrame:
    """ir-measures' per-query values through its pytrec_eval provider: user x stem."""
    by_measure = {str(m): stem for stem, m in measures.items()}
    evaluator = ir_measures.pytrec_eval.evaluator(list(measures.values()), qrels)
    rows = [(r.query_id, by_measure[str(r.measure)], r.value)
            for r in evaluator.iter_calc(run)]
    return pd.DataFrame(rows, columns=["user", "stem", "value"]).pivot(
        index="user", columns="stem", values="value")


def pytrec_table(qrels, run) -> pd.DataFrame:
    """pytrec_eval's own evaluate: only the queries in the run (trec_eval without -c)."""
    found = pytrec_eval.RelevanceEvaluator(qrels, set(TREC_EVAL.values())).evaluate(run)
    return pd.DataFrame({stem: {u: v[name] for u, v in found.items()}
                         for stem, name in TREC_EVAL.items()})


def ours_by_text_user(table: pd.DataFrame) -> pd.DataFrame:
    out = table.rename(columns=lambda c: c.removesuffix(f"_at_{K}"))
    out.index = out.index.astype(str)
    return out


def assert_same(got: pd.Series, want: pd.Series, what: str) -> None:
    assert sorted(got.index) == sorted(want.index), what
    np.testing.assert_allclose(got.to_numpy(), want.reindex(got.index).to_numpy(),
                               rtol=0, atol=1e-12, err_msg=what)


def n_relevant(qrels) -> pd.Series:
    return pd.Series({u: sum(v > 0 for v in items.values()) for u, items in qrels.items()})


# --- ir-measures: users without a list score 0 (as retaillab's default no_list="zero") ------


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("threshold", [None, 4.0])
def test_every_metric_per_user_and_in_mean_matches_trec_eval(movielens, model, threshold):
    test, lists, dropped = movielens
    recs = lists[model]
    run, qrels = as_run(recs), as_qrels(test, threshold)
    want = library_table(LIBRARY, qrels, run)  # every test user, 0 for those without a list
    n_rel = n_relevant(qrels).reindex(want.index)
    assert (n_rel > K).any() and (n_rel <= K).any()
    assert (n_rel == 0).any() == (threshold is not None)

    table = metrics.ranking_per_user(recs, test, K, threshold=threshold)
    ours = ours_by_text_user(table)
    assert ours.index.isin([str(u) for u in dropped]).sum() > 0  # users without a list count
    assert (ours["ndcg"] > 0).mean() > 0.3                        # and many lists hit
    counted = want[n_rel > 0]  # no_relevant="skip": users with a relevant item
    for stem in ("precision", "recall", "ndcg", "mrr", "hit_rate"):
        assert_same(ours[stem], counted[stem], f"{model} {stem} threshold={threshold}")
    # AP: trec_eval divides by n, retaillab's default by min(k, n)
    rescaled = (counted["map"] * n_rel / np.minimum(n_rel, K))[n_rel > 0]
    assert_same(ours["map"], rescaled, f"{model} AP@k / min(k, n)")
    assert (ours["map"] - counted["map"].reindex(ours.index)).abs().max() > 1e-3  # they differ

    # trec_eval's AP and its users: ap_denominator="n_relevant", no_relevant="zero"
    like_trec = ours_by_text_user(metrics.ranking_per_user(
        recs, test, K, threshold=threshold, ap_denominator="n_relevant", no_relevant="zero"))
    for stem in RANKING_STEMS:
        assert_same(like_trec[stem], want[stem], f"{model} {stem} as trec_eval")

    # threshold = trec_eval's relevance level (inclusive), on qrels of 2 * rating
    if threshold is not None:
        rel = int(2 * threshold)
        leveled = library_table({stem: make(rel) for stem, make in AT_LEVEL.items()},
                                as_qrels(test, gain="graded"), run)
        for stem in AT_LEVEL:
            assert_same(like_trec[stem], leveled[stem], f"{model} {stem} at level {rel}")

    # the means: ranking() and each single function
    means = metrics.ranking(recs, test, K, threshold=threshold)
    trec_means = metrics.ranking(recs, test, K, threshold=threshold,
                                 ap_denominator="n_relevant", no_relevant="zero")
    aggregate = ir_measures.pytrec_eval.calc_aggregate(list(LIBRARY.values()), qrels, run)
    for stem in RANKING_STEMS:
        want_mean = rescaled.mean() if stem == "map" else counted[stem].mean()
        assert means[f"{stem}_at_{K}"] == pytest.approx(want_mean, abs=1e-12), stem
        single = getattr(metrics, f"{stem}_at_k")(recs, test, K, threshold=threshold)
        assert single == pytest.approx(want_mean, abs=1e-12), stem
        assert trec_means[f"{stem}_at_{K}"] == pytest.approx(aggregate[LIBRARY[stem]],
                                                             abs=1e-12), stem
    assert metrics.map_at_k(recs, test, K, threshold=threshold, ap_denominator="n_relevant",
                            no_relevant="zero") == pytest.approx(aggregate[AP @ K], abs=1e-12)


# --- pytrec_eval: trec_eval's default leaves users without a list out (no_list="skip") ------


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("threshold", [None, 4.0])
def test_skipping_users_without_a_list_matches_pytrec_eval(movielens, model, threshold):
    test, lists, dropped = movielens
    recs = lists[model]
    want = pytrec_table(as_qrels(test, threshold), as_run(recs))
    conventions = {"no_list": "skip", "ap_denominator": "n_relevant", "no_relevant": "zero"}
    ours = ours_by_text_user(metrics.ranking_per_user(recs, test, K, threshold=threshold,
                                                      **conventions))
    assert not ours.index.isin([str(u) for u in dropped]).any()
    assert len(ours) == test["user"].nunique() - len(dropped)
    for stem in RANKING_STEMS:
        assert_same(ours[stem], want[stem], f"{model} {stem} skip threshold={threshold}")
    means = metrics.ranking(recs, test, K, threshold=threshold, **conventions)
    for stem in RANKING_STEMS:
        assert means[f"{stem}_at_{K}"] == pytest.approx(want[stem].mean(), abs=1e-12)
    assert metrics.ndcg_at_k(recs, test, K, threshold=threshold, no_list="skip",
                             no_relevant="zero") == pytest.approx(want["ndcg"].mean(),
                                                                  abs=1e-12)
    # and no_list="zero" adds the missing users as zeros: its mean is lower by their share
    zero = metrics.ranking(recs, test, K, threshold=threshold, ap_denominator="n_relevant",
                           no_relevant="zero")
    share = len(ours) / (len(ours) + len(dropped))
    assert zero[f"ndcg_at_{K}"] == pytest.approx(share * means[f"ndcg_at_{K}"], abs=1e-12)


# --- relevance="graded": gain = the rating, as trec_eval's ndcg_cut --------------------------


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("threshold", [None, 3.5])
def test_graded_ndcg_matches_trec_eval_on_movielens_ratings(movielens, model, threshold):
    test, lists, _ = movielens
    recs, run = lists[model], as_run(lists[model])
    qrels = as_qrels(test, threshold, gain="graded")  # 2 * rating: the same NDCG as rating
    want = library_table({"ndcg": nDCG @ K}, qrels, run)["ndcg"]
    n_rel = n_relevant(qrels).reindex(want.index)
    table = metrics.ranking_per_user(recs, test, K, threshold=threshold, relevance="graded")
    ours = ours_by_text_user(table)
    assert_same(ours["ndcg"], want[n_rel > 0], f"{model} graded NDCG threshold={threshold}")
    every = metrics.ranking_per_user(recs, test, K, threshold=threshold, relevance="graded",
                                     no_relevant="zero")
    assert_same(ours_by_text_user(every)["ndcg"], want, f"{model} graded NDCG, all users")
    binary = metrics.ranking_per_user(recs, test, K, threshold=threshold)
    assert not np.allclose(table[f"ndcg_at_{K}"], binary[f"ndcg_at_{K}"])  # it does change
    others = [c for c in table.columns if c != f"ndcg_at_{K}"]
    pd.testing.assert_frame_equal(table[others], binary[others])          # and only NDCG
    assert metrics.ndcg_at_k(recs, test, K, threshold=threshold, relevance="graded") == \
        pytest.approx(want[n_rel > 0].mean(), abs=1e-12)
    skip = metrics.ranking_per_user(recs, test, K, threshold=threshold, relevance="graded",
                                    no_list="skip", no_relevant="zero")
    assert_same(ours_by_text_user(skip)["ndcg"], pytrec_table(qrels, run)["ndcg"],
                f"{model} graded NDCG skip")


# --- by hand: what no library setting covers ------------------------------------------------


def frame(rows, columns=("user", "item", "rank")):
    return pd.DataFrame(rows, columns=list(columns))


def test_graded_ndcg_by_hand_repeats_zeros_and_threshold():
    recs = frame([("a", "x", 1), ("a", "y", 2), ("a", "z", 3), ("b", "x", 1)])
    test = pd.DataFrame({"user": ["a", "a", "a", "a", "b"], "item": ["x", "y", "w", "y", "x"],
                         "rating": [1.0, 2.0, 4.0, 3.0, 0.0]})
    table = metrics.ranking_per_user(recs, test, 2, relevance="graded")
    # a: y is listed twice and keeps its highest rating, 3; ideal top 2 = w (4), y (3)
    want = (1 / 1 + 3 / math.log2(3)) / (4 / 1 + 3 / math.log2(3))
    assert table.loc["a", "ndcg_at_2"] == pytest.approx(want, abs=1e-12)
    assert table.loc["b", "ndcg_at_2"] == 0.0  # every relevant rating 0: no ideal, NDCG 0
    assert table.loc["b", "hit_rate_at_2"] == 1.0  # the other metrics stay binary
    at_3 = metrics.ranking_per_user(recs, test, 2, threshold=3, relevance="graded")
    # threshold 3: x (1) is not relevant, so its gain is 0; y (3 of its two rows) is
    assert list(at_3.index) == ["a"]
    assert at_3.loc["a", "ndcg_at_2"] == pytest.approx(
        (3 / math.log2(3)) / (4 + 3 / math.log2(3)), abs=1e-12)


def test_ap_denominators_and_skip_by_hand():
    recs = frame([("a", "x", 1), ("a", "q", 2), ("a", "y", 3)])
    test = frame([("a", "x"), ("a", "y"), ("a", "z"), ("a", "w"), ("b", "x")],
                 ("user", "item"))
    capped = metrics.ranking_per_user(recs, test, 3)
    full = metrics.ranking_per_user(recs, test, 3, ap_denominator="n_relevant")
    assert capped.loc["a", "map_at_3"] == pytest.approx((1 + 2 / 3) / 3)  # min(k=3, n=4)
    assert full.loc["a", "map_at_3"] == pytest.approx((1 + 2 / 3) / 4)    # n = 4
    assert list(capped.index) == ["a", "b"] and (capped.loc["b"] == 0).all()
    skipped = metrics.ranking_per_user(recs, test, 3, no_list="skip")
    assert list(skipped.index) == ["a"]
    pd.testing.assert_series_equal(skipped.loc["a"], capped.loc["a"])
    # a list whose items are all ranked beyond k is no list within the top k
    assert list(metrics.ranking_per_user(recs, test, 1, no_list="skip").index) == ["a"]
    beyond = frame([("a", "x", 1), ("b", "x", 5)])
    assert list(metrics.ranking_per_user(beyond, test, 3, no_list="skip").index) == ["a"]
    with pytest.raises(DataError, match="no_list='skip' leaves no user"):
        metrics.ranking_per_user(frame([("c", "x", 1)]), test, 3, no_list="skip")


@pytest.mark.parametrize("keyword, value", [
    ("relevance", "exponential"), ("relevance", None), ("ap_denominator", "n"),
    ("no_list", "drop"), ("no_list", ["skip"]),
])
def test_unknown_convention_values_raise(keyword, value):
    recs, test = frame([("a", "x", 1)]), frame([("a", "x")], ("user", "item"))
    with pytest.raises(ParameterError, match=f"{keyword} must be one of"):
        metrics.ranking(recs, test, 1, **{keyword: value})


def test_graded_needs_usable_ratings():
    recs, test = frame([("a", "x", 1)]), frame([("a", "x")], ("user", "item"))
    with pytest.raises(DataError, match=r"(?s)no column 'rating'.*relevance='binary'"):
        metrics.ndcg_at_k(recs, test, 1, relevance="graded")
    for bad in ([-1.0], [np.nan]):
        with pytest.raises(DataError, match="missing or negative"):
            metrics.ndcg_at_k(recs, test.assign(rating=bad), 1, relevance="graded")
    with pytest.raises(DataError, match="numbers to serve as gains"):
        metrics.ndcg_at_k(recs, test.assign(rating=["5"]), 1, relevance="graded")
