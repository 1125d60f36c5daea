"""ModelProgress: one step per model, the description saying which model does what."""

from __future__ import annotations

import subprocess
import sys


def test_disabled_progress_imports_no_tqdm_and_still_tracks_the_stage():
    code = (
        "import sys\n"
        "from retaillab.churn import compare as c\n"
        "from retaillab.recsys import compare as r\n"
        "from retaillab.metrics.progress import ModelProgress\n"
        "p = ModelProgress('recsys', ['a', 'b'], enabled=False)\n"
        "p.stage('a', 'fitting'); p.finished(); p.stage('b', 'scoring')\n"
        "print(p.description); p.finished(); p.close(); print(p.description)\n"
        "print('tqdm' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert out == ["recsys: 2/2 models, b scoring", "recsys: 2/2 models, done", "False"]


def test_an_interrupted_comparison_does_not_claim_done():
    from retaillab.metrics.progress import ModelProgress

    try:
        with ModelProgress("churn", ["a", "b", "c"], enabled=False) as progress:
            progress.stage("a", "fitting")
            progress.finished()
            progress.stage("b", "fitting")
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        pass
    assert progress.description == "churn: 2/3 models, b fitting"
