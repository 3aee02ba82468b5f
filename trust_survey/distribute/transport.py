"""Hand messages over: as ``.eml`` files in an outbox folder, or to an SMTP server.

Credentials for the server come only from ``TRUST_SURVEY_SMTP_USER`` / ``TRUST_SURVEY_SMTP_PASSWORD``,
or else from the system keyring (service ``trust-survey``, the server's host name) when the ``keyring``
package is installed: never from the command line, and they are never written to the database or a log.
A password is only ever sent over TLS (``smtps://``, or STARTTLS on ``smtp://``), except to a server on
this computer.
"""
from __future__ import annotations

import os
import re
import smtplib
import socket
import ssl
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit

from trust_survey.atomic import write_atomic
from trust_survey.errors import TrustSurveyError

USER_VAR, PASSWORD_VAR = "TRUST_SURVEY_SMTP_USER", "TRUST_SURVEY_SMTP_PASSWORD"
KEYRING_SERVICE = "trust-survey"
LOOPBACK = {"localhost", "127.0.0.1", "::1"}
TIMEOUT = 60


class SmtpError(TrustSurveyError):
    """The SMTP server cannot be reached, refuses the login, or the URL is wrong."""

    code = "SND003"


class Disconnected(Exception):
    """The connection failed while a message was being handed over; it was not accepted."""


@dataclass
class Delivery:
    accepted: list[str]
    refused: dict[str, str] = field(default_factory=dict)   # address -> the server's reply
    where: str = ""


def eml_name(org_code: str, kind: str, round_: int, instrument_id: str, sequence: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{org_code}_{instrument_id}_{round_}_{kind}_{sequence}")
    return f"{safe}.eml"


class Outbox:
    """Write each message as an ``.eml`` file (opens in Outlook and Thunderbird ready to send)."""

    route = "outbox"

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def __enter__(self):
        self.folder.mkdir(parents=True, exist_ok=True)
        return self

    def __exit__(self, *exc):
        return False

    def deliver(self, msg: EmailMessage, name: str) -> Delivery:
        path = self.folder / name
        data = msg.as_bytes()
        write_atomic(path, lambda tmp: tmp.write_bytes(data), force=True)
        return Delivery(accepted=[], where=str(path))


def credentials(host: str) -> tuple[str, str] | None:
    """(user, password) from the environment, else the keyring; None when neither has them."""
    user, password = os.environ.get(USER_VAR, ""), os.environ.get(PASSWORD_VAR, "")
    if user and password:
        return user, password
    try:
        import keyring
    except ImportError:
        return None
    try:
        cred = keyring.get_credential(KEYRING_SERVICE, user or None)
    except Exception:  # noqa: BLE001 - no usable keyring backend is the same as no stored password
        return None
    if cred is not None and cred.password:
        return cred.username or user, cred.password
    return None


def parse_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of ``smtp://host[:port]`` or ``smtps://host[:port]``; SmtpError otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise SmtpError(f"--smtp {url!r}: expected smtp://host:port or smtps://host:port "
                        "(e.g. smtp://smtp.office365.com:587)", code="SND003")
    if parts.username or parts.password:
        raise SmtpError(f"--smtp: put no user name or password in the URL; set {USER_VAR} and {PASSWORD_VAR} "
                        "(or store them in the system keyring) instead", code="SND004")
    try:
        port = parts.port or (465 if parts.scheme == "smtps" else 587)
    except ValueError:
        raise SmtpError(f"--smtp {url!r}: the port is not a number", code="SND003") from None
    return parts.scheme, parts.hostname, port


class Pacer:
    """At most ``per_minute`` messages a minute: waits before each message until its turn."""

    def __init__(self, per_minute: float | None, clock=time.monotonic, sleep=time.sleep):
        self.gap = 60.0 / per_minute if per_minute else 0.0
        self.clock, self.sleep = clock, sleep
        self.next_at: float | None = None

    def wait(self) -> None:
        if not self.gap:
            return
        now = self.clock()
        if self.next_at is not None and now < self.next_at:
            self.sleep(self.next_at - now)
            now = self.next_at
        self.next_at = now + self.gap


class Smtp:
    """Send through an SMTP server: STARTTLS when offered (required before a login), login when
    credentials are set, one connection reused for every message and opened again if it drops."""

    route = "smtp"

    def __init__(self, url: str, per_minute: float | None = None, tls_context: ssl.SSLContext | None = None):
        self.scheme, self.host, self.port = parse_url(url)
        self.url = f"{self.scheme}://{self.host}:{self.port}"
        self.pacer = Pacer(per_minute)
        self.context = tls_context or ssl.create_default_context()
        self.conn: smtplib.SMTP | None = None

    def __enter__(self):
        return self   # connected at the first message, so a run with nothing to send needs no server

    def __exit__(self, *exc):
        self.close()
        return False

    def connect(self) -> None:
        try:
            if self.scheme == "smtps":
                conn = smtplib.SMTP_SSL(self.host, self.port, timeout=TIMEOUT, context=self.context)
            else:
                conn = smtplib.SMTP(self.host, self.port, timeout=TIMEOUT)
            # SMTP is many short exchanges; without this each can wait on the peer's delayed ACK (~40 ms)
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.ehlo()
            tls = self.scheme == "smtps"
            if not tls and conn.has_extn("starttls"):
                conn.starttls(context=self.context)
                conn.ehlo()
                tls = True
            cred = credentials(self.host)
            if cred:
                if not tls and not _is_local(self.host):
                    conn.close()
                    raise SmtpError(f"{self.url} offers no TLS, so the password would cross the network in clear; "
                                    "use smtps:// or a server that offers STARTTLS", code="SND005")
                conn.login(*cred)
        except smtplib.SMTPAuthenticationError as exc:
            raise SmtpError(f"{self.url} refused the login for the user in {USER_VAR} (the server said "
                            f"{exc.smtp_code}); check {USER_VAR} and {PASSWORD_VAR}", code="SND006") from None
        except (OSError, smtplib.SMTPException) as exc:
            if isinstance(exc, SmtpError):
                raise
            raise SmtpError(f"cannot connect to {self.url}: {exc}; check the host and port, and that this "
                            "computer may reach it", code="SND003") from None
        self.conn = conn

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.quit()
            except (OSError, smtplib.SMTPException):
                pass
            self.conn = None

    def deliver(self, msg: EmailMessage, name: str = "") -> Delivery:
        """Hand one message over; Disconnected when the connection failed before the server accepted it."""
        self.pacer.wait()
        if self.conn is None:
            self.connect()
        recipients = [a for h in ("To", "Cc") for a in _header_addresses(msg, h)]
        try:
            refused = self.conn.send_message(msg, to_addrs=recipients)
        except smtplib.SMTPRecipientsRefused as exc:
            return Delivery([], {a: _reply(r) for a, r in exc.recipients.items()}, self.url)
        except (smtplib.SMTPDataError, smtplib.SMTPSenderRefused) as exc:   # the server refused the message itself
            return Delivery([], {a: _reply((exc.smtp_code, exc.smtp_error)) for a in recipients}, self.url)
        except (smtplib.SMTPServerDisconnected, socket.timeout, OSError) as exc:
            self.conn = None
            raise Disconnected(str(exc) or type(exc).__name__) from None
        return Delivery([a for a in recipients if a not in refused], {a: _reply(r) for a, r in refused.items()},
                        self.url)


def _is_local(host: str) -> bool:
    """A server on this computer (a password sent to it never crosses a network)."""
    import ipaddress

    if host.lower() in LOOPBACK:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _header_addresses(msg: EmailMessage, header: str) -> list[str]:
    from email.utils import getaddresses

    return [a for _, a in getaddresses(msg.get_all(header, [])) if a]


def _reply(reply) -> str:
    code, text = reply
    return f"{code} {text.decode('utf-8', 'replace') if isinstance(text, bytes) else text}"
