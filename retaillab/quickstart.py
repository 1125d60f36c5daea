"""``make quickstart``: every comparison at full size, a short tuning study and one report.

The suite file (``experiments/quickstart.yaml``) lists ordinary experiment specs to run, an
optional tuning spec with its number of trials, and where the report goes. Each stage goes
through the same command a user would type (``retaillab run``, ``tune``, ``report``), so the
quickstart records nothing a user could not reproduce stage by stage.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retaillab.spec import SpecError, read_mapping

SUITE = Path("experiments/quickstart.yaml")
#: The few metrics printed per experiment (the report and ``retaillab runs`` show them all).
SHOWN = ("ndcg_at_10", "precision_at_10", "rmse", "roc_auc", "pr_auc", "lift_at_10", "mae",
         "correlation", "fit_seconds")


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

    Returns the exit code: 0 when every stage finished, 1 when one failed (the others go on).
    """
    from retaillab import cli, leaderboard
    from retaillab.spec import load_spec

    suite = load_suite(path, root=root)
    quiet = [] if progress else ["-q"]
    codes, names, seconds = [], [], {}
    for spec_path in suite.runs:
        names.append(load_spec(spec_path).name)
        start = time.perf_counter()
        codes.append(cli.main(["run", *quiet, str(spec_path)]))
        seconds[names[-1]] = time.perf_counter() - start
    finished = [n for n, code in zip(names, codes, strict=True) if code == 0]
    commands = _commands()
    if suite.tune and "tune" in commands:
        start = time.perf_counter()
        args = ["tune", str(suite.tune["spec"])]
        if "n_trials" in suite.tune:
            args += ["--n-trials", str(suite.tune["n_trials"])]
        codes.append(cli.main(args))
        seconds["tuning"] = time.perf_counter() - start
        if codes[-1] == 0:  # its study's history goes into the report too
            finished.append(_experiment_of(suite.tune["spec"]))
    print("\n== leaderboards (best marked *; `retaillab runs NAME` shows every metric)")
    for name in names:
        try:
            table = leaderboard.leaderboard(name)
        except Exception as exc:  # a failed stage: say so, show the rest
            print(f"\n{name}: {exc}")
            continue
        shown = [c for c in SHOWN if c in table.columns]
        print(f"\n{name}")
        print(leaderboard.format_leaderboard(table[["status", *shown]]))
    if suite.report is not None and "report" in commands:
        start = time.perf_counter()
        codes.append(cli.main(["report", *finished, "-o", str(suite.report)]))
        seconds["report"] = time.perf_counter() - start
        print(f"\nreport: {suite.report}")
    total = sum(seconds.values())
    print("\n== time: " + ", ".join(f"{k} {v:.0f} s" for k, v in seconds.items())
          + f"; total {total:.0f} s")
    return 0 if all(code == 0 for code in codes) else 1


def _experiment_of(spec: Path) -> str:
    import yaml

    return str(yaml.safe_load(spec.read_text())["name"])


def _commands() -> set[str]:
    from retaillab import cli

    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return set(sub.choices)
