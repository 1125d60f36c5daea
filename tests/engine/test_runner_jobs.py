"""`retaillab run --jobs N`: grid points in N processes, recorded as a serial run records them."""

from __future__ import annotations

import json

import pytest

from retaillab import tracking
from retaillab.cli import main

from .conftest import parent_runs, running, write_spec

pytestmark = pytest.mark.notebook


def _records(parents, children) -> dict[float, dict]:
    """Per grid point (alpha): the parent's params and metrics, and its children's metrics."""
    out = {}
    for parent in parents:
        alpha = json.loads(parent.data.tags[tracking.TAG_PARAMETERS])["alpha"]
        mine = {c.data.tags[tracking.RUN_NAME_TAG]: {k: v for k, v in c.data.metrics.items()
                                                      if not tracking.is_timing(k)}
                for c in children if c.data.tags[tracking.PARENT_TAG] == parent.info.run_id}
        out[alpha] = {"params": dict(parent.data.params), "status": parent.info.status,
                      "metrics": {k: v for k, v in parent.data.metrics.items()
                                  if not tracking.is_timing(k)},
                      "children": mine}
    return out


@pytest.mark.slow(seconds=22)
def test_two_jobs_record_what_a_serial_run_records(store, capsys):
    grid = {"alpha": [1.0, 3.0]}
    serial = write_spec(store, "grid-serial", "ok.ipynb", grid=grid)
    parallel = write_spec(store, "grid-jobs", "ok.ipynb", grid=grid)
    assert main(["run", str(serial), "-q"]) == 0
    capsys.readouterr()
    assert main(["run", str(parallel), "-q", "--jobs", "2"]) == 0
    out = capsys.readouterr().out
    assert "2 of 2 runs finished" in out and out.count("FINISHED ") == 2
    one, two = _records(*parent_runs("grid-serial")), _records(*parent_runs("grid-jobs"))
    assert set(one) == set(two) == {1.0, 3.0}
    assert one == two  # same params, statuses, metrics, child runs and their metrics
    assert all(len(point["children"]) == 2 for point in two.values())
    assert running("grid-jobs") == []
    # each parallel run was owned by a worker process, not by the command's own
    from retaillab import owners

    owned = {p.data.tags.get(tracking.TAG_OWNER) for p in parent_runs("grid-jobs")[0]}
    assert None not in owned and owners.owner() not in owned
    assert {p.data.tags.get(tracking.TAG_OWNER) for p in parent_runs("grid-serial")[0]} == {
        owners.owner()}


def test_jobs_must_be_a_positive_number(store, capsys):
    spec = write_spec(store, "grid-bad", "ok.ipynb", grid={"alpha": [1.0, 2.0]})
    assert main(["run", str(spec), "-q", "--jobs", "0"]) == 2
    assert "jobs" in capsys.readouterr().err
