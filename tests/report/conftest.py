"""Fake comparison runs logged through retaillab.tracking, and stores for module-wide records.

Tests that want a store of their own use the root ``store`` fixture (a copy of the session's
pre-migrated template store); :func:`open_store` does the same for a module-scoped record.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pandas as pd
import pytest

from retaillab import tracking

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture(scope="session")
def copy_store(pytestconfig: pytest.Config) -> Callable[[Path], str]:
    """The root conftest's ``copy_store(folder) -> uri`` (a copy of the pre-migrated template).

    Taken from the conftest module pytest loaded: under ``--import-mode=importlib`` the root
    conftest is no importable module, and a second copy would redo its session setup.
    """
    root = pytestconfig.pluginmanager.get_plugin(str(pytestconfig.rootpath / "conftest.py"))
    if root is None or not hasattr(root, "copy_store"):
        pytest.fail("the root conftest.py with copy_store() was not loaded")
    return root.copy_store


def open_store(folder: Path, monkeypatch: pytest.MonkeyPatch,
               copy: Callable[[Path], str]) -> str:
    """Point this process (and the kernels it starts) at a fresh store in ``folder``, a
    project of its own that is also the working directory; returns the store's URI."""
    (folder / "pyproject.toml").write_text("[project]\nname = 'scratch'\n")
    uri = copy(folder)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(folder)
    tracking._CLIENTS.clear()
    return uri


def log_comparison(experiment: str, models: Mapping[str, Mapping[str, Sequence[float]]], *,
                   per_fold: bool = True, status: str = "FINISHED",
                   extra: Mapping[str, Mapping[str, float]] | None = None,
                   table: pd.DataFrame | None = None, by_runner: bool = True,
                   sizes: tuple[int, int] | None = None) -> str:
    """One parent run with a child per model. ``models``: model -> metric -> fold values; the
    child logs the fold means (and ``folds.csv`` when ``per_fold``, with columns ``n_train``
    and ``n_test`` from ``sizes``). Returns the parent id."""
    client = tracking.client()
    exp = tracking.experiment_id(experiment)
    tags = {tracking.TAG_KIND: "notebook", tracking.TAG_DATA + "telco": "fp-telco-42"}
    if by_runner:
        tags.update({"retaillab.git_commit": COMMIT, "retaillab.git_dirty": "false",
                     "retaillab.spec": f"experiments/{experiment}.yaml",
                     "retaillab.spec_sha256": "ab" * 32, "retaillab.seed": "7",
                     tracking.TAG_NOTEBOOK: "notebooks/x.ipynb",
                     tracking.TAG_PARAMETERS: '{"seed": 7}'})
    parent = tracking.Run(client.create_run(exp, run_name=f"{experiment} run",
                                            tags=tags).info.run_id, exp)
    for name, values in models.items():
        with parent.model(name) as child:
            folds = pd.DataFrame({"repeat": 0, "fold": range(len(next(iter(values.values())))),
                                  **{m: list(v) for m, v in values.items()}})
            child.log_metrics({m: sum(v) / len(v) for m, v in values.items()})
            child.log_metrics((extra or {}).get(name, {}))
            if sizes is not None:
                folds = folds.assign(n_train=sizes[0], n_test=sizes[1])
            if per_fold:
                child.log_table(folds, "folds.csv")
    if table is not None:
        parent.log_table(table, "comparison.csv")
    client.set_terminated(parent.run_id, status)
    return parent.run_id


CHURN = {  # roc_auc higher is better, brier lower is better
    "gbm": {"roc_auc": [0.80, 0.82, 0.84], "brier": [0.15, 0.16, 0.17],
            "fit_seconds": [1.0, 1.2, 1.4]},
    "logistic": {"roc_auc": [0.70, 0.73, 0.75], "brier": [0.18, 0.18, 0.19],
                 "fit_seconds": [0.1, 0.1, 0.1]},
    "dummy": {"roc_auc": [0.5, 0.5, 0.5], "brier": [0.2, 0.2, 0.2],
              "fit_seconds": [0.01, 0.01, 0.01]},
}
