"""A real SMTP server on localhost (aiosmtpd) that records what it accepts, and can misbehave on purpose:
refuse named recipients, drop the connection when the n-th message's data arrives, require a login."""
from __future__ import annotations

import email
import socket
from email import policy

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Recorder:
    """aiosmtpd handler: keeps every accepted message as (envelope recipients, parsed message, raw bytes)."""

    def __init__(self, refuse=(), drop_at=()):
        self.refuse = {a.lower() for a in refuse}
        self.drop_at = set(drop_at)
        self.data_seen = 0
        self.accepted: list[tuple[list[str], email.message.EmailMessage, bytes]] = []
        self.logins: list[str] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.refuse:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.data_seen += 1
        if self.data_seen in self.drop_at:      # the line goes dead before the server says it accepted
            server.transport.close()
            return "421 gone"
        raw = envelope.original_content or envelope.content
        self.accepted.append((list(envelope.rcpt_tos), email.message_from_bytes(raw, policy=policy.default), raw))
        return "250 2.0.0 Message accepted for delivery"

    def by_org(self) -> dict[str, list]:
        out: dict[str, list] = {}
        for rcpts, msg, raw in self.accepted:
            org = dict(p.strip().split("=", 1) for p in msg["X-Trust-Survey"].split(";")[1:])["org"]
            out.setdefault(org, []).append((rcpts, msg, raw))
        return out


class Server:
    """Start with ``with Server(Recorder()) as srv:``; ``srv.url`` is smtp://127.0.0.1:<port>."""

    def __init__(self, handler: Recorder, *, user: str | None = None, password: str | None = None,
                 tls_context=None, require_starttls: bool = False):
        self.handler = handler
        self.port = free_port()
        kwargs = {}
        if user:
            def check(server, session, envelope, mechanism, auth_data):
                ok = auth_data.login.decode() == user and auth_data.password.decode() == password
                if ok:
                    handler.logins.append(user)
                return AuthResult(success=ok, handled=False)
            kwargs.update(authenticator=check, auth_require_tls=tls_context is not None)
        if tls_context is not None:
            kwargs.update(tls_context=tls_context, require_starttls=require_starttls)
        self.controller = Controller(handler, hostname="127.0.0.1", port=self.port, **kwargs)
        self.url = f"smtp://127.0.0.1:{self.port}"

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()
        return False
