"""Model-comparison reports from the MLflow record.

:func:`gather` turns one experiment's record into tidy tables (:class:`ExperimentReport`);
:func:`experiment_html` / :func:`render_html` draw them as self-contained HTML; :func:`build`
runs ``notebooks/report.ipynb`` and exports it, which is what ``retaillab report`` does::

    from retaillab import report
    rep = report.gather("churn")
    rep.leaderboard(), rep.paired, rep.provenance
    report.build(["recsys", "churn"], "reports/compare.html")
"""

from retaillab.report._build import build, export_html
from retaillab.report._gather import (
    ExperimentReport,
    Study,
    check_request,
    experiments_with_runs,
    gather,
    gather_all,
)
from retaillab.report._render import experiment_html, figure_png, header, page, render_html

__all__ = ["ExperimentReport", "Study", "build", "check_request", "experiment_html",
           "experiments_with_runs", "export_html", "figure_png", "gather", "gather_all",
           "header", "page", "render_html"]
