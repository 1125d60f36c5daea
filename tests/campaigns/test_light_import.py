"""``import retaillab.campaigns`` stays light: numpy and pandas, no scipy or statsmodels."""

from __future__ import annotations

import subprocess
import sys


def test_import_campaigns_loads_no_heavy_library():
    code = "import sys, retaillab.campaigns; print(' '.join(sys.modules))"
    loaded = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                check=True).stdout.split())
    assert "retaillab.campaigns.readout" in loaded
    assert not loaded & {"scipy", "sklearn", "statsmodels", "matplotlib", "mlflow"}
