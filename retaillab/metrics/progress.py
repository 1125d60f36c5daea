"""Progress of a model comparison: one bar, one step per model, saying what runs now.

A comparison cell can run for minutes; the bar reads ``recsys: 5/17 models, svdpp fitting``
and changes as each model starts fitting, recommending or scoring. It is ``tqdm.auto``'s bar
(a widget in a notebook, text in a terminal), imported only when progress is shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Any

__all__ = ["ModelProgress"]


class ModelProgress:
    """A progress bar over the models of one comparison.

    Parameters
    ----------
    family
        What is compared, first in the description: ``"recsys"``, ``"churn"``.
    models
        The model names, in the order they run.
    enabled
        ``False``: nothing is shown and tqdm is not imported.

    Example::

        with ModelProgress("recsys", names) as progress:
            for name in names:
                progress.stage(name, "fitting")
                ...
                progress.finished()
    """

    def __init__(self, family: str, models: Sequence[str], enabled: bool = True) -> None:
        self.family = family
        self.models = list(models)
        self.done = 0
        self.description = ""
        self._bar: Any = None
        if enabled:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=len(self.models), unit="model", leave=True,
                             bar_format="{desc} {bar} [{elapsed}]")
            self._show(f"{family}: 0/{len(self.models)} models")

    def stage(self, model: str, what: str) -> None:
        """Say that ``model`` (the next unfinished one) is now doing ``what``."""
        position = min(self.done + 1, len(self.models))
        self._show(f"{self.family}: {position}/{len(self.models)} models, {model} {what}")

    def finished(self) -> None:
        """One more model is done: the bar moves one step."""
        self.done += 1
        if self._bar is not None:
            self._bar.update(1)

    def close(self) -> None:
        """End the bar, saying how far it got."""
        if self.done == len(self.models):
            self._show(f"{self.family}: {self.done}/{len(self.models)} models, done")
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def _show(self, text: str) -> None:
        self.description = text
        if self._bar is not None:
            self._bar.set_description_str(text, refresh=True)

    def __enter__(self) -> ModelProgress:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()
