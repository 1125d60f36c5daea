"""The ``retaillab`` command line: datasets, validate, run, rerun, runs, report, ui, quickstart.

Errors retaillab raises on purpose print as one message on stderr with exit code 2; anything
else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence

from retaillab.errors import DataError, ParameterError, RetailLabError

EXIT_BAD_INPUT = 2
#: the commands that open the MLflow store: each first ends runs whose owner is gone (run and
#: tune leave it to the process that opens the store, see _dispatch)
STORE_COMMANDS = ("run", "rerun", "runs", "report", "tune", "ui", "lab", "promote", "score",
                  "retention")
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: what the shell reports for a tool whose reader left


def _parse_columns(text: str) -> dict[str, str]:
    mapping = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        canonical, sep, theirs = part.partition("=")
        if not sep or not canonical.strip() or not theirs.strip():
            raise ParameterError("--columns", "canonical=yours pairs separated by commas, "
                                 "e.g. customer=cust_id,date=order_date", text)
        if canonical.strip() in mapping:
            raise ParameterError("--columns", f"each canonical name once; {canonical.strip()!r} "
                                 "is given twice", text)
        mapping[canonical.strip()] = theirs.strip()
    return mapping


def _parse_scale(text: str) -> tuple[float, float]:
    try:
        low, high = (float(x) for x in text.split(","))
    except ValueError:
        raise ParameterError("--rating-scale", "LOW,HIGH, e.g. 1,5", text) from None
    return low, high


def cmd_datasets(args: argparse.Namespace) -> int:
    """One line per built-in data set and catalogued source: rows, entities, dates, source."""
    from retaillab.data.builtin import BUILTIN
    from retaillab.data.sources import catalogue, load

    listed = catalogue() if not args.names else {}
    names = args.names or [*BUILTIN, *listed]
    rows = []
    for name in names:
        options = {"n_customers": 2000, "seed": 0} if name == "synthetic" else {}
        try:
            summary = load(name, **options).summary()
        except DataError as exc:  # a listing shows every source; `validate` says more
            if name not in listed:
                raise
            rows.append({"name": name, "table": listed[name].get("kind", "tables"),
                         "rows": "-", "entities": "", "dates": "",
                         "source": f"not readable: {exc.what}"})
            continue
        if options:
            summary["name"] += " (2,000 customers)"
        rows.append(summary)
    _print_table(rows, ["name", "table", "rows", "entities", "dates", "source"])
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    """Read a user file as a canonical table; report what reading it found, or every problem."""
    from retaillab.data import user
    from retaillab.data.quality import Quality
    from retaillab.data.sources import KINDS

    if args.path is None:
        return _validate_source(args)
    if args.kind not in KINDS:
        raise ParameterError("KIND", "one of " + ", ".join(KINDS), args.kind)
    options: dict[str, object] = {"sep": args.sep, "id_type": args.id_type}
    if args.columns:
        options["columns"] = _parse_columns(args.columns)
    if args.encoding:
        options["encoding"] = args.encoding
    if args.decimal:
        options["decimal"] = args.decimal
    if args.missing_ids:
        options["missing_ids"] = args.missing_ids
    dated = {"date_format": args.date_format, "duplicates": args.duplicates,
             "dayfirst": args.dayfirst}
    for name, value in dated.items():
        if value is not None:
            if args.kind == "customers":
                raise ParameterError(f"--{name.replace('_', '-')}", "used with interactions or "
                                     "transactions", args.kind)
            options[name] = value
    for name in ("amount", "returns", "cancelled"):
        value = getattr(args, name)
        if value is not None:
            if args.kind != "transactions":
                raise ParameterError(f"--{name}", "used with transactions only", args.kind)
            options[name] = value
    if args.rating_scale:
        if args.kind != "interactions":
            raise ParameterError("--rating-scale", "used with interactions only", args.kind)
        options["rating_scale"] = _parse_scale(args.rating_scale)
    if args.target:
        if args.kind != "customers":
            raise ParameterError("--target", "used with customers only", args.kind)
        options["target"] = args.target
    _check_options(args.kind, options)
    quality = Quality(source=args.path, kind=args.kind)
    table = user.reader(args.kind)(args.path, quality=quality, **options)
    _print_valid(args.path, args.kind, table, quality)
    return 0


def _check_options(kind: str, options: dict[str, object]) -> None:
    """Refuse an option the kind's reader does not take, naming the kinds that take it."""
    from retaillab.data import user
    from retaillab.data.sources import KINDS

    for name, value in options.items():
        if value is not None and name != "columns" and name not in user.options(kind):
            takes = [k for k in KINDS if name in user.options(k)]
            raise ParameterError(f"--{name.replace('_', '-')}", "used with " + (
                " or ".join(takes) if takes else "no kind"), kind)


def _print_valid(label: str, kind: str, table, quality) -> None:
    """What ``validate`` prints for a table that read: the counts, then the column types."""
    print(f"ok: {label} is a valid {kind} table")
    for line in quality.lines():
        print(f"  {line}")
    print("  columns: " + ", ".join(f"{c} ({t})" for c, t in table.dtypes.astype(str).items()))


def _validate_source(args: argparse.Namespace) -> int:
    """``retaillab validate SOURCE``: read each table of a catalogued source as it is named."""
    from retaillab.data.sources import CATALOGUE, read_source, resolve

    given = [f"--{k.replace('_', '-')}" for k, v in vars(args).items()
             if k not in ("kind", "path", "func", "command", "id_type") and v not in (None, False)]
    if given or args.id_type != "auto":
        raise ParameterError(", ".join(given or ["--id-type"]), f"set in the source's entry in "
                             f"{CATALOGUE} (or give KIND PATH to try options on a file)",
                             args.kind)
    tables = resolve(args.kind)
    if isinstance(tables, str):
        raise ParameterError("SOURCE", f"a source of {CATALOGUE}: {tables!r} is built in "
                             "(retaillab datasets lists it)", tables)
    for kind, source in tables.items():
        table, quality = read_source(source)
        _print_valid(f"{args.kind}: {source.path.name}", kind, table, quality)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Run every grid point of a spec; exit 1 if any run failed, 130 if interrupted."""
    from retaillab import runner
    from retaillab.spec import load_spec, parse_override

    spec = load_spec(args.spec)
    overrides = dict(parse_override(p) for p in args.param or [])
    if overrides:
        spec = spec.with_overrides(overrides)
    try:
        results = runner.run_spec(spec, fail_fast=args.fail_fast, progress=not args.quiet,
                                  jobs=args.jobs)
    except KeyboardInterrupt:
        print("interrupted: the current run ended KILLED", file=sys.stderr)
        return 130
    text, code = runner.summary(spec, results)
    print(text)
    return code


def cmd_rerun(args: argparse.Namespace) -> int:
    """Rerun a recorded run and compare metrics; exit 1 if any differs beyond --rtol."""
    from retaillab import runner

    report = runner.rerun(args.run_id, rtol=args.rtol, progress=not args.quiet)
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    table = report.comparison.copy()
    table["same"] = table["same"].map({True: "ok", False: "DIFFERS"})
    print(table.to_string(index=False) if len(table) else "(no metrics recorded)")
    print(f"rerun {report.rerun.run_id} ({report.rerun.status}) of {args.run_id}: " +
          ("same metrics" if report.same else f"DIFFERENT beyond rtol={args.rtol:g}"))
    return 0 if report.same else 1


def cmd_runs(args: argparse.Namespace) -> int:
    """List experiments, or one experiment's leaderboard of models (at most 120 columns)."""
    import textwrap

    from retaillab import leaderboard, tracking

    if not args.experiment:
        table = leaderboard.experiments()
        if not len(table):
            print(f"no experiments yet in {tracking.display_uri()}: "
                  "`retaillab run experiments/<spec>.yaml` starts one")
            return 0
        print(table.to_string(index=False))
        print(f"store: {tracking.display_uri()}")
        return 0
    table = leaderboard.leaderboard(args.experiment, run_id=args.run)
    print(textwrap.fill(f"{args.experiment}: run {table.attrs.get('run_id', '?')}, sorted by "
                        f"{table.attrs.get('main')}; * = best (metrics with a direction)",
                        leaderboard.WIDTH))
    print(leaderboard.format_leaderboard(table, all_metrics=args.all))
    hidden = [] if args.all else leaderboard.hidden(table)
    if hidden:
        print(textwrap.fill(f"{len(hidden)} more metrics ({', '.join(hidden)}): "
                            "--all shows them", leaderboard.WIDTH))
    return 0


def cmd_promote(args: argparse.Namespace) -> int:
    """Register a compared model (or a comparison's winner) with the alias champion."""
    from retaillab.models.promotion import promote

    found = promote(args.run_id, name=args.model, alias=args.alias)
    print(found.describe())
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    """Score a data set with a logged model and write the scores (CSV or Parquet)."""
    from retaillab.models import scoring

    scoring.check_output(args.output)  # a bad name fails before any scoring
    found = scoring.score(args.model, args.data, cutoff=args.cutoff, k=args.k,
                          exclude_seen=not args.include_seen, horizon=args.horizon,
                          progress=not args.quiet)
    written = scoring.write(found.table, args.output)
    print(f"{found.describe()}: {len(found.table):,} rows written to {written}")
    return 0


def cmd_retention(args: argparse.Namespace) -> int:
    """Write the retention contact list: churn probability x acceptance x CLV - costs."""
    from retaillab.models import scoring

    scoring.check_output(args.output)  # a bad name fails before any scoring
    found, churned, valued, only_one = scoring.retention(
        args.churn, args.clv, args.data, acceptance_rate=args.acceptance_rate,
        contact_cost=args.contact_cost, offer_cost=args.offer_cost,
        non_churner_acceptance=args.non_churner_acceptance, budget=args.budget,
        cutoff=args.cutoff, progress=not args.quiet)
    if only_one:
        print(f"warning: {only_one:,} customers were scored by one model only and are left "
              "out", file=sys.stderr)
    table = found.table.rename(columns={"value": "clv"})
    written = scoring.write(table, args.output)
    print(f"{churned.describe()}; {valued.describe()}")
    print(scoring.campaign_line(found))
    print(f"contact list written to {written}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Write the HTML model-comparison report of one or more experiments."""
    from pathlib import Path

    from retaillab import report, tracking

    # the default name is one safe path component: `../../x` stays inside reports/
    output = Path(args.output or Path("reports") / f"{tracking.slug(args.experiments[0])}.html")
    written = report.build(args.experiments, output, run_id=args.run, metric=args.metric,
                           seed=args.seed, title=args.title)
    print(f"report of {', '.join(args.experiments)} written to {written}")
    return 0


def cmd_tune(args: argparse.Namespace) -> int:
    """Run or resume an Optuna study; print validation and test scores; 130 if interrupted
    (Ctrl-C or SIGTERM: the workers are stopped with it)."""
    import signal

    import optuna

    from retaillab.tuning import load_tune_spec, tune
    from retaillab.tuning.storage import default_storage, describe

    if args.workers < 1:
        raise ParameterError("--workers", "an integer >= 1", args.workers)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    spec = load_tune_spec(args.spec).replace(n_trials=args.n_trials, storage=args.storage,
                                             timeout=args.timeout)
    url = spec.storage or default_storage(spec.study_name)
    print(f"study {spec.study_name!r} in {describe(url)}: {spec.n_trials} trials of "
          f"{spec.model} ({spec.metric}, {spec.direction}), {args.workers} worker(s)",
          flush=True)

    def terminate(*_: object) -> None:  # SIGINT/SIGTERM: workers first (see launch), once
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise KeyboardInterrupt

    # set even where SIGINT came ignored (a background job): `kill -INT` must stop a study
    previous = {s: signal.signal(s, terminate) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        result = tune(spec, workers=args.workers)
    except KeyboardInterrupt:
        print("interrupted: finished trials are kept; run the same command to resume",
              file=sys.stderr)
        return 130
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    print(result.describe(spec.name))
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    """Serve the MLflow UI on this store at 127.0.0.1 until Ctrl-C or SIGTERM; its URL is
    printed once the UI answers."""
    from retaillab import servers, tracking

    tracking.client()  # make sure the store exists
    uri, url = tracking.tracking_uri(), f"http://127.0.0.1:{args.port}"
    return servers.serve(servers.ui_command(uri, args.port), health=f"{url}/health",
                         name="MLflow UI", port=args.port, env=servers.ui_environment(),
                         ready=lambda: f"MLflow UI for {tracking.display_uri(uri)} at {url} "
                                       "(Ctrl-C stops it)")


def cmd_server(args: argparse.Namespace) -> int:
    """Serve a shared MLflow tracking server (database backend, proxied artifacts) until
    Ctrl-C or SIGTERM; print the URL other machines set as MLFLOW_TRACKING_URI."""
    import socket

    from retaillab import servers, tracking
    from retaillab.stores import display_uri

    if args.backend:
        backend = args.backend
    else:
        tracking.client()  # the project's SQLite store, created if new
        backend = tracking.tracking_uri()
    if backend.startswith(("http://", "https://")):
        raise ParameterError("--backend", "a database URI (sqlite:///..., postgresql://...), "
                             "not a server", display_uri(backend))
    folder = tracking.artifact_root(backend)
    artifacts = args.artifacts or (str(folder) if folder is not None else None)
    if artifacts is None:
        raise ParameterError("--artifacts", "a folder or object-store URI for the artifacts "
                             "(required with a database other than SQLite)", None)
    url = f"http://{args.host}:{args.port}"
    if args.host == servers.HOST:
        reach = ("only this machine can connect; start with --host 0.0.0.0 (behind your "
                 "firewall) for other machines")
    else:
        reach = (f"on other machines: export MLFLOW_TRACKING_URI=http://"
                 f"{socket.gethostname()}:{args.port}")
    return servers.serve(
        servers.server_command(backend, artifacts, host=args.host, port=args.port,
                               workers=args.workers),
        health=f"http://127.0.0.1:{args.port}/health", name="MLflow server", port=args.port,
        env=servers.ui_environment(),
        ready=lambda: (f"MLflow tracking server for {display_uri(backend)} at {url}, artifacts "
                       f"in {display_uri(artifacts)} (proxied)\n"
                       f"  on this machine: export MLFLOW_TRACKING_URI={url}\n  {reach}\n"
                       "  Ctrl-C stops it"))


def cmd_lab(args: argparse.Namespace) -> int:
    """Serve JupyterLab at the project root on 127.0.0.1, with a token, kernels on this
    environment and the store set, until Ctrl-C or SIGTERM."""
    from retaillab import servers, tracking

    tracking.client()  # make sure the store exists
    uri = tracking.tracking_uri()
    return servers.lab(tracking.project_root(), args.port, uri, tracking.display_uri(uri))


def cmd_quickstart(args: argparse.Namespace) -> int:
    """The data sets, then every comparison at full size, a tuning study and the report."""
    from retaillab import quickstart

    print("retaillab quickstart: the built-in data sets, read offline from installed packages\n")
    cmd_datasets(argparse.Namespace(names=[]))
    print()
    return quickstart.run(args.suite, progress=not args.quiet)


def _print_table(rows: list[dict], columns: list[str]) -> None:
    cells = [[f"{r[c]:,}" if isinstance(r[c], int) else str(r[c]) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(v.rjust(w) if c == "rows" else v.ljust(w)
                        for c, v, w in zip(columns, row, widths, strict=True)).rstrip())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="retaillab", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("datasets", help="list the built-in data sets and catalogued sources")
    p.add_argument("names", nargs="*", metavar="NAME", help="only these (default: all)")
    p.set_defaults(func=cmd_datasets)
    p = sub.add_parser("quickstart", help="the first look: what `make quickstart` runs")
    p.add_argument("--suite", default="experiments/quickstart.yaml",
                   help="the suite of specs to run (default: experiments/quickstart.yaml)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_quickstart)
    p = sub.add_parser("validate", help="check a file as a canonical table, or a source",
                       description="Check a CSV or Parquet file as one of the canonical tables "
                       "(KIND PATH, with options), or a source of data/sources.yaml (SOURCE, "
                       "with its entry's options).")
    p.add_argument("kind", metavar="KIND|SOURCE", help="transactions, interactions, customers, "
                   "items or events; or a source name")
    p.add_argument("path", nargs="?", help="the file (omit it to check a source)")
    p.add_argument("--columns", help="canonical=yours,... e.g. customer=cust_id,date=order_date")
    p.add_argument("--sep", help="delimiter (default: detected among , ; tab |)")
    p.add_argument("--id-type", choices=["auto", "int", "str"], default="auto")
    p.add_argument("--date-format", help="strftime format of dates, e.g. %%d/%%m/%%Y")
    p.add_argument("--duplicates", help="interactions: error|first|last; "
                   "transactions: keep|error|drop")
    p.add_argument("--rating-scale", help="LOW,HIGH: ratings outside it are an error")
    p.add_argument("--target", help="customers: the binary label column")
    p.add_argument("--encoding", help="text encoding, e.g. cp1252 (default: UTF-8, or the "
                   "byte-order mark's)")
    p.add_argument("--decimal", choices=[".", ","], help="decimal mark of numbers (default .)")
    order = p.add_mutually_exclusive_group()
    order.add_argument("--dayfirst", dest="dayfirst", action="store_const", const=True,
                       help="dates like 05/01/2020 are 5 January")
    order.add_argument("--monthfirst", dest="dayfirst", action="store_const", const=False,
                       help="dates like 05/01/2020 are May 1")
    p.add_argument("--missing-ids", choices=["error", "drop"],
                   help="rows without an id: error (default) or drop them")
    p.add_argument("--amount", choices=["column", "quantity*price"],
                   help="transactions: the amount column, or quantity x price per line")
    p.add_argument("--returns", choices=["error", "drop", "net"],
                   help="transactions: return lines are an error, dropped or netted")
    p.add_argument("--cancelled", metavar="PREFIX",
                   help="transactions: order ids starting with PREFIX are cancellations")
    p.set_defaults(func=cmd_validate)
    p = sub.add_parser("run", help="run an experiment spec (one MLflow run per grid point)")
    p.add_argument("spec", help="experiments/NAME.yaml")
    p.add_argument("-p", "--param", action="append", metavar="KEY=VALUE",
                   help="override a parameter (value read as YAML); repeatable")
    p.add_argument("--fail-fast", action="store_true", help="stop at the first failed run")
    p.add_argument("-j", "--jobs", type=int, default=1, metavar="N",
                   help="run grid points in N processes (default 1)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("rerun", help="rerun a recorded run and compare its metrics")
    p.add_argument("run_id")
    p.add_argument("--rtol", type=float, default=1e-9, help="relative tolerance (1e-9)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_rerun)
    p = sub.add_parser("runs", help="list experiments, or an experiment's leaderboard")
    p.add_argument("experiment", nargs="?")
    p.add_argument("--run", help="a parent run id (default: the newest finished)")
    p.add_argument("--all", action="store_true",
                   help="every metric, in blocks (default: the headline metrics that fit)")
    p.set_defaults(func=cmd_runs)
    p = sub.add_parser("promote", help="register a compared model as NAME@champion",
                       description="Register the model a comparison logged in the MLflow Model "
                       "Registry and point the alias 'champion' at the new version. RUN_ID is "
                       "a compared model's run, or a comparison's run (its winner).")
    p.add_argument("run_id", metavar="RUN_ID")
    p.add_argument("--model", metavar="NAME", help="registered model name (default: the "
                   "experiment's name)")
    p.add_argument("--alias", default="champion", help="the alias to set (champion)")
    p.set_defaults(func=cmd_promote)
    p = sub.add_parser("score", help="score a data set with a logged model",
                       description="Score DATA (a built-in data set, a source or a file) with "
                       "MODEL (runs:/RUN/model, models:/NAME@champion, models:/NAME/VERSION) "
                       "and write one row per customer (or k per user) to FILE.")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("data", metavar="DATA")
    p.add_argument("-o", "--output", required=True, metavar="FILE",
                   help="FILE.csv or FILE.parquet")
    p.add_argument("--cutoff", help="score customers as of this day (default: the data's "
                   "last day)")
    p.add_argument("-k", type=int, default=10, help="recommendations per user (10)")
    p.add_argument("--include-seen", action="store_true",
                   help="recommenders: also recommend items a user already has")
    p.add_argument("--horizon", type=float, help="CLV: expected purchases over this many "
                   "time units of the model (default: 12 months)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_score)
    p = sub.add_parser("retention", help="rank customers for a retention offer by expected "
                       "net value", description="Score DATA with a churn model and a CLV "
                       "model and write the customers worth contacting, best first: expected "
                       "net value = P(churn) x acceptance x CLV - offer and contact costs "
                       "(retaillab.churn.contact_list).")
    p.add_argument("data", metavar="DATA")
    p.add_argument("--churn", required=True, metavar="MODEL", help="a churn model URI")
    p.add_argument("--clv", required=True, metavar="MODEL", help="a CLV model URI (with a "
                   "spend model)")
    p.add_argument("-o", "--output", required=True, metavar="FILE",
                   help="FILE.csv or FILE.parquet")
    p.add_argument("--budget", type=int, help="at most this many contacts (default: everyone "
                   "with a positive expected value)")
    p.add_argument("--acceptance-rate", type=float, default=0.3,
                   help="share of would-be churners who accept and stay (0.3)")
    p.add_argument("--contact-cost", type=float, default=1.0, help="per contact (1.0)")
    p.add_argument("--offer-cost", type=float, default=10.0,
                   help="paid to each customer who accepts (10.0)")
    p.add_argument("--non-churner-acceptance", type=float, default=1.0,
                   help="share of non-churners who take the offer (1.0)")
    p.add_argument("--cutoff", help="as of this day (default: the data's last day)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_retention)
    p = sub.add_parser("report", help="write an HTML model-comparison report",
                       description="Write a self-contained HTML report: per experiment a "
                       "leaderboard with 95%% intervals, the winner with a paired test, "
                       "figures, tuning history and provenance.")
    p.add_argument("experiments", nargs="+", metavar="EXPERIMENT")
    p.add_argument("-o", "--output", help="FILE.html (default: reports/<first experiment>.html)")
    p.add_argument("--run", help="a parent run id to report (with one experiment; default: "
                   "the newest finished)")
    p.add_argument("--metric", help="the metric that ranks models (default: ndcg_at_k, "
                   "roc_auc, rmse or mae, whichever was logged)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (0)")
    p.add_argument("--title", help="page title")
    p.set_defaults(func=cmd_report)
    p = sub.add_parser("tune", help="run or resume an Optuna study of a tuning spec")
    p.add_argument("spec", help="experiments/tune_NAME.yaml")
    p.add_argument("--workers", type=int, default=1, help="processes on the study (1)")
    p.add_argument("--n-trials", type=int, help="finished trials wanted in total")
    p.add_argument("--storage", help="Optuna storage: a .journal file or a database URL "
                   "(default: mlruns/optuna/STUDY.journal)")
    p.add_argument("--timeout", type=float, help="seconds per worker")
    p.set_defaults(func=cmd_tune)
    p = sub.add_parser("ui", help="browse runs in the MLflow UI at 127.0.0.1")
    p.add_argument("--port", type=int, default=5000)
    p.set_defaults(func=cmd_ui)
    p = sub.add_parser("server", help="serve a shared MLflow tracking server (127.0.0.1)",
                       description="Serve `mlflow server` on a database backend (default the "
                       "project's SQLite store; postgresql://... for a team) with the artifacts "
                       "served and proxied, bound to 127.0.0.1 unless --host says otherwise. "
                       "Clients set MLFLOW_TRACKING_URI to the printed URL.")
    p.add_argument("--backend", metavar="URI", help="database URI (default: the project's)")
    p.add_argument("--artifacts", metavar="DEST",
                   help="artifact folder or URI (default: beside a SQLite store)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    p.add_argument("--port", type=int, default=5000)
    p.add_argument("--workers", type=int, default=2, help="server worker processes (2)")
    p.set_defaults(func=cmd_server)
    p = sub.add_parser("lab", help="open JupyterLab at the project root on 127.0.0.1",
                       description="Serve JupyterLab at the project root on 127.0.0.1 with a "
                       "token (printed in the URL), kernels on this environment and "
                       "MLFLOW_TRACKING_URI set to the store; Ctrl-C stops it.")
    p.add_argument("--port", type=int, default=8888)
    p.set_defaults(func=cmd_lab)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``retaillab`` console script.

    A reader that goes away (``retaillab runs X | head -1``) ends any command quietly with
    exit code 141, as for other Unix tools, instead of a BrokenPipeError traceback.
    """
    try:
        try:
            args = build_parser().parse_args(argv)
        except SystemExit:  # --help or a usage error: its text must reach the reader now
            sys.stdout.flush()
            raise
        try:
            formatting, warnings.formatwarning = warnings.formatwarning, _warning_line
            try:
                code = _dispatch(args)
            finally:
                warnings.formatwarning = formatting
        except RetailLabError as err:
            print(f"error: {err}", file=sys.stderr)
            code = EXIT_BAD_INPUT
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit flush
        return code
    except BrokenPipeError:
        _discard_stdout()
        return EXIT_BROKEN_PIPE


def _dispatch(args: argparse.Namespace) -> int:
    if args.command in ("run", "tune"):
        # a store that cannot work is refused before anything runs, without importing
        # MLflow here: for `run` the notebook's kernel ends the runs of dead processes as
        # it opens the store (retaillab.runner says why); for `tune` the launcher does when
        # it first opens it, after starting its workers (they import and load the data
        # meanwhile, instead of waiting seconds for the store here)
        from retaillab import stores, tracking

        stores.check(tracking.tracking_uri())
    elif args.command in STORE_COMMANDS:  # runs whose process died end KILLED first
        from retaillab import tracking

        tracking.reap_orphans()
    return args.func(args)


def _warning_line(message, category, filename, lineno, line=None) -> str:
    """Warnings in a command's output are one line, like its errors (no source location)."""
    return f"warning: {message}\n"


def _discard_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's last flush has nowhere to fail."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real file behind sys.stdout
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
