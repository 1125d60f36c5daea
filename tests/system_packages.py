"""Waiting for the system packages ``make test`` installs beside the suite (Chromium,
PostgreSQL): its apt-get call runs in the background while pytest starts, and marks its end
in the file named by ``RETAILLAB_SYSTEM_READY``."""

from __future__ import annotations

import os
import time
from pathlib import Path


def wait_for_system_packages(deadline: float = 600.0) -> None:
    """Until the apt-get call is over; at once without ``RETAILLAB_SYSTEM_READY`` (pytest run
    by hand). Past the deadline the caller goes on, and skips, saying why, where the package
    is still missing."""
    marker = os.environ.get("RETAILLAB_SYSTEM_READY")
    end = time.monotonic() + deadline
    while marker and not Path(marker).exists() and time.monotonic() < end:
        time.sleep(0.5)
