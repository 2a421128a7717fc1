"""The per-org caps of ``[limits]``: how many snapshots, and how many bytes of dashboards, one
org may hold (anonymous ``public_mode`` snapshots belong to org 1).

Checked by the service before each insert, against ``SnapshotStore.org_usage``. The caps are
soft: creates racing each other near a cap are each checked before any of them is stored, so
together they may pass it by the number running at once (bounded in turn by the rate limits).
"""

from __future__ import annotations

from ..errors import PayloadTooLarge, TooManyRequests
from ..storage import SnapshotStore
from .rates import OnLimited
from .settings import LimitsSettings


class OrgCaps:
    def __init__(self, max_snapshots: int, max_bytes: int, on_limited: OnLimited) -> None:
        self.max_snapshots = max_snapshots
        self.max_bytes = max_bytes
        self._on_limited = on_limited

    @classmethod
    def from_settings(
        cls, settings: LimitsSettings, on_limited: OnLimited = lambda _: None
    ) -> OrgCaps | None:
        """The caps ``settings`` ask for; ``None`` when limits are off or both caps are 0."""
        snapshots, size = settings.max_snapshots_per_org, settings.max_bytes_per_org
        if not settings.enabled or not (snapshots or size):
            return None
        return cls(snapshots, size, on_limited)

    async def check(self, store: SnapshotStore, org_id: int, size: int, now: float) -> None:
        """Raise unless org ``org_id`` has room for one more snapshot of ``size`` bytes:
        ``TooManyRequests`` (429) at the snapshot cap, ``PayloadTooLarge`` (413) past the byte
        cap, each naming the cap."""
        usage = await store.org_usage(org_id, now)
        if self.max_snapshots and usage.snapshots >= self.max_snapshots:
            self._on_limited("max_snapshots_per_org")
            raise TooManyRequests(
                f"Too many snapshots: the cap is {self.max_snapshots} snapshots per organization"
                " (limits.max_snapshots_per_org); delete some or wait for some to expire"
            )
        if self.max_bytes and usage.bytes + size > self.max_bytes:
            self._on_limited("max_bytes_per_org")
            raise PayloadTooLarge(
                f"Too much stored: the cap is {self.max_bytes} bytes of dashboards per"
                f" organization (limits.max_bytes_per_org), and this snapshot is {size} bytes"
            )
