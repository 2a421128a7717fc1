"""``RecordingPurger``: the test double of ``Purger`` (like httpx's ``MockTransport``). It
records every event it is asked to purge and succeeds, or fails as told, without any I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from aiohttp import ClientSession

from .base import Delivery, PurgeError, PurgeEvent


@dataclass(slots=True)
class _Recorded:
    purger: RecordingPurger
    event: PurgeEvent

    @property
    def target(self) -> str:
        return f"snapshot {self.event.key}"

    async def send(self, session: ClientSession) -> None:
        self.purger.attempts.append(self.event)
        if self.purger.failures:
            raise self.purger.failures.pop(0)
        self.purger.purged.append(self.event)


@dataclass(slots=True)
class RecordingPurger:
    """``purged``: events confirmed, in order; ``attempts``: every send. Each attempt first
    pops and raises the next of ``failures`` (``PurgeError``s) while any are left."""

    name: str = "recording[0]"
    max_attempts: int = 3
    failures: list[PurgeError] = field(default_factory=list)
    purged: list[PurgeEvent] = field(default_factory=list)
    attempts: list[PurgeEvent] = field(default_factory=list)

    def deliveries(self, events: Sequence[PurgeEvent]) -> list[Delivery]:
        return [_Recorded(self, event) for event in events]
