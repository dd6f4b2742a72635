"""A fake on-premises Exchange server's EWS endpoint, served through ``responses``.

exchangelib speaks SOAP through requests, so a ``responses`` callback plays the
server: GetFolder (root and distinguished folders), FindItem with a
CalendarView (ids only), GetItem (calendar items and messages, only the
requested properties matter to exchangelib), SyncFolderItems with paged sync
states, ``ErrorServerBusy`` with ``BackOffMilliseconds``, and
``ErrorInvalidSyncStateData``. Violations fail the test: a request for a body,
or a request not using the configured credentials.

``faults`` (the fake Graph's seeded :class:`~tests.connectors.microsoft.fake_graph.Faults`
with :data:`EWS_FAULTS`) turns on a fault mode for chaos runs (issue 10): a share
of requests is answered ``ErrorServerBusy`` with ``BackOffMilliseconds``, a
503 from the front end, a read timeout or a connection reset (raised into
requests, as its adapter would), and a share of SyncFolderItems calls that
carry a sync state find it invalid.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

import requests

URL = "https://mail.contoso.local/EWS/Exchange.asmx"
NS = ('xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" '
      'xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"')
EWS_FAULTS = ("busy", "503", "timeout", "reset", "expired_sync")
FOLDERS = {"root": ("Folder", "IPF.Note"), "calendar": ("CalendarFolder", "IPF.Appointment"),
           "inbox": ("Folder", "IPF.Note"), "sentitems": ("Folder", "IPF.Note")}


def _envelope(body: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header>'
        '<h:ServerVersionInfo MajorVersion="15" MinorVersion="1" MajorBuildNumber="2507" '
        'MinorBuildNumber="6" Version="V2017_07_11" '
        'xmlns:h="http://schemas.microsoft.com/exchange/services/2006/types"/>'
        f"</s:Header><s:Body>{body}</s:Body></s:Envelope>"
    )


def _mailbox(address: str, name: str = "") -> str:
    return (f"<t:Mailbox><t:Name>{escape(name or address.split('@')[0])}</t:Name>"
            f"<t:EmailAddress>{escape(address)}</t:EmailAddress>"
            "<t:RoutingType>SMTP</t:RoutingType></t:Mailbox>")


@dataclass
class MailFolder:
    items: dict[str, tuple[int, dict[str, Any] | None]] = field(default_factory=dict)
    version: int = 0

    def put(self, message: dict[str, Any]) -> None:
        self.version += 1
        self.items[message["id"]] = (self.version, message)

    def delete(self, item_id: str) -> None:
        self.version += 1
        self.items[item_id] = (self.version, None)


class FakeEws:
    def __init__(self, username: str, password: str) -> None:
        self.auth = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
        self.events: dict[str, dict[str, Any]] = {}
        self.folders = {"inbox": MailFolder(), "sentitems": MailFolder()}
        self.ops: list[str] = []
        self.violations: list[str] = []
        self.busy = 0  # ErrorServerBusy answers still to give
        self.back_off_ms = 1000  # BackOffMilliseconds of an ErrorServerBusy answer
        self.expired_states: set[str] = set()
        self.issued = 0  # sync states handed out
        self.faults: Any = None  # a fake_graph.Faults over EWS_FAULTS: the chaos mode

    def install(self, rsps: Any) -> None:
        rsps.add_callback("POST", URL, callback=self._serve)

    def _serve(self, request: Any) -> tuple[int, dict[str, str], str]:
        if request.headers.get("Authorization") != self.auth:
            return 401, {}, ""
        body = request.body.decode() if isinstance(request.body, bytes) else request.body
        op = re.search(r"<s:Body><m:(\w+)", body).group(1)
        self.ops.append(op)
        if "item:Body" in body or "item:UniqueBody" in body or "TextBody" in body:
            self.violations.append(f"{op} asked for a body")
        kind = None
        if self.faults is not None:
            key = op + " " + hashlib.sha256(body.encode()).hexdigest()
            allowed = EWS_FAULTS if op == "SyncFolderItems" and "<m:SyncState>" in body else (
                tuple(k for k in EWS_FAULTS if k != "expired_sync"
                      and not (op == "GetFolder" and k == "busy")))
            kind = self.faults.draw(key, allowed)
        if kind == "timeout":
            raise requests.ReadTimeout("injected: read timed out")
        if kind == "reset":
            raise requests.ConnectionError(ConnectionResetError(104, "Connection reset by peer"))
        if kind == "503":
            return 503, {"Retry-After": "1"}, "<html><body>Service Unavailable</body></html>"
        if kind == "expired_sync":
            state = re.search(r"<m:SyncState>([^<]*)</m:SyncState>", body)
            if state:
                self.expired_states.add(state.group(1))
        if (self.busy > 0 or kind == "busy") and op != "GetFolder":
            if kind != "busy":
                self.busy -= 1
            return 500, {}, _envelope(
                '<s:Fault><faultcode xmlns:a="http://schemas.microsoft.com/exchange/services/2006'
                '/types">a:ErrorServerBusy</faultcode><faultstring>The server cannot service '
                "this request right now. Try again later.</faultstring><detail>"
                '<e:ResponseCode xmlns:e="http://schemas.microsoft.com/exchange/services/2006/'
                'errors">ErrorServerBusy</e:ResponseCode><e:Message xmlns:e="http://schemas.'
                'microsoft.com/exchange/services/2006/errors">busy</e:Message>'
                '<t:MessageXml xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">'
                f'<t:Value Name="BackOffMilliseconds">{self.back_off_ms}</t:Value>'
                "</t:MessageXml></detail></s:Fault>"
            )
        handler = getattr(self, "_" + op, None)
        if handler is None:
            return 500, {}, f"unexpected {op}"
        return 200, {"Content-Type": "text/xml; charset=utf-8"}, _envelope(handler(body))

    # -- operations ----------------------------------------------------------------------

    def _GetFolder(self, body: str) -> str:
        name = re.search(r'(?:DistinguishedFolderId|FolderId) Id="([^"]+)"', body).group(1)
        name = name.removesuffix("-id")
        tag, cls = FOLDERS[name]
        folder = (f'<t:{tag}><t:FolderId Id="{name}-id" ChangeKey="ck"/>'
                  f'<t:ParentFolderId Id="root-id" ChangeKey="ck"/><t:FolderClass>{cls}'
                  f"</t:FolderClass><t:DisplayName>{name}</t:DisplayName><t:TotalCount>0"
                  "</t:TotalCount><t:ChildFolderCount>0</t:ChildFolderCount><t:UnreadCount>0"
                  f"</t:UnreadCount></t:{tag}>")
        return (f"<m:GetFolderResponse {NS}><m:ResponseMessages><m:GetFolderResponseMessage "
                'ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:Folders>'
                f"{folder}</m:Folders></m:GetFolderResponseMessage></m:ResponseMessages>"
                "</m:GetFolderResponse>")

    def _FindItem(self, body: str) -> str:
        view = re.search(r'CalendarView[^>]*StartDate="([^"]+)" EndDate="([^"]+)"', body)
        start, end = view.group(1)[:19], view.group(2)[:19]
        ids = [e for e in self.events.values() if e["start"][:19] < end and e["end"][:19] > start]
        items = "".join(f'<t:CalendarItem><t:ItemId Id="{e["id"]}" '
                        f'ChangeKey="{e.get("ck", "ck1")}"/></t:CalendarItem>' for e in ids)
        return (f"<m:FindItemResponse {NS}><m:ResponseMessages><m:FindItemResponseMessage "
                'ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode>'
                f'<m:RootFolder TotalItemsInView="{len(ids)}" IncludesLastItemInRange="true">'
                f"<t:Items>{items}</t:Items></m:RootFolder></m:FindItemResponseMessage>"
                "</m:ResponseMessages></m:FindItemResponse>")

    def _GetItem(self, body: str) -> str:
        messages = []
        for item_id in re.findall(r'<t:ItemId Id="([^"]+)"', body):
            item = self.events.get(item_id) or self._message(item_id)
            if item is None:
                messages.append('<m:GetItemResponseMessage ResponseClass="Error"><m:MessageText>'
                                "The specified object was not found in the store.</m:MessageText>"
                                "<m:ResponseCode>ErrorItemNotFound</m:ResponseCode>"
                                "<m:DescriptiveLinkKey>0</m:DescriptiveLinkKey><m:Items/>"
                                "</m:GetItemResponseMessage>")
                continue
            xml = _event_xml(item) if item_id in self.events else _message_xml(item)
            messages.append('<m:GetItemResponseMessage ResponseClass="Success"><m:ResponseCode>'
                            f"NoError</m:ResponseCode><m:Items>{xml}</m:Items>"
                            "</m:GetItemResponseMessage>")
        return (f"<m:GetItemResponse {NS}><m:ResponseMessages>{''.join(messages)}"
                "</m:ResponseMessages></m:GetItemResponse>")

    def _message(self, item_id: str) -> dict[str, Any] | None:
        for folder in self.folders.values():
            held = folder.items.get(item_id)
            if held and held[1] is not None:
                return held[1]
        return None

    def _SyncFolderItems(self, body: str) -> str:
        name = re.search(r'FolderId Id="([^"]+)"', body).group(1).removesuffix("-id")
        folder = self.folders[name]
        state_match = re.search(r"<m:SyncState>([^<]*)</m:SyncState>", body)
        state = state_match.group(1) if state_match else ""
        if state in self.expired_states:
            return (f"<m:SyncFolderItemsResponse {NS}><m:ResponseMessages>"
                    '<m:SyncFolderItemsResponseMessage ResponseClass="Error"><m:MessageText>'
                    "Synchronization state data is corrupt or otherwise invalid.</m:MessageText>"
                    "<m:ResponseCode>ErrorInvalidSyncStateData</m:ResponseCode>"
                    "<m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>"
                    "</m:SyncFolderItemsResponseMessage></m:ResponseMessages>"
                    "</m:SyncFolderItemsResponse>")
        since = int(state.removeprefix("v").split("-")[0]) if state else 0
        limit = int(re.search(r"<m:MaxChangesReturned>(\d+)<", body).group(1))
        pending = sorted((v, i, m) for i, (v, m) in folder.items.items() if v > since)
        if not state:
            pending = [p for p in pending if p[2] is not None]  # a first sync lists what exists
        page, rest = pending[:limit], pending[limit:]
        changes = []
        for _v, item_id, message in page:
            if message is None:
                changes.append(f'<t:Delete><t:ItemId Id="{item_id}" ChangeKey="ck"/></t:Delete>')
            else:
                changes.append(f'<t:Create><t:Message><t:ItemId Id="{item_id}" ChangeKey="ck"/>'
                               "</t:Message></t:Create>")
        # a new opaque state each time (as Exchange's), so that an expired one never
        # comes back: the version it stands for, and an issue number
        self.issued += 1
        version = page[-1][0] if page else (since if state else folder.version)
        new_state = f"v{version}-{self.issued}"
        return (f"<m:SyncFolderItemsResponse {NS}><m:ResponseMessages>"
                '<m:SyncFolderItemsResponseMessage ResponseClass="Success"><m:ResponseCode>'
                f"NoError</m:ResponseCode><m:SyncState>{new_state}</m:SyncState>"
                f"<m:IncludesLastItemInRange>{'false' if rest else 'true'}"
                f"</m:IncludesLastItemInRange><m:Changes>{''.join(changes)}</m:Changes>"
                "</m:SyncFolderItemsResponseMessage></m:ResponseMessages>"
                "</m:SyncFolderItemsResponse>")


def _event_xml(e: dict[str, Any]) -> str:
    attendees = "".join(
        f"<t:Attendee>{_mailbox(a)}<t:ResponseType>{r}</t:ResponseType></t:Attendee>"
        for a, r in e.get("required", [])
    )
    return (f'<t:CalendarItem><t:ItemId Id="{e["id"]}" ChangeKey="{e.get("ck", "ck1")}"/>'
            f"<t:Subject>{escape(e['subject'])}</t:Subject>"
            f"<t:Sensitivity>{e.get('sensitivity', 'Normal')}</t:Sensitivity>"
            f"<t:UID>{e['id']}-uid</t:UID><t:Start>{e['start']}</t:Start><t:End>{e['end']}</t:End>"
            f"<t:IsAllDayEvent>{'true' if e.get('all_day') else 'false'}</t:IsAllDayEvent>"
            + (f'<t:StartTimeZone Id="{e["zone"]}"/><t:EndTimeZone Id="{e["zone"]}"/>'
               if e.get("zone") else "")
            + "<t:LegacyFreeBusyStatus>"
            f"{e.get('busy', 'Busy')}</t:LegacyFreeBusyStatus><t:IsCancelled>"
            f"{'true' if e.get('cancelled') else 'false'}</t:IsCancelled>"
            f"<t:CalendarItemType>{e.get('type', 'Single')}</t:CalendarItemType>"
            f"<t:MyResponseType>{e.get('mine', 'Organizer')}</t:MyResponseType>"
            f"<t:Organizer>{_mailbox(e['organizer'])}</t:Organizer>"
            f"<t:RequiredAttendees>{attendees}</t:RequiredAttendees></t:CalendarItem>")


def _message_xml(m: dict[str, Any]) -> str:
    def boxes(tag: str, addresses: list[str]) -> str:
        return f"<t:{tag}>{''.join(_mailbox(a) for a in addresses)}</t:{tag}>" if addresses else ""

    headers = "".join(f'<t:InternetMessageHeader HeaderName="{n}">{escape(v)}'
                      "</t:InternetMessageHeader>" for n, v in m.get("headers", {}).items())
    return (f'<t:Message><t:ItemId Id="{m["id"]}" ChangeKey="ck"/>'
            f"<t:ItemClass>{m.get('item_class', 'IPM.Note')}</t:ItemClass>"
            f"<t:Subject>{escape(m['subject'])}</t:Subject>"
            f"<t:DateTimeReceived>{m['received']}</t:DateTimeReceived>"
            + (f"<t:InternetMessageHeaders>{headers}</t:InternetMessageHeaders>" if headers else "")
            + f"<t:DateTimeSent>{m['received']}</t:DateTimeSent>"
            f"<t:IsDraft>{'true' if m.get('draft') else 'false'}</t:IsDraft>"
            + (f"<t:InReplyTo>{escape(m['in_reply_to'])}</t:InReplyTo>"
               if m.get("in_reply_to") else "")
            + f'<t:ConversationId Id="{m["conversation"]}"/>'
            f"<t:Sender>{_mailbox(m['from'])}</t:Sender>"
            + boxes("ToRecipients", m.get("to", []))
            + boxes("CcRecipients", m.get("cc", []))
            + f"<t:From>{_mailbox(m['from'])}</t:From>"
            f"<t:InternetMessageId>{escape(m['message_id'])}</t:InternetMessageId>"
            + (f"<t:References>{escape(m['references'])}</t:References>"
               if m.get("references") else "")
            + "</t:Message>")
