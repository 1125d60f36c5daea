"""Build the report file: execute ``notebooks/report.ipynb`` with papermill, then export its
outputs (no code, no prompts, no stderr) with nbconvert into one self-contained HTML page."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

from retaillab import tracking
from retaillab.report._gather import check_request, experiments_with_runs
from retaillab.report._render import page

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "report.ipynb"


def export_html(notebook_path: str | Path, title: str) -> str:
    """An executed notebook's outputs as one HTML page: inputs, prompts, markdown and stderr
    left out, and nbconvert's ``basic`` template (no external scripts or styles)."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(notebook_path), as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if not (
                o.get("output_type") == "stream" and o.get("name") == "stderr")]
    exporter = HTMLExporter(template_name="basic", exclude_input=True, exclude_markdown=True,
                            exclude_input_prompt=True, exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nb)
    return page(body, title)


def build(experiments: Sequence[str], output: str | Path, *, run_id: str | None = None,
          metric: str | None = None, seed: int = 0, title: str | None = None,
          notebook: str | Path | None = None, keep_notebook: str | Path | None = None) -> Path:
    """Write the HTML report of ``experiments`` (all reportable ones when empty) to ``output``.

    Bad requests (unknown experiment, nothing finished) are refused before a kernel starts.
    ``keep_notebook``: where to keep the executed notebook (default: a temporary file).
    """
    import papermill

    names = list(experiments) or experiments_with_runs()
    check_request(names, run_id)
    title = title or "Model comparison: " + ", ".join(names)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    source = Path(notebook or NOTEBOOK)
    with tempfile.TemporaryDirectory() as folder:
        executed = Path(keep_notebook or Path(folder) / "report.ipynb")
        executed.parent.mkdir(parents=True, exist_ok=True)
        with tracking.kernel_environment():
            papermill.execute_notebook(
                str(source), str(executed), kernel_name="python3", progress_bar=False,
                kernel_manager_class=tracking.kernel_manager(),
                cwd=str(tracking.project_root()),
                parameters={"experiments": names, "run_id": run_id, "metric": metric,
                            "seed": seed, "title": title})
        output.write_text(export_html(executed, title), encoding="utf-8")
    return output
