"""Leaderboards from the MLflow record: the compared models (child runs) by their metrics.

:func:`leaderboard` is the table (one row per model, every logged metric);
:func:`format_leaderboard` draws it for a terminal, as ``retaillab runs`` prints it: at most
120 columns, metric ``X`` as ``mean [low, high]`` when the run logged ``X_ci_low`` and
``X_ci_high``, the best model marked ``*`` only where :func:`direction` knows which way is
better.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from retaillab import tracking

LOWER_IS_BETTER = re.compile(r"(rmse|mae|mse|loss|brier|error|seconds|(?:^|_)ece$)")
MAIN_METRICS = ("ndcg_at_10", "roc_auc", "rmse", "mae")
#: terminal width of ``retaillab runs``; longer model and metric names are cut to fit
WIDTH, MODEL_WIDTH, METRIC_WIDTH = 120, 32, 40
#: the default view of ``retaillab runs``: the ranking metric, then the first metric
#: matching each pattern, as long as the line stays within WIDTH (``--all`` shows the rest)
HEADLINE = (r"ndcg_at_\d+", r"precision_at_\d+", r"recall_at_\d+", "roc_auc", "pr_auc",
            "brier", r"lift_at_\d+", "rmse", "mae", "correlation", "fit_seconds")
_END = r"(?:^|_)(?:{})$"
_HIGHER = re.compile(_END.format(
    r"(?:ndcg|precision|recall|map|mrr|hit_rate|lift|capture)_at_\d+|roc_auc|pr_auc|auc"
    r"|accuracy|f1|r2|explained_variance|correlation|affinity_precision|c_index|td_auc_\d+d"))
_LOWER = re.compile(_END.format(r"rmse|mae|mse|mape|brier|brier_score|log_loss|loss|ece"))
#: bounds, spreads, standard errors, counts, totals: never judged
_NO_DIRECTION = re.compile(r"(?:_ci_low|_ci_high|_low|_high|_std|_se|_total)$"
                           r"|^(?:se|std|n|total)_")


def lower_is_better(metric: str) -> bool:
    """Whether a smaller value of ``metric`` is better (errors, losses, timings)."""
    return bool(LOWER_IS_BETTER.search(metric))


def experiments() -> pd.DataFrame:
    """Every experiment with its number of runs and when it last ran (MLflow's empty
    ``Default`` experiment left out)."""
    client = tracking.client()
    rows = []
    for exp in client.search_experiments():
        runs = tracking.search_all(exp.experiment_id)
        if exp.experiment_id == "0" and not runs:
            continue
        parents = [r for r in runs if tracking.is_parent(r)]
        last = max((r.info.start_time for r in runs), default=None)
        rows.append({"experiment": exp.name, "runs": len(parents), "models": len(runs) -
                     len(parents), "last run": pd.to_datetime(last, unit="ms") if last else None})
    return pd.DataFrame(rows, columns=["experiment", "runs", "models", "last run"])


def latest_parent(experiment: str) -> str | None:
    """The newest finished parent run of ``experiment`` (a notebook's, or a tuning study's:
    its trials are the models), or None."""
    client = tracking.client()
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return None
    newest = []
    for kind in ("notebook", "study"):
        newest += client.search_runs(
            [found.experiment_id], order_by=["attributes.start_time DESC"], max_results=1,
            filter_string=f"attributes.status = 'FINISHED' and tags.`{tracking.TAG_KIND}` = "
                          f"'{kind}'")
    newest.sort(key=lambda r: (r.info.start_time, r.info.run_id), reverse=True)
    return newest[0].info.run_id if newest else None


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
                           "status": c.info.status,
                           **tracking.leaderboard_metrics(c.data.metrics)} for c in children])
    if table.empty:
        return table
    table = table.set_index("model")
    metrics = [c for c in table.columns if c != "status"]
    main = next((m for m in MAIN_METRICS if m in metrics), metrics[0] if metrics else None)
    if main is not None:
        table = table.sort_values(main, ascending=lower_is_better(main), kind="stable")
    table.attrs["run_id"] = run_id
    table.attrs["main"] = main
    return table[["status", *sorted(metrics, key=lambda m: (m != main, m))]]


def direction(metric: str) -> str | None:
    """``"higher"`` or ``"lower"`` when the name says which way is better, else None.

    None for timings (:func:`retaillab.tracking.is_timing`), interval bounds, standard
    errors, counts and totals, and for metrics that describe rather than judge (coverage,
    novelty, diversity and popularity bias of recommendation lists, where a random
    recommender would "win"; log-likelihoods of models fitted to different data; signed
    errors). Only metrics with a direction get a best mark.
    """
    if tracking.is_timing(metric) or _NO_DIRECTION.search(metric):
        return None
    if _HIGHER.search(metric):
        return "higher"
    if _LOWER.search(metric):
        return "lower"
    return None


@dataclass(frozen=True)
class _Column:
    """One metric as shown: its means and, when logged, its interval bounds."""

    name: str
    mean: pd.Series
    low: pd.Series | None = None
    high: pd.Series | None = None


def _columns(table: pd.DataFrame) -> list[_Column]:
    """Metric columns of a :func:`leaderboard` table, ``X`` joined with ``X_ci_low/high``."""
    names = [c for c in table.columns if c != "status"]
    numeric = {c: pd.to_numeric(table[c], errors="coerce") for c in names}
    bounds = {f"{c}{end}" for c in names for end in ("_ci_low", "_ci_high")
              if f"{c}_ci_low" in numeric and f"{c}_ci_high" in numeric}
    return [_Column(c, numeric[c], numeric.get(f"{c}_ci_low"), numeric.get(f"{c}_ci_high"))
            if f"{c}_ci_low" in bounds else _Column(c, numeric[c])
            for c in names if c not in bounds]


def _number(value: float) -> str:
    return "-" if pd.isna(value) else f"{value:.4g}"


def _cells(column: _Column, finished: pd.Series) -> list[str]:
    """``mean [low, high]`` per model, parts aligned, ``*`` after the best mean (if any)."""
    means = [_number(v) for v in column.mean]
    best = None
    way = direction(column.name)
    done = column.mean[finished.to_numpy()].dropna()
    if way is not None and len(done):
        best = done.min() if way == "lower" else done.max()
    marks = ["*" if best is not None and v == best and ok else " "
             for v, ok in zip(column.mean, finished, strict=True)]
    width = max(map(len, means))
    if column.low is None or column.high is None:
        return [m.rjust(width) + mark for m, mark in zip(means, marks, strict=True)]
    lows, highs = [_number(v) for v in column.low], [_number(v) for v in column.high]
    wl, wh = max(map(len, lows)), max(map(len, highs))
    return [f"{m.rjust(width)}{mark} [{lo.rjust(wl)}, {hi.rjust(wh)}]"
            for m, mark, lo, hi in zip(means, marks, lows, highs, strict=True)]


def _cut(name: str, width: int) -> str:
    return name if len(name) <= width else name[:width - 3] + "..."


def _natural(name: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name))


def _shown(columns: list[str], main: str | None) -> list[str]:
    """The default view's metrics in order: the ranking one, then one per :data:`HEADLINE`
    pattern (the smallest cut-off first); when no other matches, every metric by name."""
    order = sorted(columns, key=_natural)
    picked = [main] if main in columns else []
    for pattern in HEADLINE:
        found = next((c for c in order if re.fullmatch(pattern, c)), None)
        if found is not None and found not in picked:
            picked.append(found)
    if len(picked) == len([main] if main in columns else []):
        picked += [c for c in order if c not in picked]
    return picked


def _blocks(lead: list[tuple[str, list[str]]], columns: list[tuple[str, list[str]]],
            width: int, *, fill: bool) -> list[list[tuple[str, list[str]]]]:
    """Columns packed left to right into blocks at most ``width`` wide: the first after all
    ``lead`` columns (model, status), later ones after the first lead column (model).
    ``fill``: one block only, leaving out what does not fit."""
    def size(column: tuple[str, list[str]]) -> int:  # its width and the gap before it
        return max(len(column[0]), *map(len, column[1])) + 2

    blocks: list[list[tuple[str, list[str]]]] = [[]]
    used = sum(map(size, lead)) - 2
    for column in columns:
        if used + size(column) > width:
            if fill:
                continue
            if blocks[-1]:
                blocks.append([])
                used = size(lead[0]) - 2
        blocks[-1].append(column)
        used += size(column)
    return blocks


def _draw(columns: list[tuple[str, list[str]]]) -> list[str]:
    widths = [max(len(head), *map(len, cells)) for head, cells in columns]
    lines = ["  ".join(h.ljust(w) for (h, _), w in zip(columns, widths, strict=True))]
    for i in range(len(columns[0][1])):
        lines.append("  ".join(cells[i].ljust(w)
                               for (_, cells), w in zip(columns, widths, strict=True)))
    return [line.rstrip() for line in lines]


def _layout(table: pd.DataFrame, all_metrics: bool, width: int
            ) -> tuple[list[tuple[str, list[str]]], list[list[tuple[str, list[str]]]]]:
    """The lead columns (model, status) and the metric columns packed into blocks."""
    finished = (table["status"] == "FINISHED") if "status" in table else pd.Series(
        True, index=table.index)
    by_name = {c.name: c for c in _columns(table)}
    order = _shown(list(by_name), table.attrs.get("main"))
    if all_metrics:
        order += sorted((c for c in by_name if c not in order),
                        key=lambda c: (direction(c) is None, _natural(c)))
    columns = [(_cut(name, METRIC_WIDTH), _cells(by_name[name], finished)) for name in order]
    lead = [("model", [_cut(str(name), MODEL_WIDTH) for name in table.index])]
    if "status" in table:
        lead.append(("status", [str(s) for s in table["status"]]))
    return lead, _blocks(lead, columns, width, fill=not all_metrics)


def format_leaderboard(table: pd.DataFrame, *, all_metrics: bool = False,
                       width: int = WIDTH) -> str:
    """A :func:`leaderboard` as terminal text, no line wider than ``width`` (120).

    One line per model: its status, then each metric as ``mean`` or, when the run logged
    ``X_ci_low``/``X_ci_high``, ``mean [low, high]``, with ``*`` after the best finished
    model's mean on metrics with a :func:`direction`. By default only the headline metrics
    that fit (:func:`hidden` names the others); ``all_metrics`` shows every metric, in as
    many blocks (each starting with the model names) as it takes.
    """
    if table.empty:
        return "(no models logged)"
    lead, blocks = _layout(table, all_metrics, width)
    lines = _draw([*lead, *blocks[0]])
    for block in blocks[1:]:
        lines += ["", *_draw([lead[0], *block])]
    return "\n".join(lines)


def hidden(table: pd.DataFrame, width: int = WIDTH) -> list[str]:
    """Metrics the default :func:`format_leaderboard` view leaves out (``--all`` shows
    them); bounds shown beside their metric are not counted."""
    if table.empty:
        return []
    _, blocks = _layout(table, False, width)
    shown = {name for block in blocks for name, _ in block}
    return [c.name for c in _columns(table) if _cut(c.name, METRIC_WIDTH) not in shown]
