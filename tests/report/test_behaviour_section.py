"""The report's behaviour section: the tables and figures a behaviour notebook logged under
behaviour/, every group of fewer than 10 customers shown as "< 10" (a 3-customer group)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from retaillab import report, tracking
from retaillab.behaviour.privacy import suppress


def test_small_groups_are_suppressed_in_tables_and_the_page(store):
    segments = pd.DataFrame({"customers": [412, 3, 85], "revenue_share": [0.61, 0.02, 0.37],
                             "mean_value": [240.5, 31337.77, 96.1]},
                            index=pd.Index(["loyal", "whales", "lapsed"], name="segment"))
    shown = suppress(segments)
    assert shown.loc["whales"].tolist() == ["< 10"] * 3  # all of a small group's cells
    assert shown.loc["loyal", "mean_value"] == 240.5  # the others as they are
    assert suppress(segments.drop(columns="customers")) is not None  # no count: unchanged
    run = tracking.notebook_run(None, experiment="behaviour")
    run.log_table(segments, "behaviour/personas.csv")  # unsuppressed on purpose
    figure, ax = plt.subplots()
    ax.bar(segments.index, segments["customers"])
    run.log_figure(figure, "behaviour/segment_sizes.png")
    run.close()
    rep = report.gather("behaviour")
    assert list(rep.behaviour) == ["personas"] and list(rep.behaviour_figures) == [
        "segment_sizes"]
    page = report.experiment_html(rep)
    assert "<h3>Behaviour</h3>" in page and "&lt; 10" in page
    assert "No finished model to rank" not in page
    assert "31337.77" not in page and "240.5" in page  # the 3 whales' value never reaches the page
    assert 'alt="behaviour: segment sizes"' in page


def test_a_campaign_readout_gets_its_own_section_with_small_arms_suppressed(store):
    arms = pd.DataFrame({"customers": [2400, 2380, 4], "conversion": [0.081, 0.104, 0.5],
                         "revenue_per_customer": [3.1, 4.2, 99.25]},
                        index=pd.Index(["control", "treatment", "pilot"], name="arm"))
    run = tracking.notebook_run(None, experiment="campaign")
    run.log_table(arms, "campaign/arms.csv")
    figure, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    run.log_figure(figure, "campaign/profit_curves.png")
    run.close()
    rep = report.gather("campaign")
    assert list(rep.campaign) == ["arms"] and list(rep.campaign_figures) == ["profit_curves"]
    assert rep.behaviour == {} and rep.analysis_only
    page = report.experiment_html(rep)
    assert "<h3>Campaign test and targeting</h3>" in page and "<h3>Behaviour</h3>" not in page
    assert "<h3>Leaderboard</h3>" not in page and "No finished model to rank" not in page
    assert "0.104" in page and "99.25" not in page  # the 4-customer pilot arm is "< 10"
    assert 'alt="campaign: profit curves"' in page
