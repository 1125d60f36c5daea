"""The ``retaillab`` command line: datasets, validate, quickstart.

Errors retaillab raises on purpose print as one message on stderr with exit code 2; anything
else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from retaillab.errors import ParameterError, RetailLabError

EXIT_BAD_INPUT = 2


def _parse_columns(text: str) -> dict[str, str]:
    mapping = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        canonical, sep, theirs = part.partition("=")
        if not sep or not canonical.strip() or not theirs.strip():
            raise ParameterError("--columns", "canonical=yours pairs separated by commas, "
                                 "e.g. customer=cust_id,date=order_date", text)
        mapping[canonical.strip()] = theirs.strip()
    return mapping


def _parse_scale(text: str) -> tuple[float, float]:
    try:
        low, high = (float(x) for x in text.split(","))
    except ValueError:
        raise ParameterError("--rating-scale", "LOW,HIGH, e.g. 1,5", text) from None
    return low, high


def cmd_datasets(args: argparse.Namespace) -> int:
    """Print one line per built-in data set: rows, entities, dates, source."""
    from retaillab.data.builtin import BUILTIN, load

    names = args.names or list(BUILTIN)
    rows = []
    for name in names:
        options = {"n_customers": 2000, "seed": 0} if name == "synthetic" else {}
        summary = load(name, **options).summary()
        if options:
            summary["name"] += " (2,000 customers)"
        rows.append(summary)
    _print_table(rows, ["name", "table", "rows", "entities", "dates", "source"])
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    """Read a user file as a canonical table and report what was found, or the first problem."""
    from retaillab.data import user
    from retaillab.data.dataset import Dataset

    options: dict[str, object] = {"sep": args.sep, "id_type": args.id_type}
    if args.columns:
        options["columns"] = _parse_columns(args.columns)
    if args.date_format and args.kind != "customers":
        options["date_format"] = args.date_format
    if args.duplicates and args.kind != "customers":
        options["duplicates"] = args.duplicates
    if args.rating_scale:
        if args.kind != "interactions":
            raise ParameterError("--rating-scale", "used with interactions only", args.kind)
        options["rating_scale"] = _parse_scale(args.rating_scale)
    if args.target:
        if args.kind != "customers":
            raise ParameterError("--target", "used with customers only", args.kind)
        options["target"] = args.target
    reader = getattr(user, f"read_{args.kind}")
    table = reader(args.path, **options)
    summary = Dataset(args.path, args.path, **{args.kind: table}).summary()
    print(f"ok: {args.path} is a valid {args.kind} table")
    print(f"  {summary['rows']:,} rows; {summary['entities']}"
          + (f"; {summary['dates']}" if summary["dates"] else ""))
    print("  columns: " + ", ".join(f"{c} ({t})" for c, t in table.dtypes.astype(str).items()))
    return 0


def cmd_quickstart(args: argparse.Namespace) -> int:
    """For now: the summary of the built-in data sets (later: the whole comparison)."""
    print("retaillab quickstart: the built-in data sets, read offline from installed packages\n")
    return cmd_datasets(argparse.Namespace(names=[]))


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
    p = sub.add_parser("datasets", help="list the built-in data sets")
    p.add_argument("names", nargs="*", metavar="NAME", help="only these (default: all)")
    p.set_defaults(func=cmd_datasets)
    p = sub.add_parser("quickstart", help="the first look: what `make quickstart` runs")
    p.set_defaults(func=cmd_quickstart)
    p = sub.add_parser("validate", help="check a CSV/Parquet file as a canonical table",
                       description="Check a CSV or Parquet file as one of the canonical tables.")
    p.add_argument("kind", choices=["interactions", "transactions", "customers"])
    p.add_argument("path")
    p.add_argument("--columns", help="canonical=yours,... e.g. customer=cust_id,date=order_date")
    p.add_argument("--sep", help="delimiter (default: detected among , ; tab |)")
    p.add_argument("--id-type", choices=["auto", "int", "str"], default="auto")
    p.add_argument("--date-format", help="strftime format of dates, e.g. %%d/%%m/%%Y")
    p.add_argument("--duplicates", help="interactions: error|first|last; "
                   "transactions: keep|error|drop")
    p.add_argument("--rating-scale", help="LOW,HIGH: ratings outside it are an error")
    p.add_argument("--target", help="customers: the binary label column")
    p.set_defaults(func=cmd_validate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``retaillab`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except RetailLabError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
