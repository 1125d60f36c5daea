"""Checks shared by the uplift models, curves and policies: one clear error for each bad input.

Messages name the argument and count the values at fault, never a customer id.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from retaillab.errors import DataError, ParameterError, check_number

SOURCE = "uplift"


def values(name: str, data: object, n: int | None = None, *, source: str = SOURCE,
           low: float = -math.inf) -> np.ndarray:
    """``data`` as a 1-D float array of finite numbers (``>= low``), of length ``n`` if given."""
    if isinstance(data, pd.Series | pd.Index):
        data = data.to_numpy()
    array = np.asarray(data)
    if array.ndim != 1 or array.size == 0 or (n is not None and array.size != n):
        want = f"{n} values (one per customer)" if n is not None else "a non-empty 1-D array"
        raise DataError(f"{name} must have {want}; got shape {array.shape}", source=source,
                        column=name)
    try:
        array = array.astype("float64")
    except (TypeError, ValueError):
        raise DataError(f"{name} must be numbers; found text", source=source,
                        column=name) from None
    bad = ~np.isfinite(array)
    if bad.any():
        raise DataError(f"{int(bad.sum()):,} values of {name} are NaN or infinite",
                        source=source, column=name,
                        fix="give every customer a finite number (e.g. 0 revenue for "
                            "customers who bought nothing)")
    if np.isfinite(low) and (array < low).any():
        raise DataError(f"{int((array < low).sum()):,} values of {name} are below {low:g}",
                        source=source, column=name)
    return array


def treatment(data: object, n: int | None = None, *, source: str = SOURCE) -> np.ndarray:
    """``data`` as a bool array: 0/1 numbers or booleans, both arms present.

    Raises
    ------
    DataError
        Not 1-D, a length other than ``n``, values other than 0/1 (text, missing, 2, ...), or
        only one arm.
    """
    if isinstance(data, pd.Series | pd.Index):
        data = data.to_numpy()
    w = np.asarray(data)
    if w.ndim != 1 or (n is not None and w.size != n):
        want = f"{n} values (one per customer)" if n is not None else "a 1-D array"
        raise DataError(f"treatment must have {want}; got shape {w.shape}", source=source,
                        column="treatment")
    if w.dtype != bool:
        try:
            numbers = w.astype("float64")
        except (TypeError, ValueError):
            raise DataError("treatment must be 0/1 or booleans; found text", source=source,
                            column="treatment",
                            fix="map the arms first, e.g. (arm == 'treatment').astype(int)"
                            ) from None
        bad = ~np.isin(numbers, (0.0, 1.0))
        if bad.any():
            shown = ", ".join(f"{v:g}" for v in np.unique(numbers[bad])[:3])
            raise DataError(f"treatment must be 0/1 or booleans; {int(bad.sum()):,} values are "
                            f"not (e.g. {shown})", source=source, column="treatment",
                            fix="1 for treated customers, 0 for the control group")
        w = numbers == 1.0
    treated = int(w.sum())
    if treated == 0 or treated == w.size:
        only = "control (all 0)" if treated == 0 else "treatment (all 1)"
        raise DataError(f"treatment holds one arm only, {only}; uplift compares treated "
                        "customers with a control group", source=source, column="treatment",
                        fix="pass both arms of the campaign")
    return w


def binary(name: str, data: object, n: int, *, source: str = SOURCE) -> np.ndarray:
    """0/1 numbers or booleans as floats."""
    array = values(name, data, n, source=source)
    bad = ~np.isin(array, (0.0, 1.0))
    if bad.any():
        raise DataError(f"{name} must be 0/1; {int(bad.sum()):,} values are not",
                        source=source, column=name)
    return array


number = check_number  # one rule for every numeric argument (retaillab.errors)


def whole(name: str, value: object, low: int = 0, high: int | None = None,
          what: str = "") -> int:
    """``value`` as an int in ``[low, high]``, or :class:`ParameterError`."""
    ok = not isinstance(value, bool | np.bool_) and isinstance(value, int | np.integer)
    if not ok or value < low or (high is not None and value > high):
        span = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise ParameterError(name, f"a whole number {span}{what}", value)
    return int(value)


def level(value: object) -> float:
    return number("level", value, 0.0, 1.0, open_low=True, open_high=True)


def resamples(value: object) -> int:
    return whole("n_resamples", value, 0, what=" (0: no interval)")


def seed(value: object) -> int:
    return whole("seed", value, 0)


def depth(value: object, name: str = "q") -> float:
    return number(name, value, 0.0, 1.0, open_low=True)
