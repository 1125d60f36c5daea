"""Data sources: a user's own files, named once in the project's catalogue.

Wherever a data set is named (a spec's ``dataset``, a notebook parameter, a tuning spec's
``data.dataset``, the quickstart suite), :func:`resolve` accepts

- a built-in name (``movielens``, ``cdnow``... see :func:`retaillab.data.available`);
- a source name from the catalogue, ``data/sources.yaml`` under the project root
  (``RETAILLAB_SOURCES`` names another file);
- an inline source: a mapping ``{path, kind, columns, <reader options>}``;
- a path to a file already in canonical column names (its kind is read from its header).

A catalogue entry is one table (``path`` + ``kind``) or a data set of several (``tables:``
``{kind: source name or inline source}``)::

    orders:
      path: data/orders.csv          # relative to the project root
      kind: transactions
      columns: {customer: CustomerID, date: InvoiceDate, item: StockCode, ...}
      encoding: cp1252               # any option of the kind's reader
      dayfirst: true
      amount: quantity*price
      returns: net
    shop:
      tables: {transactions: orders, items: {path: data/products.csv, kind: items}}

:func:`open_source` reads every table through the readers of :mod:`retaillab.data.user`
(validated, prepared, one message per bad file) and returns a :class:`Dataset` that remembers
each table's source: its path relative to the project, its options, the file's SHA-256 and
the reader's :class:`~retaillab.data.quality.Quality` counts, which runs log.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retaillab.data import builtin
from retaillab.data.builtin import BUILTIN
from retaillab.errors import DataError, ParameterError, UnknownNameError

__all__ = ["KINDS", "Origin", "Source", "catalogue", "catalogue_path", "file_digest", "load",
           "open_source", "resolve"]

#: table kinds a source can hold, each read by ``retaillab.data.user.read_<kind>``
KINDS = ("transactions", "interactions", "customers", "events", "items")
#: keys of a source entry that are not reader options
_ENTRY_KEYS = ("path", "kind", "columns", "description")
_FILE_SUFFIXES = (".csv", ".tsv", ".txt", ".gz", ".bz2", ".zip", ".xz", ".parquet", ".pq")
CATALOGUE = Path("data") / "sources.yaml"


@dataclass(frozen=True)
class Source:
    """One table in a user's file: where it is, what kind, how its columns map, how to read it."""

    name: str
    path: Path
    kind: str
    columns: dict[str, str] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    description: str = ""

    def record(self, root: Path) -> dict[str, Any]:
        """What a run records of this source (the path relative to the project when inside)."""
        from retaillab.project import relative

        return {"name": self.name, "kind": self.kind, "path": relative(self.path, root),
                "columns": dict(self.columns), "options": dict(self.options)}


@dataclass(frozen=True)
class Origin:
    """A table as read: its source's record, the file's digest and the reading's counts."""

    table: str
    record: dict[str, Any]
    sha256: str
    quality: Any  # retaillab.data.quality.Quality

    def as_dict(self) -> dict[str, Any]:
        return {**self.record, "sha256": self.sha256, "quality": self.quality.as_dict()}


def catalogue_path(root: Path | None = None) -> Path:
    """The catalogue file: ``RETAILLAB_SOURCES`` if set, else ``data/sources.yaml``."""
    from retaillab.project import project_root

    root = root or project_root()
    named = os.environ.get("RETAILLAB_SOURCES")
    return (root / named) if named else root / CATALOGUE


def catalogue(root: Path | None = None) -> dict[str, Any]:
    """The project's named sources (raw entries), ``{}`` when there is no catalogue file."""
    import yaml

    path = catalogue_path(root)
    if not path.is_file():
        return {}
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise DataError(f"is not valid YAML: {exc}", source=str(path),
                        fix="fix the YAML syntax at the line shown") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(isinstance(v, dict) for v in raw.values()):
        raise DataError("must map source names to entries (path, kind, columns, options)",
                        source=str(path), fix="see the example in the README, 'Your data, "
                        "end to end'")
    taken = sorted(set(map(str, raw)) & set(BUILTIN))
    if taken:  # a built-in name always means the built-in data: the entry would be ignored
        raise DataError(f"the source {taken[0]!r} has the name of a built-in data set",
                        source=str(path), column=taken[0],
                        fix=f"rename it (e.g. my_{taken[0]}); built-in names: "
                            + ", ".join(BUILTIN))
    return {str(k): v for k, v in raw.items()}


def resolve(dataset: str | Mapping[str, Any], *, root: Path | None = None
            ) -> str | dict[str, Source]:
    """A built-in name (returned as is), or the sources it names: ``{table kind: Source}``."""
    from retaillab.project import project_root

    root = (root or project_root()).resolve()
    if isinstance(dataset, Mapping):  # named for its file, like a path
        stem = Path(str(dataset.get("path", "inline source"))).name.split(".")[0]
        return _tables(stem or "inline source", dict(dataset), root, catalogue(root), ())
    if not isinstance(dataset, str) or not dataset:
        raise DataError(f"a data set is named by a string or a mapping, got {dataset!r}",
                        source="dataset", fix="give a built-in name, a source name from "
                        f"{CATALOGUE} or {{path: ..., kind: ...}}")
    if dataset in BUILTIN:
        return dataset
    entries = catalogue(root)
    if dataset in entries:
        return _tables(dataset, entries[dataset], root, entries, (dataset,))
    if dataset.lower().endswith(_FILE_SUFFIXES) or "/" in dataset or os.sep in dataset:
        path = _path(dataset, root, "dataset")
        name = path.name.split(".")[0]
        return {kind: Source(name, path, kind) for kind in [_guess_kind(path)]}
    raise UnknownNameError("data set or source", dataset, [*BUILTIN, *entries])


def load(dataset: str | Mapping[str, Any], **options: object) -> Any:
    """``retaillab.data.load``: a built-in data set (``options`` go to its loader) or a source.

    Sources take their options from their entry, so ``options`` with a source is an error.
    """
    if isinstance(dataset, str) and dataset in BUILTIN:
        return builtin.load(dataset, **options)
    if options:
        raise ParameterError(f"load({dataset!r}) options", "set in the source's entry "
                             f"({CATALOGUE}), not passed to load", sorted(options))
    return open_source(dataset)


def open_source(dataset: str | Mapping[str, Any], *, root: Path | None = None,
                name: str | None = None) -> Any:
    """Read what ``dataset`` names into a :class:`~retaillab.data.dataset.Dataset`."""
    from retaillab.data.dataset import Dataset
    from retaillab.project import project_root

    root = (root or project_root()).resolve()
    tables = resolve(dataset, root=root)
    if isinstance(tables, str):
        return builtin.load(tables)
    frames, origins = {}, []
    for kind, source in tables.items():
        frame, quality = read_source(source)
        frames[kind] = frame
        origins.append(Origin(kind, source.record(root), file_digest(source.path), quality))
    label = name or (dataset if isinstance(dataset, str) else next(iter(tables.values())).name)
    where = ", ".join(f"{o.record['path']} ({o.table})" for o in origins)
    return Dataset(Path(label).name.split(".")[0] if "/" in label else label, where,
                   **frames, origins=tuple(origins))


def read_source(source: Source) -> tuple[Any, Any]:
    """Read one source with its kind's reader: ``(frame, Quality)``."""
    from retaillab.data import user
    from retaillab.data.quality import Quality

    quality = Quality(source=source.name, kind=source.kind)
    columns = {"columns": dict(source.columns)} if source.columns else {}
    frame = user.reader(source.kind)(source.path, source=str(source.path), quality=quality,
                                     **columns, **source.options)
    return frame, quality


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes, or of a folder's files (names and bytes, in name order)."""
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(str(file.relative_to(path)).encode() + b"\0")
        with file.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _tables(name: str, entry: dict[str, Any], root: Path, entries: dict[str, Any],
            seen: tuple[str, ...]) -> dict[str, Source]:
    where = f"{CATALOGUE}: {name}" if seen else name
    if "tables" in entry:
        extra = sorted(set(entry) - {"tables", "description"})
        if extra or not isinstance(entry["tables"], dict) or not entry["tables"]:
            raise DataError("a data set entry has only 'tables' (and 'description'), mapping "
                            "table kinds to sources", source=where, column=(extra or
                            ["tables"])[0], fix="write tables: {transactions: orders, items: "
                            "products}")
        out = {}
        for kind, part in entry["tables"].items():
            if kind not in KINDS:
                raise UnknownNameError("table kind", kind, KINDS)
            if isinstance(part, str):
                if part in seen:
                    raise DataError(f"the source {part!r} includes itself", source=where,
                                    fix="name a table source, not the data set")
                if part not in entries:
                    raise UnknownNameError(f"source (in {where})", part, list(entries))
                got = _tables(part, entries[part], root, entries, (*seen, part))
            else:
                got = _tables(f"{name}.{kind}", dict(part), root, entries, seen)
            if kind not in got:
                raise DataError(f"the table {kind!r} comes from a source of kind "
                                f"{', '.join(got)}", source=where, column=kind,
                                fix="point each table kind at a source of that kind")
            out[kind] = got[kind]
        return out
    for key in ("path", "kind"):
        if key not in entry:
            raise DataError(f"a source needs {key!r}", source=where, column=key,
                            fix="write e.g. {path: data/orders.csv, kind: transactions}")
    kind = entry["kind"]
    if kind not in KINDS:
        raise UnknownNameError("table kind", kind, KINDS)
    columns = entry.get("columns") or {}
    if not isinstance(columns, dict):
        raise DataError("'columns' maps canonical names to yours", source=where,
                        column="columns", fix="write columns: {customer: CustomerID, ...}")
    options = {k: v for k, v in entry.items() if k not in _ENTRY_KEYS}
    _check_options(kind, options, where)
    path = _path(str(entry["path"]), root, where)
    label = name.split(".")[0] if not seen else name
    return {kind: Source(label, path, kind, {str(k): str(v) for k, v in columns.items()},
                         options, str(entry.get("description") or ""))}


def _check_options(kind: str, options: dict[str, Any], where: str) -> None:
    from retaillab.data import user

    accepted = user.options(kind)
    for key in options:
        if key not in accepted:
            import difflib

            near = difflib.get_close_matches(key, accepted, n=1)
            raise DataError(f"unknown option {key!r} for a {kind} source; its options: "
                            f"{', '.join(accepted)}", source=where, column=key,
                            fix=f"did you mean {near[0]!r}?" if near else "remove it")


def _path(text: str, root: Path, where: str) -> Path:
    path = Path(os.path.expanduser(text))
    path = path if path.is_absolute() else root / path
    if not path.exists():
        raise DataError(f"no file {text!r} (paths are relative to the project root, {root})",
                        source=where, column="path",
                        fix="check the path; for the example export run "
                            "`python tests/make_orders.py data/orders.csv`")
    return path


def _guess_kind(path: Path) -> str:
    """The kind a canonically named file holds, from its header."""
    from retaillab.data.reading import read_header

    header = set(read_header(path))
    if {"customer", "item", "event"} <= header:
        return "events"
    if "customer" in header and header & {"date", "timestamp"} and "amount" in header:
        return "transactions"
    if {"user", "item"} <= header:
        return "interactions"
    if "customer" in header:
        return "customers"
    raise DataError("its kind cannot be told from its columns "
                    f"({', '.join(sorted(header)[:8])})", source=str(path),
                    fix="name it in data/sources.yaml with its kind and columns, or pass "
                        "{path: ..., kind: transactions, columns: {...}}")
