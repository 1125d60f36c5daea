"""Package-level promises: a fast import, a working console script, the two-command README."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ["mlflow", "optuna", "surprise", "implicit", "sklearn", "papermill", "matplotlib",
         "scipy"]


def _modules_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    return set(out.split())


def test_import_retaillab_loads_no_heavy_library():
    loaded = _modules_after("import retaillab")
    assert not loaded & {*HEAVY, "pandas", "numpy"}


def test_import_data_loads_pandas_but_nothing_heavy():
    loaded = _modules_after("from retaillab import data")
    assert "pandas" in loaded
    assert not loaded & set(HEAVY)


def test_console_script_reports_bad_input_with_exit_code(tmp_path):
    exe = Path(sys.executable).with_name("retaillab")
    bad = tmp_path / "orders.csv"
    bad.write_text("customer,date,amount\n1,2024-01-01,-3\n")
    result = subprocess.run([str(exe), "validate", "transactions", str(bad)],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "negative" in result.stderr and "Traceback" not in result.stderr


def test_readme_opens_with_the_two_commands_and_ci_calls_make_test():
    readme = (ROOT / "README.md").read_text()
    head = readme[: readme.index("\n## ")] if "\n## " in readme else readme
    assert "make quickstart" in head and "make test" in head
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci
