"""Score customers with a logged model: ``retaillab score MODEL DATA -o FILE``.

``MODEL`` is any MLflow model URI retaillab logged (``runs:/<run>/model``,
``models:/NAME@champion``, ``models:/NAME/3``); ``DATA`` is what :func:`retaillab.data.load`
takes (a built-in name, a catalogued source, a file), read with the source's column mapping
and preparation rules. The model's metadata says its family and how its input is built
(``input``, written by the comparison that logged it):

* churn: the customer table (target dropped), or every customer's features from the order
  log at ``cutoff`` (default: the data's last day); output ``customer, churn_probability``;
* CLV: the RFM summary of the order log at ``cutoff`` (default: its last day), in the model's
  time unit; output ``customer, p_alive, expected_purchases`` (over ``horizon`` units,
  default 12 months) and with a spend model ``expected_spend, clv``;
* recommenders: every user of the data (its interactions, else its customers); output
  ``user, item, score, rank, fallback``, ``k`` per user. Ids are matched in the type the
  model learned (:mod:`retaillab.data.ids`); unknown users get the most popular items,
  ``fallback=True``, and are counted.

Rows are scored in chunks (vectorised within each), with a progress bar. Ids in the output
are the user's own; :meth:`Scored.describe` says only counts.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from retaillab.data.schema import COLUMNS as C
from retaillab.errors import DataError, ParameterError, UnknownIdsWarning

__all__ = ["FORMATS", "Scored", "campaign_line", "check_output", "model_metadata",
           "retention", "score", "write"]

FORMATS = (".csv", ".parquet")
#: rows scored per call of the model (customers), and users per call (recommenders)
CHUNK = 250_000
USER_CHUNK = 20_000


@dataclass
class Scored:
    """What :func:`score` produced: the output table and counts about it (no ids)."""

    table: pd.DataFrame
    family: str
    model_uri: str
    scored: int  # customers or users scored
    unknown: int = 0  # users the recommender did not learn (served the fallback)
    cutoff: str | None = None

    def describe(self) -> str:
        what = "users" if self.family == "recsys" else "customers"
        text = f"scored {self.scored:,} {what} with {self.model_uri} ({self.family})"
        if self.cutoff:
            text += f" at cut-off {self.cutoff}"
        if self.unknown:
            text += (f"; {self.unknown:,} unknown to the model got its most popular items "
                     "(fallback=True)")
        return text


def model_metadata(model_uri: str, tracking_uri: str | None = None) -> dict[str, Any]:
    """The metadata of the retaillab model at ``model_uri`` (family, input, provenance);
    one :class:`DataError` when there is no such model or it is not a retaillab one."""
    import mlflow.models
    from mlflow.exceptions import MlflowException

    from retaillab import tracking
    from retaillab.models import _common

    try:
        with _common.using_store(tracking_uri or tracking.tracking_uri()), _common.quiet():
            info = mlflow.models.get_model_info(model_uri)
    except (MlflowException, OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise DataError(f"no model at {model_uri!r} in the store ({first})", source="model",
                        fix="give runs:/<run id>/model (retaillab runs EXPERIMENT), or "
                            "models:/NAME@champion after retaillab promote") from None
    meta = dict(info.metadata or {})
    if meta.get(_common.KEY_FAMILY) not in _common.FAMILIES:
        raise DataError(f"{model_uri!r} is not a model retaillab logged (no family in its "
                        "metadata)", source="model",
                        fix="score it with mlflow.pyfunc.load_model(...).predict(...)")
    return meta


def _cutoff_of(value: object) -> pd.Timestamp | None:
    if value is None or value == "":
        return None
    try:
        stamp = pd.Timestamp(str(value))
    except (TypeError, ValueError):
        stamp = None
    if stamp is None or stamp is pd.NaT:
        raise ParameterError("cutoff", "a date like 2012-11-30", value)
    return stamp


def _bar(total: int, what: str, progress: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=f"scoring {what}", unit=what, disable=not progress,
                leave=False)


def score(model_uri: str, data: Any, *, cutoff: object = None, k: int = 10,
          exclude_seen: bool = True, horizon: float | None = None, progress: bool = True,
          tracking_uri: str | None = None) -> Scored:
    """Score ``data`` (a :class:`~retaillab.data.Dataset`, or what ``data.load`` takes) with
    the model at ``model_uri``; see the module docstring.

    Raises
    ------
    DataError
        An unknown model URI; data without the table or the columns the model needs; a
        cut-off after the data's last day; user ids none of which the recommender knows, of
        another type than it learned.
    """
    from retaillab import data as data_module
    from retaillab import tracking
    from retaillab.models import load

    meta = model_metadata(model_uri, tracking_uri)
    dataset = data if hasattr(data, "tables") or hasattr(data, "transactions") else \
        data_module.load(data)
    stamp = _cutoff_of(cutoff)
    model = load(model_uri, tracking_uri=tracking_uri or tracking.tracking_uri())
    family = meta["family"]
    if family == "churn":
        return _churn(model, meta, dataset, stamp, model_uri, progress)
    if family == "clv":
        return _clv(model, meta, dataset, stamp, model_uri, horizon, progress)
    return _recsys(model, dataset, model_uri, k, exclude_seen, progress)


def _input_names(model: Any) -> list[str]:
    signature = model.metadata.get_input_schema()
    return [] if signature is None else [c.name for c in signature.inputs]


def _churn(model, meta, dataset, stamp, model_uri, progress) -> Scored:
    from retaillab.churn.tables import scoring_table
    from retaillab.models.churn import as_input

    ids, features, used = scoring_table(dataset, meta.get("input") or {"input": "customers"},
                                        stamp)
    needed = _input_names(model)
    missing = [c for c in needed if c not in features.columns]
    if missing:
        raise DataError(f"the data lacks {len(missing)} column(s) the churn model was fitted "
                        f"on: {', '.join(missing[:8])}" + (" ..." if len(missing) > 8 else ""),
                        source=dataset.name, column=missing[0],
                        fix="score data of the same shape as the comparison's (the same "
                            "source kind, with events/items if it had them)")
    features = as_input(features[needed])
    classes = list(meta.get("classes", [False, True]))
    column = classes.index(True) if True in classes else len(classes) - 1
    out = np.empty(len(features))
    with _bar(len(features), "customers", progress) as bar:
        for start in range(0, len(features), CHUNK):
            chunk = features.iloc[start:start + CHUNK]
            out[start:start + len(chunk)] = np.asarray(model.predict(chunk))[:, column]
            bar.update(len(chunk))
    table = pd.DataFrame({C.customer: ids.to_numpy(), "churn_probability": out})
    return Scored(table, "churn", model_uri, len(table), cutoff=used)


def _clv(model, meta, dataset, stamp, model_uri, horizon, progress) -> Scored:
    from retaillab.churn.tables import last_day
    from retaillab.clv.rfm import rfm_summary

    if dataset.transactions is None:
        raise DataError("a CLV model scores customers from their transactions; the data has "
                        "none", source=dataset.name,
                        fix="score a transactions source (customer, date, amount)")
    last = last_day(dataset)
    stamp = last if stamp is None else stamp
    if stamp.normalize() > last:
        raise DataError(f"the cut-off {stamp:%Y-%m-%d} is after the data's last transaction "
                        f"({last:%Y-%m-%d})", source=dataset.name,
                        fix=f"use --cutoff {last:%Y-%m-%d} or earlier")
    unit = meta.get("unit", "W")
    summary = rfm_summary(dataset.transactions, calibration_end=stamp, unit=unit).reset_index()
    summary = summary[[c for c in (C.customer, "frequency", "recency", "T", "monetary_value")
                       if c in summary.columns]]
    params = {} if horizon is None else {"horizon": float(horizon)}
    # the CLVModel itself: the summary is built here, so MLflow's schema check (value by value
    # on the ``customer`` column, typed "any") would add ~0.5 s per million and change nothing
    clv_model = model.unwrap_python_model().model
    parts = []
    with _bar(len(summary), "customers", progress) as bar:
        for start in range(0, len(summary), CHUNK):
            chunk = summary.iloc[start:start + CHUNK]
            parts.append(clv_model.predict(chunk, params or None))
            bar.update(len(chunk))
    table = pd.concat(parts, ignore_index=True)
    return Scored(table, "clv", model_uri, len(table), cutoff=f"{stamp:%Y-%m-%d}")


def _users(dataset) -> pd.Index:
    if dataset.interactions is not None:
        return pd.Index(pd.unique(dataset.interactions[C.user]))
    if dataset.transactions is not None:
        return pd.Index(pd.unique(dataset.transactions[C.customer]))
    if dataset.customers is not None and C.customer in dataset.customers.columns:
        return pd.Index(pd.unique(dataset.customers[C.customer]))
    raise DataError("no users to recommend for: the data has no interactions, transactions "
                    "or customer table", source=dataset.name,
                    fix="score a source that lists users (interactions or transactions)")


def _recsys(model, dataset, model_uri, k, exclude_seen, progress) -> Scored:
    from retaillab.data.ids import Lookup, codes_of, report_unknown

    fitted = model.unwrap_python_model().fitted  # matches ids in the learned type itself
    users = _users(dataset)
    codes = codes_of(fitted.users_, users)
    unknown = int((codes < 0).sum())
    with warnings.catch_warnings():  # no id known and of another type: one DataError here
        warnings.simplefilter("ignore", UnknownIdsWarning)
        report_unknown(type(fitted).__name__, [Lookup.of("user", fitted.users_, users, codes)],
                       "")
    parts = []
    with _bar(len(users), "users", progress) as bar, warnings.catch_warnings():
        warnings.simplefilter("ignore", UnknownIdsWarning)  # counted once, in Scored
        for chunk in _user_chunks(users, codes, getattr(fitted, "batch_size", 1)):
            parts.append(fitted.recommend(chunk, k=k, exclude_seen=exclude_seen))
            bar.update(len(chunk))
    table = pd.concat(parts, ignore_index=True)
    return Scored(table, "recsys", model_uri, len(users), unknown=unknown)


def check_output(path: str | Path) -> Path:
    """``path`` if it names a CSV or Parquet file, else one :class:`DataError`."""
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise DataError(f"cannot write {path.name!r}: the output must end in .csv or .parquet",
                        source="-o", fix="e.g. -o scores.csv or -o scores.parquet")
    return path


def _user_chunks(users: pd.Index, codes: np.ndarray, batch: int):
    """``users`` in chunks of about :data:`USER_CHUNK`, each cut where the count of *known*
    users is a multiple of the model's scoring batch: ``recommend`` scores known users in
    batches of ``batch_size``, and a float32 product's last digit can depend on how many rows
    share it, so these cuts give exactly the lists of one ``recommend`` call."""
    batch = max(int(batch or 1), 1)
    per_chunk = max(USER_CHUNK // batch, 1) * batch
    known = np.cumsum(codes >= 0)
    cuts = np.searchsorted(known, np.arange(per_chunk, known[-1] if len(known) else 0,
                                            per_chunk), side="right") if len(known) else []
    start = 0
    for cut in [*cuts, len(users)]:
        if cut > start:
            yield users[start:cut]
        start = cut


def write(table: pd.DataFrame, path: str | Path) -> Path:
    """Write ``table`` as CSV or Parquet, told by ``path``'s suffix."""
    path = check_output(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".parquet":
        table.to_parquet(path, index=False)
    else:
        table.to_csv(path, index=False)
    return path


def retention(churn_uri: str, clv_uri: str, data: Any, *, acceptance_rate: float,
              contact_cost: float, offer_cost: float, non_churner_acceptance: float = 1.0,
              budget: int | None = None, cutoff: object = None, progress: bool = True,
              tracking_uri: str | None = None):
    """The retention contact list of ``data``'s customers: churn probabilities from the
    churn model, value kept = each customer's CLV from the CLV model (it needs a spend
    model), ranked by :func:`retaillab.churn.contact_list`. Returns ``(ContactList, churn
    Scored, CLV Scored, customers scored by only one model)``."""
    from retaillab import data as data_module
    from retaillab.churn.retention import contact_list

    dataset = data if hasattr(data, "transactions") else data_module.load(data)
    churned = score(churn_uri, dataset, cutoff=cutoff, progress=progress,
                    tracking_uri=tracking_uri)
    valued = score(clv_uri, dataset, cutoff=cutoff, progress=progress,
                   tracking_uri=tracking_uri)
    if churned.family != "churn" or valued.family != "clv":
        raise DataError(f"--churn needs a churn model and --clv a CLV model; got a "
                        f"{churned.family} and a {valued.family} model", source="retention")
    if "clv" not in valued.table.columns:
        raise DataError(f"{clv_uri} has no spend model, so no CLV to weigh the offer by",
                        source="retention",
                        fix="compare CLV models with gamma_gamma among them and promote that")
    both = churned.table.merge(valued.table[[C.customer, "clv"]], on=C.customer, how="inner",
                               validate="one_to_one")
    only_one = len(churned.table) + len(valued.table) - 2 * len(both)
    found = contact_list(both[C.customer], both["churn_probability"], both["clv"],
                         acceptance_rate=acceptance_rate, contact_cost=contact_cost,
                         offer_cost=offer_cost, non_churner_acceptance=non_churner_acceptance,
                         budget=budget)
    return found, churned, valued, only_one


def campaign_line(found: Any) -> str:
    """What the contact list is worth, in aggregates only."""
    n = len(found.table)
    share = "" if math.isnan(found.top_decile_share) else (
        f"; the top decile ({math.ceil(n / 10):,} customers) brings "
        f"{found.top_decile_share:.0%} of it")
    return (f"contact {n:,} of {found.candidates:,} customers ({found.positive:,} with a "
            f"positive expected value): expected net value {found.expected_value:,.2f}{share}")
