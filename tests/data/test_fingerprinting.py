"""Fingerprints: stable across processes and hash seeds, sensitive to every kind of change."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from retaillab.data.dataset import Dataset
from retaillab.data.fingerprinting import fingerprint, fingerprints
from retaillab.data.splits import split
from retaillab.errors import ParameterError

# Run in this process and in subprocesses with other hash seeds: must give the same digest.
FRAME_CODE = """
import numpy as np, pandas as pd
frame = pd.DataFrame({
    "user": ["u1", "u2", None, "u1"],
    "item": pd.Categorical(["b", "a", "b", "c"], categories=["c", "b", "a"]),
    "rating": [4.5, np.nan, 3.0, 1.0],
    "timestamp": pd.to_datetime(["2020-01-01", "2020-01-02", "2021-06-01", None]),
    "flag": [True, False, True, True],
    "genres": [("Drama", "Comedy"), (), ("Horror",), ("Drama",)],
    "tags": [{"x", "y", "zz", "w"}, {"a"}, set(), {"q", "r"}],
    "mixed": [1, "1", 1.0, None],
}, index=pd.Index([10, 11, 12, 13], name="row"))
"""


def frame() -> pd.DataFrame:
    namespace: dict = {}
    exec(FRAME_CODE, namespace)
    return namespace["frame"]


def interactions(n_rows: int = 100_000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"user": rng.integers(0, 700, n_rows),
                         "item": rng.integers(0, 9000, n_rows),
                         "rating": rng.integers(1, 11, n_rows) / 2,
                         "timestamp": rng.integers(800_000_000, 1_500_000_000, n_rows)})


def test_format_and_determinism():
    fp = fingerprint(frame())
    assert len(fp) == 16 and int(fp, 16) >= 0
    assert fingerprint(frame()) == fp
    assert fingerprint(frame().copy(deep=True)) == fp


@pytest.mark.parametrize("hash_seed", ["0", "1", "12345"])
def test_same_in_other_processes_and_hash_seeds(hash_seed):
    code = FRAME_CODE + (
        "from retaillab.data.fingerprinting import fingerprint\n"
        "print(fingerprint(frame), fingerprint((frame, frame['tags'])))\n")
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    f = frame()
    assert out == [fingerprint(f), fingerprint((f, f["tags"]))]


def changed(f: pd.DataFrame, col: str, value: object, row: int = 0) -> pd.DataFrame:
    out = f.copy()
    out[col] = out[col].astype(object) if col in ("genres", "tags", "mixed") else out[col]
    out.iloc[row, out.columns.get_loc(col)] = value
    return out


@pytest.mark.parametrize("col, value", [
    ("user", "u9"), ("user", None), ("item", "c"), ("rating", 4.0), ("rating", np.nan),
    ("timestamp", pd.Timestamp("2020-01-01 00:00:01")), ("flag", False),
    ("genres", ("Comedy", "Drama")), ("genres", ["Drama", "Comedy"]), ("tags", {"x", "y"}),
    ("mixed", 2),
])
def test_any_changed_cell_changes_it(col, value):
    f = frame()
    g = changed(f, col, value)
    assert not g[col].equals(f[col])  # the edit took
    assert fingerprint(g) != fingerprint(f)


def test_type_aware_object_cells():
    # 1, '1', 1.0 and True compare or print alike in places; they are different cells
    base = pd.DataFrame({"v": pd.Series([1, "a"], dtype=object)})
    others = [pd.Series(v, dtype=object) for v in (["1", "a"], [1.0, "a"], [True, "a"])]
    fps = {fingerprint(base)} | {fingerprint(pd.DataFrame({"v": s})) for s in others}
    assert len(fps) == 4


def test_names_order_dtypes_rows_and_index_matter():
    f = frame()
    fp = fingerprint(f)
    variants = {
        "renamed": f.rename(columns={"rating": "score"}),
        "column order": f[[*f.columns[1:], f.columns[0]]],
        "float32": f.astype({"rating": "float32"}),
        "category order": f.assign(item=f["item"].cat.reorder_categories(["a", "b", "c"])),
        "ordered": f.assign(item=f["item"].cat.as_ordered()),
        "object strings": f.assign(user=f["user"].astype(object)),
        "row order": f.iloc[::-1],
        "rows reordered, index kept": f.iloc[::-1].set_axis(f.index),
        "index values": f.set_axis(f.index + 1),
        "index name": f.rename_axis("line"),
        "fewer rows": f.iloc[:3],
        "extra column": f.assign(extra=1),
    }
    fps = {name: fingerprint(g) for name, g in variants.items()}
    assert fp not in fps.values()
    assert len(set(fps.values())) == len(fps)
    # int vs float of equal values, and 1 vs '1' as a column name
    assert fingerprint(pd.DataFrame({"a": [1, 2]})) != fingerprint(pd.DataFrame({"a": [1.0, 2]}))
    assert fingerprint(pd.DataFrame({1: [1]})) != fingerprint(pd.DataFrame({"1": [1]}))


def test_nan_is_one_value():
    a = pd.DataFrame({"x": [1.0, np.nan]})
    other_nan = np.frombuffer(np.uint64(0x7FF8000000000001).tobytes(), dtype=np.float64)[0]
    b = pd.DataFrame({"x": np.array([1.0, other_nan])})
    assert np.isnan(b["x"].iloc[1])
    assert fingerprint(a) == fingerprint(b)


def test_series_and_sequences():
    f = frame()
    s = f["rating"]
    assert fingerprint(s) == fingerprint(s.copy())
    assert fingerprint(s) != fingerprint(s.rename("score"))
    assert fingerprint(s) != fingerprint(f[["rating"]])
    assert fingerprint((f, s)) == fingerprint([f, s])
    assert fingerprint((f, s)) != fingerprint((s, f))


def test_split_row_selection_is_visible():
    df = interactions(5_000)
    a, b = split(df, "random", seed=1), split(df, "random", seed=2)
    assert fingerprint(a) == fingerprint(split(df, "random", seed=1))
    assert fingerprint(a) != fingerprint(b)
    # swapping one row between the sides changes the split's fingerprint
    train, test = a
    moved = (train.iloc[1:], pd.concat([test, train.iloc[:1]]).sort_index())
    assert fingerprint(moved) != fingerprint(a)


def test_dataset_and_fingerprints():
    f, items = frame(), pd.DataFrame({"item": ["a", "b", "c"], "year": [1990, 1991, 1992]})
    ds = Dataset(name="toy", source="test", interactions=f, items=items)
    assert fingerprints(ds) == {"interactions": fingerprint(f), "items": fingerprint(items)}
    assert fingerprints({"x": items}) == {"x": fingerprint(items)}
    renamed = Dataset(name="other", source="elsewhere", interactions=f, items=items)
    assert fingerprint(ds) == fingerprint(renamed)  # content only
    assert fingerprint(ds) != fingerprint(Dataset(name="toy", source="test", interactions=f))
    assert fingerprint(ds) != fingerprint(
        Dataset(name="toy", source="test", interactions=f, items=items.iloc[:2]))
    # a table under another name is another data set
    assert fingerprint(Dataset(name="a", source="s", items=items)) != fingerprint(
        Dataset(name="a", source="s", customers=items))


def test_leaves_input_alone_and_handles_edge_shapes():
    f = frame()
    before = f.copy(deep=True)
    fingerprint(f)
    pd.testing.assert_frame_equal(f, before)
    assert fingerprint(pd.DataFrame()) != fingerprint(pd.DataFrame({"a": []}))
    multi = pd.DataFrame({"v": [1, 2]}, index=pd.MultiIndex.from_tuples([("a", 1), ("a", 2)]))
    assert fingerprint(multi) != fingerprint(multi.swaplevel())
    dup = pd.DataFrame([[1, 2]], columns=["a", "a"])
    assert fingerprint(dup) != fingerprint(pd.DataFrame([[2, 1]], columns=["a", "a"]))


@pytest.mark.parametrize("bad", [None, 3, "table", {"a": 1}, np.zeros(3)])
def test_rejects_other_types(bad):
    with pytest.raises(ParameterError, match="obj"):
        fingerprint(bad)
    with pytest.raises(ParameterError):
        fingerprint([interactions(10), bad])


def test_one_changed_cell_among_100k_rows_changes_it():
    # speed against peers: bench/fingerprint_time.py
    df = interactions()
    fp = fingerprint(df)
    assert fingerprint(df.copy(deep=True)) == fp
    edited = df.copy()
    edited.iloc[54_321, edited.columns.get_loc("item")] += 1
    assert fingerprint(edited) != fp
