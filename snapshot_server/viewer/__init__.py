"""The human page of a snapshot: ``GET /dashboard/snapshot/{key}`` draws the dashboard, no Grafana.

Charts are server-side SVG drawn from the data embedded in the snapshot; a small script of ours
(served from :data:`STATIC_DIR`) adds the hover readout. The page loads nothing from other hosts.
"""

from __future__ import annotations

from .render import (
    STATIC_DIR,
    content_security_policy,
    render_error_page,
    render_snapshot_page,
)

__all__ = ["STATIC_DIR", "content_security_policy", "render_error_page", "render_snapshot_page"]
