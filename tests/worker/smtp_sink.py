"""A real SMTP server on 127.0.0.1 (aiosmtpd) for the delivery tests, well- and ill-behaved."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Sink:
    """Accepts everything and keeps each message's bytes as received."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self._lock = threading.Lock()

    def keep(self, envelope: Any) -> None:
        with self._lock:
            self.messages.append(bytes(envelope.content))
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.keep(envelope)
        return "250 2.0.0 queued as 1234"


class RefuseRcpt(Sink):
    """Replies ``code`` to every RCPT TO."""

    def __init__(self, code: str) -> None:
        super().__init__()
        self.code = code

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          options: list[str]) -> str:
        return self.code


class RefuseData(Sink):
    """Takes the whole message, then answers the final dot with ``code``."""

    def __init__(self, code: str) -> None:
        super().__init__()
        self.code = code

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return self.code


class DropAfterData(Sink):
    """Receives the whole message, keeps it, and hangs up without replying (RFC 1047)."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.keep(envelope)
        server.transport.abort()
        return "250 never seen"


class SlowAfterData(Sink):
    """Receives the whole message and answers only after the client has timed out."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.keep(envelope)
        await asyncio.sleep(3)
        return "250 too late"


class DropOnMail(Sink):
    """Hangs up at MAIL FROM, before anything of the message was sent."""

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str,
                          options: list[str]) -> str:
        server.transport.abort()
        return "250 never seen"


@contextmanager
def smtp_server(handler: Sink, **kwargs: Any) -> Iterator[tuple[Sink, int]]:
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()
