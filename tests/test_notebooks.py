"""Notebooks are committed thin and clean; nbval (``--nbval-lax``) executes them at smoke size."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_there_is_a_tour():
    assert any(p.name == "00_tour.ipynb" for p in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_first_code_cell_is_the_parameters_cell_with_run_id(path):
    nb = nbformat.read(path, as_version=4)
    first = next(c for c in nb.cells if c.cell_type == "code")
    assert "parameters" in first.metadata.get("tags", [])
    assert "run_id = None" in first.source and "seed" in first.source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_papermill_reads_every_parameter(path, caplog):
    """papermill skips a line it cannot parse (e.g. ``=`` in a comment), and a spec setting
    that parameter would be refused: every assignment in the cell must be read."""
    import papermill

    nb = nbformat.read(path, as_version=4)
    first = next(c for c in nb.cells if c.cell_type == "code")
    assigned = {line.split("=")[0].strip() for line in first.source.splitlines()
                if "=" in line.split("#")[0] and not line.startswith((" ", "#"))}
    found = set(papermill.inspect_notebook(str(path)))
    assert found == assigned and "Unable to parse" not in caplog.text
