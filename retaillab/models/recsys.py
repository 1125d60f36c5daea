"""Fitted recommenders as MLflow pyfunc models: :func:`log_recsys`, and the model it logs.

One flavour serves every recommender of :mod:`retaillab.recsys` (most-popular, item k-NN,
EASE, ALS, BPR, the Surprise models, content-based, bought-together): the loaded model's
``predict`` is the fitted model's own ``recommend``, so it gives exactly what the in-memory
model gives, cold-start fallback and tie-break order included.

>>> uri = log_recsys(fitted, "ease", run_id)                             # doctest: +SKIP
>>> model = mlflow.pyfunc.load_model(uri)                                # doctest: +SKIP
>>> model.predict(pd.DataFrame({"user": [1, 2]}), params={"k": 5})       # doctest: +SKIP

Input: a table with a ``user`` column, ids in the type the model learned (the signature
says which; unknown ids get the most popular items, ``fallback=True``, with one
:class:`~retaillab.errors.UnknownIdsWarning`). Params: ``k`` (default 10) and
``exclude_seen`` (default True). Output: ``user, item, score, rank, fallback``, the frame of
``fitted.recommend(users, k=k, exclude_seen=exclude_seen)``.

How the fitted state is saved (artifact ``state/``): the fitted recommender is pickled
(cloudpickle) as a whole, since every model keeps its state in different attributes (dense
and sparse matrices, factor arrays, the Surprise or ``implicit`` object) and the scoring code
reads them all; but every numeric numpy array of at least :data:`MIN_ARRAY_BYTES` anywhere in
it (top-level attributes, a sparse matrix's ``data``/``indices``/``indptr``, the arrays inside
``algo_`` or ``model_``) is written beside the pickle as its own ``.npy`` file, each array
once even when two attributes share its memory (ALS's ``user_factors_`` and
``model_.user_factors``).
A float64 array goes to disk as float32 only when float32 holds every one of its values
exactly (counts, such as most-popular's scores), and is cast back on load, so the loaded model
computes bit for bit what the fitted one did. Float64 arrays of learned values (item k-NN's
similarities, Surprise's factors and biases) stay float64: float32 would change the scores
(and so could change the order) against the in-memory model. Arrays already float32 (EASE's
item-item matrix, ``implicit``'s factors, the interaction matrix) stay float32: half a
float64 copy. ``state/manifest.json`` lists every array, its dtype in memory and on disk, and
why. The bytes of ``state/`` are the model's ``size_bytes``.
"""

from __future__ import annotations

import contextlib
import json
import pickle
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from retaillab.data.schema import COLUMNS as C
from retaillab.errors import DataError
from retaillab.models._common import (
    logged_model,
    metadata,
    requirements,
    saved_size,
    using_store,
)

FAMILY = "recsys"

#: numeric arrays at least this big are saved as ``.npy`` files of their own
MIN_ARRAY_BYTES = 1 << 12

#: the MLflow model params and their defaults
PARAMS: dict[str, Any] = {"k": 10, "exclude_seen": True}

STATE = "state"  # the artifact (a folder) holding the fitted state
PICKLE = "fitted.pkl"
ARRAYS = "arrays"
MANIFEST = "manifest.json"


# -- saving and loading the fitted state ---------------------------------------------------

def _exact_float32(array: np.ndarray) -> bool:
    """Whether float32 holds every value of the float ``array`` exactly (NaN and inf too)."""
    if array.dtype.kind != "f" or array.dtype.itemsize <= 4:
        return False
    with np.errstate(over="ignore"):
        narrow = array.astype(np.float32)
    return bool(np.array_equal(narrow, array, equal_nan=True))


class _Pickler:
    """Pickles an object with its big numeric arrays written to ``folder`` as ``.npy``."""

    def __init__(self, folder: Path, names: dict[int, str]) -> None:
        self.folder = folder
        self.names = names  # _memory(array) -> the attribute it is, for the manifest
        self.saved: dict[tuple, tuple[str, str | None]] = {}
        self.keep: list[np.ndarray] = []  # addresses stay unique while the arrays live
        self.manifest: list[dict[str, Any]] = []

    def persistent_id(self, obj: Any) -> tuple | None:
        if (type(obj) is not np.ndarray or obj.dtype.hasobject or obj.dtype.fields
                or obj.nbytes < MIN_ARRAY_BYTES):
            return None
        key = _memory(obj)
        if key not in self.saved:
            file = f"{ARRAYS}/{len(self.saved)}.npy"
            restore = None
            if _exact_float32(obj):
                stored, restore = obj.astype(np.float32), obj.dtype.str
                why = "float32 holds every value exactly; cast back to float64 on load"
            elif obj.dtype.kind == "f" and obj.dtype.itemsize > 4:
                stored, why = obj, "float32 would change values, so scores: kept as is"
            else:
                stored, why = obj, "stored as is"
            np.save(self.folder / file, stored, allow_pickle=False)
            self.saved[key] = (file, restore)
            self.keep.append(obj)
            self.manifest.append({
                "file": file, "attribute": self.names.get(key, "(inside the fitted object)"),
                "shape": list(obj.shape), "dtype": obj.dtype.name,
                "stored_as": stored.dtype.name, "bytes": int(stored.nbytes), "why": why})
        return ("npy", *self.saved[key])


def _memory(array: np.ndarray) -> tuple:
    """What identifies an array's values: two array objects over the same memory with the same
    layout (ALS's ``user_factors_`` and its ``implicit`` model's ``user_factors``) are one."""
    return (array.__array_interface__["data"][0], array.shape, array.strides, array.dtype.str)


def _attribute_names(fitted: Any) -> dict[tuple, str]:
    """_memory -> name of the fitted object's array attributes and sparse matrices' arrays."""
    names: dict[tuple, str] = {}
    for attr, value in vars(fitted).items():
        if isinstance(value, np.ndarray):
            names.setdefault(_memory(value), attr)
        for part in ("data", "indices", "indptr"):
            inner = getattr(value, part, None) if hasattr(value, "nnz") else None
            if isinstance(inner, np.ndarray):
                names.setdefault(_memory(inner), f"{attr}.{part}")
    return names


def save_state(fitted: Any, folder: str | Path) -> list[dict[str, Any]]:
    """Write ``fitted`` to ``folder`` (a pickle, its big arrays as ``.npy``, a manifest);
    returns the manifest's list of arrays. See the module docstring."""
    import cloudpickle

    folder = Path(folder)
    (folder / ARRAYS).mkdir(parents=True, exist_ok=True)
    saver = _Pickler(folder, _attribute_names(fitted))

    class Pickler(cloudpickle.Pickler):
        def persistent_id(self, obj: Any) -> tuple | None:
            return saver.persistent_id(obj)

    with open(folder / PICKLE, "wb") as handle:
        Pickler(handle, protocol=pickle.HIGHEST_PROTOCOL).dump(fitted)
    (folder / MANIFEST).write_text(json.dumps(
        {"pickle": PICKLE, "class": f"{type(fitted).__module__}.{type(fitted).__qualname__}",
         "arrays": saver.manifest}, indent=1))
    return saver.manifest


def load_state(folder: str | Path) -> Any:
    """The fitted recommender :func:`save_state` wrote to ``folder``."""
    folder = Path(folder)

    class Unpickler(pickle.Unpickler):
        def persistent_load(self, pid: tuple) -> np.ndarray:
            kind, file, restore = pid
            if kind != "npy":  # pragma: no cover - only save_state writes these files
                raise pickle.UnpicklingError(f"unknown persistent id {kind!r}")
            array = np.load(folder / file, allow_pickle=False)
            return array.astype(np.dtype(restore)) if restore else array

    with open(folder / PICKLE, "rb") as handle:
        return Unpickler(handle).load()


# -- the pyfunc model ------------------------------------------------------------------------

def _python_model_class() -> type:
    """:class:`RecommenderModel`, defined on first use so importing this module does not
    import MLflow."""
    if "RecommenderModel" in globals():
        return globals()["RecommenderModel"]
    import mlflow.pyfunc

    return _define(mlflow.pyfunc.PythonModel)


def _define(base: type) -> type:
    class RecommenderModel(base):
        """A fitted retaillab recommender as an MLflow pyfunc: ``predict`` is its
        ``recommend`` (see :mod:`retaillab.models.recsys`)."""

        # no type-hint validation: the signature and predict check the input
        # (MLflow would otherwise warn, once per process, that predict has no type hints)
        _skip_type_hint_validation = True

        def load_context(self, context) -> None:
            self.fitted = load_state(context.artifacts[STATE])

        def predict(self, context: Any, model_input: pd.DataFrame,
                    params: dict[str, Any] | None = None) -> pd.DataFrame:
            given = {**PARAMS, **(params or {})}
            return self.fitted.recommend(_users(model_input), k=given["k"],
                                         exclude_seen=bool(given["exclude_seen"]))

    RecommenderModel.__qualname__ = "RecommenderModel"  # found by name: pickled by reference
    globals()["RecommenderModel"] = RecommenderModel
    return RecommenderModel


def __getattr__(name: str) -> Any:
    if name == "RecommenderModel":
        return _python_model_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _users(model_input: Any) -> list:
    """The user ids of a pyfunc input: its ``user`` column (or the values of a list)."""
    if isinstance(model_input, pd.DataFrame):
        if C.user not in model_input.columns:
            raise DataError(f"no column {C.user!r}; it has "
                            f"{', '.join(map(str, model_input.columns))}",
                            source="recommender model input", column=C.user,
                            fix="pass a table with one user id per row in a 'user' column")
        return model_input[C.user].tolist()
    return list(model_input)


def _id_type(learned: pd.Index):
    """The signature's type of the user column: the type of the ids the model learned."""
    from mlflow.types.schema import AnyType

    from retaillab.data.ids import id_kind

    return {"integer": "long", "text": "string", "float": "double",
            "boolean": "boolean"}.get(id_kind(learned), AnyType())


def signature(fitted: Any):
    """The model signature: input ``user`` (the learned ids' type), params ``k`` and
    ``exclude_seen``, output ``user, item, score, rank, fallback``."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema

    return ModelSignature(
        inputs=Schema([ColSpec(_id_type(fitted.users_), C.user)]),
        outputs=Schema([ColSpec(_id_type(fitted.users_), C.user),
                        ColSpec(_id_type(fitted.items_), C.item), ColSpec("double", "score"),
                        ColSpec("long", "rank"), ColSpec("boolean", "fallback")]),
        params=ParamSchema([ParamSpec("k", "long", PARAMS["k"]),
                            ParamSpec("exclude_seen", "boolean", PARAMS["exclude_seen"])]))


def log_recsys(fitted: Any, name: str, run_id: str, *, uri: str | None = None,
               input_example: Any = None, model_id: str | None = None,
               extra: dict[str, Any] | None = None) -> str:
    """Log the fitted recommender ``fitted`` as pyfunc model ``name`` of run ``run_id``;
    returns ``runs:/<run_id>/<name>``, which ``mlflow.pyfunc.load_model`` takes.

    The model's metadata (MLmodel ``metadata:``) and the run tag ``retaillab.logged_model.<name>``
    (JSON) hold the family (``recsys``), the model class, the retaillab version and
    ``size_bytes``, the bytes of the saved fitted state (see the module docstring for how it
    is saved). ``uri`` is the tracking store (default: ``MLFLOW_TRACKING_URI``, else the
    project's); pip requirements are always explicit (never inferred).
    """
    import mlflow.pyfunc
    from mlflow.models import Model

    from retaillab import tracking

    fitted._check_fitted()
    uri = uri or tracking.tracking_uri()
    with tempfile.TemporaryDirectory(prefix="retaillab-recsys-") as tmp:
        state = Path(tmp) / STATE
        arrays = save_state(fitted, state)
        info = metadata(fitted, FAMILY, size=saved_size(state),
                        arrays_float32=sum(a["stored_as"] != a["dtype"] for a in arrays),
                        **(extra or {}))
        with contextlib.ExitStack() as stack:
            if model_id is None:  # in the run's experiment (see _common.logged_model)
                model_id = stack.enter_context(logged_model(run_id, name, uri))
            stack.enter_context(using_store(uri))
            Model.log(artifact_path=None, name=name, flavor=mlflow.pyfunc, run_id=run_id,
                      model_id=model_id, python_model=_python_model_class()(),
                      artifacts={STATE: str(state)}, signature=signature(fitted),
                      input_example=input_example, pip_requirements=requirements(),
                      metadata=info)
    tracking.client(uri).set_tag(run_id, f"{tracking.TAG_PREFIX}logged_model.{name}",
                                 json.dumps(info, sort_keys=True))
    return f"runs:/{run_id}/{name}"
