"""Experiment specs (``experiments/*.yaml``): load, validate, expand the grid.

A spec names the MLflow experiment and the notebook, and gives parameters, an optional grid
(cartesian product: one run per combination) and tags::

    name: recsys-movielens
    notebook: notebooks/recsys_compare.ipynb
    parameters: {dataset: movielens, k: 10, seed: 42}
    grid: {split: [stratified, chronological]}
    tags: {owner: data-science}
    register: true      # promote each finished run's winner: models:/recsys-movielens@champion

Every error names the file and the key at fault.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retaillab.errors import DataError

KEYS = {"name": str, "notebook": str, "parameters": dict, "grid": dict, "tags": dict,
        "description": str, "register": bool}
REQUIRED = ("name", "notebook")
#: set by the runner, never by a spec: the run's id, and the experiment (the spec's ``name``)
RESERVED_PARAMETERS = ("run_id", "experiment")


class SpecError(DataError):
    """An experiment spec that cannot be run as written."""


@dataclass(frozen=True)
class Spec:
    """A validated experiment spec."""

    path: Path
    name: str
    notebook: Path
    parameters: dict[str, Any] = field(default_factory=dict)
    grid: dict[str, list[Any]] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    description: str = ""
    sha256: str = ""
    #: promote each finished run's winner to the registry (alias champion), as the spec asks
    register: bool = False

    def points(self) -> list[dict[str, Any]]:
        """The parameter sets to run: ``parameters`` overlaid with each grid combination."""
        if not self.grid:
            return [dict(self.parameters)]
        keys = list(self.grid)
        return [{**self.parameters, **dict(zip(keys, combo, strict=True))}
                for combo in itertools.product(*(self.grid[k] for k in keys))]

    def with_overrides(self, overrides: Mapping[str, Any]) -> Spec:
        """A copy with ``overrides`` fixed (an overridden grid axis collapses to that value)."""
        for key in overrides:
            if key in RESERVED_PARAMETERS:
                raise SpecError(f"{key!r} is set by the runner", source="-p", column=key,
                                fix="change the spec's 'name' to change the experiment"
                                if key == "experiment" else "remove the override")
        grid = {k: v for k, v in self.grid.items() if k not in overrides}
        return Spec(self.path, self.name, self.notebook, {**self.parameters, **overrides}, grid,
                    self.tags, self.description, self.sha256, self.register)


def read_mapping(path: str | Path, *, what: str, example: str, shape: str,
                 known: Sequence[str], required: Sequence[str]) -> tuple[dict, bytes]:
    """A YAML file of ``known`` keys with the ``required`` ones set: ``(mapping, raw bytes)``.

    Shared by experiment specs, tuning specs and the quickstart suite, so each reports a
    missing file, bad YAML, a wrong shape, an unknown key or a missing key the same way.
    """
    import yaml

    path = Path(path)
    if not path.is_file():
        raise SpecError(f"no such {what}", source=str(path),
                        fix=f"give the path of a YAML file, e.g. {example}")
    raw_bytes = path.read_bytes()
    try:
        raw = yaml.safe_load(raw_bytes)
    except yaml.YAMLError as exc:
        raise SpecError(f"is not valid YAML: {exc}", source=str(path),
                        fix="fix the YAML syntax at the line shown") from None
    if raw is None and not required:
        raw = {}
    if not isinstance(raw, dict):
        raise SpecError(f"must be a YAML mapping with {shape}", source=str(path),
                        fix=f"see {example}")
    for key in raw:
        if key not in known:
            raise SpecError(f"unknown key {key!r}; known keys: {', '.join(known)}",
                            source=str(path), column=str(key), fix="remove or rename it")
    for key in required:
        if not raw.get(key):
            raise SpecError(f"the key {key!r} is required", source=str(path), column=key,
                            fix=f"add `{key}: ...`")
    return raw, raw_bytes


def load_spec(path: str | Path, root: Path | None = None) -> Spec:
    """Read and validate a spec file; the notebook path is relative to the project root."""
    from retaillab.tracking import project_root

    path = Path(path)
    raw, raw_bytes = read_mapping(path, what="spec file", example="experiments/tour.yaml",
                                  shape="at least 'name' and 'notebook'", known=list(KEYS),
                                  required=REQUIRED)
    for key, kind in KEYS.items():
        if key in raw and raw[key] is not None and not isinstance(raw[key], kind):
            raise SpecError(f"{key!r} must be a {kind.__name__}, got "
                            f"{type(raw[key]).__name__}", source=str(path), column=key,
                            fix="see experiments/ for examples")
    grid = raw.get("grid") or {}
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise SpecError(f"grid entry {key!r} must be a non-empty list of values",
                            source=str(path), column=f"grid.{key}",
                            fix=f"write `{key}: [value1, value2]`")
    params = raw.get("parameters") or {}
    for key in (*params, *grid):
        if key in RESERVED_PARAMETERS:
            fix = ("remove it: the spec's 'name' is the experiment, and the runner passes it "
                   "to the notebook" if key == "experiment" else "remove it from the spec")
            raise SpecError(f"{key!r} is set by the runner", source=str(path), column=key,
                            fix=fix)
    root = root or project_root(path.parent)
    notebook = (root / raw["notebook"]).resolve()
    if not notebook.is_file():
        raise SpecError(f"the notebook {raw['notebook']!r} does not exist (looked in {root})",
                        source=str(path), column="notebook",
                        fix="give the notebook path relative to the project root")
    return Spec(path.resolve(), str(raw["name"]), notebook, dict(params), dict(grid),
                {str(k): str(v) for k, v in (raw.get("tags") or {}).items()},
                str(raw.get("description") or ""), hashlib.sha256(raw_bytes).hexdigest(),
                bool(raw.get("register") or False))


def check_parameters(spec: Spec, declared: Sequence[str]) -> None:
    """Fail on a spec parameter the notebook's ``parameters`` cell does not declare (a typo)."""
    import difflib

    for key in (*spec.parameters, *spec.grid):
        if key not in declared:
            near = difflib.get_close_matches(key, declared, n=1)
            hint = f"did you mean {near[0]!r}? " if near else ""
            raise SpecError(
                f"parameter {key!r} is not in the notebook's parameters cell "
                f"({', '.join(declared)})", source=str(spec.path), column=key,
                fix=f"{hint}declare it in {spec.notebook.name} or remove it from the spec")


def parse_override(text: str) -> tuple[str, Any]:
    """``key=value`` from the command line; the value is read as YAML (``k=5`` is an int)."""
    import yaml

    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise SpecError(f"override {text!r} is not key=value", source="-p",
                        fix="write e.g. -p seed=7 or -p 'algorithms=[ease, svd]'")
    return key.strip(), yaml.safe_load(value)
