"""An order log too big for pandas, checked and aggregated by DuckDB (see the package doc)."""

from __future__ import annotations

import shutil
import tempfile
import warnings
import weakref
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from retaillab.data.schema import COLUMNS as C
from retaillab.errors import DataError, ParameterError, check_choice
from retaillab.outofcore._source import (
    LINE_SCAN_BYTES,
    Checks,
    Column,
    Problem,
    csv_source,
    ident,
    lit,
    parquet_schema,
    parquet_source,
    source_files,
)

__all__ = ["OrderLog"]

_DAY_US = 86_400_000_000
_STAGE = {C.customer: 1, C.date: 2, C.amount: 3, C.quantity: 4, C.price: 5, C.item: 6,
          C.order: 7}


def _text_mapper(dtype):
    import pyarrow as pa

    from retaillab.data.reading import TEXT

    if dtype in (pa.string(), pa.large_string()) or str(dtype) == "string_view":
        return TEXT
    return None


class OrderLog:
    """An order log (a CSV file, a Parquet file or a folder of Parquet files) read by DuckDB.

    The file is checked as :func:`retaillab.data.read_transactions` checks it (same column
    mapping, same id, date and amount rules, one :class:`~retaillab.errors.DataError` listing
    every problem), then written once, typed, to a DuckDB database in a temporary directory
    that also takes DuckDB's spills. Each method is one SQL query over it; only its result,
    an aggregate, comes into pandas, equal to the pandas function's on the same data.

    Parameters
    ----------
    path
        A ``.csv`` (or ``.tsv``, ``.txt``, ``.csv.gz``) file, a ``.parquet`` file or a folder
        of Parquet files (read recursively; every file must store a column with one type).
    columns, sep, id_type, date_format, dayfirst, decimal, missing_ids, encoding
        As in :func:`~retaillab.data.read_transactions` (UTF-8, UTF-16 and Latin-1 files
        only; ``sep`` one character). Returns, cancellations, amounts from unit prices and
        duplicate handling are not done here: the log must hold purchases, like
        ``read_transactions``' defaults require (negative amounts and quantities below 1 are
        refused).
    memory_limit
        DuckDB's memory limit, e.g. ``"2GB"``; past it DuckDB spills to the temporary
        directory.
    threads
        DuckDB's worker threads (``None``: one per core).
    temp_directory
        Where the temporary directory is made (``None``: the system's); it is removed by
        :meth:`close` (or when the object is garbage-collected).

    Example
    -------
    >>> orders = OrderLog("orders/", columns={"customer": "cust_id"})   # doctest: +SKIP
    >>> orders.rfm_summary(calibration_end="2024-06-30", unit="W")      # doctest: +SKIP
    """

    def __init__(self, path: str | Path, *, columns: dict[str, str] | None = None,
                 sep: str | None = None, id_type: str = "auto", date_format: str | None = None,
                 dayfirst: bool | None = None, decimal: str = ".", missing_ids: str = "error",
                 encoding: str | None = None, memory_limit: str = "2GB",
                 threads: int | None = None, temp_directory: str | Path | None = None) -> None:
        import duckdb

        from retaillab.data.user import _check_common

        check_choice("id_type", id_type, ("auto", "int", "str"))
        check_choice("decimal", decimal, (".", ","))
        _check_common(missing_ids, dayfirst, date_format)
        if not isinstance(memory_limit, str) or not memory_limit.strip():
            raise ParameterError("memory_limit", "a size such as '2GB' or '500MB'", memory_limit)
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)
                                    or threads < 1):
            raise ParameterError("threads", "a whole number >= 1 or None", threads)
        self.path = Path(path)
        self.source = str(path)
        kind, files = source_files(self.path)
        self._kind = kind
        self._dir = Path(tempfile.mkdtemp(prefix="retaillab-outofcore-",
                                          dir=None if temp_directory is None
                                          else str(temp_directory)))
        self._con = duckdb.connect(str(self._dir / "log.duckdb"))
        self._finalizer = weakref.finalize(self, _release, self._con, self._dir)
        try:
            self._settings(memory_limit, threads)
            self._open(kind, files, columns, sep, encoding)
            self._check(id_type, date_format, dayfirst, decimal, missing_ids)
            self._load()
        except BaseException:
            self.close()
            raise

    # --- set-up -----------------------------------------------------------------------

    def _settings(self, memory_limit: str, threads: int | None) -> None:
        import duckdb

        spill = self._dir / "spill"
        try:
            self._con.execute(f"SET memory_limit = {lit(memory_limit)}")
        except duckdb.Error:
            raise ParameterError("memory_limit", "a size such as '2GB' or '500MB'",
                                 memory_limit) from None
        self._con.execute(f"SET temp_directory = {lit(str(spill))}")
        if threads is not None:
            self._con.execute(f"SET threads = {int(threads)}")
        self._con.execute("SET TimeZone = 'UTC'")
        self._con.execute("SET enable_progress_bar = false")

    def _run(self, sql: str) -> list[tuple]:
        """Rows of a query over the source; DuckDB's reading errors become DataErrors."""
        import duckdb

        try:
            return self._con.execute(sql).fetchall()
        except (duckdb.InvalidInputException, duckdb.IOException) as exc:
            raise self._read_error(exc) from None

    def _arrow(self, sql: str):
        import duckdb

        try:
            return self._con.sql(sql).to_arrow_table()
        except (duckdb.InvalidInputException, duckdb.IOException) as exc:
            raise self._read_error(exc) from None

    def _read_error(self, exc: Exception) -> DataError:
        text = str(exc).splitlines()
        kept = []
        for line in text:
            if line.startswith(("Possible", "*", "  file =")) or not line.strip():
                break
            kept.append(line.strip())
        what = "; ".join(kept).replace("Invalid Input Error: ", "").replace("IO Error: ", "")
        return DataError(f"cannot be read: {what}", source=self.source,
                         fix="check the delimiter (sep), the quoting and the encoding; "
                             "data.read_transactions lists every line at fault")

    def _open(self, kind: str, files: list[Path], columns: dict[str, str] | None,
              sep: str | None, encoding: str | None) -> None:
        from retaillab.data.user import _mapped

        root = self.path
        if kind == "csv":
            src, header, self._delimiter, self._encoding = csv_source(self.path, sep, encoding)
            raw = {name: f"c{i}" for i, name in enumerate(header)}
            types = dict.fromkeys(header, "VARCHAR")
            present = header
        else:
            present = parquet_schema(files, root, [])
            src = parquet_source(files, root)
            described = self._run(f"DESCRIBE SELECT * FROM {src}")
            types = {row[0]: row[1] for row in described}
            raw = {name: ident(name) for name in present}
        _, names = _mapped(pd.DataFrame(columns=present), "transactions", columns,
                               self.source, (C.customer, C.date, C.amount))
        if kind == "parquet":
            parquet_schema(files, root, list(names.values()),  # one type per column
                           tuple(names[c] for c in (C.customer, C.item, C.order) if c in names))
        self._columns = {canonical: Column(canonical, theirs, raw[theirs], types[theirs],
                                           kind == "csv")
                         for canonical, theirs in names.items()}
        self._unit_price_warning()
        if kind == "csv":
            from retaillab.data.reading import NA_TOKENS

            tokens = ", ".join(lit(t) for t in NA_TOKENS)
            blank = " AND ".join(f"coalesce({c} IN ({tokens}), TRUE)" for c in raw.values())
            self._con.execute(f"CREATE TEMP VIEW clean AS SELECT * FROM {src} "
                              f"WHERE NOT ({blank})")
        else:
            self._con.execute(f"CREATE TEMP VIEW clean AS SELECT * FROM {src}")
            prefix = str(root) + "/" if root.is_dir() else str(root.parent) + "/"
            located = parquet_source(files, root, located=True)
            self._con.execute(
                f"CREATE TEMP VIEW clean_at AS SELECT *, replace(filename, {lit(prefix)}, '') "
                f"|| ':' || CAST(file_row_number AS VARCHAR) AS _pos FROM {located}")
        self._line_numbers = None

    def _unit_price_warning(self) -> None:
        from retaillab.data.user import _PRICE_LIKE

        amount = self._columns.get(C.amount)
        if amount is not None and _PRICE_LIKE.match(amount.theirs) and \
                C.quantity in self._columns:
            warnings.warn(
                f"{self.source}: amount is mapped to {amount.theirs!r}, which looks like a unit "
                "price, and the file has quantities: the amounts are read as they are (compute "
                "quantity x price into the export, or read it with data.read_transactions("
                "..., amount='quantity*price'))", UserWarning, stacklevel=4)

    # --- checks -----------------------------------------------------------------------

    def _check(self, id_type: str, date_format: str | None, dayfirst: bool | None,
               decimal: str, missing_ids: str) -> None:
        cols = self._columns
        ids = [c for c in (C.customer, C.item, C.order) if c in cols]
        missing = {c: cols[c].missing for c in ids}
        self.dropped: dict[str, int] = {}
        keep = "TRUE"
        located = self._kind == "parquet"
        if missing_ids == "drop":  # rows without an id go first; the checks see the rest
            Checks(self._run, cols, keep, id_type, date_format, dayfirst, decimal,
                   self.source, located).define_vals(located)
            seen = " OR ".join(missing[c] for c in ids)
            counts = ["count(*)"] + [
                f"count_if({missing[c]}" + (" AND NOT (" + " OR ".join(
                    missing[s] for s in ids[:i]) + "))" if i else ")")
                for i, c in enumerate(ids)]
            got = self._run("SELECT " + ", ".join(counts) + " FROM vals")[0]
            self._no_rows(got[0])
            self.dropped = {f"no_{c}_id": int(n) for c, n in zip(ids, got[1:], strict=True)}
            if got[0] - sum(self.dropped.values()) == 0:
                raise DataError("every row lacks an id", source=self.source, column=ids[0],
                                fix="map the id columns (columns=...)")
            keep = f"NOT ({seen})"
        checks = Checks(self._run, cols, keep, id_type, date_format, dayfirst, decimal,
                        self.source, located)
        checks.plan(missing if missing_ids == "error" else None)
        self._no_rows(checks.got_rows)
        self.rows_read = int(checks.got_rows + sum(self.dropped.values()))
        problems = sorted(checks.problems, key=lambda p: (p.stage, _STAGE.get(p.column, 9)))
        if problems:
            raise DataError.of([self._error(p, keep) for p in problems])
        self._keep = keep
        self._final = checks.final
        self.id_types = dict(checks.id_kinds)
        self.date_format = checks.date_fmt

    def _no_rows(self, rows: int) -> None:
        if rows == 0:
            raise DataError("the file has a header but no rows" if self._kind == "csv"
                            else "the files have no rows", source=self.source,
                            fix="export the data again")

    def _error(self, problem: Problem, keep: str) -> DataError:
        from retaillab.outofcore._source import examples

        rows = None
        if problem.where is not None:
            if self._kind == "csv":
                rows = self._csv_examples(problem, keep)
            else:
                rows = examples(self._arrow, problem, "vals_at", keep, problem.show,
                                self._columns, None)
        return DataError(problem.what, source=self.source, column=problem.column, rows=rows,
                         n_bad=problem.n_bad, fix=problem.fix)

    def _csv_examples(self, problem: Problem, keep: str) -> pd.DataFrame:
        """The first five failing rows, in file order: their positions among the data rows
        from a stream of the predicate, their line numbers from a scan of a small file."""
        import pyarrow.compute as pc

        where = f"({keep}) AND ({problem.where})"
        reader = self._con.sql(f"SELECT coalesce({where}, FALSE) FROM vals").to_arrow_reader(
            1 << 20)
        found: list[int] = []
        offset = 0
        for batch in reader:
            hits = np.flatnonzero(pc.fill_null(batch.column(0), False).to_numpy(
                zero_copy_only=False))
            found.extend((hits[: 5 - len(found)] + offset).tolist())
            offset += batch.num_rows
            if len(found) >= 5:
                break
        reader.close()
        cols = [c for c in problem.show if c in self._columns]
        values = ", ".join(f"{self._columns[c].shown} AS {ident(c)}" for c in cols) or "NULL"
        frame = self._arrow(f"SELECT {values} FROM vals WHERE {where} LIMIT 5").to_pandas()
        frame = frame[cols].astype(object).where(frame[cols].notna(), None)
        positions = np.asarray(found[: len(frame)], dtype=np.int64)
        lines = self._lines()
        index = pd.Index(lines[positions], name="line") if lines is not None else \
            pd.Index(positions, name="row")
        return frame.iloc[: len(positions)].set_axis(index)

    def _lines(self) -> np.ndarray | None:
        """The file line of each data row (a Python scan: small files only)."""
        from retaillab.data.reading import _Scan

        if self._line_numbers is None and self.path.stat().st_size <= LINE_SCAN_BYTES:
            width = len(self._run("DESCRIBE SELECT * FROM clean"))
            self._line_numbers = _Scan(self.path, self._encoding, self._delimiter,
                                       width).row_lines()
        return self._line_numbers

    # --- the typed table --------------------------------------------------------------

    def _load(self) -> None:
        stored = [c for c in (C.customer, C.date, C.amount, C.quantity, C.item, C.order)
                  if c in self._final]
        body = ", ".join(f"{self._final[c]} AS {ident(c)}" for c in stored)
        self._con.execute("SET preserve_insertion_order = false")
        self._run(f"CREATE TABLE lines AS SELECT {body} FROM vals WHERE {self._keep}")
        self._con.execute("SET preserve_insertion_order = true")
        for view in ("vals_at", "vals", "clean_at", "clean"):
            self._con.execute(f"DROP VIEW IF EXISTS {view}")
        n, first, last = self._con.execute(
            "SELECT count(*), min(date), max(date) FROM lines").fetchall()[0]
        self.n_lines = int(n)
        self.first_date, self.last_date = pd.Timestamp(first), pd.Timestamp(last)
        self.has = {c: c in stored for c in (C.quantity, C.item, C.order)}

    # --- results ----------------------------------------------------------------------

    def _frame(self, sql: str) -> pd.DataFrame:
        return self._con.sql(sql).to_arrow_table().to_pandas(types_mapper=_text_mapper)

    def sql(self, query: str) -> pd.DataFrame:
        """Any query over the checked table ``lines`` (canonical columns), as a frame: for
        aggregates this class does not have. Mind the size of what you select."""
        return self._frame(query)

    def close(self) -> None:
        """Close the connection and remove the temporary directory."""
        self._finalizer()

    def __enter__(self) -> OrderLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        n = getattr(self, "n_lines", None)
        return f"OrderLog({self.source!r}, lines={n:,})" if n is not None else \
            f"OrderLog({self.source!r})"

    # --- aggregates ---------------------------------------------------------------------

    def rfm_summary(self, *, calibration_end: object, unit: str = "W",
                    holdout_end: object = None) -> pd.DataFrame:
        """:func:`retaillab.clv.rfm_summary` of the log: frequency, recency, T and monetary
        value per customer (purchase occasions are calendar days), holdout columns with
        ``holdout_end``. Same index, columns and dtypes; amounts summed in another order,
        so equal to about 1e-12 relative."""
        from retaillab.clv._occasions import check_periods, timestamp, unit_days

        days = unit_days(unit)
        span = pd.Series([self.first_date.normalize(), self.last_date.normalize()])
        cal_end = timestamp("calibration_end", calibration_end, span)
        hold_end = None if holdout_end is None else timestamp("holdout_end", holdout_end, span)
        check_periods(span, cal_end, hold_end)
        cal = f"DATE {lit(f'{cal_end:%Y-%m-%d}')}"
        hold = "" if hold_end is None else (
            ", hold AS (SELECT customer, count(*) AS hn, fsum(amount) AS htotal FROM occ "
            f"WHERE day > {cal} AND day <= DATE {lit(f'{hold_end:%Y-%m-%d}')} "
            "GROUP BY customer)")
        sql = (
            "WITH occ AS (SELECT customer, CAST(date AS DATE) AS day, fsum(amount) AS amount "
            "FROM lines GROUP BY customer, day), "
            "cal AS (SELECT customer, count(*) AS n, datediff('day', min(day), max(day)) AS span, "
            f"datediff('day', min(day), {cal}) AS age, fsum(amount) AS total, "
            f"arg_min(amount, day) AS first_amount FROM occ WHERE day <= {cal} "
            f"GROUP BY customer){hold} "
            "SELECT cal.* " + (", coalesce(hn, 0) AS hn, htotal" if hold else "") +
            " FROM cal" + (" LEFT JOIN hold USING (customer)" if hold else "") +
            " ORDER BY customer")
        got = self._frame(sql)
        if got.empty:
            raise DataError(f"no customer made a first purchase by calibration_end "
                            f"{cal_end.date()}", source=self.source, column=C.date,
                            fix="choose a later calibration_end")
        frequency = (got["n"].to_numpy() - 1).astype(int)
        repeat_spend = got["total"].to_numpy() - got["first_amount"].to_numpy()
        out = pd.DataFrame({
            "frequency": frequency,
            "recency": got["span"].to_numpy() / days,
            "T": got["age"].to_numpy() / days,
            "monetary_value": np.where(frequency > 0, repeat_spend / np.maximum(frequency, 1),
                                       0.0),
        }, index=pd.Index(got["customer"], name=C.customer))
        if hold_end is not None:
            hn = got["hn"].to_numpy().astype(int)
            out["frequency_holdout"] = hn
            with np.errstate(invalid="ignore", divide="ignore"):
                mean = got["htotal"].to_numpy(dtype=float, na_value=np.nan) / hn
            out["monetary_value_holdout"] = np.where(hn > 0, mean, 0.0)
            out["duration_holdout"] = (hold_end - cal_end).days / days
        return out

    def transaction_features(self, cutoff: object, *,
                             windows: Sequence[int] | None = None) -> pd.DataFrame:
        """:func:`retaillab.churn.transaction_features` of the log at ``cutoff`` (the
        transaction features; events and items are not taken here). Same index, columns and
        dtypes; sums, means and standard deviations equal to about 1e-12 relative."""
        from retaillab.churn.features import WINDOWS, _cutoff, _windows

        cut = _cutoff(cutoff)
        windows = _windows(WINDOWS if windows is None else windows)
        stamp = f"TIMESTAMP {lit(cut.stamp.isoformat(sep=' '))}"
        past = (f"date < TIMESTAMP {lit(cut.end.isoformat(sep=' '))}" if cut.whole_day
                else f"date <= {stamp}")
        if self._con.execute(f"SELECT count(*) FROM lines WHERE {past}").fetchall()[0][0] == 0:
            raise DataError(f"no transaction at or before the cut-off {cut.stamp:%Y-%m-%d} "
                            f"(the first is on {self.first_date:%Y-%m-%d})", source=self.source,
                            column=C.date, fix="choose a later cut-off")

        def before(x: str) -> str:
            x = f"date_trunc('day', {x})" if cut.whole_day else x
            return f"CAST(epoch_us({stamp}) - epoch_us({x}) AS DOUBLE) / {_DAY_US}.0"

        key = ident(C.order) if self.has[C.order] else "date"
        quantity = self.has[C.quantity]
        per_window = ", ".join(
            f"CAST(count_if(age < {w}) AS DOUBLE) AS o{w}, "
            f"fsum(CASE WHEN age < {w} THEN amount ELSE 0.0 END) AS a{w}, "
            f"CAST(count_if(age >= {w} AND age < {2 * w}) AS DOUBLE) AS b{w}" for w in windows)
        sql = (
            f"WITH o AS (SELECT customer, {key} AS k, min(date) AS date, fsum(amount) AS amount"
            + (", sum(quantity) AS quantity" if quantity else "") +
            f" FROM lines WHERE {past} GROUP BY customer, k), "
            "s AS (SELECT *, CAST(epoch_us(date) - epoch_us(lag(date) OVER w) AS DOUBLE) / "
            f"{_DAY_US}.0 AS gap, row_number() OVER w AS rn, {before('date')} AS age FROM o "
            "WINDOW w AS (PARTITION BY customer ORDER BY date, k)) "
            f"SELECT customer, {before('max(date)')} AS recency_days, "
            f"{before('min(date)')} AS tenure_days, CAST(count(*) AS DOUBLE) AS frequency, "
            "fsum(amount) AS monetary_total, "
            + ("CAST(sum(quantity) AS DOUBLE) AS quantity_total, " if quantity else "") +
            "CASE WHEN count(gap) > 0 THEN fsum(gap) / count(gap) END AS ipt_mean, "
            "stddev_samp(gap) AS ipt_std, max(gap) AS ipt_max, arg_max(gap, rn) AS ipt_last, "
            f"{per_window} FROM s GROUP BY customer ORDER BY customer")
        got = self._frame(sql).set_index(C.customer)
        out = got[["recency_days", "tenure_days", "frequency"]].copy()
        out["order_rate_30d"] = out["frequency"] / np.maximum(out["tenure_days"], 1.0) * 30
        out["monetary_total"] = got["monetary_total"]
        out["monetary_mean"] = out["monetary_total"] / out["frequency"]
        if quantity:
            out["quantity_total"] = got["quantity_total"]
        for name in ("mean", "std", "max", "last"):
            out[f"ipt_{name}"] = got[f"ipt_{name}"].astype("float64")
        out["overdue"] = out["recency_days"] / out["ipt_mean"].where(out["ipt_mean"] > 0)
        for w in windows:
            out[f"orders_{w}d"] = got[f"o{w}"]
            out[f"amount_{w}d"] = got[f"a{w}"]
            out[f"trend_{w}d"] = got[f"o{w}"] - got[f"b{w}"]
        out.index.name = C.customer
        return out

    def interactions(self, *, weight: str = "lines",
                     to: str | Path | None = None) -> pd.DataFrame | Path:
        """:func:`retaillab.data.feedback.from_transactions` of the log: ``user, item,
        timestamp, count`` per customer x item, sorted. With ``to`` the table is written to
        that Parquet file instead (it can be nearly as long as the log) and its path
        returned."""
        from retaillab.data.feedback import WEIGHTS

        check_choice("weight", weight, WEIGHTS)
        if not self.has[C.item]:
            raise DataError("no column 'item': implicit feedback needs to know what each "
                            "customer bought", source=self.source, column=C.item,
                            fix="map the product column onto 'item' (columns={'item': "
                                "'your_product_column'})")
        if weight == "quantity" and not self.has[C.quantity]:
            raise DataError("no column 'quantity'", source=self.source, column=C.quantity,
                            fix="weight='lines' counts lines and needs no quantity")
        count = "count(*)" if weight == "lines" else "sum(quantity)"
        sql = (f"SELECT customer AS {ident(C.user)}, item AS {ident(C.item)}, "
               f"max(date) AS {ident(C.timestamp)}, CAST({count} AS BIGINT) AS count "
               f"FROM lines GROUP BY customer, item HAVING {count} > 0 "
               f"ORDER BY {ident(C.user)}, {ident(C.item)}")
        if weight == "quantity":
            dropped = self._con.execute(
                "SELECT count(*) FROM (SELECT sum(quantity) AS q FROM lines GROUP BY customer, "
                "item) WHERE q <= 0").fetchall()[0][0]
            if dropped:  # quantities are checked to be 1 or more, so this is for safety
                warnings.warn(f"{dropped:,} customer x item pairs have a total quantity of 0 "
                              "or less (returned) and are dropped", UserWarning, stacklevel=2)
        if to is not None:
            target = Path(to)
            self._con.execute(f"COPY ({sql}) TO {lit(str(target))} (FORMAT parquet)")
            return target
        return self._frame(sql)

    def _ordinal(self, period: str) -> str:
        """SQL of the pandas Period ordinal of ``date`` (M, Q, or W-SUN weeks)."""
        if period == "M":
            return "((year(date) - 1970) * 12 + month(date) - 1)"
        if period == "Q":
            return "((year(date) - 1970) * 4 + (month(date) - 1) // 3)"
        return f"((epoch_us(date) // {_DAY_US} + 3) // 7 + 1)"

    def kpis(self, *, period: str = "M") -> pd.DataFrame:
        """:func:`retaillab.behaviour.kpis` of the log (without events): active, new and
        returning customers, orders, revenue, AOV, frequency, repurchase rate and retention
        per period, with their changes. Same index, columns and dtypes; revenue summed in
        another order, so equal to about 1e-12 relative."""
        from retaillab.behaviour.kpis import KPIS, PERIODS, _ratio

        check_choice("period", period, PERIODS)
        okey = ident(C.order) if self.has[C.order] else "CAST(date AS DATE)"
        ordinal = self._ordinal(period)
        # the customer-periods once (a temporary table, spilled like the rest), then counts
        self._con.execute(
            f"CREATE OR REPLACE TEMP TABLE _cp AS SELECT customer, {ordinal} AS p, "
            f"count(DISTINCT {okey}) AS n FROM lines GROUP BY customer, p")
        try:
            per = self._frame("SELECT p, count(*) AS active, count_if(n >= 2) AS repeat, "
                              "CAST(sum(n) AS BIGINT) AS orders FROM _cp GROUP BY p")
            new = self._frame("SELECT f AS p, count(*) AS new FROM (SELECT min(p) AS f FROM "
                              "_cp GROUP BY customer) GROUP BY f")
            kept = self._frame("SELECT a.p, count(*) AS retained FROM _cp a JOIN _cp b ON "
                               "a.customer = b.customer AND b.p = a.p - 1 GROUP BY a.p")
        finally:
            self._con.execute("DROP TABLE IF EXISTS _cp")
        rev = self._frame(f"SELECT {ordinal} AS p, fsum(amount) AS revenue FROM lines "
                          "GROUP BY p")
        start, end = int(per["p"].min()), int(per["p"].max())
        n = end - start + 1

        def dense(frame: pd.DataFrame, col: str, dtype) -> np.ndarray:
            out = np.zeros(n, dtype=dtype)
            out[frame["p"].to_numpy(dtype=np.int64) - start] = frame[col].to_numpy(dtype=dtype)
            return out

        active = dense(per, "active", np.int64)
        new_ = dense(new, "new", np.int64)
        orders = dense(per, "orders", np.int64)
        repeat = dense(per, "repeat", np.float64)
        retained = dense(kept, "retained", np.int64)
        revenue = dense(rev, "revenue", np.float64)
        retention = np.full(n, np.nan)
        retention[1:] = _ratio(retained[1:], active[:-1])
        table = pd.DataFrame({
            "customers": active, "active": active, "new": new_, "returning": active - new_,
            "orders": orders, "revenue": revenue, "aov": _ratio(revenue, orders),
            "frequency": _ratio(orders, active), "repurchase_rate": _ratio(repeat, active),
            "retention": retention,
        }, index=pd.period_range(pd.Period(ordinal=start, freq=period), periods=n,
                                 name="period"))
        names = list(KPIS)
        values = table[names].to_numpy(dtype=float)
        change = np.full(values.shape, np.nan)
        change[1:] = _ratio(values[1:], values[:-1]) - 1.0
        change[1:][values[:-1] == 0] = np.nan
        return table.join(pd.DataFrame(change, index=table.index,
                                       columns=[f"{k}_change" for k in names]))

    def cohorts(self, *, period: str = "M", max_age: int | None = None):
        """:func:`retaillab.behaviour.cohorts` of the log: acquisition cohorts' retention,
        counts, sizes and cumulative revenue per member, age by age (a
        :class:`~retaillab.behaviour.kpis.Cohorts`)."""
        from retaillab.behaviour.kpis import PERIODS, Cohorts

        check_choice("period", period, PERIODS)
        if max_age is not None and (not isinstance(max_age, int | np.integer) or max_age < 0):
            raise ParameterError("max_age", "a whole number >= 0 or None", max_age)
        ordinal = self._ordinal(period)
        base = (f"WITH l AS (SELECT customer, {ordinal} AS p, amount FROM lines), "
                "cp AS (SELECT DISTINCT customer, p FROM l), "
                "fp AS (SELECT customer, min(p) AS f FROM cp GROUP BY customer) ")
        count = self._frame(base + "SELECT f, p - f AS age, count(*) AS n FROM cp JOIN fp "
                            "USING (customer) GROUP BY ALL")
        spend = self._frame(base + "SELECT f, p - f AS age, fsum(amount) AS s FROM l JOIN fp "
                            "USING (customer) GROUP BY ALL")
        start = int(count["f"].min())
        n = int((count["f"] + count["age"]).max()) - start + 1
        counts = np.zeros((n, n), dtype=np.int64)
        counts[count["f"].to_numpy() - start, count["age"].to_numpy()] = count["n"].to_numpy()
        spent = np.zeros((n, n))
        spent[spend["f"].to_numpy() - start, spend["age"].to_numpy()] = spend["s"].to_numpy()
        sizes = counts[:, 0]
        observed = np.add.outer(np.arange(n), np.arange(n)) < n
        keep = sizes > 0
        ages = n if max_age is None else min(n, max_age + 1)
        index = pd.period_range(pd.Period(ordinal=start, freq=period), periods=n,
                                name="cohort")[keep]

        def frame(values: np.ndarray) -> pd.DataFrame:
            values = np.where(observed, values, np.nan)[keep, :ages]
            return pd.DataFrame(values, index=index, columns=pd.RangeIndex(ages, name="age"))

        counts_frame = frame(counts.astype(float))
        return Cohorts(
            retention=frame(counts / np.maximum(sizes, 1)[:, None]),
            counts=counts_frame.astype("Int64") if counts_frame.isna().any().any()
            else counts_frame.astype(np.int64),
            sizes=pd.Series(sizes[keep], index=index, name="customers"),
            revenue=frame(np.cumsum(spent, axis=1) / np.maximum(sizes, 1)[:, None]),
            period=period,
        )


def _release(con, directory: Path) -> None:
    try:
        con.close()
    finally:
        shutil.rmtree(directory, ignore_errors=True)
