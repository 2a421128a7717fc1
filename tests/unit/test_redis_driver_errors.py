"""Which exceptions the Redis backend reads as "Redis failed us" (a 503, never a 500)."""

from __future__ import annotations

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from backends.redis.client import is_driver_error, unavailable
from snapshot_server.errors import StorageUnavailable

# What uvloop's transport raises when redis-py writes to a connection Redis has closed.
UVLOOP_CLOSED = RuntimeError(
    "unable to perform operation on <TCPTransport closed=True reading=False 0x1>; "
    "the handler is closed"
)


@pytest.mark.parametrize(
    "exc", [RedisConnectionError("gone"), ConnectionResetError(), TimeoutError(), UVLOOP_CLOSED]
)
def test_a_broken_connection_is_storage_unavailable(exc: Exception) -> None:
    assert is_driver_error(exc)
    with pytest.raises(StorageUnavailable), unavailable():
        raise exc


def test_other_runtime_errors_stay_bugs() -> None:
    bug = RuntimeError("coroutine is being awaited already")
    assert not is_driver_error(bug)
    with pytest.raises(RuntimeError), unavailable():
        raise bug
