"""The project a command works in: its root folder, and paths shown relative to it.

Kept apart from :mod:`retaillab.tracking` so the data layer (sources resolve paths against the
root) does not import the tracking layer, which imports the data layer.
"""

from __future__ import annotations

import os
from pathlib import Path


def project_root(start: str | Path | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: cwd) holding ``pyproject.toml``."""
    here = Path(start or os.getcwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file():
            return folder
    return here


def relative(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` when inside it, else the absolute path."""
    try:
        return str(Path(path).resolve().relative_to(Path(root).resolve()))
    except ValueError:
        return str(path)
