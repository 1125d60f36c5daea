"""CLV models as MLflow models: a small pyfunc holding a BTYD model's parameters as JSON.

A :class:`CLVModel` is a fitted purchase model (:class:`~retaillab.clv.BetaGeo`,
:class:`~retaillab.clv.ModifiedBetaGeo` or :class:`~retaillab.clv.ParetoNBD`), optionally a
fitted :class:`~retaillab.clv.GammaGamma` spend model, and the unit of time (``"W"`` or
``"D"``) their RFM summary was in. It is saved as one JSON artifact (``clv.json``: class
names and ``params_``, a few hundred bytes), never a pickle: prediction needs nothing but the
parameters (``penalizer``, ``initial``, ``tol`` and ``max_iter`` only steer fitting), so
loading rebuilds each estimator and sets ``params_``, no refit.

Scoring, ``mlflow.pyfunc.load_model(uri).predict(table, params={...})``:

input, either
    an RFM summary (:func:`retaillab.clv.rfm_summary` with the customer as a column,
    ``summary.reset_index()``): ``customer, frequency, recency, T`` and, with a spend model,
    ``monetary_value``; optionally ``unit``: if given, it must be the model's unit;
    or customers' transactions ``customer, date, amount`` (one row per transaction), which
    are summarised at the cut-off (param ``cutoff``, default the last transaction's day)
    exactly as the comparison summarised its calibration period. Every column is optional in
    the signature, since either shape is accepted; the model says which columns are missing.
params (in the signature, with defaults)
    ``horizon``: expected purchases over the next ``horizon`` time units (default: 12 months
    in the model's unit, 52.18 weeks or 365.25 days); ``months`` (default: the comparison's
    CLV horizon, else 12), ``discount_rate`` (monthly; default the comparison's, else 0.01)
    and ``month_length`` (in the model's unit, default 365.25 / 12 days) for the CLV, as
    :func:`retaillab.clv.customer_lifetime_value`; ``cutoff`` (a date, for transactions).
output
    ``customer, p_alive, expected_purchases`` and, with a spend model, ``expected_spend``
    (expected purchases over the horizon times the Gamma-Gamma expected average spend,
    undiscounted) and ``clv`` (discounted, over ``months``).

The numbers are the in-memory models' own methods on the same parameters, so they are
exactly what the fitted objects give.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from retaillab.errors import DataError, ParameterError, check_choice
from retaillab.models import _common

__all__ = ["ARTIFACT", "CLVModel", "log_clv", "predict"]

#: the artifact key and file name of the saved parameters
ARTIFACT = "clv"
FILE = "clv.json"
FORMAT = 1

_TRANSACTION = ("BetaGeo", "ModifiedBetaGeo", "ParetoNBD")
_SPEND = ("GammaGamma",)
_COLUMNS = ("customer", "frequency", "recency", "T")
MONETARY = "monetary_value"
UNIT = "unit"


class CLVModel:
    """A fitted purchase model, an optional fitted spend model and their time unit."""

    def __init__(self, transaction: Any, spend: Any = None, *, unit: str, months: int = 12,
                 discount_rate: float = 0.01) -> None:
        check_choice("unit", unit, ("W", "D"))
        self.months, self.discount_rate = int(months), float(discount_rate)
        for role, model, allowed in (("transaction", transaction, _TRANSACTION),
                                     ("spend", spend, _SPEND)):
            if model is None and role == "spend":
                continue
            if type(model).__name__ not in allowed or not hasattr(model, "params_"):
                raise ParameterError(role, "a fitted " + " or ".join(allowed),
                                     type(model).__name__)
        self.transaction, self.spend, self.unit = transaction, spend, unit

    # -- saved form -----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The saved form: format, unit, and each model's class and ``params_``."""
        def one(model):
            if model is None:
                return None
            return {"class": type(model).__name__,
                    "params": {k: float(v) for k, v in model.params_.items()}}

        return {"format": FORMAT, "unit": self.unit, "transaction": one(self.transaction),
                "spend": one(self.spend), "months": self.months,
                "discount_rate": self.discount_rate}

    @classmethod
    def from_dict(cls, saved: dict[str, Any]) -> CLVModel:
        """Rebuild from :meth:`to_dict`: each estimator with its ``params_`` set, no refit."""
        from retaillab import clv

        if saved.get("format") != FORMAT:
            raise DataError(f"a CLV model saved in format {saved.get('format')!r}; this "
                            f"retaillab reads format {FORMAT}")

        def one(part, allowed):
            if part is None:
                return None
            check_choice("saved class", part["class"], allowed)
            model = getattr(clv, part["class"])()
            model.params_ = dict(part["params"])
            return model

        return cls(one(saved["transaction"], _TRANSACTION), one(saved["spend"], _SPEND),
                   unit=saved["unit"], months=saved.get("months", 12),
                   discount_rate=saved.get("discount_rate", 0.01))

    # -- scoring --------------------------------------------------------------------------
    def defaults(self) -> dict[str, Any]:
        """The predict-time params and their defaults (module docstring)."""
        from retaillab.clv.value import month_length

        month = month_length(self.unit)
        return {"horizon": 12 * month, "months": self.months,
                "discount_rate": self.discount_rate, "month_length": month, "cutoff": ""}

    def predict(self, summary: pd.DataFrame, params: dict[str, Any] | None = None
                ) -> pd.DataFrame:
        """Score an RFM summary (module docstring); customers in the input's order."""
        given = dict(params or {})
        unknown = set(given) - set(self.defaults())
        if unknown:
            raise ParameterError("params", "some of " + ", ".join(self.defaults()),
                                 sorted(unknown))
        settings = {**self.defaults(), **{k: v for k, v in given.items() if v is not None}}
        summary = _checked(_summarised(summary, self.unit, settings["cutoff"]), self.unit,
                           spend=self.spend is not None)
        horizon = float(settings["horizon"])
        out = pd.DataFrame({"customer": summary["customer"].to_numpy()})
        out["p_alive"] = self.transaction.conditional_probability_alive(summary)
        purchases = self.transaction.conditional_expected_purchases(horizon, summary)
        out["expected_purchases"] = purchases
        if self.spend is not None:
            out["expected_spend"] = purchases * self.spend.conditional_expected_average_profit(
                summary)
            out["clv"] = self.spend.customer_lifetime_value(
                self.transaction, summary, months=int(settings["months"]),
                discount_rate=float(settings["discount_rate"]), unit=self.unit,
                month_length=float(settings["month_length"])).to_numpy()
        return out


def _summarised(table: Any, unit: str, cutoff: object) -> Any:
    """``table`` itself if it is an RFM summary; if it holds transactions (``customer, date,
    amount`` and no ``frequency``), their summary at ``cutoff`` (default: the last day)."""
    if not isinstance(table, pd.DataFrame) or "frequency" in table.columns or not {
            "customer", "date", "amount"} <= set(table.columns):
        return table
    from retaillab.clv.rfm import rfm_summary

    tx = table[["customer", "date", "amount"]]
    if not pd.api.types.is_datetime64_any_dtype(tx["date"]):
        tx = tx.assign(date=pd.to_datetime(tx["date"], format="ISO8601"))
    end = cutoff or f"{tx['date'].max():%Y-%m-%d}"
    if pd.Timestamp(end).normalize() > tx["date"].max().normalize():
        raise DataError(f"the cut-off {pd.Timestamp(end):%Y-%m-%d} is after the last "
                        f"transaction ({tx['date'].max():%Y-%m-%d})", source="CLV model input",
                        fix="use a cut-off on or before the last transaction's day")
    return rfm_summary(tx, calibration_end=end, unit=unit).reset_index()


def _checked(summary: Any, unit: str, *, spend: bool) -> pd.DataFrame:
    if not isinstance(summary, pd.DataFrame):
        raise DataError(f"a CLV model scores an RFM summary DataFrame; got "
                        f"{type(summary).__name__}")
    if "customer" not in summary.columns and summary.index.name == "customer":
        summary = summary.reset_index()
    needed = [*_COLUMNS, *([MONETARY] if spend else [])]
    missing = [c for c in needed if c not in summary.columns]
    if missing:
        raise DataError(f"the RFM summary lacks column(s) {', '.join(missing)} (make it with "
                        "retaillab.clv.rfm_summary(...).reset_index())")
    said = set(summary[UNIT].dropna().astype(str)) if UNIT in summary.columns else set()
    said |= {str(summary.attrs["unit"])} if "unit" in summary.attrs else set()
    if said - {unit}:
        raise DataError(f"the summary is in unit {', '.join(sorted(said))} but the model was "
                        f"fitted in unit {unit!r}: make the summary with rfm_summary(..., "
                        f"unit={unit!r})")
    return summary


def predict(model: CLVModel, summary: pd.DataFrame, params: dict[str, Any] | None = None
            ) -> pd.DataFrame:
    """:meth:`CLVModel.predict` (the function the pyfunc calls)."""
    return model.predict(summary, params)


def _python_model():
    """The pyfunc class, made on first use so importing this module does not import MLflow;
    it is this module's ``CLVPythonModel`` (module ``__getattr__``), so the logged model
    pickles it by reference, not by value."""
    if "CLVPythonModel" in globals():
        return globals()["CLVPythonModel"]
    import mlflow.pyfunc

    return _define(mlflow.pyfunc.PythonModel)


def _define(base: type) -> type:
    class CLVPythonModel(base):
        """Loads ``clv.json`` and scores with :class:`CLVModel`."""

        # no type-hint validation: the input is either of two table shapes, checked in predict
        # (MLflow would otherwise warn, once per process, that predict has no type hints)
        _skip_type_hint_validation = True

        def load_context(self, context) -> None:
            with open(context.artifacts[ARTIFACT], encoding="utf-8") as handle:
                self.model = CLVModel.from_dict(json.load(handle))

        def predict(self, context, model_input, params=None):
            return self.model.predict(model_input, params)

    CLVPythonModel.__qualname__ = "CLVPythonModel"
    globals()["CLVPythonModel"] = CLVPythonModel
    return CLVPythonModel


def __getattr__(name: str) -> Any:
    if name == "CLVPythonModel":
        return _python_model()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _as_model(fitted: Any, unit: str | None, **settings: Any) -> CLVModel:
    if isinstance(fitted, CLVModel):
        if unit is not None and unit != fitted.unit:
            raise ParameterError("unit", f"the CLVModel's unit {fitted.unit!r}", unit)
        return fitted
    if unit is None:
        raise ParameterError("unit", "the time unit of the summary the model was fitted on, "
                             "'W' or 'D' (rfm_summary's unit)", None)
    if isinstance(fitted, tuple):
        return CLVModel(*fitted, unit=unit, **settings)
    return CLVModel(fitted, unit=unit, **settings)


def _example(model: CLVModel, input_example: Any) -> pd.DataFrame:
    if input_example is None:  # three made-up customers: none, one and several repeats
        example = pd.DataFrame({"customer": [1, 2, 3], "frequency": [0, 1, 4],
                                "recency": [0.0, 5.0, 30.0], "T": [40.0, 40.0, 40.0],
                                MONETARY: [0.0, 25.0, 40.0]})
    else:
        example = _checked(input_example, model.unit, spend=model.spend is not None)
    columns = [*_COLUMNS, *([MONETARY] if model.spend is not None else [])]
    return example[columns].head(5).reset_index(drop=True)


def _signature(model: CLVModel, example: pd.DataFrame):
    from mlflow.models import infer_signature
    from mlflow.types import ColSpec, DataType, Schema

    signature = infer_signature(example, model.predict(example), params=model.defaults())
    # an RFM summary or transactions: every column optional (the model checks what it got)
    from mlflow.types.schema import AnyType

    inputs = [ColSpec(AnyType() if c.name == "customer" else c.type, c.name, required=False)
              for c in signature.inputs.inputs]
    inputs += [ColSpec(DataType.string, UNIT, required=False),
               ColSpec(DataType.datetime, "date", required=False),
               ColSpec(DataType.double, "amount", required=False)]
    signature.inputs = Schema(inputs)
    return signature


def log_clv(fitted: Any, name: str, run_id: str, *, input_example: Any = None,
            unit: str | None = None, model_id: str | None = None,
            extra: dict[str, Any] | None = None, months: int = 12,
            discount_rate: float = 0.01, **_: Any) -> Any:
    """Log a CLV model into run ``run_id`` as model ``name``; the ModelInfo.

    ``fitted``: a :class:`CLVModel`, a fitted transaction model, or a ``(transaction,
    spend)`` pair; ``unit`` is required unless ``fitted`` is a :class:`CLVModel`.
    ``input_example``: a few rows of an RFM summary (made up if not given). ``months`` and
    ``discount_rate``: the CLV's defaults at scoring time (a :class:`CLVModel` has its own).
    """
    import tempfile
    from pathlib import Path

    import mlflow.pyfunc
    from mlflow.models import Model

    model = _as_model(fitted, unit, months=months, discount_rate=discount_rate)
    example = _example(model, input_example)
    signature = _signature(model, example)
    with tempfile.TemporaryDirectory(prefix="retaillab-clv-") as folder:
        path = Path(folder) / FILE
        path.write_text(json.dumps(model.to_dict(), indent=1), encoding="utf-8")
        meta = _common.metadata(
            model.transaction, "clv", size=_common.saved_size(path), unit=model.unit,
            spend_class=None if model.spend is None else _common.class_name(model.spend),
            **(extra or {}))
        # Model.log, as mlflow.pyfunc.log_model does, which itself takes no run_id
        return Model.log(
            None, name=name, flavor=mlflow.pyfunc, run_id=run_id, model_id=model_id,
            python_model=_python_model()(),
            artifacts={ARTIFACT: str(path)}, signature=signature, input_example=example,
            pip_requirements=_common.requirements(), metadata=meta)
