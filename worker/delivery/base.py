"""The delivery backend contract, defined in :mod:`connectors.delivery`.

Re-exported here for the worker's own backends (SMTP, file, stdout); a
provider's backend imports it from ``peerpulse.connectors.delivery``.
"""

from __future__ import annotations

from peerpulse.connectors.delivery import DeliveryBackend, DeliveryOutcome, DeliveryState

__all__ = ["DeliveryBackend", "DeliveryOutcome", "DeliveryState"]
