"""A retailer's own order export, end to end: the shipped catalogue and own_data specs run the
recommender, churn and CLV comparisons on a generated export (warts included), every record
shows the source and its data-quality counts, and after one changed line a rerun reproduces the
churn comparison's metrics (cross-validated, seeded) and says the data changed. One rerun: a
notebook run costs seconds, and tests/engine/test_rerun.py reruns the runner's own fixture.
The ``store`` fixture is the root conftest's."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from retaillab import tracking
from retaillab.cli import main
from tests.make_orders import make_orders

ROOT = Path(__file__).resolve().parents[1]
#: smoke sizes on top of the shipped specs (the specs themselves run at full size)
SMOKE = {
    "recsys": ["sample_users=120", "algorithms=[most_popular, item_knn, ease, bought_together]"],
    "churn": ["models=[dummy, logistic]", "n_splits=2", "n_repeats=1", "importance_repeats=1"],
    "clv": ["models=[bg_nbd, gamma_gamma]"],
}


def project(folder: Path) -> dict:
    """The shipped catalogue, specs and notebooks copied into ``folder``, and an export."""
    for part in ("data/sources.yaml", *(f"experiments/own_data/{n}.yaml" for n in SMOKE),
                 "notebooks/recsys_compare.ipynb", "notebooks/churn_compare.ipynb",
                 "notebooks/clv_compare.ipynb"):
        (folder / part).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / part, folder / part)
    return make_orders(folder / "data" / "orders.csv", customers=700, seed=3)


def parent(experiment: str):
    client = tracking.client()
    exp = client.get_experiment_by_name(experiment)
    runs = [r for r in client.search_runs([exp.experiment_id])
            if tracking.PARENT_TAG not in r.data.tags and tracking.TAG_RERUN_OF not in r.data.tags]
    assert len(runs) == 1
    return runs[0]


@pytest.mark.notebook
@pytest.mark.slow(seconds=45)
def test_an_order_export_runs_every_comparison_and_reruns_the_same(store, capsys):
    truth = project(store)
    export = store / "data" / "orders.csv"
    digest = hashlib.sha256(export.read_bytes()).hexdigest()
    for name, smoke in SMOKE.items():
        args = [a for p in smoke for a in ("-p", p)]
        assert main(["run", f"experiments/own_data/{name}.yaml", "-q", *args]) == 0, name
    # the specs say register: true, so each run's winner is promoted as it finishes
    out = capsys.readouterr().out
    assert all(f"as own-{name} version 1; alias 'champion'" in out for name in SMOKE), out
    for name in SMOKE:
        run = parent(f"own-{name}")
        record = json.loads(run.data.tags[tracking.TAG_SOURCE + "transactions"])
        assert record["path"] == "data/orders.csv" and record["sha256"] == digest
        assert record["options"]["returns"] == "net" and record["options"]["encoding"] == "cp1252"
        metrics = run.data.metrics
        assert metrics["data.transactions.rows_read"] == truth["lines"]
        assert metrics["data.transactions.dropped.no_customer_id"] == \
            truth["lines_without_customer"]
        assert metrics["data.transactions.customers"] == truth["customers"]
    # one line of the file changes, a guest's line (no customer id) that reading drops: the
    # metrics are still the same, and the rerun says the file changed and which one
    raw = export.read_bytes()
    newline = b"\r\n" if b"\r\n" in raw else b"\n"
    lines = raw.split(newline)
    at = next(i for i, line in enumerate(lines[1:], 1) if line.split(b",")[6].strip() == b"")
    fields = lines[at].split(b",")
    fields[3] = str(int(fields[3]) + 5).encode()
    lines[at] = b",".join(fields)
    export.write_bytes(newline.join(lines))
    assert main(["rerun", parent("own-churn").info.run_id, "-q"]) == 0
    out, err = capsys.readouterr()
    assert "same metrics" in out
    assert "_seconds" not in out  # timings and their bounds are reported, not judged
    assert "data changed: the transactions source data/orders.csv differs" in err
    # from comparison to customers: each promoted winner scores the same export
    import pandas as pd

    customers = int(parent("own-churn").data.metrics["data.transactions.customers"])
    written = {}
    for name in SMOKE:
        written[name] = store / f"{name}.csv"
        assert main(["score", f"models:/own-{name}@champion", "orders", "-o",
                     str(written[name]), "-q"]) == 0, name
    churned = pd.read_csv(written["churn"], dtype={"customer": str})
    valued = pd.read_csv(written["clv"], dtype={"customer": str})
    recs = pd.read_csv(written["recsys"], dtype={"user": str, "item": str})
    assert len(churned) == len(valued) == customers
    assert churned["churn_probability"].between(0, 1).all()
    assert set(valued.columns) >= {"p_alive", "expected_purchases", "expected_spend", "clv"}
    assert recs["user"].nunique() == customers and (recs.groupby("user").size() == 10).all()
    lettered = {c for c in churned["customer"] if not c.isdigit()}
    assert len(lettered) == truth["letter_customers"] > 0  # text ids kept as the user's own
    assert lettered <= set(recs["user"]) and lettered <= set(valued["customer"])
    # integer ids against the recommender's text ids: "12" matches an integer 12, the rest
    # are counted in one warning and get the fallback
    from retaillab import models

    learned = models.load("models:/own-recsys@champion").unwrap_python_model().fitted.users_
    numeric = sorted(int(c) for c in learned if c.isdigit())[:3]
    users = store / "users.csv"
    users.write_text("user,item\n" + "".join(f"{u},1\n" for u in [*numeric, 99_999_999]))
    assert main(["score", "models:/own-recsys@champion", str(users), "-o",
                 str(store / "u.csv"), "-q"]) == 0
    assert "1 unknown to the model" in capsys.readouterr().out
    fallback = pd.read_csv(store / "u.csv").drop_duplicates("user").set_index("user")
    assert fallback["fallback"].to_dict() == {**dict.fromkeys(numeric, False), 99_999_999: True}
    assert main(["retention", "orders", "--churn", "models:/own-churn@champion", "--clv",
                 "models:/own-clv@champion", "-o", str(store / "contacts.csv"), "-q"]) == 0
    assert "expected net value" in capsys.readouterr().out
