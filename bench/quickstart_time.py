"""Wall time of ``make quickstart``'s work and each stage's share of it.

Runs ``retaillab quickstart -q`` in a fresh process against a throwaway MLflow store (so the
project's own record is untouched) and reads the stage times it prints. The aim is under five
minutes on a 2-core machine.

Run: ``python bench/quickstart_time.py``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    with tempfile.TemporaryDirectory() as store:
        env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{store}/mlflow.db"}
        exe = Path(sys.executable).with_name("retaillab")
        start = time.perf_counter()
        done = subprocess.run([str(exe), "quickstart", "-q"], cwd=ROOT, env=env,
                              capture_output=True, text=True)
        wall = time.perf_counter() - start
    line = next((x for x in done.stdout.splitlines() if x.startswith("== time:")), "")
    stages = {name: float(sec) for name, sec in re.findall(r"([\w-]+) (\d+) s", line)}
    stages.pop("total", None)
    print(f"exit code {done.returncode}; wall {wall:.0f} s ({wall / 60:.1f} min)\n")
    print(f"{'stage':<20} {'seconds':>8} {'share':>7}")
    for name, seconds in stages.items():
        print(f"{name:<20} {seconds:>8.0f} {seconds / wall:>6.0%}")
    rest = wall - sum(stages.values())
    print(f"{'start-up, listing':<20} {rest:>8.0f} {rest / wall:>6.0%}")
    if done.returncode:
        print(done.stderr[-2000:], file=sys.stderr)
        sys.exit(done.returncode)


if __name__ == "__main__":
    main()
