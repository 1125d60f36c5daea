"""Draw the README's behaviour figures and print the numbers quoted next to them.

The funnel and the dwell curve come from the synthetic world of
``experiments/behaviour_synthetic.yaml`` (5,000 customers, seed 0), whose funnel and dwell law
are planted; the cohort heatmap and the persona cards from all of CDNOW. Every group shown has
at least 10 customers. Run: ``python docs/behaviour_figures.py`` (about a minute).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from retaillab import data
from retaillab.behaviour import dwell, funnel, kpis, segments
from retaillab.data._synthetic_params import purchase_rate

HERE = Path(__file__).resolve().parent


def save(figure, name: str) -> None:
    figure.savefig(HERE / name, dpi=110, bbox_inches="tight")
    print(f"wrote docs/{name}")


def main() -> None:
    world = data.load("synthetic", n_customers=5000, seed=0)
    stages = funnel.funnel(world.events)
    save(funnel.funnel_chart(stages, title="Synthetic world: sessions per stage"), "funnel.png")
    p = purchase_rate(world.truth.params)
    _, stop_click, stop_cart = world.truth.params.browse_stop
    click, cart = p + (1 - p) * (stop_click + stop_cart), p + (1 - p) * stop_cart
    planted = {"click": click, "add_to_cart": cart / click, "purchase": p / cart}
    for row in stages.table.itertuples():
        if row.stage in planted:
            print(f"  {row.stage}: {row.conversion:.3f} [{row.low:.3f}, {row.high:.3f}]"
                  f" planted {planted[row.stage]:.3f}")

    effect = dwell.dwell_effect(world.events, threshold=30, seed=0)
    save(dwell.dwell_curve(effect, title="Synthetic world: purchase odds by dwell"),
         "dwell.png")
    print(effect.coefficients.round(3).to_string())
    ratio = effect.odds_ratio
    print(f"  odds ratio > 30 s: {ratio.estimate:.2f} [{ratio.low:.2f}, {ratio.high:.2f}]")
    searched = dwell.search_threshold(world.events, seed=0)
    print(f"  threshold chosen on half: {searched.threshold:g} s, other half "
          f"{searched.estimate.estimate:.2f} [{searched.estimate.low:.2f}, "
          f"{searched.estimate.high:.2f}]")

    cdnow = data.load("cdnow")
    groups = kpis.cohorts(cdnow.transactions, period="M", max_age=12)
    save(kpis.cohort_heatmap(groups), "cohorts.png")
    print(groups.retention.round(3).to_string())
    monthly = kpis.kpis(cdnow.transactions, period="M")
    print(monthly.round(3).to_string())

    features = segments.customer_features(cdnow.transactions)
    found = segments.segment(features, method="kmeans", k=range(2, 7), seed=0, n_bootstrap=20)
    cards = segments.personas(found, features, cdnow.transactions)
    save(segments.persona_figure(cards), "personas.png")
    print(f"  CDNOW: k = {found.k}, stability ARI {found.stability_mean:.3f}")
    print(cards.round(3).to_string())


if __name__ == "__main__":
    main()
