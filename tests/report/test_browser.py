"""End to end: `retaillab report` executes the report notebook on a small record, and the page
is self-contained and renders in headless Chromium with every image decoded and no console
message."""

from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from retaillab import tracking
from retaillab.cli import main
from tests.system_packages import wait_for_system_packages

from .conftest import CHURN, log_comparison, open_store

pytestmark = [pytest.mark.notebook, pytest.mark.slow, pytest.mark.system_packages]

PNG = b"\x89PNG\r\n\x1a\n"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# counts images the browser could not decode, once the page has loaded
PROBE = """<script>window.addEventListener('load', () => {
  const imgs = [...document.images];
  document.body.dataset.images = imgs.length;
  document.body.dataset.broken = imgs.filter(i => !(i.complete && i.naturalWidth > 0)).length;
});</script>"""


def chromium() -> str:
    wait_for_system_packages()
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None and Path("/usr/bin/chromium").exists():
        found = "/usr/bin/chromium"
    if found is None:
        pytest.skip("chromium not found on PATH nor at /usr/bin/chromium: `make test` installs "
                    "it with apt-get where it can (apt-get install chromium)")
    return found


@pytest.fixture(scope="module")
def built(tmp_path_factory, copy_store):
    """A record of two experiments (per-fold churn, recsys with a logged table) and a study,
    reported through the CLI: papermill runs notebooks/report.ipynb, nbconvert exports it."""
    folder = tmp_path_factory.mktemp("record")
    with pytest.MonkeyPatch.context() as mp:
        open_store(folder, mp, copy_store)
        log_comparison("churn", CHURN)
        table = pd.DataFrame({"ndcg_at_10": ["0.300 [0.250, 0.350]", "0.200 [0.150, 0.260]"]},
                             index=pd.Index(["ease", "most_popular"], name="model"))
        log_comparison("recsys", {"ease": {"ndcg_at_10": [0.3], "fit_seconds": [2.0]},
                                  "most_popular": {"ndcg_at_10": [0.2], "fit_seconds": [0.1]}},
                       per_fold=False, table=table)
        client = tracking.client()
        exp = tracking.experiment_id("churn")
        study = tracking.Run(client.create_run(exp, run_name="study gbm", tags={
            tracking.TAG_KIND: "study"}).info.run_id, exp)
        for value in (0.7, 0.8, 0.75):
            with study.model("gbm") as trial:
                trial.log_metrics({"validation_roc_auc": value})
        client.set_terminated(study.run_id, "FINISHED")
        # a behaviour analysis: its tables (one group of 3 customers) and a real figure
        import matplotlib

        matplotlib.use("Agg")
        from retaillab.behaviour import funnel

        events = pd.DataFrame({
            "customer": [1, 1, 2, 2, 3], "item": [9, 9, 9, 9, 8],
            "event": ["view", "purchase", "view", "click", "view"],
            "timestamp": pd.to_datetime(["2024-01-01 10:00", "2024-01-01 10:05",
                                         "2024-01-02 09:00", "2024-01-02 09:01",
                                         "2024-01-03 12:00"])})
        run = tracking.notebook_run(None, experiment="behaviour")
        run.log_table(pd.DataFrame({"customers": [3, 40], "revenue": [31337.77, 120.0]},
                                   index=pd.Index(["tiny", "big"], name="segment")),
                      "behaviour/personas.csv")
        run.log_figure(funnel.funnel_chart(funnel.funnel(events)), "behaviour/funnel.png")
        run.close()
        out = folder / "reports" / "both.html"
        assert main(["report", "churn", "recsys", "behaviour", "-o", str(out)]) == 0
        tracking._CLIENTS.clear()
    return out


def test_page_is_self_contained_with_leaderboards(built):
    text = built.read_text(encoding="utf-8")
    assert "<script" not in text.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text, re.I)
    assert "@import" not in text and "url(http" not in text
    assert "gather_all" not in text and "Traceback" not in text  # no code, no errors
    for name in ("churn", "recsys", "gbm", "logistic", "dummy", "ease", "most_popular"):
        assert f">{name}<" in text, name
    assert text.count("<h3>Leaderboard</h3>") == 2 and "gbm is the significant winner" in text
    # the behaviour section, with the 3-customer group suppressed
    assert "<h3>Behaviour</h3>" in text and "&lt; 10" in text and "31337.77" not in text
    assert 'alt="behaviour: funnel"' in text
    assert "corrected resampled t over 3 folds" in text and "comparison.csv" in text
    assert "tuning history study gbm" in text and "retaillab rerun " in text
    uris = re.findall(r'<img[^>]*src="([^"]*)"', text)
    assert len(uris) == 6  # churn: intervals, cost, tuning; recsys: intervals, cost; funnel
    import matplotlib.image

    for uri in uris:
        assert uri.startswith("data:image/png;base64,")
        data = base64.b64decode(uri.split(",", 1)[1], validate=True)
        assert data.startswith(PNG)
        assert matplotlib.image.imread(io.BytesIO(data), format="png").shape[0] > 50


def test_renders_in_headless_chromium(built, tmp_path):
    browser = chromium()
    probed = tmp_path / "probed.html"
    probed.write_text(built.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"),
                      encoding="utf-8")
    common = [browser, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
              "--enable-logging=stderr", "--v=0", "--virtual-time-budget=10000"]
    done = subprocess.run([*common, "--dump-dom", probed.as_uri()], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    assert console == []
    body = re.search(r"<body([^>]*)>", done.stdout).group(1)
    assert 'data-images="6"' in body and 'data-broken="0"' in body, body
    assert done.stdout.count("<h3>Leaderboard</h3>") == 2
    shot = tmp_path / "report.png"
    done = subprocess.run([*common, f"--screenshot={shot}", "--window-size=1280,2000",
                           built.as_uri()], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and shot.read_bytes().startswith(PNG), done.stderr[-2000:]
    assert [line for line in done.stderr.splitlines() if ":CONSOLE" in line] == []


def test_a_broken_image_is_caught(tmp_path):
    """The probe is real: an image whose data does not decode is counted as broken."""
    browser = chromium()
    page = tmp_path / "broken.html"
    page.write_text('<!DOCTYPE html><html><head><link rel=icon href="data:,"></head><body>'
                    '<img src="data:image/png;base64,iVBORw0KGgoAAAA=">' + PROBE +
                    "</body></html>")
    done = subprocess.run([browser, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                           "--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
                          capture_output=True, text=True, timeout=60)
    assert 'data-broken="1"' in done.stdout
