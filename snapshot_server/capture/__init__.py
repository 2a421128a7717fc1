"""Server-side capture: a create's Prometheus queries run against configured datasources and
their results embedded in the dashboard the way Grafana's own snapshots embed them.

``model`` holds the shapes passed between the steps: ``plan`` (which queries, over which range
and step: pure, no I/O), the Prometheus client (I/O, caps), ``frames`` (a Prometheus answer to
Grafana data frames: pure) and ``embed`` (frames into the dashboard: pure).

The pure steps lean on ports of Grafana's own rules: ``timeparse`` (date math), ``interval``
(interval, step and alignment), ``variables`` and ``builtins`` (template variables in the
browser's and then the backend's pass), ``panels`` (the panel walk, datasource references),
``panel_time`` (a panel's time overrides) and ``browser`` (what the browser does to a panel's
frames before a snapshot stores them).
"""
