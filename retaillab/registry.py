"""Names of models, for every family: one lookup, one hyperparameter check, one ``create``.

Each family (recommenders, churn models, ...) keeps a ``{name: factory}`` table and wraps it in
a :class:`Registry`; a factory is a class or function, or a ``"module:attribute"`` string
imported on first use, so listing a family's names imports none of its libraries.

>>> from retaillab.registry import Registry
>>> shapes = Registry("shape", {"circle": "fractions:Fraction"})
>>> shapes.available()
['circle']
>>> shapes.create("circle", numerator=1, denominator=2)
Fraction(1, 2)
>>> shapes.create("circel")            # UnknownNameError: Did you mean 'circle'?  # doctest: +SKIP
>>> shapes.create("circle", radius=1)  # ParameterError: hyperparameter 'radius'  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Mapping
from typing import Any

from retaillab.errors import ParameterError, UnknownNameError

__all__ = ["Registry"]


class Registry:
    """A family's ``{name: factory}`` table, with the checks every family needs.

    Parameters
    ----------
    kind
        What a name names, for messages: ``"recommender"``, ``"churn model"``.
    entries
        ``name -> factory``: a class or function, or ``"module:attribute"``.
    """

    def __init__(self, kind: str, entries: Mapping[str, Callable[..., Any] | str]) -> None:
        self.kind = kind
        self.entries = entries  # kept by reference: the family's table stays the one truth

    def available(self) -> list[str]:
        """The registered names, in registration order."""
        return list(self.entries)

    def __contains__(self, name: object) -> bool:
        return name in self.entries

    def factory(self, name: str) -> Callable[..., Any]:
        """The class or function registered as ``name``.

        Raises
        ------
        UnknownNameError
            For a name that is not registered (the closest is suggested, all are listed).
        """
        if not isinstance(name, str) or name not in self.entries:
            raise UnknownNameError(self.kind, name, list(self.entries))
        entry = self.entries[name]
        if isinstance(entry, str):
            module, _, attribute = entry.partition(":")
            return getattr(importlib.import_module(module), attribute)
        return entry

    def hyperparameters(self, name: str) -> dict[str, Any]:
        """The keyword arguments ``name`` takes, with their defaults
        (``inspect.Parameter.empty`` for a required one)."""
        return {p.name: p.default for p in _parameters(self.factory(name))
                if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}

    def check_params(self, name: str, params: Mapping[str, Any]) -> None:
        """Raise :class:`ParameterError` naming the first hyperparameter ``name`` lacks."""
        factory = self.factory(name)
        if any(p.kind == p.VAR_KEYWORD for p in _parameters(factory)):
            return  # takes any keyword: the factory itself checks
        accepted = list(self.hyperparameters(name))
        unknown = sorted(set(params) - set(accepted))
        if unknown:
            raise ParameterError(f"{name} hyperparameter {unknown[0]!r}",
                                 "one of " + (", ".join(accepted) or "(none)"), unknown[0])

    def create(self, name: str, **params: Any) -> Any:
        """A new, unfitted model ``name`` with hyperparameters ``params``.

        Raises
        ------
        UnknownNameError
            For a name not in :meth:`available` (the closest is suggested).
        ParameterError
            For a hyperparameter the model does not have.
        """
        self.check_params(name, params)
        return self.factory(name)(**params)


def _parameters(factory: Callable[..., Any]) -> list[inspect.Parameter]:
    return list(inspect.signature(factory).parameters.values())
