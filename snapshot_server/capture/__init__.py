"""Server-side capture: a create's Prometheus queries run against configured datasources and
their results embedded in the dashboard the way Grafana's own snapshots embed them.

``model`` holds the shapes passed between the steps: ``plan`` (which queries, over which range
and step: pure, no I/O), the Prometheus client (I/O, caps), ``frames`` (a Prometheus answer to
Grafana data frames: pure) and ``embed`` (frames into the dashboard: pure).
"""
