"""Test-session setup shared by tests/ and the notebooks run under nbval.

Every MLflow write during the tests goes to a throwaway store, never the project's mlruns/;
the notebook kernels nbval and papermill start inherit the variable.
"""

import os
import tempfile

_STORE = tempfile.mkdtemp(prefix="retaillab-tests-")
os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{_STORE}/mlflow.db"
