"""From comparison to scored customers: each comparison logs its winner, `promote` registers
it as NAME@champion, a fresh process reproduces the logged metrics from the registry,
`mlflow models predict` serves every pyfunc model, `retaillab score` and `retaillab retention`
write what the models say (checked against the in-memory models and a hand computation)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from conftest import copy_store
from retaillab import churn, data, tracking
from retaillab.churn.tables import customer_table, scoring_input
from retaillab.cli import main
from retaillab.clv.compare import compare as clv_compare
from retaillab.errors import DataError, ParameterError
from retaillab.models.compared import (
    TAG_LOGGED,
    TAG_WINNER,
    TAG_WINNER_MODEL,
    TAG_WINNER_RUN,
)
from retaillab.models.promotion import TAG_PROMOTED, promote
from retaillab.recsys.compare import compare as recsys_compare

RECSYS = {"dataset": "movielens", "n_users": 150, "seed": 42, "k": 10}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """One store holding a churn, a CLV and a recommender comparison (smoke sizes), made once
    for the module; every test reads it (the promote test adds versions)."""
    folder = tmp_path_factory.mktemp("workflow")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", copy_store(folder))
        patch.chdir(folder)
        tracking._CLIENTS.clear()
        cdnow = data.load("cdnow_sample")
        found = {"folder": folder, "uri": os.environ["MLFLOW_TRACKING_URI"]}
        customers, cutoff = customer_table(cdnow, "churn", None, 180)
        run = tracking.notebook_run(None, experiment="wf-churn")
        run.log_data(cdnow.name, customers)  # as the notebooks do
        found["churn"] = churn.compare(
            customers, models=["dummy", "logistic"], n_splits=3, n_repeats=1, run=run,
            importance=False, progress=False,
            model_input=scoring_input(cdnow, "churn", cutoff, 180))
        found["churn_run"], found["cutoff"] = run, cutoff
        run.close()
        run = tracking.notebook_run(None, experiment="wf-clv")
        run.log_data(cdnow.name, cdnow.transactions)
        found["clv"] = clv_compare(cdnow.transactions, models=["bg_nbd", "mbg_nbd", "gamma_gamma"],
                                   calibration_end="1997-09-30", holdout_end="1998-06-30",
                                   run=run)
        found["clv_run"] = run
        run.close()
        run = tracking.notebook_run(None, experiment="wf-recsys")
        run.log_data("movielens", data.load("movielens").interactions)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            found["recsys"] = recsys_compare(
                data.load("movielens").interactions, ["most_popular", "item_knn", "ease"],
                n_users=RECSYS["n_users"], seed=RECSYS["seed"], k=RECSYS["k"], run=run,
                progress=False)
        found["recsys_run"] = run
        run.close()
        found["promoted"] = {f: promote(found[f"{f}_run"].run_id)
                             for f in ("churn", "clv", "recsys")}
        yield found
        tracking._CLIENTS.clear()


@pytest.fixture
def here(world, monkeypatch):
    """This test talks to the module's store."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", world["uri"])
    monkeypatch.chdir(world["folder"])
    tracking._CLIENTS.clear()
    yield world
    tracking._CLIENTS.clear()


def _children(run) -> dict[str, object]:
    return {c.data.tags[tracking.TAG_MODEL]: c for c in run.children()}


def test_each_comparison_logs_only_its_winner_as_a_model(here):
    cases = {
        "churn": (here["churn"].table.xs("roc_auc", level="metric")["mean"].idxmax(), "sklearn"),
        "clv": (here["clv"].metrics.loc[["bg_nbd", "mbg_nbd"], "rmse"].idxmin(), "python_function"),
        "recsys": (here["recsys"].summary["ndcg_at_10"].idxmax(), "python_function"),
    }
    for family, (best, flavour) in cases.items():
        run = here[f"{family}_run"]
        tags = tracking.client().get_run(run.run_id).data.tags
        children = _children(run)
        assert tags[TAG_WINNER] == best, family
        assert tags[TAG_WINNER_RUN] == children[best].info.run_id
        logged = {name for name, child in children.items() if TAG_LOGGED in child.data.tags}
        assert logged == {best}, family
        uri = children[best].data.tags[TAG_LOGGED]
        assert uri == tags[TAG_WINNER_MODEL] == f"runs:/{children[best].info.run_id}/model"
        info = mlflow.models.get_model_info(uri)
        assert flavour in info.flavors and info.signature is not None, family
        meta = info.metadata
        assert meta["family"] == family and meta["retaillab_version"]
        assert meta["comparison_run_id"] == run.run_id and meta["run_id"] == \
            children[best].info.run_id
        assert meta["data"], family  # the data fingerprint of the comparison
        assert meta["size_bytes"] > 0 and meta["input"]["input"]
    # churn: refitted on every customer, its in-sample scores recorded beside the CV ones
    best = here["churn"].best
    metrics = _children(here["churn_run"])[best].data.metrics
    assert {"model.training_roc_auc", "roc_auc"} <= set(metrics)
    # CLV: purchase model and Gamma-Gamma together, the comparison's horizon and discount
    meta = mlflow.models.get_model_info(tracking.client().get_run(
        here["clv_run"].run_id).data.tags[TAG_WINNER_MODEL]).metadata
    assert meta["spend_class"].endswith("GammaGamma")
    assert meta["input"] == {"input": "transactions", "unit": "W",
                             "calibration_end": "1997-09-30", "months": 12,
                             "discount_rate": 0.01}


def test_log_models_all_and_none(store):
    tx = data.load("cdnow_sample").transactions
    for how, want in (("all", {"bg_nbd", "mbg_nbd"}), ("none", set())):
        run = tracking.notebook_run(None, experiment=f"clv-{how}")
        found = clv_compare(tx, models=["bg_nbd", "mbg_nbd"], calibration_end="1997-09-30",
                            holdout_end="1998-06-30", run=run, log_models=how)
        run.close()
        assert set(found.logged) == want
        children = _children(run)
        assert {n for n, c in children.items() if TAG_LOGGED in c.data.tags} == want
        tags = tracking.client().get_run(run.run_id).data.tags
        assert tags[TAG_WINNER] in ("bg_nbd", "mbg_nbd")
        assert (TAG_WINNER_MODEL in tags) == (how == "all")
    with pytest.raises(ParameterError, match="log_models"):
        clv_compare(tx, models=["bg_nbd"], calibration_end="1997-09-30",
                    holdout_end="1998-06-30", log_models="best")


def test_promote_registers_the_winner_with_the_champion_alias(here):
    client = tracking.client()
    for family in ("churn", "clv", "recsys"):
        first = here["promoted"][family]
        run = here[f"{family}_run"]
        assert first.name == f"wf-{family}" and first.alias == "champion"
        version = client.get_model_version_by_alias(first.name, "champion")
        assert str(version.version) == first.version
        assert version.tags["retaillab.comparison_run"] == run.run_id
        promoted = json.loads(client.get_run(run.run_id).data.tags[TAG_PROMOTED])
        assert promoted["version"] == first.version and promoted["model"] == first.model
    # the CLI: a child run by id, under a name of our own; promoting again moves the alias
    child = _children(here["clv_run"])[here["promoted"]["clv"].model].info.run_id
    assert main(["promote", child, "--model", "clv-shop"]) == 0
    assert main(["promote", here["clv_run"].run_id, "--model", "clv-shop"]) == 0
    assert str(client.get_model_version_by_alias("clv-shop", "champion").version) == "2"
    loser = next(c for n, c in _children(here["clv_run"]).items()
                 if TAG_LOGGED not in c.data.tags)
    with pytest.raises(DataError, match="logged no model"):
        promote(loser.info.run_id)
    with pytest.raises(DataError, match="no run 'nope'"):
        promote("nope")
    # the report says which version each comparison promoted (the last promotion)
    from retaillab import report

    shown = report.gather("wf-clv").provenance
    assert shown["promoted"].startswith(f"{here['promoted']['clv'].model} as models:/clv-shop/2")
    assert shown["winner model"] == f"{here['promoted']['clv'].model}: " \
        f"{here['promoted']['clv'].source}"
    assert report.gather("wf-recsys").provenance["promoted"].startswith(
        f"{here['promoted']['recsys'].model} as models:/wf-recsys/1 (alias champion")


REPRODUCE = textwrap.dedent("""
    import json, sys
    import numpy as np
    import mlflow
    from sklearn.metrics import roc_auc_score, average_precision_score, brier_score_loss
    from retaillab import data, metrics, tracking
    from retaillab.churn.tables import customer_table
    from retaillab.clv import rfm_summary
    from retaillab.clv.evaluation import holdout_metrics
    from retaillab.models.churn import as_input
    from retaillab.recsys.compare import folds, sample_users

    settings = json.loads(sys.argv[1])
    out = {}
    cdnow = data.load("cdnow_sample")
    # churn: the refitted winner scores the comparison's customers
    customers, _ = customer_table(cdnow, "churn", None, 180)
    model = mlflow.pyfunc.load_model("models:/wf-churn@champion")
    x = customers.drop(columns=["customer", "churn"])
    p = np.asarray(model.predict(as_input(x)))[:, 1]
    y = customers["churn"].to_numpy()
    out["churn"] = {"model.training_roc_auc": roc_auc_score(y, p),
                    "model.training_pr_auc": average_precision_score(y, p),
                    "model.training_brier": brier_score_loss(y, p)}
    # CLV: the winner predicts the holdout from the calibration summary
    summary = rfm_summary(cdnow.transactions, calibration_end="1997-09-30", unit="W",
                          holdout_end="1998-06-30")
    model = mlflow.pyfunc.load_model("models:/wf-clv@champion")
    rfm = summary.reset_index()[["customer", "frequency", "recency", "T", "monetary_value"]]
    scored = model.predict(rfm, params={"horizon": float(summary["duration_holdout"].iloc[0])})
    table = summary[["frequency"]].assign(actual=summary["frequency_holdout"].astype(float),
                                          model=scored["expected_purchases"].to_numpy())
    row = holdout_metrics(table).loc["model"]
    out["clv"] = {"mae": row["mae"], "rmse": row["rmse"],
                  "mean_clv": float(model.predict(rfm)["clv"].mean())}
    # recommenders: the winner ranks the comparison's test users
    ml = data.load(settings["dataset"]).interactions
    frame = sample_users(ml, settings["n_users"], settings["seed"])
    train, test = next(folds(frame, split="stratified", ratio=0.75, seed=settings["seed"],
                             n_folds=1))
    model = mlflow.pyfunc.load_model("models:/wf-recsys@champion")
    import pandas as pd
    recs = model.predict(pd.DataFrame({"user": test["user"].unique()}),
                         params={"k": settings["k"]})
    per_user = metrics.ranking_per_user(recs, test, settings["k"])
    out["recsys"] = per_user.mean().to_dict()
    print(json.dumps(out))
""")


@pytest.mark.slow
def test_a_fresh_process_reproduces_the_logged_metrics_from_the_registry(here, tmp_path):
    script = tmp_path / "reproduce.py"
    script.write_text(REPRODUCE)
    done = subprocess.run([sys.executable, str(script), json.dumps(RECSYS)], check=True,
                          capture_output=True, text=True, env=os.environ.copy(), timeout=240)
    found = json.loads(done.stdout.strip().splitlines()[-1])
    for family, values in found.items():
        version = tracking.client().get_model_version_by_alias(f"wf-{family}", "champion")
        logged = tracking.client().get_run(version.run_id).data.metrics
        for metric, value in values.items():
            assert math.isclose(value, logged[metric], rel_tol=0, abs_tol=1e-12), \
                (family, metric, value, logged[metric])
        assert len(values) >= 3


def _example(uri: str, folder: Path) -> Path:
    """The model's own input example as a CSV file (what a user would pass)."""
    local = Path(mlflow.artifacts.download_artifacts(uri, dst_path=str(folder)))
    example = json.loads((local / "input_example.json").read_text())
    frame = pd.DataFrame(example["data"], columns=example["columns"])
    path = folder / "input.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.mark.slow
def test_mlflow_models_predict_serves_every_model(here, tmp_path):
    """The command line serves the recommender (the custom pyfunc, the one with most to go
    wrong); the CLV and churn models through the same pyfunc loader the command calls with
    ``--env-manager local`` (a process each would cost seconds of imports and prove no more)."""
    want = {"clv": ["customer", "p_alive", "expected_purchases", "expected_spend", "clv"],
            "recsys": ["user", "item", "score", "rank", "fallback"], "churn": None}
    found = {}
    for family in want:
        folder = tmp_path / family
        folder.mkdir()
        uri = f"models:/wf-{family}@champion"
        source = _example(f"runs:/{here['promoted'][family].run_id}/model", folder)
        if family == "recsys":
            done = subprocess.run(
                [sys.executable, "-m", "mlflow", "models", "predict", "-m", uri, "-i",
                 str(source), "-t", "csv", "-o", str(folder / "out.json"), "--env-manager",
                 "local"], capture_output=True, text=True, env=os.environ.copy(), timeout=240)
            assert done.returncode == 0, done.stderr[-2000:]
            found[family] = json.loads((folder / "out.json").read_text())["predictions"]
        else:
            predicted = mlflow.pyfunc.load_model(uri).predict(pd.read_csv(source))
            found[family] = json.loads(json.dumps(
                predicted.to_dict(orient="records") if isinstance(predicted, pd.DataFrame)
                else np.asarray(predicted).tolist(), default=str))
    for family, predictions in found.items():
        if want[family] is None:  # predict_proba: one column per class, rows summing to 1
            rows = np.asarray(predictions)
            assert rows.shape[1] == 2 and np.allclose(rows.sum(axis=1), 1.0)
        else:
            assert list(pd.DataFrame(predictions).columns) == want[family], family


def test_score_writes_each_familys_output_as_the_models_say(here, tmp_path, capsys):
    cdnow = data.load("cdnow_sample")
    assert main(["score", "models:/wf-churn@champion", "cdnow_sample", "-o",
                 str(tmp_path / "churn.parquet"), "--cutoff", here["cutoff"], "-q"]) == 0
    scored = pd.read_parquet(tmp_path / "churn.parquet")
    customers, _ = customer_table(cdnow, "churn", None, 180)
    pipeline = mlflow.sklearn.load_model("models:/wf-churn@champion")
    want = pipeline.predict_proba(customers.drop(columns=["customer", "churn"]))[:, 1]
    assert list(scored.columns) == ["customer", "churn_probability"]
    assert np.array_equal(scored["customer"], customers["customer"])
    assert np.allclose(scored["churn_probability"], want, rtol=0, atol=1e-12)
    assert main(["score", "models:/wf-clv@champion", "cdnow_sample", "-o",
                 str(tmp_path / "clv.csv"), "-q"]) == 0
    scored = pd.read_csv(tmp_path / "clv.csv")
    assert list(scored.columns) == ["customer", "p_alive", "expected_purchases",
                                    "expected_spend", "clv"]
    assert len(scored) == cdnow.transactions["customer"].nunique()
    assert scored["p_alive"].between(0, 1).all() and (scored["clv"] >= 0).all()
    assert main(["score", "models:/wf-recsys@champion", "movielens", "-o",
                 str(tmp_path / "recs.csv"), "-k", "5", "-q"]) == 0
    out = capsys.readouterr().out
    recs = pd.read_csv(tmp_path / "recs.csv")
    users = data.load("movielens").interactions["user"].nunique()
    assert list(recs.columns) == ["user", "item", "score", "rank", "fallback"]
    assert recs["user"].nunique() == users and (recs.groupby("user").size() == 5).all()
    unknown = int(recs.drop_duplicates("user")["fallback"].sum())
    assert unknown == users - RECSYS["n_users"]  # users outside the comparison's sample
    assert f"{unknown:,} unknown to the model" in out


def test_score_matches_ids_in_the_learned_type_and_counts_unknown_ones(here, tmp_path, capsys):
    # the recommender learned integer user ids; a file of text ids: "a" matches the learned
    # a, "0a" (another customer's id, if zeros mean anything) matches nothing and is counted
    from retaillab.models.scoring import score

    a, b = sorted(here["recsys"].folds[-1][0]["user"].unique())[:2]
    path = tmp_path / "users.csv"
    given = [str(a), f"0{a}", str(b)]
    pd.DataFrame({"user": given, "item": ["1", "2", "3"]}).to_csv(path, index=False)
    frame = data.read_interactions(path, id_type="str")
    found = score("models:/wf-recsys@champion", data.Dataset("users", "test", interactions=frame),
                  progress=False)
    assert found.unknown == 1
    assert set(found.table["user"]) == set(given)  # the user's own ids, unchanged
    fallback = found.table.drop_duplicates("user").set_index("user")["fallback"]
    assert fallback.to_dict() == {str(a): False, f"0{a}": True, str(b): False}
    # text ids none of which the model knows: a type mismatch, refused with one message
    path.write_text("user,item\n0x1,1\n0x2,2\n")
    assert main(["score", "models:/wf-recsys@champion", str(path), "-o",
                 str(tmp_path / "r.csv"), "-q"]) == 2
    assert "learned its user ids as integers, the ids passed are text" in \
        capsys.readouterr().err


def test_score_refuses_what_it_cannot_score_with_one_message(here, tmp_path, capsys):
    cases = [
        (["score", "runs:/0123456789abcdef/model", "cdnow_sample"], "no model at"),
        (["score", "models:/wf-clv@champion", "movielens"], "has none"),
        (["score", "models:/wf-churn@champion", "telco_churn"], "no transactions"),
        (["score", "models:/wf-clv@champion", "cdnow_sample", "--cutoff", "1999-01-01"],
         "is after the data's last transaction"),
        (["score", "models:/wf-churn@champion", "cdnow_sample", "--cutoff", "1999-01-01"],
         "is after the data's last transaction"),
    ]
    for args, message in cases:
        assert main([*args, "-o", str(tmp_path / "x.csv"), "-q"]) == 2, args
        err = capsys.readouterr().err
        assert err.startswith("error: ") and message in err, err
        assert "Traceback" not in err and err.count("\n") <= 2, err  # the error, its fix
    assert main(["score", "models:/wf-clv@champion", "cdnow_sample", "-o",
                 str(tmp_path / "x.xlsx")]) == 2
    assert ".csv or .parquet" in capsys.readouterr().err
    # a customer table lacking a column the model was fitted on
    telco = data.load("telco_churn").customers
    run = tracking.notebook_run(None, experiment="telco-small")
    churn.compare(telco.head(400), models=["logistic"], n_splits=2, n_repeats=1, run=run,
                  importance=False, progress=False)
    run.close()
    uri = tracking.client().get_run(run.run_id).data.tags[TAG_WINNER_MODEL]
    short = tmp_path / "customers.csv"
    telco.drop(columns=["tenure", "churn"]).head(50).to_csv(short, index=False)
    assert main(["score", uri, str(short), "-o", str(tmp_path / "y.csv"), "-q"]) == 2
    err = capsys.readouterr().err
    assert "lacks 1 column(s) the churn model was fitted on: tenure" in err


def test_retention_list_on_cdnow_matches_a_hand_computation(here, tmp_path, capsys):
    args = ["retention", "cdnow_sample", "--churn", "models:/wf-churn@champion", "--clv",
            "models:/wf-clv@champion", "--acceptance-rate", "0.3", "--contact-cost", "2",
            "--offer-cost", "15", "-q"]
    assert main(["score", "models:/wf-churn@champion", "cdnow_sample", "-o",
                 str(tmp_path / "p.csv"), "-q"]) == 0
    assert main(["score", "models:/wf-clv@champion", "cdnow_sample", "-o",
                 str(tmp_path / "v.csv"), "-q"]) == 0
    assert main([*args, "-o", str(tmp_path / "list.csv")]) == 0
    out = capsys.readouterr().out
    listed = pd.read_csv(tmp_path / "list.csv")
    p = pd.read_csv(tmp_path / "p.csv").set_index("customer")["churn_probability"]
    v = pd.read_csv(tmp_path / "v.csv").set_index("customer")["clv"]
    assert list(listed.columns) == ["customer", "churn_probability", "clv", "expected_value",
                                    "rank", "cumulative_value"]
    # five customers by hand: P(churn) x 0.3 x (CLV - 15) - (1 - P(churn)) x 15 - 2
    for customer in listed["customer"].iloc[[0, 1, 2, len(listed) // 2, -1]]:
        c, value = p[customer], v[customer]
        hand = c * 0.3 * (value - 15.0) - (1 - c) * 1.0 * 15.0 - 2.0
        row = listed.set_index("customer").loc[customer]
        assert math.isclose(row["expected_value"], hand, rel_tol=1e-12, abs_tol=1e-9)
        assert row["clv"] == pytest.approx(value, abs=1e-9) and hand > 0
    # everyone with a positive expected value, best first, and nobody else
    gains = p * 0.3 * (v - 15.0) - (1 - p) * 15.0 - 2.0
    assert len(listed) == int((gains > 0).sum())
    assert listed["expected_value"].is_monotonic_decreasing
    total = listed["expected_value"].sum()
    assert math.isclose(listed["cumulative_value"].iloc[-1], total, rel_tol=1e-12)
    assert f"expected net value {total:,.2f}" in out
    top = math.ceil(len(listed) / 10)
    share = listed["expected_value"].iloc[:top].sum() / total
    assert f"brings {share:.0%} of it" in out
    assert str(listed["customer"].iloc[0]) not in out.split("written to")[0].replace(
        f"{total:,.2f}", "")  # aggregates only: no customer id printed
    assert main([*args, "--budget", "10", "-o", str(tmp_path / "ten.parquet")]) == 0
    ten = pd.read_parquet(tmp_path / "ten.parquet")
    pd.testing.assert_frame_equal(ten, listed.head(10), check_dtype=False)


def test_the_clv_model_takes_transactions_or_their_summary_alike(here):
    from retaillab.clv import rfm_summary

    model = mlflow.pyfunc.load_model("models:/wf-clv@champion")
    tx = data.load("cdnow_sample").transactions
    summary = rfm_summary(tx, calibration_end="1997-09-30", unit="W").reset_index()
    from_summary = model.predict(summary[["customer", "frequency", "recency", "T",
                                          "monetary_value"]])
    early = tx[tx["date"] < pd.Timestamp("1997-10-01")][["customer", "date", "amount"]]
    from_tx = model.predict(early, params={"cutoff": "1997-09-30"})
    pd.testing.assert_frame_equal(from_tx, from_summary, check_exact=True)
    with pytest.raises(Exception, match="after the last transaction"):
        model.predict(early, params={"cutoff": "1998-01-31"})


def test_score_gives_exactly_one_recommend_calls_lists_whatever_the_chunks(store, monkeypatch):
    """A float32 factor model's scores can differ in the last digit with the number of rows
    a product shares; score cuts its chunks where the known users fill whole scoring batches,
    so its lists are those of one recommend call (cold users mixed in)."""
    from retaillab import models, recsys
    from retaillab.models import scoring

    ml = data.load("movielens").interactions
    train, _ = data.split(ml, "stratified", ratio=0.75, seed=1)
    fitted = recsys.create("als", iterations=3).fit(train)
    run = tracking.create_run(tracking.experiment_id("als"))
    uri = models.log_model(fitted, family="recsys", name="model", run_id=run.run_id)
    users = pd.Index([*ml["user"].unique(), *range(10_000, 10_040)])  # 40 cold users
    interactions = pd.DataFrame({"user": users, "item": 1})
    monkeypatch.setattr(scoring, "USER_CHUNK", 300)
    chunks = list(scoring._user_chunks(users, fitted.users_.get_indexer(users),
                                       fitted.batch_size))
    assert pd.Index(np.concatenate(chunks)).equals(users) and len(chunks) > 1
    for chunk in chunks[:-1]:  # whole batches of known users in every chunk but the last
        assert fitted.users_.get_indexer(chunk).__ge__(0).sum() % fitted.batch_size == 0
    found = scoring.score(uri, data.Dataset("users", "test", interactions=interactions),
                          progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = fitted.recommend(users, k=10)
    pd.testing.assert_frame_equal(found.table, want, check_exact=True)
    assert found.unknown == 40
