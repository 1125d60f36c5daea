"""Splits: no leakage, time order, per-user guarantees, determinism, no side effects, errors.

Expected values come from the definitions in the docstrings, worked out by hand for the small
frames and checked as properties on a seeded random frame of 50k rows. Speed is measured
against pandas peers in bench/split_times.py, not asserted here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from retaillab.data.splits import KFOLD_METHODS, SPLIT_METHODS, kfold, split
from retaillab.errors import DataError, ParameterError, UnknownNameError

# --- data ----------------------------------------------------------------------------------

# label: (user, item, timestamp). Users: a 4 rows, b 3, c 2, d 1.
ROWS = {
    100: ("a", "x", 5), 110: ("b", "x", 3), 120: ("a", "y", 1), 130: ("c", "z", 7),
    140: ("a", "z", 4), 150: ("b", "y", 9), 160: ("d", "x", 2), 170: ("a", "w", 8),
    180: ("b", "z", 6), 190: ("c", "x", 1),
}
IDS = ["str", "int"]


def small(ids: str = "str") -> pd.DataFrame:
    user, item, ts = zip(*ROWS.values(), strict=True)
    df = pd.DataFrame({"user": user, "item": item, "rating": np.arange(10) % 5 + 1.0,
                       "timestamp": ts}, index=list(ROWS))
    if ids == "int":
        df = df.assign(user=df["user"].map({"a": 11, "b": 7, "c": 3, "d": 42}),
                       item=df["item"].map({"x": 1, "y": 2, "z": 3, "w": 4}))
    return df


def big(ids: str = "int", n_rows: int = 50_000, seed: int = 7) -> pd.DataFrame:
    """Skewed users (some with one row, some with hundreds) and many tied timestamps."""
    rng = np.random.default_rng(seed)
    user = (rng.random(n_rows) ** 3 * 4000).astype(np.int64)
    item = rng.integers(0, 800, n_rows)
    df = pd.DataFrame({"user": user, "item": item,
                       "rating": rng.integers(1, 6, n_rows).astype(float),
                       "timestamp": rng.integers(0, 20_000, n_rows)},
                      index=np.arange(n_rows) * 2 + 5)
    if ids == "str":
        df = df.assign(user="u" + df["user"].astype(str), item="i" + df["item"].astype(str))
    return df


@pytest.fixture(scope="module", params=IDS)
def big_df(request) -> pd.DataFrame:
    return big(request.param)


def transactions() -> pd.DataFrame:
    rows = [("p", "2020-01-05"), ("q", "2020-01-20"), ("p", "2020-02-10"), ("s", "2020-03-01"),
            ("p", "2020-04-01"), ("r", "2020-04-10"), ("r", "2020-05-01"), ("q", "2020-05-15"),
            ("p", "2020-07-01")]
    customer, date = zip(*rows, strict=True)
    return pd.DataFrame({"customer": customer, "date": pd.to_datetime(list(date)),
                         "amount": np.arange(1.0, 10.0)})


# --- helpers -------------------------------------------------------------------------------


def assert_in_order(df: pd.DataFrame, part: pd.DataFrame) -> None:
    """``part`` is a subset of ``df``'s rows, unchanged, in ``df``'s order, with its index."""
    pos = df.index.get_indexer(part.index)
    assert (pos >= 0).all() and (np.diff(pos) > 0).all()
    pd.testing.assert_frame_equal(part, df.iloc[pos])


def assert_partition(df: pd.DataFrame, train: pd.DataFrame, test: pd.DataFrame) -> None:
    assert_in_order(df, train)
    assert_in_order(df, test)
    assert not set(train.index) & set(test.index)
    assert len(train) + len(test) == len(df)


def per_user(part: pd.DataFrame) -> pd.Series:
    return part.groupby("user").size()


def labels(part: pd.DataFrame) -> set:
    return set(part.index)


# --- split: each method on the hand-built frame ---------------------------------------------


@pytest.mark.parametrize("ids", IDS)
def test_random_sends_ratio_of_rows_to_train(ids):
    df = small(ids)
    train, test = split(df, "random", ratio=0.75, seed=3)
    assert_partition(df, train, test)
    assert len(train) == 8  # round(7.5) half up


@pytest.mark.parametrize("ids", IDS)
def test_stratified_counts_per_user(ids):
    df = small(ids)
    train, test = split(df, "stratified", ratio=0.75, seed=1)
    assert_partition(df, train, test)
    # a: 4 rows -> 3/1; b: 3 -> round(2.25)=2/1; c: 2 -> round(1.5)=2, clipped to 1/1;
    # d: 1 row < min_ratings -> all in train
    name = {df.loc[label, "user"]: n for n, label in {"a": 100, "b": 110, "c": 130,
                                                       "d": 160}.items()}
    assert per_user(train).rename(index=name).to_dict() == {"a": 3, "b": 2, "c": 1, "d": 1}
    assert per_user(test).rename(index=name).to_dict() == {"a": 1, "b": 1, "c": 1}


def test_stratified_min_ratings_keeps_small_users_in_train():
    df = small()
    _, test = split(df, "stratified", min_ratings=3, seed=0)
    assert sorted(test["user"]) == ["a", "b"]
    _, test = split(df, "stratified", min_ratings=4, seed=0)
    assert sorted(test["user"]) == ["a"]


@pytest.mark.parametrize("ids", IDS)
def test_chronological_holds_out_each_users_latest(ids):
    df = small(ids)
    train, test = split(df, "chronological", ratio=0.75)
    assert_partition(df, train, test)
    # a: t 1,4,5 train, 8 test; b: 3,6 train, 9 test; c: 1 train, 7 test; d: train
    assert labels(test) == {130, 150, 170}


def test_chronological_breaks_ties_by_row_order():
    df = pd.DataFrame({"user": ["a", "a", "a", "a"], "item": [1, 2, 3, 4],
                       "timestamp": [5, 1, 5, 5]})
    for seed in (0, 1, 2):
        _, test = split(df, "chronological", ratio=0.75, seed=seed)
        assert list(test.index) == [3]
    _, test = split(df, "leave_last", n=2)
    assert list(test.index) == [2, 3]


@pytest.mark.parametrize("ids", IDS)
def test_leave_last(ids):
    df = small(ids)
    train, test = split(df, "leave_last")
    assert_partition(df, train, test)
    assert labels(test) == {170, 150, 130}
    # n=2: c (2 rows) and d (1 row) stay in train
    _, test = split(df, "leave_last", n=2)
    assert labels(test) == {100, 170, 150, 180}


@pytest.mark.parametrize("ids", IDS)
def test_time_cutoff(ids):
    df = small(ids)
    train, test = split(df, "time", cutoff=5)
    assert_partition(df, train, test)
    assert labels(train) == {110, 120, 140, 160, 190}
    assert train["timestamp"].max() < 5 <= test["timestamp"].min()


def test_time_without_cutoff_uses_ratio_quantile():
    # sorted timestamps 1,1,2,3,4,5,6,7,8,9: 8 rows before the 9th (t=8)
    train, test = split(small(), "time", ratio=0.75)
    assert len(train) == 8 and labels(test) == {150, 170}


def test_time_drop_cold_drops_unseen_users_and_items():
    df = small()
    _, test = split(df, "time", cutoff=5, drop_cold=True)
    assert labels(test) == {100, 130, 150, 180}  # 170 has item 'w', unseen in train
    df2 = pd.concat([df, pd.DataFrame({"user": ["e"], "item": ["x"], "rating": [1.0],
                                       "timestamp": [9]}, index=[200])])
    _, test = split(df2, "time", cutoff=5, drop_cold=True)
    assert 200 not in labels(test)


def test_time_accepts_datetimes_and_date_strings():
    df = small().assign(timestamp=lambda d: pd.Timestamp("2021-01-01")
                        + pd.to_timedelta(d["timestamp"], unit="D"))
    train, test = split(df, "time", cutoff="2021-01-06")
    assert labels(train) == {110, 120, 140, 160, 190}
    assert train["timestamp"].max() < test["timestamp"].min()


def test_calibration_holdout_btyd_convention():
    tx = transactions()
    cal, hold = split(tx, "calibration_holdout", calibration_end="2020-03-31",
                      holdout_end="2020-06-30")
    assert_in_order(tx, cal)
    assert_in_order(tx, hold)
    assert list(cal.index) == [0, 1, 2, 3]
    assert list(hold.index) == [4, 7]  # r starts in holdout; p's July purchase is too late
    assert cal["date"].max() <= pd.Timestamp("2020-03-31") < hold["date"].min()
    assert set(hold["customer"]) <= set(cal["customer"])
    _, hold = split(tx, "calibration_holdout", calibration_end="2020-03-31")
    assert list(hold.index) == [4, 7, 8]  # holdout_end defaults to the last date


# --- split: properties on 50k rows ---------------------------------------------------------


@pytest.mark.parametrize("method", ["stratified", "chronological"])
def test_per_user_splits_on_big_frame(big_df, method):
    train, test = split(big_df, method, ratio=0.7, seed=5)
    assert_partition(big_df, train, test)
    size = per_user(big_df)
    n_train = per_user(train).reindex(size.index, fill_value=0)
    n_test = per_user(test).reindex(size.index, fill_value=0)
    eligible = size >= 2
    assert (size == 1).any() and eligible.any()
    assert (n_train[eligible] >= 1).all() and (n_test[eligible] >= 1).all()
    assert (n_test[~eligible] == 0).all()
    # within rounding of the ratio, unless moved to keep a row on each side
    exact = 0.7 * size[eligible]
    off = (n_train[eligible] - exact).abs()
    clipped = (n_train[eligible] == 1) | (n_test[eligible] == 1)
    assert (off[~clipped] <= 0.5).all()
    assert (off <= 1.0).all()
    if method == "chronological":
        last_train = train.groupby("user")["timestamp"].max()
        first_test = test.groupby("user")["timestamp"].min()
        assert (last_train.reindex(first_test.index) <= first_test).all()


def test_leave_last_on_big_frame(big_df):
    train, test = split(big_df, "leave_last", n=3)
    assert_partition(big_df, train, test)
    size = per_user(big_df)
    n_test = per_user(test).reindex(size.index, fill_value=0)
    assert (n_test == np.where(size > 3, 3, 0)).all()
    last_train = train.groupby("user")["timestamp"].max()
    first_test = test.groupby("user")["timestamp"].min()
    assert (last_train.reindex(first_test.index) <= first_test).all()


def test_time_and_random_on_big_frame(big_df):
    train, test = split(big_df, "time", cutoff=15_000)
    assert_partition(big_df, train, test)
    assert train["timestamp"].max() < 15_000 <= test["timestamp"].min()
    train, test = split(big_df, "random", ratio=0.8, seed=2)
    assert_partition(big_df, train, test)
    assert len(train) == 40_000


def test_order_kept_with_shuffled_index():
    df = big(n_rows=2_000)
    df.index = np.random.default_rng(0).permutation(len(df)) * 7
    train, test = split(df, "stratified", seed=0)
    assert_partition(df, train, test)


@pytest.mark.parametrize("method", ["random", "stratified"])
def test_same_seed_same_split_other_seed_other_split(big_df, method):
    a_train, a_test = split(big_df, method, seed=11)
    b_train, b_test = split(big_df, method, seed=11)
    pd.testing.assert_frame_equal(a_train, b_train)
    pd.testing.assert_frame_equal(a_test, b_test)
    c_train, _ = split(big_df, method, seed=12)
    assert not a_train.index.equals(c_train.index)


def test_deterministic_methods_ignore_seed(big_df):
    for method in ("chronological", "leave_last"):
        a, _ = split(big_df, method, seed=1)
        b, _ = split(big_df, method, seed=2)
        pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize("method", SPLIT_METHODS)
def test_callers_frame_unchanged(method):
    df = transactions() if method == "calibration_holdout" else big("str", n_rows=3_000)
    before = df.copy(deep=True)
    kw = {"calibration_end": "2020-03-31"} if method == "calibration_holdout" else {}
    train, test = split(df, method, drop_cold=method == "time", **kw)
    pd.testing.assert_frame_equal(df, before)
    train.iloc[0, 0] = train.iloc[1, 0]  # writing to a result leaves the caller's frame alone
    test.iloc[0, 0] = test.iloc[-1, 0]
    pd.testing.assert_frame_equal(df, before)


# --- kfold ---------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["random", "stratified", "user"])
def test_kfold_partitions(big_df, method):
    folds = list(kfold(big_df, method, n_splits=4, seed=3))
    assert len(folds) == 4
    tested = []
    for train, test in folds:
        assert_partition(big_df, train, test)
        tested.extend(test.index)
    assert len(tested) == len(set(tested))  # disjoint test folds
    size = per_user(big_df)
    never_tested = set(big_df.index[big_df["user"].isin(size.index[size < 2])])
    covered = set(tested)
    if method == "stratified":
        assert covered == set(big_df.index) - never_tested
    else:
        assert covered == set(big_df.index)


def test_kfold_random_fold_sizes(big_df):
    sizes = [len(test) for _, test in kfold(big_df, "random", n_splits=3)]
    assert max(sizes) - min(sizes) <= 1 and sum(sizes) == len(big_df)


def test_kfold_user_is_cold_start(big_df):
    seen = set()
    for train, test in kfold(big_df, "user", n_splits=5, seed=1):
        users = set(test["user"])
        assert not users & set(train["user"])
        assert not users & seen
        seen |= users
    assert seen == set(big_df["user"])


def test_kfold_stratified_puts_users_in_every_fold(big_df):
    size = per_user(big_df)
    for train, test in kfold(big_df, "stratified", n_splits=5, seed=2):
        in_test = set(test["user"])
        assert set(size.index[size >= 5]) <= in_test
        assert not in_test & set(size.index[size < 2])
        assert in_test <= set(train["user"])  # every tested user keeps training rows


def test_kfold_time_expanding_window(big_df):
    folds = list(kfold(big_df, "time", n_splits=4))
    assert len(folds) == 4
    previous = 0
    tested = []
    for train, test in folds:
        assert_in_order(big_df, train)
        assert_in_order(big_df, test)
        assert train["timestamp"].max() < test["timestamp"].min()
        assert len(train) > previous  # the window grows
        previous = len(train)
        tested.extend(test.index)
    assert len(tested) == len(set(tested))
    # about 1/5 of rows per block (ties can shift a cut a little)
    assert all(abs(len(test) - len(big_df) / 5) < 0.01 * len(big_df) for _, test in folds)


def test_kfold_hand_built():
    df = small()
    folds = list(kfold(df, "time", n_splits=2))
    # sorted t 1,1,2,3,4,5,6,7,8,9; blocks cut at positions 3 and 6: t=3 and t=6
    assert [labels(test) for _, test in folds] == [{110, 140, 100}, {180, 130, 170, 150}]
    folds = list(kfold(df, "user", n_splits=2, seed=0))
    assert sorted(len(set(test["user"])) for _, test in folds) == [2, 2]


@pytest.mark.parametrize("method", KFOLD_METHODS)
def test_kfold_deterministic_and_no_side_effects(method):
    df = big("str", n_rows=5_000)
    before = df.copy(deep=True)
    a = list(kfold(df, method, n_splits=3, seed=4))
    b = list(kfold(df, method, n_splits=3, seed=4))
    for (tr_a, te_a), (tr_b, te_b) in zip(a, b, strict=True):
        pd.testing.assert_frame_equal(tr_a, tr_b)
        pd.testing.assert_frame_equal(te_a, te_b)
    if method != "time":
        c = list(kfold(df, method, n_splits=3, seed=5))
        assert any(not x[1].index.equals(y[1].index) for x, y in zip(a, c, strict=True))
    pd.testing.assert_frame_equal(df, before)


# --- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize("ratio", [0, 1, 1.5, -0.1, True, "0.5", float("nan")])
def test_bad_ratio(ratio):
    with pytest.raises(ParameterError, match="ratio"):
        split(small(), "random", ratio=ratio)


def test_unknown_method_lists_known_names():
    with pytest.raises(UnknownNameError) as err:
        split(small(), "stratifed")
    assert "stratified" in str(err.value) and "leave_last" in str(err.value)
    with pytest.raises(UnknownNameError, match="user"):
        kfold(small(), "users")


@pytest.mark.parametrize("method", ["chronological", "leave_last", "time"])
def test_missing_timestamp_names_column_and_fix(method):
    df = small().drop(columns="timestamp")
    with pytest.raises(DataError) as err:
        split(df, method, cutoff=5 if method == "time" else None)
    msg = str(err.value)
    assert "'timestamp'" in msg and method in msg and "fix:" in msg


def test_missing_user_and_customer_columns():
    with pytest.raises(DataError, match="'user'"):
        split(small().drop(columns="user"), "stratified")
    with pytest.raises(DataError, match="'customer'"):
        split(transactions().drop(columns="customer"), "calibration_holdout",
              calibration_end="2020-03-31")
    with pytest.raises(DataError, match="'user'"):
        kfold(small().drop(columns="user"), "user")


@pytest.mark.parametrize("method", SPLIT_METHODS)
def test_empty_frame(method):
    with pytest.raises(DataError, match="empty"):
        split(small().iloc[:0], method)


@pytest.mark.parametrize("cutoff, side", [(0, "test"), (1, "test"), (10, "train"),
                                          (100, "train")])
def test_cutoff_outside_data(cutoff, side):
    with pytest.raises(DataError, match=f"every row in {side}"):
        split(small(), "time", cutoff=cutoff)


@pytest.mark.parametrize("cutoff", ["2020-01-01", [5], pd.Timestamp("2020-01-01")])
def test_cutoff_of_wrong_type(cutoff):
    with pytest.raises(ParameterError, match="cutoff"):
        split(small(), "time", cutoff=cutoff)


@pytest.mark.parametrize("n", [0, -1, 1.5])
def test_bad_n(n):
    with pytest.raises(ParameterError, match="n must be"):
        split(small(), "leave_last", n=n)


def test_nothing_to_hold_out():
    with pytest.raises(DataError, match="n=5"):
        split(small(), "leave_last", n=5)
    with pytest.raises(DataError, match="min_ratings"):
        split(small(), "stratified", min_ratings=5)


def test_other_bad_parameters():
    with pytest.raises(ParameterError, match="seed"):
        split(small(), seed=-1)
    with pytest.raises(ParameterError, match="min_ratings"):
        split(small(), "stratified", min_ratings=1)
    with pytest.raises(ParameterError, match="cutoff"):
        split(small(), "stratified", cutoff=5)  # a method that has no cut-off
    with pytest.raises(ParameterError, match="df"):
        split(small().to_numpy())
    with pytest.raises(ParameterError, match="n_splits"):
        kfold(small(), n_splits=1)


def test_missing_values_and_text_times():
    df = small()
    df.loc[120, "user"] = None
    with pytest.raises(DataError, match=r"1 row\(s\) have no value"):
        split(df, "stratified")
    df = small().assign(timestamp=lambda d: d["timestamp"].astype(str))
    with pytest.raises(DataError, match="not times"):
        split(df, "chronological")


def test_calibration_holdout_bad_bounds():
    tx = transactions()
    with pytest.raises(ParameterError, match="calibration_end"):
        split(tx, "calibration_holdout")
    with pytest.raises(ParameterError, match="holdout_end"):
        split(tx, "calibration_holdout", calibration_end="2020-03-31", holdout_end="2020-03-01")
    with pytest.raises(DataError, match="before every date"):
        split(tx, "calibration_holdout", calibration_end="2019-12-31")
    with pytest.raises(DataError, match="holdout is empty"):
        split(tx, "calibration_holdout", calibration_end="2020-07-01")


def test_kfold_too_many_folds():
    with pytest.raises(DataError, match="n_splits"):
        kfold(small(), "user", n_splits=5)  # 4 users
    with pytest.raises(DataError, match="n_splits"):
        kfold(small(), "random", n_splits=11)


def test_calibration_holdout_refuses_drop_cold():
    # a holdout purchase of an item unseen in calibration is still a purchase: dropping it
    # would bias BTYD holdout counts downwards
    tx = pd.DataFrame({"customer": [1, 1, 2], "item": [5, 6, 5],
                       "date": pd.to_datetime(["2024-01-01", "2024-03-01", "2024-01-05"])})
    with pytest.raises(ParameterError, match="drop_cold"):
        split(tx, "calibration_holdout", calibration_end="2024-02-01", drop_cold=True)


def test_calibration_holdout_dates_include_the_whole_day():
    stamps = pd.to_datetime(["2020-01-05 09:00", "2020-03-31 15:30", "2020-04-01 00:00",
                             "2020-06-30 23:59", "2020-07-01 08:00"])
    tx = pd.DataFrame({"customer": ["a"] * 5, "date": stamps, "amount": 1.0})
    cal, hold = split(tx, "calibration_holdout", calibration_end="2020-03-31",
                      holdout_end="2020-06-30")
    assert list(cal.index) == [0, 1]  # 15:30 on calibration_end is calibration
    assert list(hold.index) == [2, 3]  # 23:59 on holdout_end is holdout, July 1 is not
    cal, _ = split(tx, "calibration_holdout", calibration_end="2020-03-31 12:00")
    assert list(cal.index) == [0]  # a time of day is that instant


def test_calibration_holdout_refuses_a_holdout_end_after_the_data():
    with pytest.raises(DataError, match="after the last transaction") as err:
        split(transactions(), "calibration_holdout", calibration_end="2020-03-31",
              holdout_end="2021-12-31")
    assert "on or before" in err.value.fix
