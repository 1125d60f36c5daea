"""Ids matched in the type a model learned them, and id types compared across tables.

A retailer's order log read with ``id_type='auto'`` may hold customer ``28`` as the integer 28
while another table (or the model fitted on it) holds the text ``"000028"``. Nothing here ever
pads or strips zeros, since that would change which customer an id names. The one rule: an id
matches a learned id when the two are equal once the given id is written in the learned id's
type, where the text form of an integer is ``str(n)``:

- an integer given to a model that learned text ids matches the text ``str(n)`` exactly
  (``28`` matches ``"28"``, never ``"000028"``);
- text given to a model that learned integer ids matches the integer ``n`` only when it is
  exactly ``str(n)`` (``"28"`` matches ``28``; ``"028"``, ``" 28"`` and ``"+28"`` do not);
- any other id is compared as it is.

Messages about ids give their type and counts only, never an id (customer ids are personal).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from retaillab.errors import DataError, UnknownIdsWarning

#: Text that is exactly ``str(n)`` of some integer ``n``.
INT_TEXT = re.compile(r"-?(?:0|[1-9][0-9]*)")

#: ``id_kind`` -> how a message names a batch of such ids.
_PLURAL = {"integer": "integers", "text": "text", "float": "decimal numbers",
           "boolean": "true/false values", "mixed": "a mix of integers and text"}


def id_kind(values: object) -> str:
    """``"integer"``, ``"text"``, ``"float"``, ``"boolean"``, ``"mixed"`` (integers and text
    together) or ``"empty"``: the type of a column or list of ids, missing values ignored."""
    index = values if isinstance(values, (pd.Index, pd.Series)) else pd.Index(list(values))
    dtype = index.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(dtype):
        return "integer"
    if pd.api.types.is_float_dtype(dtype):
        return "float"
    if isinstance(dtype, pd.StringDtype):
        return "text"
    inferred = pd.api.types.infer_dtype(index, skipna=True)
    return {"string": "text", "integer": "integer", "floating": "float", "boolean": "boolean",
            "empty": "empty", "mixed-integer-float": "float"}.get(inferred, "mixed")


def _plural(kind: str) -> str:
    return _PLURAL.get(kind, kind)


def describe(learned: pd.Index) -> str:
    """The type of learned ids and, for text, their length and whether zeros lead: aggregates
    that explain a mismatch without showing an id."""
    kind = id_kind(learned)
    if kind != "text":
        return _plural(kind)
    text = pd.Series(np.asarray(learned, dtype=object)).dropna().astype(str)
    if text.empty:
        return "text"
    lengths = text.str.len()
    size = (f"{lengths.min()} characters" if lengths.min() == lengths.max()
            else f"{lengths.min()}-{lengths.max()} characters")
    numeric = text.str.fullmatch(r"[0-9]+")
    zeros = numeric & text.str.startswith("0") & (lengths > 1)
    shape = (", digits with leading zeros" if zeros.any() else ", digits only"
             if numeric.all() else "")
    return f"text ({size}{shape})"


def as_learned(learned: pd.Index, given: pd.Index) -> pd.Index:
    """``given`` written in the type of ``learned`` by the module's rule, element by element
    (ids that cannot be written so are kept as they are, and match nothing)."""
    kind, have = id_kind(learned), id_kind(given)
    if kind == have or not len(given):
        return given
    if kind == "text" and have in ("integer", "mixed"):
        return pd.Index([str(int(v)) if _is_int(v) else v for v in given], dtype=object)
    if kind == "integer" and have in ("text", "mixed"):
        return pd.Index([int(v) if isinstance(v, str) and INT_TEXT.fullmatch(v) else v
                         for v in given], dtype=object)
    return given


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def codes_of(learned: pd.Index, given: pd.Index) -> np.ndarray:
    """Positions of ``given`` in ``learned`` by the module's rule; ``-1`` for unknown ids."""
    matched = as_learned(learned, given)
    try:
        return learned.get_indexer(matched)
    except TypeError:  # uncomparable types: nothing matches
        return np.full(len(given), -1, dtype=np.intp)


@dataclass(frozen=True)
class Lookup:
    """How one kind of id passed to a model fared: ``what`` ("user", "item"), the distinct ids
    passed, how many the model does not know, and the learned and passed ids' types."""

    what: str
    n_given: int
    n_unknown: int
    learned_kind: str
    learned: str
    given: str

    @classmethod
    def of(cls, what: str, learned: pd.Index, given: pd.Index,
           given_codes: np.ndarray) -> Lookup:
        return cls(what, len(given), int((np.asarray(given_codes) < 0).sum()),
                   id_kind(learned), describe(learned), id_kind(given))


def report_unknown(model: str, lookups: Sequence[Lookup], served: str) -> None:
    """One :class:`UnknownIdsWarning` counting the unknown ids of every lookup, or a
    :class:`DataError` when no id of one kind is known and the ids passed are of another
    type than the model learned (a type mismatch, not cold start)."""
    for lk in lookups:
        if lk.n_given and lk.n_unknown == lk.n_given and lk.learned_kind != lk.given:
            rule = {"text": "an integer matches a text id only when its text form equals it "
                            "exactly (no leading zeros are ever added)",
                    "integer": "text matches an integer id only when it is exactly that "
                               "integer written out (no leading zeros, signs or spaces)"}
            why = rule.get(lk.learned_kind, "")
            raise DataError(
                f"none of the {lk.n_given:,} {lk.what} ids passed is known to the model: it "
                f"learned its {lk.what} ids as {lk.learned}, the ids passed are "
                f"{_plural(lk.given)}" + (f", and {why}" if why else ""),
                source=model, column=lk.what,
                fix="pass ids of the type the model learned: read every table with the same "
                    "id_type (e.g. data.read_transactions(..., id_type='str') and "
                    "data.read_interactions(..., id_type='str')), or convert them first")
    unknown = [lk for lk in lookups if lk.n_unknown]
    if not unknown:
        return
    counts = " and ".join(f"{lk.n_unknown:,} of {lk.n_given:,} {lk.what}s" for lk in unknown)
    learned = ", ".join(f"{lk.what} ids as {lk.learned}" for lk in unknown)
    warnings.warn(f"{model}: {counts} passed are unknown to the model (it learned {learned}); "
                  f"{served}", UnknownIdsWarning, stacklevel=3)


def check_same_type(left: object, right: object, *, key: str, left_name: str,
                    right_name: str) -> None:
    """Refuse to join two tables on ``key`` when one holds text ids and the other numbers: the
    join would match nothing, silently. Other differences (a few odd ids) are left alone."""
    a, b = id_kind(left), id_kind(right)
    if not ({a, b} == {"integer", "text"} or {a, b} == {"float", "text"}):
        return
    raise DataError(
        f"{left_name} has {key} ids as {_plural(a)} but {right_name} has them as "
        f"{_plural(b)}, so joining the two would match no {key}",
        source=f"{left_name} and {right_name}", column=key,
        fix="read both tables with id_type='str' (data.read_transactions, read_interactions "
            "and read_customers take it), so ids keep their exact text, leading zeros "
            "included")
