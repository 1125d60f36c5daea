"""prepare_transactions: amounts from prices, zero lines, returns dropped or netted, cancellations.

Expected results are worked out by hand on small frames; the vectorised netting is checked
against a naive per-return loop (the ground truth) on a larger random log.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from retaillab.data.prepare import prepare_transactions
from retaillab.data.quality import Quality
from retaillab.errors import DataError, ParameterError


def log(rows: list[tuple]) -> pd.DataFrame:
    """(customer, 'YYYY-MM-DD', item, quantity, price[, order]) rows as a canonical frame."""
    cols = ["customer", "date", "item", "quantity", "price", "order"][: len(rows[0])]
    frame = pd.DataFrame(rows, columns=cols)
    frame["date"] = pd.to_datetime(frame["date"])
    frame["quantity"] = frame["quantity"].astype("int64")
    frame["price"] = frame["price"].astype("float64")
    frame["amount"] = frame["quantity"] * frame["price"]
    return frame


def net(frame: pd.DataFrame, **kw) -> tuple[pd.DataFrame, Quality]:
    quality = Quality()
    return prepare_transactions(frame, returns="net", quality=quality, **kw), quality


def test_amount_is_quantity_times_price():
    frame = log([(1, "2020-01-01", "a", 3, 2.5), (2, "2020-01-02", "b", 2, 4.0)])
    frame = frame.drop(columns="amount")
    quality = Quality()
    out = prepare_transactions(frame, amount="quantity*price", quality=quality)
    assert out["amount"].tolist() == [7.5, 8.0]
    assert quality.changed == {"amount_from_price": 2}
    assert "amount" not in frame.columns  # input untouched


def test_amount_from_price_needs_both_columns():
    frame = log([(1, "2020-01-01", "a", 3, 2.5)]).drop(columns="price")
    with pytest.raises(DataError, match="'price'") as err:
        prepare_transactions(frame, amount="quantity*price")
    assert "amount='column'" in err.value.fix


def test_unknown_options_are_parameter_errors():
    frame = log([(1, "2020-01-01", "a", 3, 2.5)])
    with pytest.raises(ParameterError):
        prepare_transactions(frame, returns="keep")
    with pytest.raises(ParameterError):
        prepare_transactions(frame, amount="price")
    with pytest.raises(ParameterError):
        prepare_transactions(frame, cancelled="")


def test_clean_log_passes_in_error_mode_and_zero_lines_go():
    frame = log([(1, "2020-01-01", "a", 3, 2.0), (1, "2020-01-02", "b", 0, 2.0),
                 (2, "2020-01-03", "a", 1, 2.0)])
    quality = Quality()
    out = prepare_transactions(frame, quality=quality)
    assert out["quantity"].tolist() == [3, 1]
    assert out.index.tolist() == [0, 1]
    assert quality.dropped == {"zero_quantity": 1}


def test_error_mode_counts_returns_and_names_the_options():
    frame = log([(1, "2020-01-01", "a", 5, 2.0, "536365"),
                 (1, "2020-01-05", "a", -2, 2.0, "C536379"),
                 (2, "2020-01-06", "b", -1, 3.0, "C536380")])
    with pytest.raises(DataError) as err:
        prepare_transactions(frame, source="orders.csv")
    text = str(err.value)
    assert text.startswith("orders.csv, column 'quantity': 2 return lines (negative quantity)")
    for option in ("returns='drop'", "returns='net'", "--returns drop|net", "cancelled='C'"):
        assert option in text
    assert err.value.n_bad == 2 and err.value.rows.index.tolist() == [1, 2]  # positions


def test_error_mode_without_prefix_does_not_suggest_one():
    frame = log([(1, "2020-01-01", "a", 5, 2.0, 10), (1, "2020-01-05", "a", -2, 2.0, 11)])
    with pytest.raises(DataError) as err:
        prepare_transactions(frame)
    assert "cancelled=" not in str(err.value)


def test_error_mode_counts_cancellations_apart():
    frame = log([(1, "2020-01-01", "a", 5, 2.0, "536365"),
                 (1, "2020-01-05", "a", -2, 2.0, "C536379"),
                 (1, "2020-01-06", "b", -1, 3.0, "536390")])
    with pytest.raises(DataError, match=r"1 return lines .* and 1 cancellation lines"):
        prepare_transactions(frame, cancelled="C")


def test_drop_removes_returns_and_cancellations_counted_apart():
    frame = log([(1, "2020-01-01", "a", 5, 2.0, "536365"),
                 (1, "2020-01-05", "a", -2, 2.0, "C536379"),
                 (1, "2020-01-05", "b", 3, 1.0, "C536379"),   # odd sign, still cancelled
                 (2, "2020-01-06", "b", -1, 3.0, "536390"),
                 (2, "2020-01-07", "b", 4, 3.0, "536391")])
    quality = Quality()
    out = prepare_transactions(frame, returns="drop", cancelled="C", quality=quality)
    assert out["order"].tolist() == ["536365", "536391"]
    assert quality.dropped == {"zero_quantity": 0, "returns": 1, "cancellations": 2}


def test_without_quantity_a_negative_amount_is_a_return():
    frame = pd.DataFrame({"customer": [1, 1], "date": pd.to_datetime(["2020-01-01"] * 2),
                          "amount": [10.0, -4.0]})
    quality = Quality()
    out = prepare_transactions(frame, returns="drop", quality=quality)
    assert out["amount"].tolist() == [10.0]
    assert quality.dropped == {"returns": 1}


def test_net_partial_return_scales_the_amount():
    frame = log([(1, "2020-01-01", "a", 5, 2.0), (1, "2020-01-03", "a", -2, 2.0)])
    out, quality = net(frame)
    assert out[["quantity", "amount", "price"]].values.tolist() == [[3, 6.0, 2.0]]
    assert quality.changed == {"returns_netted": 1}
    assert quality.dropped == {"zero_quantity": 0, "returns": 1, "returns_unmatched": 0,
                               "returned_in_full": 0}


def test_net_scales_an_amount_that_is_not_quantity_times_price():
    frame = log([(1, "2020-01-01", "a", 4, 2.0), (1, "2020-01-03", "a", -1, 2.0)])
    frame["amount"] = [10.0, -2.5]  # a discounted line
    out, _ = net(frame)
    assert out["amount"].tolist() == [7.5]


def test_net_return_larger_than_purchases_leaves_it_unmatched():
    frame = log([(1, "2020-01-01", "a", 3, 2.0), (1, "2020-01-02", "b", 1, 5.0),
                 (1, "2020-01-04", "a", -5, 2.0)])
    out, quality = net(frame)
    assert out["item"].tolist() == ["b"]
    assert quality.dropped == {"zero_quantity": 0, "returns": 0, "returns_unmatched": 1,
                               "returned_in_full": 1}
    assert quality.changed == {"returns_netted": 0}


def test_net_return_before_any_purchase_is_unmatched():
    frame = log([(1, "2020-01-01", "a", -2, 2.0), (1, "2020-01-03", "a", 5, 2.0),
                 (2, "2020-01-02", "a", 4, 2.0)])  # another customer's purchase does not count
    out, quality = net(frame)
    assert out["quantity"].tolist() == [5, 4]
    assert quality.dropped["returns_unmatched"] == 1
    assert quality.dropped["returns"] == 0


def test_net_takes_units_off_the_latest_earlier_purchase_first():
    frame = log([(1, "2020-01-01", "a", 3, 2.0),   # keeps 2
                 (1, "2020-01-02", "a", 4, 2.0),   # returned in full
                 (1, "2020-01-03", "a", -5, 2.0),
                 (1, "2020-01-04", "a", 6, 2.0)])  # after the return: untouched
    out, quality = net(frame)
    assert out["quantity"].tolist() == [2, 6]
    assert out["amount"].tolist() == [4.0, 12.0]
    assert quality.dropped["returned_in_full"] == 1
    assert quality.changed["returns_netted"] == 1


def test_net_same_date_ties_go_to_the_later_line_and_include_the_return_date():
    frame = log([(1, "2020-01-02", "a", 2, 1.0),    # line 0
                 (1, "2020-01-02", "a", 2, 1.0),    # line 1: later in the file, first to go
                 (1, "2020-01-02", "a", -3, 1.0)])  # same date as both purchases
    out, _ = net(frame)
    assert out["quantity"].tolist() == [1]


def test_net_a_purchase_after_a_return_serves_a_later_return():
    # the return of 2 on the 2nd empties the first purchase; the one of the 5th (listed
    # earlier in the file) takes the unit bought on the 3rd
    frame = log([(1, "2020-01-01", "a", 2, 1.0), (1, "2020-01-05", "a", -1, 1.0),
                 (1, "2020-01-02", "a", -2, 1.0), (1, "2020-01-03", "a", 1, 1.0)])
    out, quality = net(frame)
    assert out.empty
    assert quality.dropped["returns_unmatched"] == 0
    assert quality.dropped["returned_in_full"] == 2


def test_net_cancellations_by_prefix():
    frame = log([(7, "2020-01-01", "a", 6, 1.5, "536365"),
                 (7, "2020-01-01", "b", 2, 4.0, "536365"),
                 (7, "2020-01-02", "a", 2, 1.5, "C536370"),   # odd sign: still returns 2
                 (7, "2020-01-02", "b", -2, 4.0, "C536370")])
    out, quality = net(frame, cancelled="C")
    assert out[["item", "quantity", "amount"]].values.tolist() == [["a", 4, 6.0]]
    assert quality.dropped == {"zero_quantity": 0, "returns": 0, "cancellations": 2,
                               "returns_unmatched": 0, "returned_in_full": 1}


def test_cancelled_needs_an_order_column():
    frame = log([(1, "2020-01-01", "a", 3, 2.0)])
    with pytest.raises(DataError, match="order"):
        prepare_transactions(frame, cancelled="C")


def test_net_without_item_refuses_and_suggests_drop():
    frame = log([(1, "2020-01-01", "a", 3, 2.0), (1, "2020-01-02", "a", -1, 2.0)])
    with pytest.raises(DataError) as err:
        prepare_transactions(frame.drop(columns="item"), returns="net")
    assert "returns='drop'" in err.value.fix


def test_net_without_quantity_nets_amounts():
    frame = pd.DataFrame({"customer": [1, 1], "item": ["a", "a"],
                          "date": pd.to_datetime(["2020-01-01", "2020-01-02"]),
                          "amount": [10.0, -4.0]})
    out, quality = net(frame)
    assert out["amount"].tolist() == [6.0]
    assert quality.changed == {"returns_netted": 1}
    # cents that do not add up exactly in binary still net in full; a free line stays
    frame = pd.DataFrame({"customer": [1] * 4, "item": ["a"] * 4,
                          "date": pd.to_datetime(["2020-01-01", "2020-01-01", "2020-01-01",
                                                  "2020-01-02"]),
                          "amount": [0.1, 0.2, 0.0, -0.3]})
    out, quality = net(frame)
    assert out["amount"].tolist() == [0.0]
    assert quality.dropped["returns_unmatched"] == 0
    assert quality.dropped["returned_in_full"] == 2


def test_input_is_not_mutated():
    frame = log([(1, "2020-01-01", "a", 5, 2.0, "1"), (1, "2020-01-02", "b", 0, 2.0, "1"),
                 (1, "2020-01-03", "a", -2, 2.0, "C2")]).set_index(pd.Index([10, 11, 12]))
    before = frame.copy()
    net(frame, cancelled="C")
    prepare_transactions(frame, returns="drop", amount="quantity*price")
    pd.testing.assert_frame_equal(frame, before)


def test_string_customer_and_item_ids():
    frame = log([("14255A", "2020-01-01", "85123A", 5, 2.0),
                 ("14255A", "2020-01-03", "85123A", -5, 2.0),
                 ("14255", "2020-01-02", "85123A", 1, 2.0)])
    for col in ("customer", "item"):
        frame[col] = frame[col].astype("string")
    out, _ = net(frame)
    assert out["customer"].tolist() == ["14255"]


# --- the vectorised netting against a naive loop --------------------------------------------

def naive_net(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """One return at a time (date order, ties by line), latest earlier purchase first."""
    left = frame["quantity"].tolist()
    dates = frame["date"].to_numpy().astype("int64").tolist()
    who, what = frame["customer"].tolist(), frame["item"].tolist()
    buys: dict[tuple, list[int]] = {}
    returns = []
    for i, (c, it, qty) in enumerate(zip(who, what, left, strict=True)):
        if qty > 0:
            buys.setdefault((c, it), []).append(i)
        elif qty < 0:
            returns.append(i)
    returns.sort(key=lambda i: (dates[i], i))
    unmatched = 0
    for r in returns:
        need = -left[r]
        earlier = [p for p in buys.get((who[r], what[r]), [])
                   if dates[p] <= dates[r] and left[p] > 0]
        for p in sorted(earlier, key=lambda p: (dates[p], p), reverse=True):
            take = min(need, left[p])
            left[p] -= take
            need -= take
            if need == 0:
                break
        unmatched += need > 0
    original, left = frame["quantity"].to_numpy(), np.array(left, dtype="int64")
    keep = (original > 0) & (left > 0)
    out = frame.assign(quantity=left, amount=frame["amount"] * left / np.where(
        original == 0, 1, original))[keep].reset_index(drop=True)
    counts = {"returns": len(returns) - unmatched, "returns_unmatched": unmatched,
              "returned_in_full": int(((original > 0) & (left == 0)).sum()),
              "returns_netted": int(((original > 0) & (left > 0) & (left < original)).sum())}
    return out, counts


def random_log(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    qty = rng.integers(1, 8, n)
    qty = np.where(rng.random(n) < 0.05, -rng.integers(1, 12, n), qty)  # returns, some large
    frame = pd.DataFrame({
        "customer": rng.integers(0, 3_000, n),
        "date": pd.Timestamp("2011-01-01") + pd.to_timedelta(rng.integers(0, 120, n), "D"),
        "item": pd.array(rng.integers(0, 40, n).astype(str), dtype="string"),
        "quantity": qty.astype("int64"),
        "price": rng.integers(50, 2_000, n) / 100,
    })
    return frame.assign(amount=frame["quantity"] * frame["price"])


def test_vectorised_net_matches_the_naive_loop():
    frame = random_log(200_000, seed=3)
    expected, counts = naive_net(frame)
    assert counts["returns_unmatched"] > 100 and counts["returns_netted"] > 100  # all cases hit
    out, quality = net(frame)
    pd.testing.assert_frame_equal(out, expected)
    assert quality.dropped == {"zero_quantity": 0, "returns": counts["returns"],
                               "returns_unmatched": counts["returns_unmatched"],
                               "returned_in_full": counts["returned_in_full"]}
    assert quality.changed == {"returns_netted": counts["returns_netted"]}
