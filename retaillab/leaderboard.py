"""Leaderboards from the MLflow record: the compared models (child runs) by their metrics."""

from __future__ import annotations

import re

import pandas as pd

from retaillab import tracking

LOWER_IS_BETTER = re.compile(r"(rmse|mae|mse|loss|brier|error|seconds)")
MAIN_METRICS = ("ndcg_at_10", "roc_auc", "rmse", "mae")


def lower_is_better(metric: str) -> bool:
    """Whether a smaller value of ``metric`` is better (errors, losses, timings)."""
    return bool(LOWER_IS_BETTER.search(metric))


def experiments() -> pd.DataFrame:
    """Every experiment with its number of runs and when it last ran."""
    client = tracking.client()
    rows = []
    for exp in client.search_experiments():
        runs = tracking.search_all(exp.experiment_id)
        parents = [r for r in runs if tracking.is_parent(r)]
        last = max((r.info.start_time for r in runs), default=None)
        rows.append({"experiment": exp.name, "runs": len(parents), "models": len(runs) -
                     len(parents), "last run": pd.to_datetime(last, unit="ms") if last else None})
    return pd.DataFrame(rows, columns=["experiment", "runs", "models", "last run"])


def latest_parent(experiment: str) -> str | None:
    """The newest finished notebook run of ``experiment``, or None."""
    client = tracking.client()
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return None
    runs = client.search_runs(
        [found.experiment_id], order_by=["attributes.start_time DESC"], max_results=1,
        filter_string=f"attributes.status = 'FINISHED' and tags.`{tracking.TAG_KIND}` = "
                      "'notebook'")
    return runs[0].info.run_id if runs else None


def leaderboard(experiment: str, run_id: str | None = None) -> pd.DataFrame:
    """Models of one run (default: the newest finished) by metric, best model first.

    Raises
    ------
    UnknownNameError
        For an experiment that does not exist.
    """
    from retaillab.errors import DataError, UnknownNameError

    client = tracking.client()
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        raise UnknownNameError("experiment", experiment,
                               [e.name for e in client.search_experiments()])
    run_id = run_id or latest_parent(experiment)
    if run_id is None:
        raise DataError("has no finished run yet", source=f"experiment {experiment!r}",
                        fix="run it first: retaillab run experiments/<spec>.yaml")
    children = tracking.Run(run_id, exp.experiment_id).children()
    table = pd.DataFrame([{"model": c.data.tags.get(tracking.RUN_NAME_TAG, c.info.run_id),
                           "status": c.info.status, **c.data.metrics} for c in children])
    if table.empty:
        return table
    table = table.set_index("model")
    metrics = [c for c in table.columns if c != "status"]
    main = next((m for m in MAIN_METRICS if m in metrics), metrics[0] if metrics else None)
    if main is not None:
        table = table.sort_values(main, ascending=lower_is_better(main))
    table.attrs["run_id"] = run_id
    table.attrs["main"] = main
    return table[["status", *sorted(metrics, key=lambda m: (m != main, m))]]


def format_leaderboard(table: pd.DataFrame) -> str:
    """Plain-text table with the best value of each metric marked ``*``."""
    if table.empty:
        return "(no models logged)"
    shown = pd.DataFrame(index=table.index)
    shown["status"] = table["status"]
    for col in table.columns.drop("status"):
        values = pd.to_numeric(table[col], errors="coerce")
        best = values.min() if lower_is_better(col) else values.max()
        shown[col] = [("" if pd.isna(v) else f"{v:.4g}") + ("*" if v == best else " ")
                      for v in values]
    return shown.reset_index().to_string(index=False)
