"""Errors retaillab raises on bad input, and how their messages are built.

Every message says what is wrong, where (file or table, column, rows) and how to fix it,
so a user never has to read a traceback from deep inside pandas.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

MAX_ROWS_SHOWN = 5


class RetailLabError(Exception):
    """Base class of every error retaillab raises on purpose."""


class DataError(RetailLabError, ValueError):
    """Input data that cannot be used as it is.

    Parameters
    ----------
    what
        One sentence saying what is wrong.
    source
        Where the data came from: a file path or a table name.
    column
        The column at fault, if one is.
    rows
        Up to :data:`MAX_ROWS_SHOWN` offending rows, shown in the message. Their index is the
        row's position in the source (for files: the line number).
    fix
        What the user can do about it.
    problems
        Several problems of one input found in one pass (see :meth:`of`). The error's own
        ``what``, ``column``, ``rows`` and ``fix`` are then those of the first; the message
        shows every one.
    """

    def __init__(
        self,
        what: str,
        *,
        source: str | None = None,
        column: str | None = None,
        rows: pd.DataFrame | None = None,
        n_bad: int | None = None,
        fix: str | None = None,
        problems: Sequence[DataError] = (),
    ) -> None:
        self.what = what
        self.source = source
        self.column = column
        self.rows = None if rows is None else rows.head(MAX_ROWS_SHOWN)
        self.n_bad = n_bad if n_bad is not None else (None if rows is None else len(rows))
        self.fix = fix
        self.problems = list(problems) or [self]
        super().__init__(self._render() if len(self.problems) == 1 else self._render_all())

    @classmethod
    def of(cls, problems: Sequence[DataError]) -> DataError:
        """One error for every problem of an input, found in one pass (the first leads)."""
        if len(problems) == 1:
            return problems[0]
        first = problems[0]
        return cls(first.what, source=first.source, column=first.column, rows=first.rows,
                   n_bad=first.n_bad, fix=first.fix, problems=problems)

    def _render_all(self) -> str:
        lines = [f"{self.source or 'the input'}: {len(self.problems)} problems"]
        for i, problem in enumerate(self.problems, 1):
            text = problem._render(with_source=problem.source != self.source).splitlines()
            lines.append(f"  {i}. {text[0]}")
            lines.extend("   " + line for line in text[1:])
        return "\n".join(lines)

    def _render(self, with_source: bool = True) -> str:
        where = []
        if self.source and with_source:
            where.append(str(self.source))
        if self.column:
            where.append(f"column {self.column!r}")
        head = (": ".join([", ".join(where), self.what])) if where else self.what
        lines = [head]
        if self.rows is not None and len(self.rows):
            shown = len(self.rows)
            extra = f" (first {shown} of {self.n_bad})" if self.n_bad and self.n_bad > shown else ""
            lines.append(f"  failing rows{extra}:")
            lines.extend("    " + line for line in _format_rows(self.rows))
        if self.fix:
            lines.append(f"  fix: {self.fix}")
        return "\n".join(lines)


class UnknownNameError(RetailLabError, KeyError):
    """A name (data set, model, metric, method) that is not registered."""

    def __init__(self, kind: str, name: object, known: Sequence[str]) -> None:
        import difflib

        self.kind, self.name, self.known = kind, name, sorted(known)
        close = difflib.get_close_matches(str(name), self.known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        self.message = f"unknown {kind} {name!r}.{hint} Known: {', '.join(self.known)}."
        super().__init__(self.message)

    def __str__(self) -> str:  # KeyError would quote the whole message
        return self.message


class ParameterError(RetailLabError, ValueError):
    """A function argument outside what the function accepts."""

    def __init__(self, name: str, expected: str, got: object) -> None:
        self.name, self.expected, self.got = name, expected, got
        super().__init__(f"{name} must be {expected}; got {got!r}.")


def check_choice(name: str, value: object, choices: Sequence[object]) -> None:
    """Raise :class:`ParameterError` unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ParameterError(name, "one of " + ", ".join(repr(c) for c in choices), value)


def check_number(name: str, value: object, low: float = -math.inf, high: float = math.inf, *,
           open_low: bool = False, open_high: bool = False) -> float:
    """``value`` as a float, or :class:`ParameterError` unless it is a finite number in range
    (``low``/``high`` closed unless ``open_low``/``open_high``)."""
    ok = not isinstance(value, bool | np.bool_) and isinstance(
        value, int | float | np.integer | np.floating)
    if ok:
        v = float(value)  # type: ignore[arg-type]
        ok = math.isfinite(v) and (v > low if open_low else v >= low) \
            and (v < high if open_high else v <= high)
    if not ok:
        left, right = "(" if open_low else "[", ")" if open_high else "]"
        if math.isinf(low) and math.isinf(high):
            bounds = ""
        elif math.isinf(high):
            bounds = f" {'>' if open_low else '>='} {low:g}"
        else:
            bounds = f" in {left}{low:g}, {high:g}{right}"
        raise ParameterError(name, f"a finite number{bounds}", value)
    return v


def failing_rows(frame: pd.DataFrame, mask, columns: Sequence[str],
                 lines: np.ndarray | None = None) -> pd.DataFrame:
    """The first :data:`MAX_ROWS_SHOWN` rows selected by ``mask``, for a :class:`DataError`.

    They are indexed by their file line number when ``lines`` (one per row) is given, else by
    their position in ``frame``.
    """
    positions = np.flatnonzero(np.asarray(mask, dtype=bool))[:MAX_ROWS_SHOWN]
    rows = frame.iloc[positions][[c for c in columns if c in frame.columns]].copy()
    index = pd.Index(positions, name="row") if lines is None else pd.Index(
        np.asarray(lines)[positions], name="line")
    return rows.set_axis(index)


def _format_rows(rows: pd.DataFrame) -> list[str]:
    label = "line" if rows.index.name == "line" else "row"
    out = []
    for idx, row in rows.iterrows():
        cells = ", ".join(f"{k}={_short(v)}" for k, v in row.items())
        out.append(f"{label} {idx}: {cells}")
    return out


def _short(value: object, width: int = 40) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


class NotFittedError(RetailLabError, AttributeError):
    """A model used before ``fit``."""

    def __init__(self, model: object) -> None:
        name = type(model).__name__
        super().__init__(f"{name} is not fitted yet: call {name}(...).fit(train) first.")


class UnknownIdsWarning(RetailLabError, UserWarning):
    """Ids a fitted model never saw in training (cold-start ids, or ids of another type)."""
