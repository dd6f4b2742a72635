"""Hostile-but-plausible inputs shared by the fuzz properties.

Pure random text rarely reaches the interesting branches (encoded words,
groups, comments, quoted names), so header values are built from fragments a
real attacker or a broken exporter would use, mixed with arbitrary characters
(lone surrogates included: JSON payloads can carry them).
"""

from __future__ import annotations

from hypothesis import strategies as st

# Every code point, lone surrogates and C0/C1 controls included.
ANY_CHAR = st.characters(exclude_categories=())
any_text = st.text(ANY_CHAR, max_size=60)

ADDRESSES = (
    "me@corp.example", "Me@Corp.Example", "lee@corp.example", "ana@corp.example",
    "noreply@vendor.example", "x@y",
)
FRAGMENTS = (
    *ADDRESSES, ",", ", ", ";", ":", "<", ">", "<>", "\"", "\\", "(", ")", "@", "@@", " ",
    "\t", "\r", "\n", "\r\n", "\r\n ", "\x00", "\x85", "\u2028", "\x9b", "mailto:", "MAILTO:",
    "=?", "?=", "=?utf-8?q?", "=?UTF-8?B?", "=?iso-8859-1?q?", "=?bogus-charset?q?x?=",
    "=?utf-8?q?J=C3=BCrgen_M=C3=BCller?=", "=?UTF-8?Q?hi=0Athere?=", "=?utf-8?b?////?=",
    "=?utf-8?b?4pyTIMOgIGxhIG1vZGU=?=", "=0A", "=0D", "_", "\"Doe, John\" <jd@corp.example>",
    "undisclosed-recipients:;", "Team: a@corp.example, b@corp.example;", "bad@@example",
    "alice@example.org(<bob@example.org>", "<id@host>", "<a@b> <c@d>", "\udcff", "\ud800",
    "İ", "ß", "\u0130@EXAMPLE.COM", "Ω@Ω", "ﬀ@x",
)
fragment = st.sampled_from(FRAGMENTS)
header_value = st.lists(st.one_of(fragment, fragment, any_text), max_size=12).map("".join)


def _huge(piece: str, times: int) -> str:
    return piece * times


huge_value = st.builds(
    _huge,
    st.sampled_from(["a@b.example, ", "(", "\"", "=?utf-8?q?x?= ", "<", "\\", "a" * 64, ":"]),
    st.integers(1000, 20000),
)
