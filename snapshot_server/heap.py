"""The garbage collector tuned for a server whose requests allocate many short-lived objects.

A create parses its dashboard into Python objects (hundreds of dicts and lists for a 20 KB
dashboard, ~100,000 for 1 MB) that all die with the request, by reference counting: the cycle
collector finds nothing in them. With CPython's defaults it still ran every 700 allocations,
scanning the dashboards in flight and promoting them, and so kept triggering full collections
over everything the process had loaded: a profile of POST /api/snapshots under load showed
``gc_collect_main`` at 24% of the server's CPU.
"""

from __future__ import annotations

import gc

# Objects allocated (less those freed) before the youngest generation is collected: larger than
# most dashboards' object count, so a request's objects are usually gone before a collection
# sees them. The older generations keep CPython's ratios.
YOUNG_THRESHOLD = 20_000


def settle() -> None:
    """Call once the application is loaded and its store open, before serving: what exists now
    (modules, the app, the connection pool) lives as long as the process, so it is moved out of
    the collector's sight (``gc.freeze``), and the youngest generation's threshold is raised.
    Cycles are still collected, only less often."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
