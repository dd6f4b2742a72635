"""Delivery backends: one ``send(message) -> DeliveryOutcome`` shape for all.

``make_backend`` maps the config's ``type`` to a registered backend (the
built-in ones in :mod:`.builtin`, a provider's through its entry point; see
:mod:`connectors.registry`). Backends are imported lazily, so a provider's
libraries load only for those who configure it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from peerpulse.connectors.registry import DeliveryRequest, DeliveryUnusable, registry
from peerpulse.worker.delivery.base import DeliveryBackend, DeliveryOutcome, DeliveryState
from peerpulse.worker.errors import ConfigError

if TYPE_CHECKING:  # worker.config builds its models from the registry, which loads this
    from peerpulse.worker.config import AccountConfig, Settings

PathResolver = Callable[[str | Path], Path]

__all__ = ["DeliveryBackend", "DeliveryOutcome", "DeliveryState", "make_backend"]


def make_backend(
    config: object,
    *,
    owner: str,
    resolve_path: PathResolver,
    account: AccountConfig | None = None,
    settings: Settings | None = None,
) -> DeliveryBackend:
    """The backend an account's ``[delivery]`` table asks for.

    ``account`` and ``settings`` (the account's and the whole config) let a
    provider's backend send with the account's own credentials; without them
    such a backend is refused as a config error.
    """
    kind = str(getattr(config, "type", None))
    found = registry()
    delivery = found.deliveries.get(kind)
    if delivery is None:
        why = found.broken.get(kind)
        raise ConfigError(
            f"the {kind!r} delivery backend is not available in this installation ({why})"
            if why
            else f"unknown delivery type {kind!r}; known: {', '.join(found.deliveries)}",
            key="delivery.type",
        )
    request = DeliveryRequest(
        account=account.name if account is not None else owner,
        owner=owner,
        source=account.source if account is not None else None,
        state_dir=settings.state_path if settings is not None else Path("."),
        base_dir=settings.base_dir if settings is not None else Path("."),
        resolve_path=resolve_path,
    )
    try:
        return delivery.backend(config, request)
    except DeliveryUnusable as exc:
        raise ConfigError(str(exc), key="delivery.type", hint=exc.hint) from None
    except ModuleNotFoundError as exc:
        raise ConfigError(
            f"the {kind!r} delivery backend is not available in this installation ({exc.name})",
            key="delivery.type",
        ) from None
