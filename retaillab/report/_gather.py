"""The MLflow record of one experiment as tidy tables: models, intervals, the winner's paired
tests against every other model (Holm-corrected), provenance and tuning studies.

Where the numbers come from, in order of preference (per model and metric):

1. per-unit values the run logged as a child artifact: ``folds.csv`` (one row per fold, as
   ``churn.compare`` logs) gives the corrected resampled t interval over the folds (Nadeau &
   Bengio), with the training and test sizes the run logged (``n_train``/``n_test`` columns or
   the ``retaillab.n_train``/``retaillab.n_test`` tags; without them ``n_test/n_train =
   1/(k-1)`` for ``k`` distinct fold numbers, said so); ``per_user.csv`` (one row per user and
   fold) a BCa bootstrap over users for one fold, the corrected t over the fold means for
   several;
2. interval bounds logged as metrics ``METRIC_ci_low`` / ``METRIC_ci_high`` (the
   ``retaillab.interval`` tag says which interval they are);
3. the parent's ``comparison.csv`` of ``mean [low, high]`` cells (the recommender notebook);
4. otherwise the mean alone, marked "no interval available".

The winner is tested against each other model on the main metric
(:func:`retaillab.metrics.compare_with_best`): the corrected resampled paired t over folds, or a
paired t over users with each user's values averaged over folds first (one value per user), and
Holm's correction over every pairwise test, so that "better" stays a 5% claim although the
winner is picked from the same data. Without per-unit values the report says so.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from retaillab import tracking
from retaillab.errors import DataError, UnknownNameError
from retaillab.leaderboard import MAIN_METRICS, lower_is_better
from retaillab.metrics.compare import TAG_INTERVAL, TAG_N_TEST, TAG_N_TRAIN

if TYPE_CHECKING:  # pragma: no cover
    from mlflow.entities import Run as MlflowRun

UNIT_FILES = {"folds.csv": "folds", "per_user.csv": "users"}
UNIT_KEYS = ("repeat", "fold", "user")
USER_KEY = "user"  # per_user.csv: one opaque key per user, never parsed
KIND_STUDY = "study"  # retaillab.tuning: parent kind=study, trials kind=trial, as child runs
TAG_TRIAL = tracking.TAG_TRIAL
TAG_TRIAL_STATE = tracking.TAG_TRIAL_STATE
CELL = re.compile(r"^\s*(\S+)\s*\[\s*(\S+)\s*,\s*(\S+)\s*\]\s*$")
N_BOOTSTRAP = 2000
ALPHA = 0.05
NB = "Nadeau\u2013Bengio"

TAG_COMMIT, TAG_DIRTY, TAG_SEED = tracking.TAG_COMMIT, tracking.TAG_DIRTY, tracking.TAG_SEED
TAG_SPEC, TAG_SPEC_HASH = tracking.TAG_SPEC, tracking.TAG_SPEC_HASH


@dataclass
class Study:
    """A tuning study: a parent run tagged ``retaillab.kind=study`` and its trial child runs."""

    run_id: str
    name: str
    metric: str
    lower_is_better: bool
    #: one row per finished (not pruned) trial, in order: trial, value, best_so_far, run_id
    trials: pd.DataFrame
    #: the study run's own metrics, e.g. best validation and test scores against the defaults
    summary: dict[str, float] = field(default_factory=dict)


@dataclass
class ExperimentReport:
    """Everything the report shows about one experiment, as tables a notebook can dig into.

    ``models``: one row per compared model (child run): run_id, status and mean metrics.
    ``intervals``: long table model, metric, mean, low, high, n, source.
    ``units``: per model, the per-fold or per-user values (``unit_kind`` says which).
    ``sizes``: per model, the folds' mean ``(n_train, n_test)`` when the run logged them.
    ``paired``: the winner against each other model on the main metric: ``winner``,
    ``metric``, ``test`` (which test), ``tests`` (one row per other model: n,
    mean_difference, t_statistic, p_value, p_holm, better), ``better_than``,
    ``not_better_than``, ``significant`` (better than all) and ``verdict`` (a sentence), or
    ``reason`` when no test ran.
    ``provenance``: what produced the numbers (commit, spec, data fingerprints, rerun).
    """

    experiment: str
    run_id: str | None
    run_name: str
    started: pd.Timestamp | None
    models: pd.DataFrame
    intervals: pd.DataFrame
    main: str | None
    lower_is_better: bool
    units: dict[str, pd.DataFrame] = field(default_factory=dict)
    unit_kind: str = ""
    paired: dict[str, Any] = field(default_factory=dict)
    sizes: dict[str, tuple[float, float]] = field(default_factory=dict)
    provenance: dict[str, str] = field(default_factory=dict)
    studies: list[Study] = field(default_factory=list)
    #: churn: per model, its reliability curve (``calibration.csv``: bin, low, high,
    #: customers, predicted, observed) over its pooled out-of-fold predictions
    calibration: dict[str, pd.DataFrame] = field(default_factory=dict)
    #: behaviour analyses (funnel, dwell, KPIs, cohorts, personas): the tables and figures
    #: the notebook logged under ``behaviour/`` (name -> DataFrame, name -> PNG bytes), in
    #: the order logged; tables were suppressed below k customers before logging
    behaviour: dict[str, pd.DataFrame] = field(default_factory=dict)
    behaviour_figures: dict[str, bytes] = field(default_factory=dict)
    #: a campaign readout (arms, effects with intervals, what it pays; uplift models' Qini,
    #: the targeting policies' profit curves): what the notebook logged under ``campaign/``
    campaign: dict[str, pd.DataFrame] = field(default_factory=dict)
    campaign_figures: dict[str, bytes] = field(default_factory=dict)

    @property
    def analysis_only(self) -> bool:
        """A run of tables and figures (behaviour, campaign) rather than a model comparison."""
        return bool(self.behaviour or self.behaviour_figures or self.campaign
                    or self.campaign_figures)

    @property
    def metrics(self) -> list[str]:
        """Metrics shown in the leaderboard (timings excluded): the main one, those with an
        interval, then the rest."""
        names = [m for m in dict.fromkeys(self.intervals.get("metric", []))
                 if not m.endswith("_seconds")]
        with_interval = set(self.intervals.dropna(subset=["low", "high"])["metric"])
        return sorted(names, key=lambda m: (m != self.main, m not in with_interval, m))

    @property
    def timings(self) -> list[str]:
        """The ``*_seconds`` columns of :attr:`models`."""
        return [c for c in self.models.columns if c.endswith("_seconds")]

    @property
    def ranking(self) -> list[str]:
        """Finished models, best first on the main metric."""
        if self.main is None or self.main not in self.models.columns:
            return list(self.models.index)
        done = self.models[self.models["status"] == "FINISHED"]
        return list(done[self.main].dropna().sort_values(
            ascending=self.lower_is_better, kind="stable").index)

    @property
    def winner(self) -> str | None:
        return self.ranking[0] if self.ranking else None

    def leaderboard(self, digits: int = 3) -> pd.DataFrame:
        """Model x metric table of ``mean [low, high]`` strings (``mean`` alone without an
        interval), best model first."""
        rows = {}
        for model in self.ranking:
            cells = {}
            for _, r in self.intervals[self.intervals["model"] == model].iterrows():
                text = f"{r['mean']:.{digits}f}"
                if np.isfinite(r["low"]) and np.isfinite(r["high"]):
                    text += f" [{r['low']:.{digits}f}, {r['high']:.{digits}f}]"
                cells[r["metric"]] = text
            rows[model] = cells
        table = pd.DataFrame.from_dict(rows, orient="index")
        return table.reindex(columns=[m for m in self.metrics if m in table.columns])


def _what_exists(runs: list[MlflowRun]) -> str:
    if not runs:
        return "it holds no runs"
    counts: dict[str, int] = {}
    for run in runs:
        kind = run.data.tags.get(tracking.TAG_KIND, "untagged")
        key = f"{kind} {run.info.status}"
        counts[key] = counts.get(key, 0) + 1
    parts = ", ".join(f"{n} {key}" for key, n in sorted(counts.items()))
    return f"it holds {len(runs)} run{'s' * (len(runs) != 1)} ({parts})"


def _experiment(name: str) -> Any:
    client = tracking.client()
    exp = client.get_experiment_by_name(name)
    if exp is None:
        raise UnknownNameError("experiment", name, [e.name for e in client.search_experiments()])
    return exp


def _name(run: MlflowRun) -> str:
    return run.data.tags.get(tracking.RUN_NAME_TAG, run.info.run_id)


def _artifact(run_id: str, name: str) -> pd.DataFrame | None:
    """A CSV artifact of a run as a DataFrame, or None when the run has none of that name.

    A ``user`` column (or index) is read as opaque text: keys are pseudonyms (an HMAC, a
    hash, a position) whose only use is to pair the same user across models, and text that
    looks like a number (``0000000000000042``, ``1234e56789012345``) must stay as written.
    """
    client = tracking.client()
    if name not in {f.path for f in client.list_artifacts(run_id)}:
        return None
    with tempfile.TemporaryDirectory() as folder, _no_progress_bar():
        path = client.download_artifacts(run_id, name, folder)
        table = pd.read_csv(path, index_col=0, dtype={USER_KEY: str}, keep_default_na=False,
                            na_values={c: ["", "nan", "NaN", "NA"] for c in _columns(path)
                                       if c != USER_KEY})
    if table.index.name in UNIT_KEYS:  # unit keys written as the index: make them columns
        table = table.reset_index()
    return table


def _columns(path: str) -> list[str]:
    """The header of a CSV file."""
    import csv

    with open(path, newline="", encoding="utf-8") as handle:
        return next(csv.reader(handle), [])


@contextlib.contextmanager
def _no_progress_bar() -> Iterator[None]:
    """MLflow draws a progress bar per downloaded file unless told not to, by environment
    variable only; it is set for the download and restored afterwards."""
    key = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
    before = os.environ.get(key)
    os.environ[key] = "false"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = before


def _fold_sizes(table: pd.DataFrame, size: tuple[float, float] | None
                ) -> tuple[float, float, str] | None:
    """``(n_train, n_test, note)`` for the corrected t over ``table``'s folds: the logged sizes,
    else ``1/(k-1)`` from ``k`` distinct fold numbers (k-fold), else None."""
    if size is not None:
        return size[0], size[1], ""
    k = table["fold"].nunique() if "fold" in table.columns else 0
    if k >= 2:
        return float(k - 1), 1.0, f"; n_test/n_train = 1/{k - 1} assumed from {k}-fold"
    return None


def _over_folds(x: np.ndarray, table: pd.DataFrame, size: tuple[float, float] | None,
                ) -> tuple[float, float, float, str]:
    from retaillab.metrics.compare import confidence_interval, corrected_interval

    found = _fold_sizes(table, size)
    if found is None:
        mean, low, high = confidence_interval(x)
        return mean, low, high, f"t over {x.size} folds (uncorrected: no fold sizes logged)"
    mean, low, high = corrected_interval(x, found[0], found[1])
    return mean, low, high, f"corrected resampled t over {x.size} folds ({NB}{found[2]})"


def _interval(table: pd.DataFrame, metric: str, kind: str, seed: int,
              size: tuple[float, float] | None = None
              ) -> tuple[float, float, float, int, str]:
    """Mean, bounds, units and the interval's name for one model's per-unit ``metric``."""
    from retaillab.metrics.compare import bootstrap_interval

    values = pd.to_numeric(table[metric], errors="coerce")
    keep = values.notna()
    x = values[keep].to_numpy(dtype=float)
    if x.size < 2:
        return (float(x.mean()) if x.size else np.nan), np.nan, np.nan, int(x.size), "none"
    if kind == "users" and "fold" in table.columns and table["fold"].nunique() > 1:
        by_fold = values[keep].groupby(table.loc[keep, "fold"]).mean()
        mean, low, high, source = _over_folds(by_fold.to_numpy(), table, size)
        return mean, low, high, len(by_fold), source
    if kind == "users":
        mean, low, high = bootstrap_interval(x, n_resamples=N_BOOTSTRAP, seed=seed)
        return mean, low, high, int(x.size), f"BCa bootstrap over {x.size:,} users"
    mean, low, high, source = _over_folds(x, table, size)
    return mean, low, high, int(x.size), source


def _logged_cells(parent_id: str) -> dict[tuple[str, str], tuple[float, float, float]]:
    """``mean [low, high]`` cells of the parent's comparison.csv, by (model, metric)."""
    table = _artifact(parent_id, "comparison.csv")
    found: dict[tuple[str, str], tuple[float, float, float]] = {}
    if table is None:
        return found
    for model, row in table.iterrows():
        for metric, cell in row.items():
            match = CELL.match(str(cell))
            if match:
                try:
                    found[(str(model), str(metric))] = tuple(float(g) for g in match.groups())
                except ValueError:
                    continue
    return found


def _intervals(models: pd.DataFrame, units: dict[str, pd.DataFrame], unit_kind: str,
               logged: dict, seed: int, sizes: dict[str, tuple[float, float]] | None = None,
               kinds: dict[str, str] | None = None) -> pd.DataFrame:
    rows = []
    metrics = [c for c in models.columns if c not in ("run_id", "status")
               and not c.endswith(("_ci_low", "_ci_high"))]
    for model, row in models.iterrows():
        table = units.get(model)
        for metric in metrics:
            mean = row[metric]
            if pd.isna(mean):
                continue
            low = high = np.nan
            n, source = 0, "no interval available"
            if table is not None and metric in table.columns and len(table) >= 2:
                mean, low, high, n, source = _interval(table, metric, unit_kind, seed,
                                                       (sizes or {}).get(model))
            elif pd.notna(row.get(f"{metric}_ci_low")) and pd.notna(row.get(f"{metric}_ci_high")):
                low, high = row[f"{metric}_ci_low"], row[f"{metric}_ci_high"]
                kind = (kinds or {}).get(model)
                source = f"logged by the run: {kind}" if kind else "logged by the run"
            elif (model, metric) in logged:
                _, low, high = logged[(model, metric)]
                # the cells are rounded for display: widen them to hold the exact mean
                low, high = min(low, mean), max(high, mean)
                source = "logged by the run (comparison.csv)"
            rows.append({"model": model, "metric": metric, "mean": float(mean),
                         "low": float(low), "high": float(high), "n": n, "source": source})
    return pd.DataFrame(rows, columns=["model", "metric", "mean", "low", "high", "n", "source"])


def _sizes(table: pd.DataFrame | None, tags: dict[str, str]) -> tuple[float, float] | None:
    """A child run's mean training and test sizes per fold: from its fold table's ``n_train``
    and ``n_test`` columns, else its tags, else None."""
    if table is not None and {"n_train", "n_test"} <= set(table.columns):
        n_train = pd.to_numeric(table["n_train"], errors="coerce").mean()
        n_test = pd.to_numeric(table["n_test"], errors="coerce").mean()
    else:
        try:
            n_train, n_test = float(tags[TAG_N_TRAIN]), float(tags[TAG_N_TEST])
        except (KeyError, ValueError):
            return None
    if not (np.isfinite(n_train) and np.isfinite(n_test) and n_train > 0 and n_test > 0):
        return None
    return float(n_train), float(n_test)


def _main_metric(columns: list[str], preferred: str | None) -> str | None:
    if preferred:
        if preferred not in columns:
            raise DataError(f"metric {preferred!r} was not logged by its models",
                            source="report", fix=f"choose one of {', '.join(sorted(columns))}")
        return preferred
    for name in MAIN_METRICS:
        if name in columns:
            return name
    ndcg = sorted(c for c in columns if c.startswith("ndcg_at_"))
    accuracy = [c for c in columns if not c.endswith("_seconds")]
    return ndcg[0] if ndcg else (accuracy[0] if accuracy else None)


def _unit_values(table: pd.DataFrame, metric: str, kind: str) -> pd.Series | None:
    """One model's values of ``metric`` per unit, keyed for pairing: per fold by
    ``(repeat, fold)``; per user by the user's key, averaged over folds (one value a user)."""
    if metric not in table.columns:
        return None
    values = pd.to_numeric(table[metric], errors="coerce")
    if kind == "users":
        if USER_KEY not in table.columns:
            return None
        return values.groupby(table[USER_KEY].to_numpy()).mean().dropna()
    keys = [k for k in ("repeat", "fold") if k in table.columns]
    if not keys:
        return None
    index = pd.MultiIndex.from_frame(table[keys].astype(str))
    return pd.Series(values.to_numpy(), index=index).dropna()


def _paired(report: ExperimentReport) -> dict[str, Any]:
    """The winner against each other finished model: paired tests on the main metric, Holm."""
    from retaillab.metrics.compare import compare_with_best

    ranking, main, kind = report.ranking, report.main, report.unit_kind
    if len(ranking) < 2 or main is None:
        return {"reason": "only one finished model: nothing to compare"}
    winner = ranking[0]
    out: dict[str, Any] = {"winner": winner, "runner_up": ranking[1], "metric": main}
    values = {m: v for m in ranking if m in report.units
              and (v := _unit_values(report.units[m], main, kind)) is not None and len(v) >= 2}
    if winner not in values or len(values) < 2:
        out["reason"] = ("no paired test: the run logged only means, not per-fold or "
                         "per-user values" if not report.units else
                         "no paired test: per-unit values carry no fold or user key to align "
                         "on, or fewer than 2 of them")
        return out
    table = report.units[winner]
    if kind == "users":
        n_folds = table["fold"].nunique() if "fold" in table.columns else 1
        size = None
        test = f"paired t over {len(values[winner]):,} users" + (
            f" (each user's values averaged over {n_folds} folds)" if n_folds > 1 else "")
    else:
        size = _fold_sizes(table, report.sizes.get(winner))
        test = (f"corrected resampled paired t over {len(values[winner])} folds ({NB}"
                f"{size[2]})" if size else
                f"paired t over {len(values[winner])} folds (uncorrected: no fold sizes logged)")
    found = compare_with_best(values, best=winner, lower_is_better=report.lower_is_better,
                              n_train=size[0] if size else None,
                              n_test=size[1] if size else None, alpha=ALPHA)
    rows = found.table
    out.update({"unit": kind, "test": test, "family": found.family, "n_tests": found.n_tests,
                "alpha": ALPHA, "tests": rows, "better_than": found.better_than,
                "not_better_than": found.not_better_than, "significant": found.significant,
                "untested": [m for m in ranking[1:] if m not in values]})
    out["verdict"] = verdict(out)
    return out


def _with_p(models: list[str], tests: pd.DataFrame) -> str:
    return ", ".join(f"{m} (p = {tests.loc[m, 'p_holm']:.2g})" for m in models)


def verdict(paired: dict[str, Any]) -> str:
    """The paired tests in one sentence: a significant winner, or "no significant winner"."""
    if "tests" not in paired:
        return paired.get("reason", "")
    best, tests = paired["winner"], paired["tests"]
    k, better, worse = len(tests), paired["better_than"], paired["not_better_than"]
    level = f"Holm-adjusted p < {paired['alpha']:g}"
    if paired["significant"]:
        largest = tests["p_holm"].idxmax()
        text = (f"{best} is the significant winner: better than all {k} other model"
                f"{'s' * (k != 1)} ({level}; largest p = {tests.loc[largest, 'p_holm']:.2g}, "
                f"against {largest}).")
    elif better:
        text = (f"No significant winner: {best} has the best mean and is significantly better "
                f"than {len(better)} of {k} others ({level}), but not significantly better "
                f"than {_with_p(worse, tests)}.")
    else:
        text = (f"No significant winner: {best} has the best mean but is not significantly "
                f"better than {'any other model' if k > 1 else 'the other model'}: "
                f"{_with_p(worse, tests)}.")
    text += (f" Test: {paired['test']}; Holm over {paired['n_tests']} pairwise test"
             f"{'s' * (paired['n_tests'] != 1)}.")
    if paired.get("untested"):
        text += " Not tested (no per-unit values): " + ", ".join(paired["untested"]) + "."
    return text


def _provenance(parent: MlflowRun, experiment: str) -> dict[str, str]:
    tags = parent.data.tags
    out = {"experiment": experiment, "run": parent.info.run_id, "run name": _name(parent),
           "status": parent.info.status,
           "commit": tags.get(TAG_COMMIT, "not recorded") + (
               " (uncommitted changes)" if tags.get(TAG_DIRTY) == "true" else ""),
           "spec": tags.get(TAG_SPEC, "none (notebook run by hand)"),
           "spec sha256": tags.get(TAG_SPEC_HASH, "-"),
           "notebook": tags.get(tracking.TAG_NOTEBOOK, "-"),
           "seed": tags.get(TAG_SEED) or _parameter(tags, "seed"),
           "store": tracking.display_uri()}  # a password in the URI is masked
    for key in sorted(k for k in tags if k.startswith(tracking.TAG_DATA)):
        out[f"data {key[len(tracking.TAG_DATA):]}"] = tags[key]
    out.update(_sources(tags, parent.data.metrics))
    out.update(_models(tags, parent.info.run_id))
    rerunnable = tracking.TAG_PARAMETERS in tags and tracking.TAG_NOTEBOOK in tags
    out["rerun"] = (f"retaillab rerun {parent.info.run_id}" if rerunnable else
                    "not rerunnable: started by hand, not by `retaillab run`")
    return out


def _models(tags: dict[str, str], run_id: str) -> dict[str, str]:
    """The comparison's logged winner and the registry version it was promoted to."""
    from retaillab.models.compared import TAG_WINNER, TAG_WINNER_MODEL
    from retaillab.models.promotion import TAG_PROMOTED

    if TAG_WINNER_MODEL not in tags:
        return {}
    out = {"winner model": f"{tags.get(TAG_WINNER, '?')}: {tags[TAG_WINNER_MODEL]}"}
    if TAG_PROMOTED in tags:
        found = json.loads(tags[TAG_PROMOTED])
        out["promoted"] = (f"{found['model']} as models:/{found['name']}/{found['version']} "
                           f"(alias {found['alias']}: models:/{found['name']}@{found['alias']})")
    else:
        out["promoted"] = f"not yet: retaillab promote {run_id}"
    return out


def _sources(tags: dict[str, str], metrics: dict[str, float]) -> dict[str, str]:
    """Each user source a run read: its file and digest, then its data-quality counts."""
    out = {}
    for key in sorted(k for k in tags if k.startswith(tracking.TAG_SOURCE)):
        table = key[len(tracking.TAG_SOURCE):]
        try:
            record = json.loads(tags[key])
        except ValueError:
            continue
        out[f"source {table}"] = (f"{record.get('name')}: {record.get('path')} "
                                  f"(sha256 {str(record.get('sha256', ''))[:12]})")
        prefix = f"data.{table}."
        counts = {k[len(prefix):]: v for k, v in metrics.items() if k.startswith(prefix)}
        if counts:
            parts = [f"{counts.pop('rows_read', 0):,.0f} rows read, "
                     f"{counts.pop('rows', 0):,.0f} kept"]
            parts += [f"{v:,.0f} {k.split('.', 1)[1].replace('_', ' ')} "
                      f"({k.split('.', 1)[0]})" for k, v in sorted(counts.items())
                      if "." in k and v]
            parts += [f"{v:,.0f} {k}" for k, v in sorted(counts.items()) if "." not in k]
            out[f"data quality {table}"] = "; ".join(parts)
    return out


def _parameter(tags: dict[str, str], name: str) -> str:
    try:
        return str(json.loads(tags.get(tracking.TAG_PARAMETERS, "{}")).get(name, "-"))
    except (ValueError, AttributeError):
        return "-"


def _trial_number(run: MlflowRun) -> int | None:
    text = run.data.tags.get(TAG_TRIAL, "")
    return int(text) if text.isdigit() else None


def _studies(runs: list[MlflowRun]) -> list[Study]:
    """Tuning studies among ``runs``: parents tagged kind=study with finished trial children."""
    found = []
    for parent in (r for r in runs if r.data.tags.get(tracking.TAG_KIND) == KIND_STUDY):
        pid = parent.info.run_id
        trials = sorted((r for r in runs if r.data.tags.get(tracking.PARENT_TAG) == pid
                         and r.info.status == "FINISHED" and r.data.metrics
                         and r.data.tags.get(TAG_TRIAL_STATE) != "PRUNED"),
                        key=lambda r: (_trial_number(r), r.info.start_time))
        if not trials:
            continue
        params = parent.data.params
        asked = params.get("metric")
        metric = next((m for m in (asked, f"validation_{asked}") if asked and all(
            m in t.data.metrics for t in trials)), None)
        if metric is None:
            shared = set.intersection(*(set(t.data.metrics) for t in trials))
            shared = {m for m in shared if not m.endswith("_seconds")}
            metric = "value" if "value" in shared else _main_metric(sorted(shared), None)
        if metric is None:
            continue
        direction = params.get("direction") or ""
        lower = direction.startswith("min") if direction else lower_is_better(metric)
        values = pd.Series([t.data.metrics[metric] for t in trials], dtype=float)
        numbers = [_trial_number(t) for t in trials]
        table = pd.DataFrame({"trial": numbers if None not in numbers else range(len(trials)),
                              "value": values,
                              "best_so_far": values.cummin() if lower else values.cummax(),
                              "run_id": [t.info.run_id for t in trials]})
        summary = {k: v for k, v in parent.data.metrics.items() if not k.startswith("n_")}
        found.append(Study(pid, _name(parent), metric, lower, table, summary))
    return found


def select(experiment: str, run_id: str | None = None,
           ) -> tuple[list[MlflowRun], list[MlflowRun], list[Study]]:
    """Every run of ``experiment`` (newest first), its reportable notebook runs and studies.

    Raises
    ------
    UnknownNameError
        For an experiment the store does not hold.
    DataError
        When the experiment has no finished run (the message says what it holds), or
        ``run_id`` is not a notebook run of it.
    """
    exp = _experiment(experiment)
    runs = tracking.search_all(exp.experiment_id, order_by=["attributes.start_time DESC"])
    parents = [r for r in runs if tracking.is_parent(r) and r.info.status == "FINISHED"]
    if run_id is not None:
        parents = [r for r in runs if r.info.run_id == run_id and tracking.is_parent(r)]
        if not parents:
            raise DataError(f"run {run_id!r} is not a notebook run of this experiment",
                            source=f"experiment {experiment!r}",
                            fix=f"list its runs with `retaillab runs {experiment}`")
    studies = _studies(runs)
    if not parents and not studies:
        raise DataError(f"has no finished run to report; {_what_exists(runs)}",
                        source=f"experiment {experiment!r}",
                        fix="run it first (retaillab run experiments/<spec>.yaml) or wait "
                            "for running runs to finish")
    return runs, parents, studies


def check_request(experiments: list[str], run_id: str | None) -> None:
    """Refuse a report request before any work: unknown names, nothing finished, or a run id
    given with other than one experiment."""
    from retaillab.errors import ParameterError

    if run_id is not None and len(experiments) != 1:
        raise ParameterError("run_id", "given with exactly one experiment", run_id)
    for name in experiments:
        select(name, run_id)


def gather_all(experiments: list[str], run_id: str | None = None, *,
               metric: str | None = None, seed: int = 0) -> list[ExperimentReport]:
    """:func:`gather` for each experiment (every reportable one in the store when empty)."""
    names = list(experiments) or experiments_with_runs()
    check_request(names, run_id)
    return [gather(name, run_id, metric=metric, seed=seed) for name in names]


def gather(experiment: str, run_id: str | None = None, *, metric: str | None = None,
           seed: int = 0) -> ExperimentReport:
    """The record of ``experiment``'s newest finished notebook run (or ``run_id``) as tables.

    Raises
    ------
    UnknownNameError
        For an experiment the store does not hold.
    DataError
        When the experiment has no finished run (the message says what it holds), or
        ``run_id`` is not a notebook run of it.
    """
    runs, parents, studies = select(experiment, run_id)
    if not parents:
        return ExperimentReport(experiment, None, "", None, pd.DataFrame(
            columns=["run_id", "status"]), _intervals(pd.DataFrame(), {}, "", {}, seed), None,
            False, studies=studies)
    parent = parents[0]
    pid = parent.info.run_id
    children = sorted((r for r in runs if r.data.tags.get(tracking.PARENT_TAG) == pid),
                      key=lambda r: r.info.start_time)
    models = pd.DataFrame([{"model": _name(c), "run_id": c.info.run_id, "status": c.info.status,
                            **tracking.leaderboard_metrics(c.data.metrics)} for c in children],
                          columns=["model", "run_id", "status"] if not children else None)
    models = models.drop_duplicates("model", keep="last").set_index("model")
    units, unit_kind, sizes, kinds, calibration = {}, "", {}, {}, {}
    for child in children:
        name = _name(child)
        if TAG_INTERVAL in child.data.tags:
            kinds[name] = child.data.tags[TAG_INTERVAL]
        for file, kind in UNIT_FILES.items():
            table = _artifact(child.info.run_id, file)
            if table is not None:
                units[name], unit_kind = table, kind
                break
        found = _sizes(units.get(name), child.data.tags)
        if found is not None:
            sizes[name] = found
        curve = _artifact(child.info.run_id, "calibration.csv")
        if curve is not None:  # written with ``bin`` as its index
            calibration[name] = curve.reset_index()
    main = _main_metric([c for c in models.columns if c not in ("run_id", "status")], metric)
    report = ExperimentReport(
        experiment, pid, _name(parent), pd.to_datetime(parent.info.start_time, unit="ms"),
        models, _intervals(models, units, unit_kind, _logged_cells(pid), seed, sizes, kinds),
        main, lower_is_better(main) if main else False, units, unit_kind,
        provenance=_provenance(parent, experiment), studies=studies, sizes=sizes,
        calibration=calibration)
    report.behaviour, report.behaviour_figures = _logged(pid, BEHAVIOUR)
    report.campaign, report.campaign_figures = _logged(pid, CAMPAIGN)
    report.paired = _paired(report)
    return report


#: the artifact folders a behaviour and a campaign notebook log their tables and figures into
BEHAVIOUR, CAMPAIGN = "behaviour", "campaign"


def _logged(run_id: str, folder: str) -> tuple[dict[str, pd.DataFrame], dict[str, bytes]]:
    """The tables (CSV) and figures (PNG) a notebook logged under ``folder/``."""
    client = tracking.client()
    names = sorted(f.path for f in client.list_artifacts(run_id, folder) if not f.is_dir)
    tables, figures = {}, {}
    if not names:
        return tables, figures
    with tempfile.TemporaryDirectory() as folder, _no_progress_bar():
        for name in names:
            path = client.download_artifacts(run_id, name, folder)
            stem = os.path.splitext(os.path.basename(name))[0]
            if name.endswith(".csv"):
                tables[stem] = pd.read_csv(path, index_col=0, keep_default_na=False,
                                           na_values=["", "nan", "NaN", "NA"])
            elif name.endswith(".png"):
                with open(path, "rb") as handle:
                    figures[stem] = handle.read()
    return tables, figures


def experiments_with_runs() -> list[str]:
    """Names of experiments holding at least one finished notebook run or study, by name."""
    client = tracking.client()
    names = []
    for exp in client.search_experiments():
        runs = tracking.search_all(exp.experiment_id, "attributes.status = 'FINISHED'")
        if any(tracking.is_parent(r) or r.data.tags.get(tracking.TAG_KIND) == KIND_STUDY
               for r in runs):
            names.append(exp.name)
    return sorted(names)
