"""Notebooks under tests/fixtures are inputs of the runner tests, not tests of their own; a
stand-in progress bar for the comparison tests."""

from __future__ import annotations

import pytest

collect_ignore = ["fixtures"]


class FakeBar:
    """Stands in for tqdm.auto.tqdm: records each description with the count at that time."""

    def __init__(self, made: list, *args, total=None, **kwargs):
        self.total, self.n, self.seen, self.closed = total, 0, [], False
        made.append(self)

    def set_description_str(self, text, refresh=True):
        self.seen.append((text, self.n))

    def update(self, n=1):
        self.n += n

    def close(self):
        self.closed = True


@pytest.fixture
def progress_bars(monkeypatch) -> list:
    """tqdm.auto.tqdm replaced by :class:`FakeBar`: the bars made, in order."""
    import functools

    import tqdm.auto

    made: list = []
    monkeypatch.setattr(tqdm.auto, "tqdm", functools.partial(FakeBar, made))
    return made
