"""Any header mapping becomes a MessageMeta that keeps the privacy and Bcc promises."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from hypothesis import example, given
from hypothesis import strategies as st
from peerpulse.connectors.headers import message_meta_from_headers
from peerpulse.connectors.records import Direction

from tests.fuzz.budget import budget
from tests.fuzz.strategies import ADDRESSES, header_value

NAMES = (
    "from", "sender", "to", "cc", "bcc", "delivered-to", "subject", "message-id", "in-reply-to",
    "references", "list-id", "list-unsubscribe", "auto-submitted", "precedence", "content-type",
    "x-unknown",
)
OWNER = frozenset({"me@corp.example", "me2@corp.example"})
_HASHED = re.compile(r"sha256:[0-9a-f]{16}")

address_list = st.lists(st.sampled_from((*ADDRESSES, "me2@corp.example")), max_size=4).map(
    ", ".join
)
headers = st.dictionaries(
    st.sampled_from(NAMES), st.one_of(header_value, address_list), max_size=len(NAMES)
)
moments = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
)


@budget(400)
@given(headers, moments, st.sampled_from(["off", "hashed", "kept"]), st.booleans())
@example({"from": "lee@corp.example", "to": "me@corp.example", "bcc": "spy@corp.example"},
         datetime(2025, 1, 6, tzinfo=UTC), "kept", False)
@example({"subject": "=?UTF-8?Q?hi=0Athere?=", "from": "me@corp.example"},
         datetime(2025, 1, 6, tzinfo=UTC), "hashed", False)
@example({"subject": "\udcff"}, datetime(2025, 1, 6, tzinfo=UTC), "kept", True)
def test_any_header_mapping_maps_to_a_record_that_keeps_its_promises(
    fields: dict[str, str], timestamp: datetime, subjects: str, sent_label: bool
) -> None:
    record = message_meta_from_headers(
        fields,
        source_id="id-1",
        timestamp=timestamp,
        owner=OWNER,
        subjects=subjects,
        sent_label=sent_label,
    )
    assert record.timestamp.tzinfo is not None
    assert record.timestamp.utcoffset() == timedelta(0)
    if record.direction not in (Direction.SENT, Direction.SELF):
        assert record.bcc == ()
    if subjects == "off":
        assert record.subject is None
    elif subjects == "hashed" and record.subject is not None:
        assert _HASHED.fullmatch(record.subject)
    elif record.subject is not None:
        assert "\n" not in record.subject and "\r" not in record.subject
        record.subject.encode("utf-8")  # storable
    for address in (record.sender, *record.to, *record.cc, *record.bcc):
        if address is not None:
            assert address == address.lower() and "@" in address
    for value in (record.list_id, record.auto_submitted, record.precedence, record.sender_name):
        if value:
            assert "\n" not in value and "\r" not in value
            value.encode("utf-8")
