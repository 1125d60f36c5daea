"""The CLV models by name, for notebooks, specs and the contract test.

One :class:`~retaillab.registry.Registry`, as for recommenders and churn models: a misspelt
name lists the known ones, a misspelt hyperparameter names the ones the model takes.
"""

from __future__ import annotations

from typing import Any

from retaillab.registry import Registry

__all__ = ["MODELS", "REGISTRY", "available", "create"]

#: name -> (module, class); transaction models first, the spend model last.
MODELS: dict[str, tuple[str, str]] = {
    "bg_nbd": ("beta_geo", "BetaGeo"),
    "mbg_nbd": ("beta_geo", "ModifiedBetaGeo"),
    "pareto_nbd": ("pareto_nbd", "ParetoNBD"),
    "gamma_gamma": ("gamma_gamma", "GammaGamma"),
}
REGISTRY = Registry("CLV model", {name: f"retaillab.clv.{module}:{cls}"
                                  for name, (module, cls) in MODELS.items()})


def available(kind: str | None = None) -> list[str]:
    """Registered names; ``kind="transactions"`` or ``"spend"`` selects one family."""
    if kind == "spend":
        return ["gamma_gamma"]
    if kind == "transactions":
        return [n for n in MODELS if n != "gamma_gamma"]
    return REGISTRY.available()


def create(name: str, **params: Any) -> Any:
    """A new, unfitted model: ``create("bg_nbd", penalizer=0.001)``."""
    return REGISTRY.create(name, **params)
