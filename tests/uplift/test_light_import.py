"""``import retaillab.uplift`` stays light; the curves and policies need only numpy and pandas
(scikit-learn loads with the models, matplotlib with the figure)."""

from __future__ import annotations

import subprocess
import sys

HEAVY = {"scipy", "sklearn", "matplotlib", "mlflow", "statsmodels"}


def _loaded(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sys.modules))"
    return set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              check=True).stdout.split())


def test_the_package_curves_policies_and_campaign_load_nothing_heavy():
    loaded = _loaded("import retaillab.uplift as u; u.evaluate; u.profit_curves; "
                     "import retaillab.data.synthetic_campaign")
    assert {"retaillab.uplift.evaluation", "retaillab.uplift.policy"} <= loaded
    assert not loaded & HEAVY
