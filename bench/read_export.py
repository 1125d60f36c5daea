"""Reading and preparing a big order export, against a bare pyarrow read of the same file.

The file is generated (seeded, vectorised) like the "Online Retail" export: invoice (2% of
them cancelled, ``C`` prefix), stock code (1 in 10 alphanumeric), description, quantity
(negative on cancellations), invoice date (``DD/MM/YYYY HH:MM``), unit price, customer id
(a quarter missing) and country. Then, each in a fresh process, after the OS file cache is
warmed:

(a) ``pd.read_csv(path, engine="pyarrow")``: the least a pandas user does;
(b) ``read_transactions(path, columns=..., amount="quantity*price", returns="net",
    cancelled="C", missing_ids="drop", dayfirst=True)``: checked, typed and prepared.

Time is the median of REPEATS processes; memory is each process's peak resident size
(``ru_maxrss``) above what it held after its imports, over the file's size.

Run: ``python bench/read_export.py [--lines 5000000]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPEATS = 3
COLUMNS = {"order": "InvoiceNo", "item": "StockCode", "quantity": "Quantity",
           "date": "InvoiceDate", "price": "UnitPrice", "customer": "CustomerID"}

CHILD = """
import json, resource, time
import pandas as pd
from retaillab.data.user import read_transactions
path, which = {path!r}, {which!r}
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
if which == "bare":
    frame = pd.read_csv(path, engine="pyarrow")
else:
    frame = read_transactions(path, columns={columns!r}, amount="quantity*price",
                              returns="net", cancelled="C", missing_ids="drop", dayfirst=True)
seconds = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"seconds": seconds, "mb": (peak - base) / 1024, "rows": len(frame)}}))
"""


def generate(path: Path, lines: int, seed: int = 0) -> None:
    """Write an order export of ``lines`` lines (plus the header) to ``path``."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv

    rng = np.random.default_rng(seed)
    n_products, n_customers = 4000, 4400
    invoices = max(lines // 20, 1)
    words = np.array(["WHITE", "HANGING", "HEART", "T-LIGHT", "HOLDER", "METAL", "LANTERN",
                      "CREAM", "CUPID", "HEARTS", "COAT", "HANGER", "KNITTED", "UNION", "FLAG",
                      "HOT", "WATER", "BOTTLE", "RED", "WOOLLY", "GLASS", "STAR", "FROSTED"])
    picks = rng.integers(0, len(words), (n_products, 4))
    description = pa.array([" ".join(words[p]) for p in picks])
    code = pa.array([f"{84000 + i}" + ("ABCDE"[i % 5] if i % 10 == 0 else "")
                     for i in range(n_products)])
    price = pa.array([f"{p:.2f}" for p in np.round(rng.gamma(2.0, 1.6, n_products) + 0.1, 2)])
    countries = pa.array(["United Kingdom"] * 9 + ["France", "Germany", "EIRE", "Spain"])
    # invoices: number, customer (a quarter missing), time, country, cancelled or not
    start = np.datetime64("2010-12-01T08:00", "m")
    minutes = np.sort(rng.integers(0, 373 * 24 * 60, invoices))
    when = pc.strftime(pa.array((start + minutes).astype("datetime64[s]")),
                       format="%d/%m/%Y %H:%M")
    cancelled = rng.random(invoices) < 0.02
    number = pc.cast(pa.array(536365 + np.arange(invoices)), pa.string())
    number = pc.if_else(pa.array(cancelled), pc.binary_join_element_wise("C", number, ""),
                        number)
    customer = pc.cast(pa.array(12346 + rng.integers(0, n_customers, invoices)), pa.string())
    customer = pc.if_else(pa.array(rng.random(invoices) < 0.25), pa.scalar(None, pa.string()),
                          customer)
    country = countries.take(pa.array(rng.integers(0, len(countries), invoices)))
    # lines: each belongs to an invoice (in order) and names a product
    invoice = pa.array(np.sort(rng.integers(0, invoices, lines)))
    product = pa.array(rng.integers(0, n_products, lines))
    quantity = rng.choice([1, 2, 3, 4, 6, 8, 12, 24], lines)
    quantity = np.where(np.asarray(pc.take(pa.array(cancelled), invoice)), -quantity, quantity)
    table = pa.table({
        "InvoiceNo": number.take(invoice), "StockCode": code.take(product),
        "Description": description.take(product), "Quantity": pa.array(quantity),
        "InvoiceDate": when.take(invoice), "UnitPrice": price.take(product),
        "CustomerID": customer.take(invoice), "Country": country.take(invoice)})
    pcsv.write_csv(table, path, pcsv.WriteOptions(quoting_style="needed"))


def measure(path: Path, which: str) -> dict[str, float]:
    runs = []
    for _ in range(REPEATS):
        code = CHILD.format(path=str(path), which=which, columns=COLUMNS)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True).stdout
        runs.append(json.loads(out.strip().splitlines()[-1]))
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=5_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "orders.csv"
        generate(path, args.lines)
        size_mb = path.stat().st_size / 2**20
        path.read_bytes()  # warm the OS file cache
        print(f"order export: {args.lines:,} lines, {size_mb:,.0f} MiB; median of {REPEATS} "
              "fresh processes each\n")
        bare, ours = measure(path, "bare"), measure(path, "read")
    header = f"{'reader':<34} {'s':>7} {'peak MiB':>9} {'peak/file':>10} {'rows':>11}"
    print(header)
    print("-" * len(header))
    for name, m in (("pd.read_csv(engine='pyarrow')", bare), ("read_transactions (prepared)",
                                                              ours)):
        print(f"{name:<34} {m['seconds']:>7.2f} {m['mb']:>9,.0f} {m['mb'] / size_mb:>9.2f}x "
              f"{int(m['rows']):>11,}")
    print(f"\ntime read_transactions / bare read: {ours['seconds'] / bare['seconds']:.2f}x")


if __name__ == "__main__":
    main()
