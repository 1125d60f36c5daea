"""Helpers of the engine tests: specs over the fixture notebooks, and what a store holds."""

from __future__ import annotations

from pathlib import Path

from retaillab import tracking

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ROOT = Path(__file__).resolve().parents[2]


def write_spec(folder: Path, name: str, notebook: str, **extra) -> Path:
    import yaml

    body = {"name": name, "notebook": str(FIXTURES / notebook),
            "parameters": {"seed": 3, "alpha": 2.0}, **extra}
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(body))
    return path


def project_spec(folder: Path, name: str, notebook: Path, **parameters) -> Path:
    """A spec whose notebook is copied into the project at ``folder`` (so it can be rerun)."""
    import shutil

    import yaml

    (folder / "notebooks").mkdir(exist_ok=True)
    shutil.copy(notebook, folder / "notebooks" / notebook.name)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"name": name, "notebook": f"notebooks/{notebook.name}",
                                    "parameters": parameters}))
    return path


def running(experiment: str) -> list:
    """The runs of ``experiment`` still RUNNING."""
    client = tracking.client()
    exp = client.get_experiment_by_name(experiment)
    return [r for r in client.search_runs([exp.experiment_id]) if r.info.status == "RUNNING"]


def parent_runs(experiment: str):
    client = tracking.client()
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id])
    return [r for r in runs if tracking.PARENT_TAG not in r.data.tags], \
        [r for r in runs if tracking.PARENT_TAG in r.data.tags]
