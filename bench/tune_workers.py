"""Two tuning workers against one: wall clock of the whole ``retaillab tune`` command.

The study: Surprise's SVD on MovieLens (100,004 ratings; validation = 20% of each training
user's ratings), 24 trials tuning ``lr_all`` and ``reg_all`` with ``n_factors: 100`` and
``n_epochs: 60`` fixed, so every trial costs the same (~1.7 s: one fit on 60,000 ratings) and
the samplers of one and of two workers, which propose different configurations, cannot make
one side cheaper. Each run is the fresh command a user types, ``retaillab tune SPEC
--workers W``, on a throwaway MLflow store (a copy of one migrated SQLite store, as a
user's existing store) and a new Optuna journal beside it, so it counts start-up and
imports, data loading, the trials, the refits and test scores, and the plots.

Runs alternate (1 worker, 2 workers) for ROUNDS pairs; the speed-up is the median of the
pairs' ratios. From the study's journal each run is split into start-up (command start to
the first trial's start), trials (first start to last end; ``s/trial`` is the mean trial;
``joined``: when the last process to start ran its first trial, after the first one) and
tail (last trial's end to the command's end: final scores, plots, exit). The cores are
shared with other people's jobs: every run prints the load average before and after it,
and ``others``, the CPU time of processes other than the benchmark's over the run (from
/proc/stat), in cores; a ratio measured next to someone else's job says so. The goal
(issue #16): at least 1.7x.

Run: ``flock /tmp/bench.lock python bench/tune_workers.py [rounds]`` (default 3; ~6 min).
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
STUDY = "bench-tune-workers"
N_TRIALS = 24
SPEC = f"""\
name: {STUDY}
task: recsys
model: svd
metric: rmse
n_trials: {N_TRIALS}
seed: 0
data: {{dataset: movielens, split: stratified, ratio: 0.75, validation_ratio: 0.8}}
space: {{n_factors: 100, n_epochs: 60}}
"""


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def busy_seconds() -> float:
    """CPU seconds spent by every process of the machine since boot (/proc/stat)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def ours_seconds() -> float:
    """CPU seconds of this process and its waited-for descendants."""
    me, kids = (resource.getrusage(who) for who in (resource.RUSAGE_SELF,
                                                    resource.RUSAGE_CHILDREN))
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def template_store(folder: Path) -> Path:
    """A migrated, empty MLflow SQLite store, made once (as tests/conftest.py does)."""
    db = folder / "template.db"
    subprocess.run([sys.executable, "-c", "import sys; from mlflow import MlflowClient; "
                    "MlflowClient(tracking_uri=sys.argv[1]).search_experiments()",
                    f"sqlite:///{db}"], check=True, capture_output=True)
    return db


def phases(journal: Path, started: float, ended: float) -> dict[str, float]:
    """Start-up, trials and tail of one run (seconds), from the study's trial times."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(journal)))
    trials = optuna.load_study(study_name=STUDY, storage=storage).trials
    done = [t for t in trials if t.state.name == "COMPLETE"]
    first = min(t.datetime_start.timestamp() for t in trials)
    last = max(t.datetime_complete.timestamp() for t in done)
    busy = sum((t.datetime_complete - t.datetime_start).total_seconds() for t in done)
    starts: dict[str, float] = {}  # each process's first trial
    for t in trials:
        starts.setdefault(t.user_attrs.get("worker", ""), t.datetime_start.timestamp())
    return {"startup": first - started, "trials": last - first, "tail": ended - last,
            "per_trial": busy / len(done), "n": len(done), "all": len(trials),
            "processes": len(starts), "joined": max(starts.values()) - first}


def run(workers: int, spec: Path, template: Path) -> dict[str, float]:
    """One fresh ``retaillab tune`` on a new store; its phases and wall clock."""
    with tempfile.TemporaryDirectory(prefix="tune-bench-") as folder:
        work = Path(folder)
        (work / "pyproject.toml").write_text("[project]\nname = 'bench'\n")
        (work / "mlruns").mkdir()
        shutil.copyfile(template, work / "mlruns" / "mlflow.db")
        env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{work}/mlruns/mlflow.db"}
        before, busy, ours = loadavg(), busy_seconds(), ours_seconds()
        started = time.time()
        done = subprocess.run([str(BIN / "retaillab"), "tune", str(spec), "--workers",
                               str(workers)], cwd=work, env=env, capture_output=True, text=True)
        ended = time.time()
        others = (busy_seconds() - busy - (ours_seconds() - ours)) / (ended - started)
        if done.returncode != 0:
            raise SystemExit(f"retaillab tune failed:\n{done.stdout[-2000:]}\n"
                             f"{done.stderr[-3000:]}")
        found = phases(work / "mlruns" / "optuna" / f"{STUDY}.journal", started, ended)
        found.update(wall=ended - started, load=f"{before} -> {loadavg()}", others=others)
        return found


def main(rounds: int = 3) -> None:
    with tempfile.TemporaryDirectory() as folder:
        spec = Path(folder) / "bench.yaml"
        spec.write_text(SPEC)
        template = template_store(Path(folder))
        print(f"{'pair':<4} {'workers':>7} {'wall s':>7} {'start-up':>8} {'joined':>6} "
              f"{'trials':>7} {'tail':>5} {'s/trial':>7} {'others':>6}  "
              "load average before -> after", flush=True)
        ratios = []
        for r in range(rounds):
            wall = {}
            for workers in (1, 2):
                f = run(workers, spec, template)
                assert f["n"] == f["all"] == N_TRIALS, f  # every trial completes, none lost
                wall[workers] = f["wall"]
                assert f["processes"] == workers, f  # every process ran trials
                print(f"{r:<4} {workers:>7} {f['wall']:>7.1f} {f['startup']:>8.1f} "
                      f"{f['joined']:>6.1f} {f['trials']:>7.1f} {f['tail']:>5.1f} "
                      f"{f['per_trial']:>7.2f} {f['others']:>6.2f}  {f['load']}", flush=True)
            ratios.append(wall[1] / wall[2])
    print("speed-up per pair (1 worker / 2 workers): " + " ".join(f"{x:.2f}x" for x in ratios))
    print(f"median speed-up {statistics.median(ratios):.2f}x over {rounds} pairs; "
          "goal: at least 1.70x")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
