"""Write a realistic e-commerce order export, warts included, like the "Online Retail" file.

    python tests/make_orders.py data/orders.csv [--customers 3000] [--seed 0]

Columns ``InvoiceNo, StockCode, Description, Quantity, InvoiceDate, UnitPrice, CustomerID,
Country``, one line per invoice and product, about two years (December 2010 on) of a few
thousand customers. The file is a test corpus for the readers and
:func:`retaillab.data.prepare.prepare_transactions`, so it has something to find and things to
trip over:

* buying: each customer buys at a gamma-distributed rate (Poisson invoices) until an
  exponentially distributed moment they stop (Pareto/NBD), so churn and CLV models have signal;
  items have Zipf popularity inside themes, customers favour a few themes and an invoice mostly
  sticks to one, so co-purchases have structure and recommenders beat random;
* warts: return lines (negative ``Quantity``, plain invoice numbers) and cancellation invoices
  (``C`` + number, negative quantities), each undoing part of one earlier purchase line of the
  same customer and item; guest invoices with a blank ``CustomerID``; stock codes numeric
  (``22423``), lettered (``85123A``) and special (``POST``); a few customer codes with a letter
  (``14255A``), so customer ids are text; day-first dates ``DD/MM/YYYY HH:MM``; descriptions with
  ``é``, ``£`` and ``–``, and the file written in **cp1252**, not UTF-8.

:func:`make_orders` returns the planted truths (counts of lines, guests, returns...).
Seeded with a numpy Generator and vectorised: 3,000 customers take about a second.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

START = pd.Timestamp("2010-12-01")
DAYS = 730
FIRST_INVOICE = 536_365
POSTAGE = 18.0
COLUMNS = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice",
           "CustomerID", "Country"]

_THEMES = ("T-LIGHT HOLDER", "LUNCH BAG", "CAKE STAND", "MUG", "DOORMAT", "CANDLE", "BUNTING",
           "TEA SET", "PHOTO FRAME", "CHRISTMAS DECORATION", "WATER BOTTLE", "NOTEBOOK",
           "JAM JAR", "CUSHION COVER", "GIFT WRAP", "PURSE", "ALARM CLOCK", "PLANTER",
           "BAKING SET", "PARTY NAPKINS", "DOLLY GIRL BAG", "STORAGE TIN", "HEART BOX",
           "PICNIC BASKET")
_WORDS = ("WHITE", "RED", "PINK", "BLUE", "GREEN", "IVORY", "VINTAGE", "RETRO", "REGENCY",
          "JUMBO", "SWEETHEART", "HANGING", "POLKADOT", "SPOTTY", "FLORAL", "ANTIQUE", "LOVE",
          "SMALL", "LARGE", "SET OF 3", "SET OF 6", "WOODLAND", "PAISLEY", "SKULL")
_FRENCH = ("CAFÉ", "CRÈME", "PÂTISSERIE", "NOËL", "Café", "crème brûlée")  # cp1252 letters
_COUNTRIES = ("United Kingdom", "Germany", "France", "EIRE", "Spain", "Netherlands",
              "Belgium", "Switzerland", "Portugal", "Australia", "Norway")
_COUNTRY_SHARES = (0.86, 0.03, 0.03, 0.02, 0.01, 0.01, 0.01, 0.01, 0.005, 0.005, 0.01)
_QUANTITIES = np.array([1, 2, 3, 4, 6, 8, 12, 24, 48])
_QUANTITY_SHARES = np.array([0.27, 0.17, 0.10, 0.12, 0.10, 0.05, 0.13, 0.05, 0.01])


def make_orders(path: str | Path, *, customers: int = 3000, seed: int = 0) -> dict:
    """Write the export to ``path`` (cp1252 CSV) and return its planted truths.

    Returns a dict: ``lines``, ``invoices``, ``customers``, ``lines_without_customer``,
    ``return_lines`` (negative quantity, plain invoice number), ``cancellation_lines`` and
    ``cancellation_invoices`` (``C`` invoices), ``units_returned`` (both kinds), ``stopped``
    (customers whose buying ended before the last day), ``items``, ``letter_customers``,
    ``first_date``/``last_date`` and ``path``. Every return undoes units of one earlier line of
    the same customer and item, so netting them leaves nothing unmatched.
    """
    rng = np.random.default_rng(seed)
    cat = _catalogue(rng)
    n_items = len(cat["code"])
    n = int(customers)

    # customers: Pareto/NBD buying -- a rate while alive, a lifetime, a start date
    birth = rng.uniform(0, DAYS * 0.8, n)
    rate = rng.gamma(0.9, 7.0 / 0.9, n)                # invoices a year while alive
    death = rng.exponential(1.0 / rng.gamma(0.8, 0.6 / 0.8, n)) * 365
    end = np.minimum(birth + death, DAYS)
    invoices_each = 1 + np.minimum(rng.poisson(rate * (end - birth) / 365), 150)
    country = rng.choice(len(_COUNTRIES), n, p=_COUNTRY_SHARES)
    fav = rng.choice(len(_THEMES), (n, 2), p=cat["theme_share"])
    ids = (12_346 + np.arange(n)).astype(str).astype(object)
    letter = rng.random(n) < 0.02
    ids[letter] = ids[letter] + "A"

    # invoices of customers (the first on the day they arrive) and of guests
    who = np.repeat(np.arange(n), invoices_each)
    first = np.r_[True, who[1:] != who[:-1]]
    day = np.where(first, birth[who], rng.uniform(birth[who], end[who]))
    guests = int(0.08 * len(who))
    who = np.r_[who, np.full(guests, -1)]
    day = np.r_[day, rng.uniform(0, DAYS, guests)]
    inv_country = np.where(who >= 0, country[np.maximum(who, 0)],
                           rng.choice(len(_COUNTRIES), len(who), p=_COUNTRY_SHARES))
    pick = rng.random(len(who))
    theme = np.where(pick < 0.6, fav[np.maximum(who, 0), 0],
                     np.where(pick < 0.9, fav[np.maximum(who, 0), 1],
                              rng.choice(len(_THEMES), len(who), p=cat["theme_share"])))
    minute = (np.floor(day) * 1440 + rng.integers(8 * 60, 19 * 60, len(who))).astype("int64")

    # lines: most from the invoice's theme, the rest from anywhere, by popularity
    per = 1 + rng.poisson(4.5, len(who))
    inv = np.repeat(np.arange(len(who)), per)
    line_theme = np.where(rng.random(len(inv)) < 0.75, theme[inv],
                          rng.choice(len(_THEMES), len(inv), p=cat["theme_share"]))
    item = cat["by_theme"][np.minimum(np.searchsorted(cat["cdf"], line_theme + rng.random(
        len(inv))), n_items - 1)]
    qty = rng.choice(_QUANTITIES, len(inv), p=_QUANTITY_SHARES)
    qty = np.where(cat["price"][item] > 6, np.minimum(qty, 4), qty)
    post = np.flatnonzero((inv_country != 0) & (rng.random(len(who)) < 0.7))  # abroad: postage

    lines = pd.DataFrame({"inv": np.r_[inv, post], "item": np.r_[item, np.full(len(post), -1)],
                          "qty": np.r_[qty, rng.integers(1, 4, len(post))]})

    # returns: part of some earlier lines, weeks later; half of them as cancelled invoices
    bought = lines[(lines["item"] >= 0) & (who[lines["inv"]] >= 0)]
    back = bought[rng.random(len(bought)) < 0.025]
    delay = 1 + rng.exponential(12, len(who))
    late = (np.floor(day + delay) * 1440 + rng.integers(8 * 60, 19 * 60, len(who))).astype("int64")
    back = back[late[back["inv"]] < DAYS * 1440]
    sources = np.unique(back["inv"].to_numpy())
    ret_inv = len(who) + np.searchsorted(sources, back["inv"].to_numpy())
    is_cancel_src = rng.random(len(sources)) < 0.5
    returned = pd.DataFrame({"inv": ret_inv, "item": back["item"].to_numpy(),
                             "qty": -rng.integers(1, back["qty"].to_numpy() + 1)})
    lines = pd.concat([lines, returned], ignore_index=True)
    who = np.r_[who, who[sources]]
    minute = np.r_[minute, late[sources]]
    inv_country = np.r_[inv_country, inv_country[sources]]
    cancel = np.r_[np.zeros(len(minute) - len(sources), bool), is_cancel_src]

    # invoice numbers in time order; lines grouped by invoice
    order = np.lexsort((np.arange(len(minute)), minute))
    number = np.empty(len(minute), "int64")
    number[order] = FIRST_INVOICE + np.arange(len(minute))
    lines = lines.assign(number=number[lines["inv"]]).sort_values("number", kind="stable")
    i, it = lines["inv"].to_numpy(), lines["item"].to_numpy()
    text = number[i].astype(str).astype(object)
    text[cancel[i]] = "C" + text[cancel[i]]
    stamps = pd.Series(START + pd.to_timedelta(np.unique(minute[i]), "min"))
    when = stamps.dt.strftime("%d/%m/%Y %H:%M").to_numpy()[
        np.searchsorted(np.unique(minute[i]), minute[i])]
    out = pd.DataFrame({
        "InvoiceNo": text,
        "StockCode": np.where(it >= 0, cat["code"][np.maximum(it, 0)], "POST"),
        "Description": np.where(it >= 0, cat["description"][np.maximum(it, 0)], "POSTAGE"),
        "Quantity": lines["qty"].to_numpy(),
        "InvoiceDate": when,
        "UnitPrice": np.where(it >= 0, cat["price_text"][np.maximum(it, 0)], f"{POSTAGE:.2f}"),
        "CustomerID": np.where(who[i] >= 0, ids[np.maximum(who[i], 0)], None),
        "Country": np.array(_COUNTRIES, dtype=object)[inv_country[i]],
    })
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # no field holds a comma or a quote, so lines are joined directly (to_csv is 5x slower)
    cells = [out[c].to_numpy(dtype=object, na_value="") if c != "Quantity"
             else out[c].to_numpy().astype(str) for c in COLUMNS]
    body = "\n".join(map(",".join, zip(*cells, strict=True)))
    path.write_bytes((",".join(COLUMNS) + "\n" + body + "\n").encode("cp1252"))

    negative = out["Quantity"].to_numpy() < 0
    in_cancel = cancel[i]
    return {
        "path": str(path), "lines": len(out), "invoices": len(np.unique(i)),
        "customers": n, "letter_customers": int(letter.sum()),
        "lines_without_customer": int(out["CustomerID"].isna().sum()),
        "return_lines": int((negative & ~in_cancel).sum()),
        "cancellation_lines": int(in_cancel.sum()),
        "cancellation_invoices": int(cancel.sum()),
        "units_returned": int(-out["Quantity"].to_numpy()[negative].sum()),
        "stopped": int((birth + death < DAYS).sum()), "items": n_items,
        "first_date": f"{START + pd.Timedelta(minutes=int(minute.min())):%Y-%m-%d}",
        "last_date": f"{START + pd.Timedelta(minutes=int(minute.max())):%Y-%m-%d}",
    }


def _catalogue(rng: np.random.Generator, n_items: int = 900) -> dict:
    """Stock codes, descriptions and prices; ``by_theme``/``cdf`` draw items in one search."""
    theme = np.sort(rng.integers(0, len(_THEMES), n_items))
    base = rng.choice(np.arange(10_000, 90_000), n_items, replace=False).astype(str)
    suffix = np.where(rng.random(n_items) < 0.18,
                      np.array(list("ABCDEFG"))[rng.integers(0, 7, n_items)], "")
    code = np.char.add(base, suffix).astype(object)
    words = np.array(_WORDS, dtype=object)[rng.integers(0, len(_WORDS), (n_items, 2))]
    description = words[:, 0] + " " + words[:, 1] + " " + np.array(_THEMES, dtype=object)[theme]
    flavour = rng.random(n_items)
    french = np.array(_FRENCH, dtype=object)[rng.integers(0, len(_FRENCH), n_items)]
    description = np.where(flavour < 0.10, french + " " + description, description)
    description = np.where((flavour >= 0.10) & (flavour < 0.16),
                           description + " – " + words[:, 0], description)
    description = np.where((flavour >= 0.16) & (flavour < 0.19),
                           "£" + (1 + theme % 5).astype(str) + " " + description, description)
    price = np.maximum(np.round(rng.lognormal(0.9, 0.8, n_items), 2), 0.19)
    # Zipf popularity inside each theme; themes themselves are skewed too
    rank = np.empty(n_items)
    starts = np.r_[0, np.flatnonzero(np.diff(theme)) + 1]
    for t0, t1 in zip(starts, np.r_[starts[1:], n_items], strict=True):  # 24 themes, not lines
        rank[t0:t1] = rng.permutation(t1 - t0) + 1
    weight = rank ** -1.1
    total = np.bincount(theme, weight, len(_THEMES))
    within = np.cumsum(weight) - np.r_[0, np.cumsum(total)][theme]
    cdf = theme + within / total[theme]
    share = rng.dirichlet(np.full(len(_THEMES), 2.0))
    share = np.where(total > 0, share, 0)
    return {"code": code, "description": description, "price": price,
            "price_text": np.array([f"{p:.2f}" for p in price], dtype=object),  # 900, not lines
            "by_theme": np.arange(n_items), "cdf": cdf, "theme_share": share / share.sum()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="the CSV to write (cp1252)")
    parser.add_argument("--customers", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    truth = make_orders(args.out, customers=args.customers, seed=args.seed)
    print(f"wrote {truth['path']}: {truth['lines']:,} lines, {truth['invoices']:,} invoices, "
          f"{truth['customers']:,} customers, {truth['lines_without_customer']:,} lines "
          f"without a customer, {truth['return_lines']:,} return lines, "
          f"{truth['cancellation_lines']:,} cancellation lines")


if __name__ == "__main__":
    main()
