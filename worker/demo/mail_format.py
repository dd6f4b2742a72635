"""RFC 5322 text for one message and its mbox envelope (Google Takeout shape).

Headers are formatted by hand (the stdlib's EmailMessage is ~50x slower, and a
million messages must stream in about a minute). Non-ASCII names and subjects
are RFC 2047 encoded; bodies are escaped the mboxrd way.
"""

from __future__ import annotations

import re
from datetime import UTC
from email.header import Header
from email.utils import format_datetime
from functools import lru_cache

from peerpulse.worker.demo.model import Address, MailSpec

_SPECIALS = re.compile(r'[()<>\[\]:;@\\,."]')
_FROM_LINE = re.compile(r"^(>*From )", re.MULTILINE)


@lru_cache(maxsize=4096)
def _display(name: str) -> str:
    if not name:
        return ""
    if not name.isascii():
        return Header(name, "utf-8").encode()
    if _SPECIALS.search(name):
        escaped = name.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'
    return name


def address(addr: Address) -> str:
    shown = _display(addr.name)
    return f"{shown} <{addr.email}>" if shown else addr.email


def address_header(field: str, addrs: list[Address]) -> str:
    """One address header, folded before any address that would pass 78 columns."""
    line = f"{field}: "
    out: list[str] = []
    for i, addr in enumerate(addrs):
        text = address(addr) + ("," if i < len(addrs) - 1 else "")
        if i and len(line) + 1 + len(text) > 78:
            out.append(line)
            line = " " + text
        else:
            line = line + (" " if i else "") + text
    out.append(line)
    return "\n".join(out) + "\n"


@lru_cache(maxsize=4096)
def subject(text: str) -> str:
    if text.isascii():
        return text
    return Header(text, "utf-8").encode()


def escape_body(body: str) -> str:
    """mboxrd: a body line starting with any number of '>' then 'From ' gains one '>'."""
    return _FROM_LINE.sub(r">\1", body)


def envelope(mail: MailSpec, gm_id: int) -> str:
    """The mbox ``From `` separator line, as Google Takeout writes it."""
    return f"From {gm_id}@xxx {mail.date.astimezone(UTC):%a %b %d %H:%M:%S +0000 %Y}\n"


def render(mail: MailSpec, gm_id: int, reply_headers: bool = True) -> str:
    """The whole mbox entry for one message, ending with the blank separator line.

    ``reply_headers=False`` writes what exports like Enron's keep: no
    In-Reply-To, References or X-GM-THRID, so only a ``Re:`` subject tells a reply.
    """
    parts = [envelope(mail, gm_id)]
    if reply_headers:
        parts.append(f"X-GM-THRID: {mail.thread_id}\n")
    parts += [f"X-Gmail-Labels: {mail.labels}\n", "MIME-Version: 1.0\n",
              f"Date: {format_datetime(mail.date)}\n", f"Message-ID: <{mail.message_id}>\n"]
    if mail.in_reply_to and reply_headers:
        parts.append(f"In-Reply-To: <{mail.in_reply_to}>\n")
        parts.append("References: " + "\n ".join(f"<{r}>" for r in mail.references) + "\n")
    parts.append(f"Subject: {subject(mail.subject)}\n")
    parts.append(f"From: {address(mail.sender)}\n")
    if mail.to:
        parts.append(address_header("To", mail.to))
    if mail.cc:
        parts.append(address_header("Cc", mail.cc))
    if mail.bcc:
        parts.append(address_header("Bcc", mail.bcc))
    parts.extend(f"{key}: {value}\n" for key, value in mail.extra_headers)
    body = escape_body(mail.body.rstrip("\n") + "\n")
    if mail.calendar_part is None:
        charset = "us-ascii" if body.isascii() else "UTF-8"
        parts.append(f'Content-Type: text/plain; charset="{charset}"\n'
                     f"Content-Transfer-Encoding: {'7bit' if body.isascii() else '8bit'}\n\n")
        parts.append(body)
    else:
        boundary = f"000000000000{gm_id:016x}"[-28:]
        parts.append(f'Content-Type: multipart/mixed; boundary="{boundary}"\n\n')
        parts.append(f"--{boundary}\nContent-Type: text/plain; charset=\"UTF-8\"\n\n{body}\n")
        parts.append(f"--{boundary}\nContent-Type: text/calendar; charset=\"UTF-8\"; "
                     f"method={mail.calendar_method}\nContent-Transfer-Encoding: 7bit\n\n"
                     f"{escape_body(mail.calendar_part)}\n")
        parts.append(f"--{boundary}--\n")
    parts.append("\n")
    return "".join(parts)
