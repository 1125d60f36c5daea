"""``make quickstart``: every comparison at full size, a short tuning study and one report.

The suite file (``experiments/quickstart.yaml``) lists ordinary experiment specs to run, an
optional tuning spec with its number of trials, and where the report goes. Each stage calls
the functions behind the command a user would type (``retaillab run``, ``tune``, ``report``)
and prints what that command prints, so the quickstart records nothing a user could not
reproduce stage by stage. (The CLI imports this module, never the other way round.)
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retaillab.spec import SpecError, read_mapping

SUITE = Path("experiments/quickstart.yaml")


@dataclass(frozen=True)
class Suite:
    """A validated quickstart suite."""

    path: Path
    runs: list[Path]
    tune: dict[str, Any] = field(default_factory=dict)
    report: Path | None = None


def load_suite(path: str | Path, root: Path | None = None) -> Suite:
    """Read ``experiments/quickstart.yaml``; every error names the file and the key."""
    from retaillab.tracking import project_root

    path = Path(path)
    if not path.is_file() and not path.is_absolute():  # from a subfolder of the project
        path = project_root() / path
    raw, _ = read_mapping(path, what="suite file", example="experiments/quickstart.yaml",
                          shape="runs, tune and report", known=("name", "runs", "tune", "report"),
                          required=())
    root = root or project_root(path.parent)
    runs = raw.get("runs") or []
    if not isinstance(runs, list) or not all(isinstance(r, str) for r in runs):
        raise SpecError("'runs' must be a list of spec paths", source=str(path), column="runs",
                        fix="write `runs: [experiments/recsys_movielens.yaml, ...]`")
    tune = raw.get("tune") or {}
    if tune and (not isinstance(tune, dict) or "spec" not in tune):
        raise SpecError("'tune' must be a mapping with a 'spec' path (and n_trials)",
                        source=str(path), column="tune",
                        fix="write `tune: {spec: experiments/tune_svd.yaml, n_trials: 12}`")
    paths = [root / r for r in runs]
    for given, full in zip(runs, paths, strict=True):
        if not full.is_file():
            raise SpecError(f"the spec {given!r} does not exist", source=str(path),
                            column="runs", fix="give spec paths relative to the project root")
    report = raw.get("report")
    return Suite(path, paths, {**tune, "spec": root / tune["spec"]} if tune else {},
                 root / report if report else None)


def run(path: str | Path = SUITE, *, root: Path | None = None, progress: bool = True) -> int:
    """Run the suite; print each experiment's leaderboard and where the report is.

    Returns the exit code: 0 when every stage finished, 1 when one failed (the others go on),
    130 on Ctrl-C (the interrupted run ends KILLED, later stages do not start).
    """
    from retaillab import leaderboard
    from retaillab.spec import load_spec

    suite = load_suite(path, root=root)
    codes, names, seconds = [], [], {}
    try:
        for spec_path in suite.runs:
            names.append(load_spec(spec_path).name)
            start = time.perf_counter()
            codes.append(_stage(_run, spec_path, progress))
            seconds[names[-1]] = time.perf_counter() - start
        finished = [n for n, code in zip(names, codes, strict=True) if code == 0]
        if suite.tune:
            start = time.perf_counter()
            codes.append(_stage(_tune, suite.tune["spec"], suite.tune.get("n_trials")))
            seconds["tuning"] = time.perf_counter() - start
            if codes[-1] == 0:  # its study's history goes into the report too
                finished.append(_experiment_of(suite.tune["spec"]))
    except KeyboardInterrupt:
        print("interrupted: the current run ended KILLED; finished runs are kept",
              file=sys.stderr)
        return 130
    print("\n== leaderboards (best marked *; `retaillab runs NAME --all` shows every metric)")
    for name in names:
        try:
            table = leaderboard.leaderboard(name)
        except Exception as exc:  # a failed stage: say so, show the rest
            print(f"\n{name}: {exc}")
            continue
        print(f"\n{name}")
        print(leaderboard.format_leaderboard(table))
    if suite.report is not None:
        start = time.perf_counter()
        codes.append(_stage(_report, finished, suite.report))
        seconds["report"] = time.perf_counter() - start
        print(f"\nreport: {suite.report}")
    total = sum(seconds.values())
    print("\n== time: " + ", ".join(f"{k} {v:.0f} s" for k, v in seconds.items())
          + f"; total {total:.0f} s")
    return 0 if all(code == 0 for code in codes) else 1


def _stage(step: Callable[..., int], *args: Any) -> int:
    """One stage's exit code, as its command's: an error retaillab raises on purpose is one
    line on stderr and exit code 2, and the suite goes on."""
    from retaillab.errors import RetailLabError

    try:
        return step(*args)
    except RetailLabError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


def _run(spec_path: Path, progress: bool) -> int:
    """What ``retaillab run SPEC`` does and prints: 0 when every grid point finished."""
    from retaillab import runner
    from retaillab.spec import load_spec

    spec = load_spec(spec_path)
    results = runner.run_spec(spec, progress=progress)
    text, code = runner.summary(spec, results)
    print(text)
    return code


def _tune(spec_path: Path, n_trials: int | None) -> int:
    """What ``retaillab tune SPEC --n-trials N`` does and prints, with one worker."""
    import optuna

    from retaillab.tuning import load_tune_spec, tune
    from retaillab.tuning.storage import default_storage, describe

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    spec = load_tune_spec(spec_path).replace(n_trials=n_trials)
    url = spec.storage or default_storage(spec.study_name)
    print(f"study {spec.study_name!r} in {describe(url)}: {spec.n_trials} trials of "
          f"{spec.model} ({spec.metric}, {spec.direction}), 1 worker(s)")
    result = tune(spec, workers=1)
    print(result.describe(spec.name))
    return 0


def _report(experiments: list[str], output: Path) -> int:
    """What ``retaillab report EXPERIMENT... -o OUTPUT`` does and prints."""
    from retaillab import report

    written = report.build(experiments, output)
    print(f"report of {', '.join(experiments)} written to {written}")
    return 0


def _experiment_of(spec: Path) -> str:
    import yaml

    return str(yaml.safe_load(spec.read_text())["name"])
