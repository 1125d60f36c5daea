"""`retaillab runs`: at most 120 columns for the shipped comparisons, intervals in one cell, the
best mark only where a direction is known, `--all` for the rest, and a closed pipe ends quietly.

The records are logged through retaillab.tracking with the metric names the shipped
comparisons log (retaillab/{recsys,churn,clv}/compare.py and notebooks/00_tour.ipynb); the
values are chosen here, so which model is best on what is known without the code under test.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from retaillab import leaderboard, tracking
from retaillab.cli import main

WIDTH = 120

# recsys.compare: ranking_per_user at k=10, beyond_accuracy (item features given), timings, and
# metrics.rating for the models that predict ratings (experiments/recsys_movielens.yaml)
RANKING = ("precision_at_10", "recall_at_10", "ndcg_at_10", "map_at_10", "mrr_at_10",
           "hit_rate_at_10")
BEYOND = ("coverage", "novelty", "popularity_bias", "intra_list_diversity")
RATING = ("rmse", "mae", "r2", "explained_variance")
TOP_N = ("most_popular", "item_knn", "ease", "als", "bpr", "content_based", "bought_together")
RATERS = ("baseline_only", "svd", "svdpp", "nmf", "slope_one", "knn_basic", "knn_with_means",
          "knn_baseline", "co_clustering", "normal_predictor")
# churn.compare: fold_metrics (depths 10% and 20%) and timings, each with _ci_low/_ci_high
CHURN_METRICS = ("roc_auc", "pr_auc", "brier", "log_loss", "lift_at_10", "lift_at_20",
                 "capture_at_10", "capture_at_20", "fit_seconds", "predict_seconds")
# clv.compare: fit, standard errors per parameter, holdout_metrics, mean CLV; baselines
CLV_HOLDOUT = ("mae", "rmse", "correlation", "predicted_total", "actual_total",
               "total_error_pct")
SE = {"bg_nbd": ("r", "alpha", "a", "b"), "mbg_nbd": ("r", "alpha", "a", "b"),
      "pareto_nbd": ("r", "alpha", "s", "beta"), "gamma_gamma": ("p", "q", "gamma")}


def log_record(experiment: str, models: Mapping[str, Mapping[str, float]],
               failed: tuple[str, ...] = ()) -> str:
    """A finished notebook run with one child run per model; returns the parent's id."""
    client = tracking.client()
    exp = tracking.experiment_id(experiment)
    parent = tracking.Run(client.create_run(exp, tags={tracking.TAG_KIND: "notebook"})
                          .info.run_id, exp)
    for name, metrics in models.items():
        try:
            with parent.model(name) as child:
                child.log_metrics(metrics)
                if name in failed:
                    raise RuntimeError("this model failed")
        except RuntimeError:
            pass
    client.set_terminated(parent.run_id, "FINISHED")
    return parent.run_id


def recsys_models() -> dict[str, dict[str, float]]:
    """17 models; ease is best on the ranking metrics, svd on the rating metrics; the random
    normal_predictor has the highest coverage, novelty and diversity, the lowest popularity
    bias (descriptive metrics: nobody is marked on them)."""
    models = {}
    for i, name in enumerate((*TOP_N, *RATERS)):
        quality = 0.10 + 0.01 * i if name != "ease" else 0.40
        row = {m: quality for m in RANKING}
        row.update({"coverage": 0.1 + 0.01 * i, "novelty": 2.0 + 0.1 * i,
                    "popularity_bias": 12.0 - 0.5 * i, "intra_list_diversity": 0.6 + 0.01 * i,
                    "fit_seconds": 0.5 + i, "recommend_seconds": 0.01 * (20 - i)})
        if name in RATERS:
            error = 0.95 + 0.01 * i if name != "svd" else 0.89
            row.update({"rmse": error, "mae": error - 0.2, "r2": 1 - error / 2,
                        "explained_variance": 1 - error / 2 + 0.01,
                        "predict_seconds": 0.02 * i})
        models[name] = row
    return models


def churn_models() -> dict[str, dict[str, float]]:
    """gbm best on roc_auc and brier, logistic on pr_auc; dummy fastest; time bounds go
    negative (a t interval over 10 folds of a noisy timing)."""
    means = {"gbm": {"roc_auc": 0.845, "pr_auc": 0.64, "brier": 0.137, "log_loss": 0.42},
             "logistic": {"roc_auc": 0.842, "pr_auc": 0.65, "brier": 0.138, "log_loss": 0.41},
             "forest": {"roc_auc": 0.821, "pr_auc": 0.61, "brier": 0.145, "log_loss": 0.45},
             "tree": {"roc_auc": 0.742, "pr_auc": 0.49, "brier": 0.171, "log_loss": 1.9},
             "dummy": {"roc_auc": 0.5, "pr_auc": 0.265, "brier": 0.195, "log_loss": 0.58}}
    models = {}
    for i, (name, row) in enumerate(means.items()):
        row = {**row, "lift_at_10": 3 - 0.4 * i, "lift_at_20": 2.5 - 0.3 * i,
               "capture_at_10": 0.3 - 0.04 * i, "capture_at_20": 0.5 - 0.06 * i,
               "fit_seconds": 2.0 / (i + 1), "predict_seconds": 0.05 / (i + 1)}
        logged = {}
        for metric, value in row.items():
            half = 17.56 + value if metric == "fit_seconds" else 0.02
            logged.update({metric: value, f"{metric}_ci_low": value - half,
                           f"{metric}_ci_high": value + half})
        models[name] = logged
    return models


def clv_models() -> dict[str, dict[str, float]]:
    """Pareto/NBD best on rmse, mae and correlation; actual_total is one constant; the
    baselines log holdout metrics only, gamma_gamma no holdout metrics."""
    models = {}
    for i, name in enumerate(("bg_nbd", "mbg_nbd", "pareto_nbd", "gamma_gamma")):
        row = {"log_likelihood": -9582.0 - i, "n_customers": 2357.0, "fit_seconds": 0.02 * (i + 1)}
        row.update({f"se_{p}": 0.01 + 0.1 * j for j, p in enumerate(SE[name])})
        if name != "gamma_gamma":
            best = name == "pareto_nbd"
            row.update({"mae": 0.75 if best else 0.78 + 0.01 * i,
                        "rmse": 1.60 if best else 1.61 + 0.01 * i,
                        "correlation": 0.63 if best else 0.62 - 0.01 * i,
                        "predicted_total": 1650.0 + i, "actual_total": 1882.0,
                        "total_error_pct": -12.0 + i, "predict_seconds": 0.003,
                        "mean_clv": 30.0 + i})
        models[name] = row
    for j, name in enumerate(("rate_baseline", "last_period_baseline")):
        models[name] = {"mae": 0.9 + j, "rmse": 2.0 + j, "correlation": 0.58, "actual_total":
                        1882.0, "predicted_total": 2900.0 - 400 * j, "total_error_pct": 55.0}
    return models


def tour_models() -> dict[str, dict[str, float]]:
    """notebooks/00_tour.ipynb: rmse, mae and two timings per model."""
    return {"global_mean": {"rmse": 1.12, "mae": 0.94, "fit_seconds": 0.001,
                            "predict_seconds": 0.002},
            "user_item_bias": {"rmse": 0.94, "mae": 0.74, "fit_seconds": 0.03,
                               "predict_seconds": 0.004}}


def runs_output(capsys, *args: str) -> str:
    assert main(["runs", *args]) == 0
    return capsys.readouterr().out


def parse(text: str) -> dict[tuple[str, str], str]:
    """Cells of every block by (model, column), cut at the header's column starts."""
    cells: dict[tuple[str, str], str] = {}
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if not line.startswith("model "):
            continue
        starts = [m.start() for m in re.finditer(r"\S+", line)]
        names = line.split()
        for row in lines[i + 1:]:
            if not row.strip():
                break
            model = row[:starts[1]].strip()
            for name, start, end in zip(names, starts, [*starts[1:], None], strict=True):
                cells[(model, name)] = row[start:end].strip()
    return cells


def marked(cells: dict[tuple[str, str], str], column: str) -> list[str]:
    return [model for (model, name), cell in cells.items() if name == column and "*" in cell]


def check_width(text: str) -> None:
    too_wide = [line for line in text.splitlines() if len(line) > WIDTH]
    assert not too_wide, f"{len(too_wide)} lines over {WIDTH}: {too_wide[0]!r}"


def test_recsys_fits_one_line_per_model_and_marks_only_judged_metrics(store, capsys):
    models = recsys_models()
    pid = log_record("recsys-movielens", models)
    out = runs_output(capsys, "recsys-movielens")
    check_width(out)
    lines = out.splitlines()
    assert pid in lines[0] and "sorted by ndcg_at_10" in lines[0]
    assert lines[1].split()[:3] == ["model", "status", "ndcg_at_10"]
    rows = lines[2:2 + len(models)]
    assert rows[0].split()[0] == "ease"  # the best first
    assert sorted(r.split()[0] for r in rows) == sorted(models)
    footer = " ".join(lines[2 + len(models):])
    assert footer.endswith("--all shows them") and "coverage" in footer and "ndcg" not in footer
    cells = parse(out)
    assert marked(cells, "ndcg_at_10") == ["ease"]
    assert marked(cells, "rmse") == ["svd"] and marked(cells, "fit_seconds") == []
    assert cells[("most_popular", "rmse")] == "-"  # a top-N model predicts no ratings
    everything = runs_output(capsys, "recsys-movielens", "--all")
    check_width(everything)
    cells = parse(everything)
    shown = {name for _, name in cells} - {"model", "status"}
    assert shown == set(RANKING + BEYOND + RATING) | {"fit_seconds", "recommend_seconds",
                                                      "predict_seconds"}
    for metric in RANKING:
        assert marked(cells, metric) == ["ease"], metric
    for metric in RATING:
        assert marked(cells, metric) == ["svd"], metric
    for metric in (*BEYOND, "fit_seconds", "recommend_seconds", "predict_seconds"):
        assert marked(cells, metric) == [], metric
    assert cells[("svd", "rmse")] == "0.89*" and cells[("ease", "coverage")] == "0.12"


def test_churn_intervals_share_a_cell_and_bounds_are_never_marked(store, capsys):
    log_record("churn-telco", churn_models())
    for args in ((), ("--all",)):
        out = runs_output(capsys, "churn-telco", *args)
        check_width(out)
        assert "ci_low" not in out and "ci_high" not in out
        cells = parse(out)
        assert cells[("gbm", "roc_auc")] == "0.845* [0.825, 0.865]"
        assert cells[("logistic", "roc_auc")] == "0.842  [0.822, 0.862]"
        assert marked(cells, "roc_auc") == ["gbm"] and marked(cells, "pr_auc") == ["logistic"]
        assert marked(cells, "brier") == ["gbm"]
        # a star only ever follows a mean, never a bound in brackets
        assert not any(re.search(r"\[[^\]]*\*", line) for line in out.splitlines())
    lines = out.splitlines()
    assert [line.split()[0] for line in lines[2:7]] == ["gbm", "logistic", "forest", "tree",
                                                       "dummy"]
    assert cells[("gbm", "fit_seconds")] == "2  [-17.56, 21.56]"
    assert marked(cells, "fit_seconds") == [] and marked(cells, "predict_seconds") == []
    assert marked(cells, "log_loss") == ["logistic"] and marked(cells, "lift_at_20") == ["gbm"]
    assert {name for _, name in cells} - {"model", "status"} == set(CHURN_METRICS)


def test_clv_constants_counts_and_standard_errors_are_never_marked(store, capsys):
    log_record("clv-cdnow", clv_models())
    out = runs_output(capsys, "clv-cdnow", "--all")
    check_width(out)
    cells = parse(out)
    for metric in ("rmse", "mae", "correlation"):
        assert marked(cells, metric) == ["pareto_nbd"], metric
    never = ["actual_total", "predicted_total", "total_error_pct", "n_customers",
             "log_likelihood", "mean_clv", "fit_seconds", "predict_seconds",
             *{f"se_{p}" for names in SE.values() for p in names}]
    for metric in never:
        assert any(name == metric for _, name in cells), metric
        assert marked(cells, metric) == [], metric
    assert cells[("rate_baseline", "fit_seconds")] == "-"
    assert "*" not in cells[("rate_baseline", "actual_total")]


def test_failed_models_are_listed_but_never_best(store, capsys):
    log_record("tour", {**tour_models(), "broken": {"rmse": 0.1}}, failed=("broken",))
    out = runs_output(capsys, "tour")
    check_width(out)
    cells = parse(out)
    assert cells[("broken", "status")] == "FAILED"
    assert marked(cells, "rmse") == ["user_item_bias"] and marked(cells, "mae") == [
        "user_item_bias"]
    assert "--all" in out.splitlines()[-1]  # predict_seconds is not in the default view


def test_long_names_and_extreme_values_still_fit(store, capsys):
    name = "a_model_with_a_very_long_name_" * 3
    long_metric = "a_metric_with_a_name_of_two_hundred_characters_" * 4
    log_record("wide", {name: {"roc_auc": -1.23456e-100, "roc_auc_ci_low": -1.23456e+100,
                               "roc_auc_ci_high": 1.23456e+100, long_metric: 1.0, **{
                                   f"metric_{i:03d}": -1.23456e+100 for i in range(60)}},
                        "SCHEDULED_" * 10: {"roc_auc": 0.5}})
    for args in ((), ("--all",)):
        out = runs_output(capsys, "wide", *args)
        check_width(out)
    cells = parse(out)
    assert len(cells) == 2 * (61 + 3)  # every metric of both models, in blocks
    assert (name[:29] + "...", long_metric[:37] + "...") in cells


@pytest.mark.parametrize("metric, expected", [
    ("ndcg_at_10", "higher"), ("validation_roc_auc", "higher"), ("lift_at_20", "higher"),
    ("explained_variance", "higher"), ("rmse", "lower"), ("test_rmse", "lower"),
    ("log_loss", "lower"), ("brier", "lower"), ("fit_seconds", None),
    ("fit_seconds_ci_low", None), ("roc_auc_ci_high", None), ("se_alpha", None),
    ("n_customers", None), ("actual_total", None), ("coverage", None), ("novelty", None),
    ("total_error_pct", None), ("log_likelihood", None), ("custom", None)])
def test_direction_by_name(metric, expected):
    assert leaderboard.direction(metric) == expected


def test_experiments_listing_names_the_store(store, capsys):
    out = runs_output(capsys)
    assert out.startswith("no experiments yet in sqlite:///")
    log_record("tour", tour_models())
    out = runs_output(capsys)
    assert "tour" in out and out.splitlines()[-1] == f"store: {tracking.tracking_uri()}"


def piped(*args: str) -> tuple[str, str, int]:
    """``retaillab ARGS | head -1`` in bash: head's output, retaillab's stderr and exit code."""
    script = Path(sys.executable).with_name("retaillab")
    command = [str(script)] if script.is_file() else [sys.executable, "-m", "retaillab.cli"]
    quoted = " ".join(f"'{a}'" for a in [*command, *args])
    done = subprocess.run(["bash", "-c", f"{quoted} 2>retaillab.err | head -1; "
                           "echo \"exit ${PIPESTATUS[0]}\""], capture_output=True, text=True,
                          timeout=300)
    lines = done.stdout.splitlines()
    return lines[0], Path("retaillab.err").read_text(), int(lines[-1].split()[1])


@pytest.mark.slow
def test_a_closed_pipe_ends_quietly(store):
    """head exits after one line and retaillab's later writes meet a closed pipe: the --all
    output (~190 kB) is far larger than a pipe's buffer (64 kB), so the pipe really breaks,
    and retaillab says so only by its exit code, 141 (128 + SIGPIPE) as for any Unix tool."""
    metric = "a_metric_name_of_forty_characters_or_more_{:03d}"
    log_record("big", {f"model_{i:02d}": {metric.format(j): i + j / 1000 for j in range(300)}
                       for i in range(20)})
    first, err, code = piped("runs", "big", "--all")
    assert first.startswith("big: run ")
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
    assert code == 141


def test_a_tuning_studys_trials_are_its_leaderboard(store, capsys):
    """`retaillab runs` on a tuning experiment shows the newest finished study's trials."""
    client = tracking.client()
    exp = tracking.experiment_id("tune-x")
    study = tracking.create_run(exp, tags={tracking.TAG_KIND: "study"})
    for number, value in enumerate([0.91, 0.88, 0.95]):
        with study.model(f"trial {number}", tags={tracking.TAG_KIND: "trial"}) as trial:
            trial.log_metrics({"validation_rmse": value})
    client.set_terminated(study.run_id, "FINISHED")
    table = leaderboard.leaderboard("tune-x")
    assert table.attrs["run_id"] == study.run_id
    assert list(table.index) == ["trial 1", "trial 0", "trial 2"]  # lowest rmse first
    assert main(["runs", "tune-x"]) == 0
    assert "trial 1" in capsys.readouterr().out
