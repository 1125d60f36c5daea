"""The churn figures: one curve per model, drawn from the out-of-fold predictions."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

from retaillab import churn
from retaillab.churn import plots

from .conftest import toy_customers

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def result():
    return churn.compare(toy_customers(240), models=["dummy", "logistic"], n_splits=3,
                         n_repeats=1, seed=2, importance=False)


def test_curves_have_one_line_per_model_and_the_chance_line(result):
    import matplotlib.pyplot as plt

    for draw in (plots.roc_curves, plots.pr_curves, plots.calibration_plot):
        figure = draw(result)
        ax = figure.axes[0]
        labels = [line.get_label() for line in ax.get_lines() if not line.get_label()
                  .startswith("_")]
        assert [label.split(" ")[0] for label in labels] == ["dummy", "logistic"]
        plt.close(figure)


def test_lift_chart_ends_at_one_and_starts_at_the_top_decile_lift(result):
    import matplotlib.pyplot as plt

    figure = plots.lift_chart(result)
    gains, lift = figure.axes
    oof = result.oof("logistic")
    line = next(li for li in lift.get_lines() if li.get_label() == "logistic")
    _, values = line.get_data()
    assert values[-1] == pytest.approx(1.0)  # everyone contacted: lift 1
    capture = next(li for li in gains.get_lines() if li.get_label() == "logistic").get_data()[1]
    assert capture[-1] == pytest.approx(1.0)
    k = int(np.ceil(0.1 * len(oof)))
    assert values[k - 1] == pytest.approx(churn.lift_at(oof["churn"], oof["probability"], 0.1))
    plt.close(figure)


def test_profit_curve_marks_the_best_depth(result):
    import matplotlib.pyplot as plt

    oof = result.oof("logistic")
    found = churn.retention_value(oof["probability"], oof["churn"], contact_cost=1.0,
                                  offer_cost=5.0, acceptance_rate=0.5, value_kept=50.0)
    figure = plots.profit_curve({"logistic": found})
    marker = next(li for li in figure.axes[0].get_lines() if li.get_marker() == "o")
    assert marker.get_data()[1][0] == pytest.approx(found.best_profit)
    plt.close(figure)
