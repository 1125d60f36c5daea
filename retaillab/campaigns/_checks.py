"""Checks of a campaign table and of the numbers the calculators take: one clear error each.

A campaign table has one row per customer: the arm they were assigned to, their outcomes
(``converted`` 0/1, ``revenue``) and optionally a pre-period value for CUPED. Messages name the
column and the count at fault, never a customer id (the readout shows aggregates only).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from retaillab.errors import DataError, ParameterError, check_choice, check_number

SOURCE = "campaign"
MISSING = ("error", "drop")
_NUMERIC_KINDS = ("integer", "floating", "mixed-integer-float", "decimal")


number = check_number  # one rule for every numeric argument (retaillab.errors)


def count(name: str, value: object, low: int = 1) -> int:
    """``value`` as an int, or :class:`ParameterError` unless it is a whole number >= ``low``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(
            value, (int, float, np.integer, np.floating)) or not math.isfinite(value) \
            or value != int(value) or value < low:
        raise ParameterError(name, f"a whole number >= {low}", value)
    return int(value)


def check_level(level: object) -> float:
    """A confidence level strictly between 0 and 1."""
    return number("level", level, 0.0, 1.0, open_low=True, open_high=True)


def check_resamples(n_resamples: object) -> int:
    return count("n_resamples", n_resamples, 100)


def check_seed(seed: object) -> int:
    return count("seed", seed, 0)


@dataclass(frozen=True)
class CampaignTable:
    """A checked campaign table: per-customer arrays by arm, and what was dropped.

    ``arms`` lists the control first, then the other arms sorted by their text
    (``str(label)``), so the order never depends on the order of the rows.
    """

    arms: list[object]
    control: object
    groups: dict[object, dict[str, np.ndarray]]
    dropped: int
    outcomes: list[str]


def campaign_table(table: object, *, arm: str, control: object, customer: str | None,
                   conversion: str | None, revenue: str | None, pre: str | None,
                   missing: str = "error") -> CampaignTable:
    """Check a campaign table and split its outcomes by arm.

    Raises
    ------
    DataError
        A column is missing; an arm is missing in some rows; a customer appears twice; an
        outcome is not binary (conversion) or not numeric (revenue, pre); outcomes are missing
        (unless ``missing='drop'``) or infinite; fewer than two arms; no control arm; an arm
        with fewer than two customers (after dropping).
    """
    if not isinstance(table, pd.DataFrame):
        raise ParameterError("table", "a DataFrame with one row per customer",
                             type(table).__name__)
    check_choice("missing", missing, MISSING)
    if conversion is None and revenue is None:
        raise ParameterError("conversion and revenue", "at least one outcome column name",
                             None)
    named = {"arm": arm, "customer": customer, "conversion": conversion, "revenue": revenue,
             "pre": pre}
    have = ", ".join(map(str, table.columns)) or "no columns"
    for option, col in named.items():
        if col is not None and col not in table.columns:
            skip = {"customer": "pass customer=None to skip the one-row-per-customer check",
                    "conversion": "pass conversion=None to read out revenue only",
                    "revenue": "pass revenue=None to read out conversion only"}.get(option)
            raise DataError(f"no {option} column {col!r}; the table has {have}", source=SOURCE,
                            column=col, fix=f"name it with {option}=..."
                            + (f", or {skip}" if skip else ""))
    if len(table) == 0:
        raise DataError("the table has no rows", source=SOURCE,
                        fix="pass one row per customer in the campaign")
    arms = table[arm]
    no_arm = int(arms.isna().sum())
    if no_arm:
        raise DataError(f"{no_arm:,} of {len(table):,} customers have no arm", source=SOURCE,
                        column=arm, fix="give every customer the arm they were assigned to, "
                        "or leave the unassigned out of the table")
    if customer is not None:
        _unique_customers(table, customer, arm)
    outcomes = [c for c in (conversion, revenue) if c is not None]
    values: dict[str, np.ndarray] = {}
    if conversion is not None:
        values[conversion] = _binary(table[conversion], conversion)
    if revenue is not None:
        values[revenue] = _numeric(table[revenue], revenue, "revenue")
    if pre is not None:
        values[pre] = _numeric(table[pre], pre, "pre-period value")
    keep, dropped = _missing(values, missing, len(table))
    labels = arms.to_numpy()[keep]
    known = list(arms.cat.categories) if isinstance(arms.dtype, pd.CategoricalDtype) else []
    found = list(pd.unique(arms.to_numpy()))  # every row's: an arm emptied by dropping stays
    present = found + [c for c in known if c not in found]
    if len(present) < 2:
        only = ", ".join(repr(a) for a in present)
        raise DataError(f"only one arm ({only}); a campaign test compares a treatment with a "
                        "control", source=SOURCE, column=arm,
                        fix="pass the table of every arm (control and treatment together)")
    if control not in present:
        shown = ", ".join(repr(a) for a in sorted(present, key=str))
        raise DataError(f"no control arm {control!r}; the arms are {shown}", source=SOURCE,
                        column=arm, fix="name the control arm with control=...")
    ordered = [control, *sorted((a for a in present if a != control), key=str)]
    groups = {}
    for label in ordered:
        mask = labels == label
        size = int(mask.sum())
        if size < 2:
            after = f" left after dropping {dropped:,} with a missing value" if dropped else ""
            raise DataError(f"arm {label!r} has {size} customer{'s' * (size != 1)}{after}; each "
                            "arm needs at least 2", source=SOURCE, column=arm,
                            fix="check the filter that made the table, or leave the arm out")
        groups[label] = {col: v[keep][mask] for col, v in values.items()}
    return CampaignTable(arms=ordered, control=control, groups=groups, dropped=dropped,
                         outcomes=outcomes)


def planned_shares(planned: object, arms: Sequence[object]) -> np.ndarray:
    """The planned share of each of ``arms`` (weights normalised to sum to 1).

    ``planned`` is ``None`` (equal split), or a mapping arm -> share or weight holding every
    arm; a planned arm absent from the table is an arm with no customers.
    """
    if planned is None:
        return np.full(len(arms), 1.0 / len(arms))
    if not hasattr(planned, "items"):
        raise ParameterError("planned", "None (equal split) or a mapping arm -> share",
                             planned)
    weights = dict(planned.items())  # type: ignore[attr-defined]
    empty = [a for a in weights if a not in arms]
    if empty:
        raise DataError(f"arm {empty[0]!r} is planned but has no customers in the table",
                        source=SOURCE, fix="check the filter that made the table, or leave "
                        "the arm out of planned")
    absent = [a for a in arms if a not in weights]
    if absent:
        raise ParameterError("planned", f"a share for every arm (missing {absent[0]!r})",
                             planned)
    shares = np.array([number(f"planned[{a!r}]", weights[a], 0.0, open_low=True)
                       for a in arms])
    return shares / shares.sum()


def _unique_customers(table: pd.DataFrame, customer: str, arm: str) -> None:
    ids = table[customer]
    repeated = ids.duplicated(keep=False).to_numpy() & ids.notna().to_numpy()
    if not repeated.any():
        return
    rows = table.loc[repeated, [customer, arm]]
    n_customers = int(rows[customer].nunique())
    crossing = int((rows.groupby(customer, observed=True, sort=False)[arm].nunique() > 1).sum())
    across = f", {crossing:,} of them in more than one arm" if crossing else ""
    raise DataError(f"{n_customers:,} customers appear in more than one row "
                    f"({int(repeated.sum()):,} rows{across}); a campaign table has one row per "
                    "customer", source=SOURCE, column=customer,
                    fix="keep each customer once, in the arm first assigned (aggregate their "
                        f"outcomes first), e.g. table.drop_duplicates({customer!r})")


def _examples(values: pd.Series) -> str:
    return ", ".join(repr(v) for v in pd.unique(values.dropna())[:3])


def _is_text(values: pd.Series) -> bool:
    if isinstance(values.dtype, pd.CategoricalDtype):
        return True
    if values.dtype == object:
        return pd.api.types.infer_dtype(values, skipna=True) not in (*_NUMERIC_KINDS,
                                                                    "boolean", "empty")
    return pd.api.types.is_string_dtype(values.dtype)


def _binary(values: pd.Series, col: str) -> np.ndarray:
    """0/1 floats with NaN for missing: booleans, or numbers that are all 0 or 1."""
    if _is_text(values):
        raise DataError(f"conversion must be 0/1 or booleans; found text ({_examples(values)})",
                        source=SOURCE, column=col,
                        fix=f"map it to 0/1 first, e.g. table[{col!r}] = "
                            f"table[{col!r}].map({{'yes': 1, 'no': 0}}), or name the 0/1 "
                            "column with conversion=...")
    x = values.astype("float64") if values.dtype == object else values
    x = np.asarray(pd.Series(x).to_numpy(dtype="float64", na_value=np.nan))
    bad = ~np.isnan(x) & (x != 0) & (x != 1)
    if bad.any():
        shown = ", ".join(f"{v:g}" for v in pd.unique(x[bad])[:3])
        raise DataError(f"conversion must be 0/1; {int(bad.sum()):,} values are not "
                        f"(e.g. {shown})", source=SOURCE, column=col,
                        fix="pass a 0/1 outcome as conversion=..., and amounts as revenue=...")
    return x


def _numeric(values: pd.Series, col: str, what: str) -> np.ndarray:
    if pd.api.types.is_bool_dtype(values.dtype) or (
            values.dtype == object
            and pd.api.types.infer_dtype(values, skipna=True) == "boolean"):
        raise DataError(f"the {what} must be an amount per customer; found booleans",
                        source=SOURCE, column=col,
                        fix="pass a 0/1 outcome as conversion=..., amounts as revenue=...")
    if _is_text(values):
        raise DataError(f"the {what} must be numbers; found text ({_examples(values)})",
                        source=SOURCE, column=col,
                        fix=f"convert it first: table[{col!r}] = pd.to_numeric(table[{col!r}])")
    x = np.asarray(pd.Series(values).to_numpy(dtype="float64", na_value=np.nan))
    infinite = np.isinf(x)
    if infinite.any():
        raise DataError(f"{int(infinite.sum()):,} values of the {what} are infinite",
                        source=SOURCE, column=col, fix="replace them by the real amounts")
    return x


def _missing(values: dict[str, np.ndarray], missing: str, n: int) -> tuple[np.ndarray, int]:
    """Rows to keep, and how many were dropped; raises on missing values unless dropping."""
    gaps = {col: np.isnan(v) for col, v in values.items()}
    any_gap = np.zeros(n, dtype=bool)
    for gap in gaps.values():
        any_gap |= gap
    if not any_gap.any():
        return np.ones(n, dtype=bool), 0
    if missing == "drop":
        return ~any_gap, int(any_gap.sum())
    problems = [DataError(f"{int(gap.sum()):,} of {n:,} customers have no value (NaN)",
                          source=SOURCE, column=col,
                          fix="fill them (e.g. 0 revenue for customers who bought nothing) "
                              "or pass missing='drop' to leave those customers out")
                for col, gap in gaps.items() if gap.any()]
    raise DataError.of(problems)
