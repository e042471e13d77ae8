"""The live connect-time address check runs per session, before anything is opened."""

from __future__ import annotations

import socket

import pytest

from waycore.connectors.base import InstitutionUnavailable
from waycore.connectors.pool import BrowserPool

pytestmark = pytest.mark.browser


async def test_a_live_session_on_a_loopback_host_opens_nothing(pool: BrowserPool) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sentinel:
        sentinel.bind(("127.0.0.1", 0))
        sentinel.listen(8)
        sentinel.setblocking(False)
        url = f"http://localhost:{sentinel.getsockname()[1]}"
        active = pool.active
        with pytest.raises(InstitutionUnavailable):
            async with pool.session(url, live=True):
                raise AssertionError("a session was opened")  # pragma: no cover
        assert pool.active == active
        with pytest.raises(BlockingIOError):
            sentinel.accept()
        # the same pool serves a test connection on loopback
        async with pool.session(url) as bank:
            assert bank is not None
