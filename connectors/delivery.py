"""The contract every delivery backend honours, built in or from a provider.

A backend sends one fully rendered message and reports what it knows. It never
decides about retries or duplicates: the digest ledger does, from the outcome.
It lives here, beside the connector contract, so that a provider package can
ship a backend (sending through the account's own mailbox) without importing
the worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from enum import StrEnum
from typing import Protocol


class DeliveryState(StrEnum):
    SENT = "sent"  # the receiving side accepted it for every recipient
    RETRY = "retry"  # definitely not accepted (4xx, connection refused before DATA): try later
    FAILED = "failed"  # definitely not accepted and retrying won't help (5xx, bad address)
    UNKNOWN = "unknown"  # may or may not have been accepted (disconnect after DATA)


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    state: DeliveryState
    detail: str = ""
    location: str | None = None  # where a file backend wrote it, for the user


class DeliveryBackend(Protocol):
    def send(self, message: EmailMessage) -> DeliveryOutcome: ...
