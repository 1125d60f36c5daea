"""Tiny tuning specs and the record of a study. The ``store`` fixture (a throwaway project with
a copy of the pre-migrated template MLflow store) is the root conftest's."""

from __future__ import annotations

from pathlib import Path

import yaml

from retaillab import tracking


def write_spec(folder: Path, name: str = "tiny", **changes) -> Path:
    """SVD on 60 sampled MovieLens users, 3 epochs: a trial takes a fraction of a second."""
    body = {"name": name, "task": "recsys", "model": "svd", "metric": "rmse", "n_trials": 4,
            "seed": 0, "data": {"sample": 60}, "space": {"n_epochs": 3}, **changes}
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(body))
    return path


def runs_of(experiment: str):
    """(parents, children) of an experiment."""
    client = tracking.client()
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    return ([r for r in runs if tracking.PARENT_TAG not in r.data.tags],
            [r for r in runs if tracking.PARENT_TAG in r.data.tags])
