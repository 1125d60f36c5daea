"""Cut-offs given as dates: one rule for churn and splits (CLV rounds its dates to the day).

**A date is the whole of that day.** A cut-off with no time of day (``"1997-12-31"``, or a time
of exactly midnight) ends at the next midnight, so a purchase at 15:30 that day is before it;
a cut-off with a time of day is that instant.
"""

from __future__ import annotations

from typing import NamedTuple

import pandas as pd

DAY = pd.Timedelta(days=1)


class Cutoff(NamedTuple):
    """A checked cut-off: ``stamp`` as given, and whether it is a whole day (no time of day),
    which then ends at the next midnight (see the module docstring)."""

    stamp: pd.Timestamp
    whole_day: bool

    @classmethod
    def of(cls, stamp: pd.Timestamp) -> Cutoff:
        """The cut-off ``stamp``: a whole day when it has no time of day (is a midnight)."""
        return cls(stamp, bool(stamp == stamp.normalize()))

    @property
    def end(self) -> pd.Timestamp:
        """The first instant after the cut-off: the next midnight for a whole day."""
        return self.stamp + DAY if self.whole_day else self.stamp

    def past(self, dates: pd.Series) -> pd.Series:
        """Which ``dates`` are on the feature side."""
        return dates < self.end if self.whole_day else dates <= self.stamp

    def future(self, dates: pd.Series, days: int) -> pd.Series:
        """Which ``dates`` fall in the ``days``-day horizon after the cut-off."""
        if self.whole_day:
            return (dates >= self.end) & (dates < self.end + days * DAY)
        return (dates > self.stamp) & (dates <= self.stamp + days * DAY)

    def days_before(self, dates: pd.Series) -> pd.Series:
        """Days from ``dates`` to the cut-off: calendar days for a whole day."""
        return (self.stamp - (dates.dt.normalize() if self.whole_day else dates)) / DAY

    def covered(self, last: pd.Timestamp, days: int) -> bool:
        """Whether data ending with ``last`` cover the whole ``days``-day horizon."""
        return (last.normalize() if self.whole_day else last) >= self.stamp + days * DAY

    def latest(self, last: pd.Timestamp, days: int) -> pd.Timestamp:
        """The latest cut-off whose ``days``-day horizon data ending with ``last`` cover."""
        return (last.normalize() if self.whole_day else last) - days * DAY
