"""``heap.settle``: run in a fresh interpreter, since it changes the collector of the whole
process."""

from __future__ import annotations

import subprocess
import sys


def test_settle_freezes_what_is_loaded_and_raises_the_young_threshold() -> None:
    code = (
        "import gc\n"
        "from snapshot_server import heap\n"
        "before = gc.get_threshold()\n"
        "heap.settle()\n"
        "print(gc.get_freeze_count() > 1000, gc.get_threshold()[0] == heap.YOUNG_THRESHOLD,"
        " gc.get_threshold()[1:] == before[1:], gc.isenabled())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True", "True", "True"]
