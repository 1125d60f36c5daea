"""The MLflow record of one experiment as tidy tables: models, intervals, a paired test of the
winner against the runner-up, provenance and tuning studies.

Where the numbers come from, in order of preference (per model and metric):

1. per-unit values the run logged as a child artifact: ``folds.csv`` (one row per fold, as
   ``churn.compare`` logs) gives a Student-t interval over folds; ``per_user.csv`` (one row per
   user) a percentile bootstrap over users;
2. interval bounds logged as metrics ``METRIC_ci_low`` / ``METRIC_ci_high``;
3. the parent's ``comparison.csv`` of ``mean [low, high]`` cells (the recommender notebook);
4. otherwise the mean alone, marked "no interval available".

The paired test needs per-unit values of both models; without them the report says so.
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

if TYPE_CHECKING:  # pragma: no cover
    from mlflow.entities import Run as MlflowRun

UNIT_FILES = {"folds.csv": "folds", "per_user.csv": "users"}
UNIT_KEYS = ("repeat", "fold", "user")
USER_KEY = "user"  # per_user.csv: one opaque key per user, never parsed
KIND_STUDY = "study"  # retaillab.tuning: parent kind=study, trials kind=trial, as child runs
TAG_TRIAL = tracking.TAG_TRIAL
TAG_TRIAL_STATE = tracking.TAG_TRIAL_STATE
CELL = re.compile(r"^\s*(\S+)\s*\[\s*(\S+)\s*,\s*(\S+)\s*\]\s*$")
N_BOOTSTRAP = 1000
ALPHA = 0.05

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
    ``paired``: winner, runner_up, metric and the paired test, or ``reason`` when none ran.
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
    provenance: dict[str, str] = field(default_factory=dict)
    studies: list[Study] = field(default_factory=list)

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


def _bootstrap(values: np.ndarray, seed: int) -> tuple[float, float]:
    """Percentile bootstrap 95% interval of the mean, resampling units with replacement."""
    rng = np.random.default_rng(seed)
    means = np.empty(N_BOOTSTRAP)
    chunk = max(1, 2_000_000 // max(values.size, 1))
    for start in range(0, N_BOOTSTRAP, chunk):
        stop = min(start + chunk, N_BOOTSTRAP)
        picks = rng.integers(0, values.size, size=(stop - start, values.size))
        means[start:stop] = values[picks].mean(axis=1)
    low, high = np.quantile(means, [0.025, 0.975])
    return float(low), float(high)


def _interval(values: pd.Series, kind: str, seed: int) -> tuple[float, float, float, int, str]:
    from retaillab.metrics.compare import confidence_interval

    x = pd.to_numeric(values, errors="coerce").dropna().to_numpy(dtype=float)
    if x.size < 2:
        return (float(x.mean()) if x.size else np.nan), np.nan, np.nan, int(x.size), "none"
    if kind == "users":
        low, high = _bootstrap(x, seed)
        return float(x.mean()), low, high, int(x.size), f"bootstrap over {x.size:,} users"
    mean, low, high = confidence_interval(x)
    return mean, low, high, int(x.size), f"t over {x.size} folds"


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
               logged: dict, seed: int) -> pd.DataFrame:
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
                mean, low, high, n, source = _interval(table[metric], unit_kind, seed)
            elif pd.notna(row.get(f"{metric}_ci_low")) and pd.notna(row.get(f"{metric}_ci_high")):
                low, high = row[f"{metric}_ci_low"], row[f"{metric}_ci_high"]
                source = "logged by the run"
            elif (model, metric) in logged:
                _, low, high = logged[(model, metric)]
                # the cells are rounded for display: widen them to hold the exact mean
                low, high = min(low, mean), max(high, mean)
                source = "logged by the run (comparison.csv)"
            rows.append({"model": model, "metric": metric, "mean": float(mean),
                         "low": float(low), "high": float(high), "n": n, "source": source})
    return pd.DataFrame(rows, columns=["model", "metric", "mean", "low", "high", "n", "source"])


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


def _paired(report: ExperimentReport) -> dict[str, Any]:
    from retaillab.metrics.compare import paired_test

    ranking, main = report.ranking, report.main
    if len(ranking) < 2 or main is None:
        return {"reason": "only one finished model: nothing to compare"}
    winner, runner_up = ranking[:2]
    out: dict[str, Any] = {"winner": winner, "runner_up": runner_up, "metric": main}
    a, b = report.units.get(winner), report.units.get(runner_up)
    if a is None or b is None or main not in a.columns or main not in b.columns:
        out["reason"] = ("no paired test: the run logged only means, not per-fold or "
                         "per-user values")
        return out
    keys = [k for k in UNIT_KEYS if k in a.columns and k in b.columns]
    if not keys:
        out["reason"] = "no paired test: per-unit values carry no fold or user key to align on"
        return out
    both = a[[*keys, main]].merge(b[[*keys, main]], on=keys, suffixes=("_a", "_b"))
    if len(both) < 2:
        out["reason"] = "no paired test: fewer than 2 shared folds or users"
        return out
    test = paired_test(both[f"{main}_a"].to_numpy(), both[f"{main}_b"].to_numpy())
    sign = -1.0 if report.lower_is_better else 1.0
    out.update(test)
    out["unit"] = report.unit_kind
    out["better"] = bool(test["t_pvalue"] < ALPHA and sign * test["mean_difference"] > 0)
    return out


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
    units, unit_kind = {}, ""
    for child in children:
        for name, kind in UNIT_FILES.items():
            table = _artifact(child.info.run_id, name)
            if table is not None:
                units[_name(child)], unit_kind = table, kind
                break
    main = _main_metric([c for c in models.columns if c not in ("run_id", "status")], metric)
    report = ExperimentReport(
        experiment, pid, _name(parent), pd.to_datetime(parent.info.start_time, unit="ms"),
        models, _intervals(models, units, unit_kind, _logged_cells(pid), seed), main,
        lower_is_better(main) if main else False, units, unit_kind,
        provenance=_provenance(parent, experiment), studies=studies)
    report.paired = _paired(report)
    return report


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
