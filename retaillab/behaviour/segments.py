"""Customer segments: behaviour features, clustering with a chosen k, stability, personas.

::

    features = segments.customer_features(tx, items=items, events=events)
    seg = segments.segment(features, method="kmeans", k=range(2, 9), seed=0)
    seg.k, seg.scores, seg.stability          # chosen k, score per k, bootstrap ARI
    table = segments.personas(seg, features, tx, churn=risk, clv=value)
    segments.persona_figure(table)
    segments.transitions(seg.labels, seg.assign(next_quarter_features))
    segments.export(seg, "segments.csv")      # customer id + segment, for the CRM

**Scaling.** Every non-negative feature column whose skewness is above 1 (counts and money:
``frequency``, ``monetary_*``, ``basket_size``, event counts, ...) is ``log1p``-transformed,
then all columns are standardised (``StandardScaler``), so a few big spenders do not decide
the clusters. The columns logged are fitted once and reused by :meth:`Segmentation.assign`.

**Choosing k.** k-means: the k of the range with the highest silhouette (on up to
:data:`SILHOUETTE_SAMPLE` customers, seeded); Gaussian mixture: the lowest BIC.

**Numbering.** Segments are numbered 1, 2, ... by descending size; ties by the centre's
scaled coordinates (lexicographic), so the same data and seed always give the same numbers.

**Stability.** The model is refitted at the chosen k on ``n_bootstrap`` resamples of the
customers (drawn with replacement, each seeded ``[seed, b]``); each refit labels the distinct
customers of its resample and the adjusted Rand index (ARI) against the full-data labels on
those customers is recorded. Near 1: the segments are a property of the data; well below
(say < 0.6): they move with the sample, so do not build campaigns on them.

**Persona rules** (:func:`personas`; "overall" is over all segmented customers):

=====================  ==========================================================
activity               rule (segment medians against overall)
=====================  ==========================================================
new                    median orders 1, median recency at or below the overall median
lapsed                 median orders 1, median recency above the overall median
loyal                  mean orders >= 1.25 x overall, recency at or below the overall median
lapsing                mean orders >= 1.25 x overall, recency above the overall median
occasional             otherwise, recency at or below the overall median
fading                 otherwise, recency above the overall median
=====================  ==========================================================

The name is the activity and the spend: "one-timers" for new and lapsed ("big-ticket
one-timers" at >= 1.5 x the overall revenue per customer), else "high spenders" (revenue per
customer >= 1.5 x overall), "low spenders" (<= 2/3 x overall) or "spenders"; e.g. "loyal high
spenders", "lapsed one-timers". The action is :data:`ACTIONS` of the
activity. Features without ``frequency`` and ``recency_days`` get ``segment <n>`` and no rule.

Outputs are aggregates (``customers`` counts on every row, for
:func:`retaillab.behaviour.privacy.suppress`); only :func:`export` writes customer ids, the
user's own, to the user's file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from retaillab.data.schema import COLUMNS as C
from retaillab.errors import DataError, ParameterError

__all__ = ["ACTIONS", "Segmentation", "customer_features", "export", "persona_figure",
           "personas", "segment", "transitions", "value_estimates"]

#: customers the silhouette is computed on (it is quadratic in the number of customers)
SILHOUETTE_SAMPLE = 4000
#: columns of :func:`customer_features` shown as behaviour means in :func:`personas`
BEHAVIOUR = ("frequency", "recency_days", "tenure_days", "monetary_mean", "basket_size",
             "n_categories", "view_to_cart", "cart_to_purchase", "mean_dwell_seconds")
#: suggested action per activity (see the module's rule table)
ACTIONS: dict[str, str] = {
    "loyal": "reward and keep: loyalty perks, early access; they need no discount",
    "lapsing": "win back now: a personal reminder with an offer in their top categories",
    "new": "nudge a second purchase: welcome series, a pick from their first category",
    "lapsed": "one cheap reactivation touch; stop spending on them if it gets no response",
    "occasional": "raise frequency: replenishment reminders, bundles, cross-sell",
    "fading": "re-engage before they lapse: a timely reminder in their usual categories",
}
_FEATURE_COLUMNS = ("recency_days", "tenure_days", "frequency", "monetary_total",
                    "monetary_mean")
_EVENT_COLUMNS = ("sessions", "view_to_cart", "cart_to_purchase", "mean_dwell_seconds")


def customer_features(transactions: pd.DataFrame, *, cutoff: object = None,
                      items: pd.DataFrame | None = None,
                      events: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per customer who bought by ``cutoff``: what they do, ready to segment on.

    Built on :func:`retaillab.churn.transaction_features` (same cut-off rules: a date is
    that whole day; default the last transaction's day). Columns: ``recency_days``,
    ``tenure_days``, ``frequency`` (orders), ``monetary_total``, ``monetary_mean`` (per order);
    ``basket_size`` (lines per order) when there is an ``order`` column; with ``items`` the
    category mix ``share_<category>`` and ``n_categories``; with ``events`` ``sessions``,
    ``view_to_cart``, ``cart_to_purchase`` and ``mean_dwell_seconds``, a rate without its
    denominator (no views) filled with the median rate so every customer can be clustered.
    """
    from retaillab.churn.features import _checked, transaction_features

    tx = _checked(transactions)
    cut = tx[C.date].max().normalize() if cutoff is None else cutoff
    raw = transaction_features(tx, cut, items=items, events=events, windows=())
    columns = list(_FEATURE_COLUMNS)
    out = raw[columns].copy()
    if C.order in tx.columns:  # lines per order, on the history up to the cut-off only
        from retaillab.churn.features import _cutoff

        past = tx[_cutoff(cut).past(tx[C.date])]
        by = past.groupby(C.customer)
        out["basket_size"] = (by.size() / by[C.order].nunique()).reindex(out.index).astype(
            "float64")
    if items is not None:
        mix = [c for c in raw.columns if c.startswith("share_")] + ["n_categories"]
        out = out.join(raw[mix].astype("float64"))
    if events is not None:
        present = [c for c in _EVENT_COLUMNS if c in raw.columns]
        behaviour = raw[present].astype("float64")
        out = out.join(behaviour.fillna(behaviour.median()).fillna(0.0))
    out.index.name = C.customer
    return out


def value_estimates(transactions: pd.DataFrame, *, cutoff: object = None, months: int = 12,
                    discount_rate: float = 0.01) -> pd.DataFrame:
    """Churn risk, CLV and order value per customer from BG/NBD + Gamma-Gamma.

    ``churn`` is 1 - P(alive) at ``cutoff`` (default the last transaction's day), ``clv`` the
    discounted expected spend over ``months`` (:func:`retaillab.clv.customer_lifetime_value`)
    and ``order_value`` Gamma-Gamma's expected spend per order, all fitted by maximum likelihood
    on the history up to the cut-off, in weeks. ``order_value`` values a one-off conversion (a
    win-back order), ``clv`` a customer whose retention the offer changes. A persona card
    then carries the mean of each over its segment: what the segment is worth and how many of
    it are already gone, without a labelled churn table.
    """
    from retaillab.clv.beta_geo import BetaGeo
    from retaillab.clv.gamma_gamma import GammaGamma
    from retaillab.clv.rfm import rfm_summary
    from retaillab.clv.value import customer_lifetime_value

    dates = pd.to_datetime(transactions[C.date])
    cut = dates.max().normalize() if cutoff is None else cutoff
    summary = rfm_summary(transactions, calibration_end=cut, unit="W")
    purchases = BetaGeo().fit(summary)
    spend = GammaGamma().fit(summary)
    alive = purchases.conditional_probability_alive(summary["frequency"], summary["recency"],
                                                    summary["T"])
    value = customer_lifetime_value(purchases, spend, summary, months=months,
                                    discount_rate=discount_rate, unit="W")
    out = pd.DataFrame({"churn": 1.0 - alive, "clv": np.asarray(value, dtype=float),
                        "order_value": np.asarray(
                            spend.conditional_expected_average_profit(summary), dtype=float)},
                       index=summary.index)
    out.index.name = C.customer
    return out


@dataclass(frozen=True, eq=False)
class Segmentation:
    """A fitted segmentation (see :func:`segment`).

    Attributes
    ----------
    method, k, seed
        ``"kmeans"`` or ``"gmm"``, the chosen number of segments, the seed.
    scores
        One row per k tried: ``k``, ``silhouette``, ``inertia`` (k-means) or ``bic`` (GMM),
        and ``chosen``.
    labels
        Segment 1..k per customer (indexed by customer, named ``segment``).
    stability
        One row per bootstrap resample: ``resample``, ``customers`` (distinct), ``ari``.
    centres
        Segment x feature: mean of each feature (original units) per segment.
    columns, logged
        The feature columns used and those ``log1p``-transformed before scaling.
    """

    method: str
    k: int
    seed: int
    scores: pd.DataFrame
    labels: pd.Series
    stability: pd.DataFrame
    centres: pd.DataFrame
    columns: tuple[str, ...]
    logged: tuple[str, ...]
    _scaler: object = field(repr=False)
    _model: object = field(repr=False)
    _numbers: np.ndarray = field(repr=False)

    @property
    def stability_mean(self) -> float:
        """Mean bootstrap ARI (NaN without resamples)."""
        return float(self.stability["ari"].mean()) if len(self.stability) else float("nan")

    @property
    def stability_sd(self) -> float:
        """Standard deviation of the bootstrap ARI over the resamples."""
        return float(self.stability["ari"].std(ddof=1)) if len(self.stability) > 1 \
            else float("nan")

    def assign(self, features: pd.DataFrame) -> pd.Series:
        """Segment of each customer of ``features`` (e.g. a later period) under this model:
        the same logging, scaling and segment numbers."""
        x = _matrix(features, self.columns, self.logged)
        scaled = self._scaler.transform(x)
        return pd.Series(self._numbers[self._model.predict(scaled)], index=features.index,
                         name="segment")


def segment(features: pd.DataFrame, *, method: str = "kmeans", k: Iterable[int] = range(2, 9),
            seed: int = 0, n_bootstrap: int = 20) -> Segmentation:
    """Cluster customers on their features, choosing k over the range; seeded, deterministic.

    Every column of ``features`` is used (select columns first to segment on fewer). See the
    module docstring for the scaling, the choice of k, the numbering and the stability.

    Raises
    ------
    DataError
        Missing or non-finite values, non-numeric columns, every feature constant, or fewer
        (distinct) customers than the largest k needs.
    ParameterError
        An unknown ``method``, a k below 2, a negative ``n_bootstrap`` or seed.
    """
    from sklearn.metrics import adjusted_rand_score

    if method not in ("kmeans", "gmm"):
        raise ParameterError("method", "'kmeans' or 'gmm'", method)
    ks = _ks(k)
    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, int | np.integer) \
            or n_bootstrap < 0:
        raise ParameterError("n_bootstrap", "a whole number >= 0", n_bootstrap)
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ParameterError("seed", "a whole number >= 0", seed)
    columns = _check_features(features, max(ks))
    logged = tuple(c for c in columns if not c.startswith("share_") and _skewed(features[c]))
    x = _matrix(features, columns, logged)
    from sklearn.preprocessing import StandardScaler

    scaler = _BlockScaler(StandardScaler(), [columns.index(c) for c in columns
                                             if c.startswith("share_")]).fit(x)
    scaled = scaler.transform(x)
    rows, models = [], {}
    for n_seg in ks:
        model = _fit(method, n_seg, scaled, seed)
        raw = model.predict(scaled)
        row = {"k": n_seg, "silhouette": _silhouette(scaled, raw, seed)}
        if method == "kmeans":
            row["inertia"] = float(model.inertia_)
        else:
            row["bic"] = float(model.bic(scaled))
        rows.append(row)
        models[n_seg] = model
    scores = pd.DataFrame(rows)
    score = scores["silhouette"].fillna(-np.inf) if method == "kmeans" else -scores["bic"]
    chosen = int(scores.loc[score.idxmax(), "k"])
    scores["chosen"] = scores["k"] == chosen
    model = models[chosen]
    raw = model.predict(scaled)
    numbers = _numbering(raw, scaled, chosen)
    labels = pd.Series(numbers[raw], index=features.index, name="segment")

    stability = []
    n = len(scaled)
    for b in range(n_bootstrap):
        rng = np.random.default_rng([seed, b])
        drawn = np.unique(rng.integers(0, n, n))
        refit = _fit(method, chosen, scaled[rng.permutation(drawn)], seed)
        ari = adjusted_rand_score(raw[drawn], refit.predict(scaled[drawn]))
        stability.append({"resample": b, "customers": drawn.size, "ari": float(ari)})
    centres = features[list(columns)].groupby(labels.to_numpy()).mean()
    centres.index.name = "segment"
    return Segmentation(method=method, k=chosen, seed=int(seed), scores=scores, labels=labels,
                        stability=pd.DataFrame(stability, columns=["resample", "customers",
                                                                   "ari"]),
                        centres=centres, columns=columns, logged=logged, _scaler=scaler,
                        _model=model, _numbers=numbers)


def personas(segmentation: Segmentation, features: pd.DataFrame, transactions: pd.DataFrame,
             *, churn: pd.Series | None = None, clv: pd.Series | None = None) -> pd.DataFrame:
    """One row per segment, to read as a persona: who they are, what they are worth, what to do.

    Columns: ``customers``, ``share_customers``, ``revenue`` (their transactions' amounts),
    ``share_revenue`` (of the segmented customers' revenue), ``revenue_per_customer``;
    ``mean_churn`` / ``mean_clv`` when those Series (indexed by customer) are given;
    ``top_categories`` (the three largest mean ``share_*``, when the features have them); the
    behaviour means
    of :data:`BEHAVIOUR` the features have; ``name``, ``description`` and ``action`` by the
    rules of the module docstring. Indexed by segment.
    """
    labels = segmentation.labels
    if not isinstance(transactions, pd.DataFrame) or not {C.customer, C.amount} <= set(
            transactions.columns):
        raise DataError("transactions need 'customer' and 'amount' columns",
                        source="transactions", fix="pass the transactions the features came from")
    spend = transactions.groupby(C.customer)[C.amount].sum().reindex(labels.index,
                                                                     fill_value=0.0)
    by = labels.to_numpy()
    out = pd.DataFrame({"customers": labels.value_counts().sort_index()})
    out.index.name = "segment"
    out["share_customers"] = out["customers"] / out["customers"].sum()
    out["revenue"] = spend.groupby(by).sum()
    total = out["revenue"].sum()
    out["share_revenue"] = out["revenue"] / total if total else 0.0
    out["revenue_per_customer"] = out["revenue"] / out["customers"]
    for name, series in (("mean_churn", churn), ("mean_clv", clv)):
        if series is not None:
            out[name] = pd.Series(series).reindex(labels.index).groupby(by).mean()
    feats = features.reindex(labels.index)
    shares = [c for c in feats.columns if c.startswith("share_")]
    if shares:
        mix = feats[shares].groupby(by).mean()
        out["top_categories"] = [", ".join(c.removeprefix("share_") for c in
                                           row.sort_values(ascending=False).index[:3])
                                 for _, row in mix.iterrows()]
    present = [c for c in BEHAVIOUR if c in feats.columns]
    for c in present:
        out[f"mean_{c}"] = feats[c].groupby(by).mean()
    names = _names(out, feats, by)
    out["name"], out["description"], out["action"] = names
    return out


def _names(table: pd.DataFrame, feats: pd.DataFrame, by: np.ndarray
           ) -> tuple[list[str], list[str], list[str]]:
    """Persona name, description and action of each segment by the module's rules."""
    names, texts, actions = [], [], []
    ruled = {"frequency", "recency_days"} <= set(feats.columns)
    overall_value = table["revenue"].sum() / table["customers"].sum()
    if ruled:
        freq_median = feats["frequency"].groupby(by).median()
        freq_mean = feats["frequency"].groupby(by).mean()
        rec_median = feats["recency_days"].groupby(by).median()
        all_rec, all_freq = feats["recency_days"].median(), feats["frequency"].mean()
    for s, row in table.iterrows():
        text = (f"{int(row['customers']):,} customers ({row['share_customers']:.0%}), "
                f"{row['share_revenue']:.0%} of revenue, "
                f"{row['revenue_per_customer']:,.0f} per customer")
        if not ruled:
            names.append(f"segment {s}")
            texts.append(text)
            actions.append("")
            continue
        recent = rec_median[s] <= all_rec
        if freq_median[s] <= 1:
            activity = "new" if recent else "lapsed"
        elif freq_mean[s] >= 1.25 * all_freq:
            activity = "loyal" if recent else "lapsing"
        else:
            activity = "occasional" if recent else "fading"
        value = row["revenue_per_customer"]
        if activity in ("new", "lapsed"):
            noun = "big-ticket one-timers" if value >= 1.5 * overall_value else "one-timers"
        elif value >= 1.5 * overall_value:
            noun = "high spenders"
        elif value <= overall_value / 1.5:
            noun = "low spenders"
        else:
            noun = "spenders"
        text += (f"; median {freq_median[s]:g} orders, last {rec_median[s]:.0f} days ago")
        if "top_categories" in table.columns:
            text += f"; mostly {row['top_categories']}"
        names.append(f"{activity} {noun}")
        texts.append(text)
        actions.append(ACTIONS[activity])
    return names, texts, actions


def transitions(labels_before: pd.Series, labels_after: pd.Series) -> pd.DataFrame:
    """How customers moved between segments from one period to the next.

    One row per (``from``, ``to``) pair that happened: ``customers`` and ``share`` (of the
    ``from`` segment's customers). Customers only in the later period come ``from`` ``"new"``;
    those only in the earlier go ``to`` ``"gone"``. Assign the later period with the earlier
    model (:meth:`Segmentation.assign`) so segment numbers mean the same thing.
    """
    for name, labels in (("labels_before", labels_before), ("labels_after", labels_after)):
        if not isinstance(labels, pd.Series):
            raise ParameterError(name, "a Series of segments indexed by customer", labels)
        if not labels.index.is_unique:
            raise DataError("a customer appears twice", source=name,
                            fix="one segment per customer")
    customers = labels_before.index.union(labels_after.index, sort=False)
    before = labels_before.astype(object).reindex(customers).fillna("new")
    after = labels_after.astype(object).reindex(customers).fillna("gone")
    pairs = pd.DataFrame({"from": before.to_numpy(), "to": after.to_numpy()})
    out = pairs.groupby(["from", "to"], sort=False).size().rename("customers").reset_index()
    out["share"] = out["customers"] / out.groupby("from")["customers"].transform("sum")
    key = [(str(type(v)), v) for v in out["from"]], [(str(type(v)), v) for v in out["to"]]
    order = sorted(range(len(out)), key=lambda i: (key[0][i], key[1][i]))
    return out.iloc[order].reset_index(drop=True)


def export(segmentation: Segmentation, path: str | Path) -> Path:
    """Write each customer's id (as the user gave it) and segment to ``path``: ``.csv`` or
    ``.parquet``. The one output with customer ids: for the user's own CRM, not a report."""
    path = Path(path)
    table = pd.DataFrame({C.customer: segmentation.labels.index.to_numpy(),
                          "segment": segmentation.labels.to_numpy()})
    if path.suffix.lower() == ".csv":
        table.to_csv(path, index=False)
    elif path.suffix.lower() in (".parquet", ".pq"):
        table.to_parquet(path, index=False)
    else:
        raise ParameterError("path", "a .csv or .parquet file", str(path))
    return path


def persona_figure(personas: pd.DataFrame) -> object:
    """Three panels, a bar per segment: share of customers, share of revenue, revenue per
    customer; labelled by segment number and persona name. Returns a matplotlib Figure."""
    import matplotlib.pyplot as plt

    labels = [f"{s}: {n}" if "name" in personas.columns else str(s)
              for s, n in zip(personas.index, personas.get("name", personas.index),
                              strict=True)]
    panels = [("share_customers", "share of customers", "{:.0%}"),
              ("share_revenue", "share of revenue", "{:.0%}"),
              ("revenue_per_customer", "revenue per customer", "{:,.0f}")]
    fig, axes = plt.subplots(1, 3, figsize=(12, 0.5 * len(personas) + 1.8), sharey=True)
    y = np.arange(len(personas))[::-1]
    for ax, (column, title, fmt) in zip(axes, panels, strict=True):
        values = personas[column].to_numpy(dtype=float)
        ax.barh(y, values, color="#4C72B0")
        for yi, v in zip(y, values, strict=True):
            ax.text(v, yi, " " + fmt.format(v), va="center", fontsize=8)
        ax.set_title(title)
        ax.set_xlim(0, max(values.max(), 1e-9) * 1.3)
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(y, labels)
    fig.tight_layout()
    return fig


def _ks(k: object) -> tuple[int, ...]:
    values = [k] if isinstance(k, int | np.integer) else (
        list(k) if isinstance(k, Iterable) and not isinstance(k, str) else None)
    if not values or any(isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 2
                         for v in values):
        raise ParameterError("k", "a whole number >= 2 or a range of them", k)
    return tuple(sorted({int(v) for v in values}))


def _check_features(features: object, k_max: int) -> tuple[str, ...]:
    if not isinstance(features, pd.DataFrame) or features.shape[1] == 0:
        raise ParameterError("features", "a DataFrame of numeric features indexed by customer",
                             type(features).__name__)
    numeric = features.select_dtypes(include=["number", "bool"])
    other = [c for c in features.columns if c not in numeric.columns]
    if other:
        raise DataError(f"feature {other[0]!r} is not numeric ({features[other[0]].dtype})",
                        source="features", column=str(other[0]),
                        fix="drop it or encode it as numbers")
    values = numeric.to_numpy(dtype=float)
    bad = ~np.isfinite(values)
    if bad.any():
        column = str(features.columns[bad.any(axis=0)][0])
        raise DataError(f"{int(bad.any(axis=1).sum())} customers have missing or infinite "
                        "features", source="features", column=column,
                        fix="fill or drop them before segmenting")
    if not features.index.is_unique:
        raise DataError("a customer appears on more than one row", source="features",
                        fix="one row per customer (customer_features gives that)")
    n = len(features)
    if n <= k_max:
        raise DataError(f"{n} customers: too few for k up to {k_max} (silhouette needs more "
                        "customers than segments)", source="features",
                        fix=f"use k below {n} or more customers")
    varying = [c for c in features.columns if np.ptp(features[c].to_numpy(dtype=float)) > 0]
    if not varying:
        raise DataError("every feature is the same for every customer: nothing to segment on",
                        source="features", fix="add features that differ between customers")
    distinct = len(features[varying].drop_duplicates())
    if distinct < k_max:
        raise DataError(f"only {distinct} distinct customers' features for k up to {k_max}",
                        source="features", fix=f"use k of at most {distinct}")
    return tuple(str(c) for c in varying)


def _skewed(values: pd.Series) -> bool:
    x = values.to_numpy(dtype=float)
    return bool(x.min() >= 0 and pd.Series(x).skew() > 1)


def _matrix(features: pd.DataFrame, columns: tuple[str, ...], logged: tuple[str, ...]
            ) -> np.ndarray:
    missing = [c for c in columns if c not in features.columns]
    if missing:
        raise DataError(f"no feature {missing[0]!r}, which the segmentation was fitted on",
                        source="features", column=missing[0],
                        fix="build the features the same way (customer_features)")
    x = features[list(columns)].to_numpy(dtype=float).copy()
    where = [columns.index(c) for c in logged]
    x[:, where] = np.log1p(np.clip(x[:, where], 0, None))
    if not np.isfinite(x).all():
        raise DataError("missing or infinite features", source="features",
                        fix="fill or drop them before assigning")
    return x


class _BlockScaler:
    """StandardScaler, except that the ``share_*`` columns (a composition) share one scale:
    centred and divided by the root of their mean variance, so a category few customers buy
    weighs as little as it varies instead of as much as any other feature."""

    def __init__(self, scaler: object, block: list[int]) -> None:
        self.scaler, self.block = scaler, block if len(block) > 1 else []

    def fit(self, x: np.ndarray) -> _BlockScaler:
        self.scaler.fit(x)
        if self.block:
            part = x[:, self.block]
            self.block_mean = part.mean(axis=0)
            self.block_scale = float(np.sqrt(part.var(axis=0).mean())) or 1.0
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        out = self.scaler.transform(x)
        if self.block:
            out[:, self.block] = (x[:, self.block] - self.block_mean) / self.block_scale
        return out


def _fit(method: str, k: int, x: np.ndarray, seed: int) -> object:
    if method == "kmeans":
        from sklearn.cluster import KMeans

        return KMeans(n_clusters=k, n_init=10, random_state=seed).fit(x)
    from sklearn.mixture import GaussianMixture

    return GaussianMixture(n_components=k, covariance_type="diag", n_init=2,
                           reg_covar=1e-4, random_state=seed).fit(x)


def _silhouette(x: np.ndarray, labels: np.ndarray, seed: int) -> float:
    from sklearn.metrics import silhouette_score

    if len(np.unique(labels)) < 2:
        return float("nan")
    sample = min(len(x), SILHOUETTE_SAMPLE)
    return float(silhouette_score(x, labels, sample_size=sample if sample < len(x) else None,
                                  random_state=seed))


def _numbering(raw: np.ndarray, x: np.ndarray, k: int) -> np.ndarray:
    """Segment number (1..k) of each model label: by descending size, ties by centre."""
    sizes = np.bincount(raw, minlength=k)
    centres = np.array([x[raw == j].mean(axis=0) if sizes[j] else np.full(x.shape[1], np.inf)
                        for j in range(k)])
    order = sorted(range(k), key=lambda j: (-sizes[j], tuple(centres[j])))
    numbers = np.empty(k, dtype=np.int64)
    numbers[order] = np.arange(1, k + 1)
    return numbers
