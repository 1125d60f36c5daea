"""The CLV models by name, for notebooks, specs and the contract test."""

from __future__ import annotations

from typing import Any

from retaillab.errors import UnknownNameError

__all__ = ["MODELS", "available", "create"]

#: name -> (module, class); transaction models first, the spend model last.
MODELS: dict[str, tuple[str, str]] = {
    "bg_nbd": ("beta_geo", "BetaGeo"),
    "mbg_nbd": ("beta_geo", "ModifiedBetaGeo"),
    "pareto_nbd": ("pareto_nbd", "ParetoNBD"),
    "gamma_gamma": ("gamma_gamma", "GammaGamma"),
}


def available(kind: str | None = None) -> list[str]:
    """Registered names; ``kind="transactions"`` or ``"spend"`` selects one family."""
    if kind == "spend":
        return ["gamma_gamma"]
    if kind == "transactions":
        return [n for n in MODELS if n != "gamma_gamma"]
    return list(MODELS)


def create(name: str, **params: Any):
    """A new, unfitted model: ``create("bg_nbd", penalizer=0.001)``."""
    import importlib

    if name not in MODELS:
        raise UnknownNameError("CLV model", name, list(MODELS))
    module, cls = MODELS[name]
    return getattr(importlib.import_module(f"retaillab.clv.{module}"), cls)(**params)
