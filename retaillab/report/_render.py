"""HTML pieces of the report: one section per experiment, figures embedded as base64 PNG.

Everything is inline (CSS, images), so the page opens offline and fetches nothing.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from retaillab.report._gather import ExperimentReport, Study

CSS = """
body{font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;margin:2em auto;
max-width:1180px;color:#222;line-height:1.45;padding:0 1em}
h1{border-bottom:2px solid #4C72B0;padding-bottom:.2em}
h2{margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.6em 0;font-size:.86em}
th,td{border:1px solid #ddd;padding:.25em .55em;text-align:right;white-space:nowrap}
th{background:#f3f5f9}td.l,th.l{text-align:left}
tr.winner td{background:#eef7ee;font-weight:600}
code{background:#f4f4f4;padding:0 .25em;border-radius:3px}
.note{color:#555;font-size:.9em}.verdict{font-size:1.05em}
img{max-width:100%;height:auto;display:block;margin:.5em 0}
.wide{overflow-x:auto}.figures{display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start}
"""


def figure_png(figure: Any, dpi: int = 90) -> str:
    """A matplotlib figure as a base64 PNG data URI; the figure is closed afterwards."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _img(uri: str, alt: str) -> str:
    return f'<img src="{uri}" alt="{html.escape(alt)}">'


def _table(frame: pd.DataFrame, *, left: Sequence[str] = (), highlight: str | None = None,
           index: str = "") -> str:
    """A small HTML table with escaped cells (no pandas styling, no classes to fetch)."""
    head = "".join(f'<th class="l">{html.escape(index)}</th>' if index else "")
    head += "".join(f'<th{" class=l" if c in left else ""}>{html.escape(str(c))}</th>'
                    for c in frame.columns)
    body = []
    for key, row in frame.iterrows():
        cells = f'<td class="l">{html.escape(str(key))}</td>' if index else ""
        cells += "".join(f'<td{" class=l" if c in left else ""}>{html.escape(_cell(v))}</td>'
                         for c, v in row.items())
        marker = ' class="winner"' if highlight is not None and key == highlight else ""
        body.append(f"<tr{marker}>{cells}</tr>")
    return (f"<div class=wide><table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}"
            "</tbody></table></div>")


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "" if np.isnan(value) else f"{value:.4g}"
    return str(value)


def _verdict(report: ExperimentReport) -> str:
    paired = report.paired
    if report.winner is None:  # a behaviour analysis compares no models: nothing to say
        return "" if report.analysis_only else \
            "<p>No finished model to rank.</p>"
    main = report.main or ""
    direction = "lower" if report.lower_is_better else "higher"
    head = (f"<p class=verdict>Best mean on <code>{html.escape(main)}</code> ({direction} is "
            f"better): <b>{html.escape(report.winner)}</b>.")
    if "tests" not in paired:
        return head + f" {html.escape(paired.get('reason', ''))}</p>"
    tests = paired["tests"].rename(columns={
        "mean_difference": "difference (best - other)", "t_statistic": "t",
        "p_value": "p", "p_holm": "Holm-adjusted p", "better": "significantly worse"})
    tests = tests.drop(columns=["mean_best"]).rename(columns={"mean_other": "mean"})
    tests["significantly worse"] = tests["significantly worse"].map({True: "yes", False: "no"})
    return (head + f" {html.escape(paired['verdict'])}</p>"
            + _table(tests, index="against"))


def _sources(report: ExperimentReport) -> str:
    used = report.intervals.loc[report.intervals["metric"].isin(report.metrics), "source"]
    kinds = sorted(set(used))
    if not kinds:
        return ""
    return ("<p class=note>Cells are mean [95% interval]. Interval: "
            + "; ".join(html.escape(k) for k in kinds) + ".</p>")


def _figures(report: ExperimentReport) -> list[str]:
    from retaillab import visuals

    out = []
    with_interval = report.intervals.dropna(subset=["low", "high"])
    shown = [m for m in report.metrics if m in set(with_interval["metric"])][:3]
    if shown:
        figure = visuals.bars_with_intervals(with_interval, shown,
                                             title=f"{report.experiment}: mean and 95% interval")
        out.append(_img(figure_png(figure), f"{report.experiment}: metrics with intervals"))
    finished = report.models.loc[report.ranking]
    if report.main and report.timings and len(finished):
        figure = visuals.accuracy_vs_cost(finished, report.main, report.timings,
                                          lower_is_better=report.lower_is_better)
        figure.axes[0].set_title(f"{report.experiment}: accuracy against cost")
        out.append(_img(figure_png(figure), f"{report.experiment}: accuracy against cost"))
    return out


def calibration_figure(report: ExperimentReport) -> Any:
    """Each model's reliability curve: observed churn rate against mean predicted
    probability per equal-width bin (the diagonal is calibrated), points sized by customers."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.2, 4.2))
    ax.plot([0, 1], [0, 1], color="#999999", lw=1, ls="--", label="calibrated")
    for model, curve in report.calibration.items():
        share = curve["customers"] / curve["customers"].sum()
        ax.plot(curve["predicted"], curve["observed"], marker="o", lw=1.2, ms=3, label=model)
        ax.scatter(curve["predicted"], curve["observed"], s=8 + 200 * share, alpha=0.25)
    ax.set_xlabel("mean predicted churn probability")
    ax.set_ylabel("observed churn rate")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title(f"{report.experiment}: calibration (out-of-fold)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _calibration(report: ExperimentReport) -> str:
    """Reliability curves and the probability metrics per model (churn comparisons)."""
    if not report.calibration:
        return ""
    shown = [m for m in ("brier", "ece", "log_loss") if m in report.models.columns]
    table = report.models.loc[[m for m in report.calibration if m in report.models.index],
                              shown]
    return ("<h3>Calibration</h3><p class=note>Do the probabilities mean what they say? Each "
            "model's out-of-fold predictions in ten equal-width bins: observed churn rate "
            "against mean probability. <code>ece</code> is the customer-weighted mean gap; the "
            "retention value reads these probabilities as they are.</p>"
            + _table(table, index="model")
            + _img(figure_png(calibration_figure(report)),
                   f"{report.experiment}: reliability curves"))


def _behaviour(report: ExperimentReport) -> str:
    """The behaviour analyses' tables and figures, every group under k customers shown as
    "< k" (again here, whatever the notebook did)."""
    return _logged_section("Behaviour", report.behaviour, report.behaviour_figures,
                           report.experiment)


def _campaign(report: ExperimentReport) -> str:
    """The campaign readout: arms and effects with intervals, what it pays, the uplift models'
    curves and the targeting policies' profit curves (small groups suppressed as above)."""
    return _logged_section("Campaign test and targeting", report.campaign,
                           report.campaign_figures, report.experiment)


def _logged_section(title: str, tables: dict[str, pd.DataFrame], figures: dict[str, bytes],
                    experiment: str) -> str:
    import base64

    from retaillab.behaviour.privacy import K, suppress

    if not tables and not figures:
        return ""
    parts = [f"<h3>{html.escape(title)}</h3>", f"<p class=note>Groups of fewer than {K} "
             f"customers are shown as &lt; {K}.</p>"]
    for name, table in tables.items():
        parts.append(f"<h4>{html.escape(name.replace('_', ' '))}</h4>")
        parts.append(_table(suppress(table), index=str(table.index.name or "")))
    if figures:
        images = [_img("data:image/png;base64," + base64.b64encode(png).decode("ascii"),
                       f"{experiment}: {name.replace('_', ' ')}")
                  for name, png in figures.items()]
        parts.append("<div class=figures>" + "".join(images) + "</div>")
    return "".join(parts)


def study_figure(study: Study) -> Any:
    """Trial values in order and the best so far."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    trials = study.trials
    ax.scatter(trials["trial"], trials["value"], s=14, color="#4C72B0", label="trial")
    ax.step(trials["trial"], trials["best_so_far"], where="post", color="#C44E52",
            label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel(study.metric + (" (lower is better)" if study.lower_is_better else ""))
    ax.set_title(f"tuning: {study.name}")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def _studies(report: ExperimentReport) -> str:
    if not report.studies:
        return "<p class=note>No tuning study in this experiment.</p>"
    parts = []
    for study in report.studies:
        values = study.trials["value"]
        best = study.trials.loc[values.idxmin() if study.lower_is_better else values.idxmax()]
        parts.append(f"<p>Study <b>{html.escape(study.name)}</b> (run "
                     f"<code>{study.run_id}</code>): {len(study.trials)} finished trials on "
                     f"<code>{html.escape(study.metric)}</code>; best {best['value']:.4g} at "
                     f"trial {int(best['trial'])} (run <code>{best['run_id']}</code>).</p>")
        if study.summary:
            scores = pd.DataFrame({"value": study.summary}).sort_index()
            parts.append(_table(scores, index="study metric"))
        parts.append(_img(figure_png(study_figure(study)), f"tuning history {study.name}"))
    return "".join(parts)


def experiment_html(report: ExperimentReport) -> str:
    """One experiment's section: leaderboard, verdict, figures, tuning, provenance."""
    parts = [f"<h2>{html.escape(report.experiment)}</h2>"]
    if report.run_id is not None:
        parts.append(f"<p class=note>Run <code>{report.run_id}</code> "
                     f"({html.escape(report.run_name)}), started {report.started:%Y-%m-%d %H:%M}"
                     f" UTC; {len(report.models)} models.</p>")
        board = report.leaderboard()
        if len(board) or not report.analysis_only:
            parts.append("<h3>Leaderboard</h3>")
        if len(board):
            board.insert(0, "rank", range(1, len(board) + 1))
            board[report.timings] = report.models.loc[board.index, report.timings]
            board["child run"] = report.models.loc[board.index, "run_id"]
            parts.append(_table(board, left=["child run"], highlight=report.winner,
                                index="model"))
            parts.append(_sources(report))
        failed = report.models.index[report.models["status"] != "FINISHED"]
        if len(failed):
            parts.append("<p class=note>Not finished (left out): "
                         + ", ".join(html.escape(str(m)) for m in failed) + "</p>")
        parts.append(_verdict(report))
        figures = _figures(report)
        if figures:
            parts.append("<h3>Figures</h3><div class=figures>" + "".join(figures) + "</div>")
        parts.append(_calibration(report))
        parts.append(_behaviour(report))
        parts.append(_campaign(report))
    parts.append("<h3>Tuning history</h3>" + _studies(report))
    if report.provenance:
        parts.append("<h3>What produced these numbers</h3>")
        prov = pd.DataFrame({"value": report.provenance}).rename_axis(None)
        parts.append(_table(prov, left=["value"], index=" "))
    return "".join(parts)


def page(body: str, title: str) -> str:
    """A complete, self-contained HTML page around ``body``."""
    return ("<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
            '<meta name=viewport content="width=device-width, initial-scale=1">'
            '<link rel=icon href="data:,">'
            f"<title>{html.escape(title)}</title><style>{CSS}</style></head>"
            f"<body>{body}</body></html>")


def header(title: str, experiments: Sequence[str]) -> str:
    """The report's title and what it covers, or how to get runs when there are none."""
    from retaillab import tracking

    top = f"<h1>{html.escape(title)}</h1>"
    if not experiments:
        return top + ("<p>No finished runs in this MLflow store yet: run an experiment first, "
                      "e.g. <code>retaillab run experiments/recsys_movielens.yaml</code>.</p>")
    return top + (f"<p class=note>Experiments: {html.escape(', '.join(experiments))}. From the "
                  f"MLflow store <code>{html.escape(tracking.display_uri())}</code>. Each "
                  "model row names the child run that logged it; a parent run reruns with "
                  "<code>retaillab rerun RUN_ID</code>.</p>")


def render_html(reports: Sequence[ExperimentReport], title: str = "Model comparison") -> str:
    """The whole report as one HTML page, without the notebook (fast; used by tests)."""
    body = header(title, [r.experiment for r in reports])
    return page(body + "".join(experiment_html(r) for r in reports), title)
