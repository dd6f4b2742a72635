"""Delivery backends: one ``send(message) -> DeliveryOutcome`` shape for all.

``make_backend`` maps the config's ``type`` to a backend. Backends are imported
lazily, so a provider's libraries load only for those who configure it; a new
backend is a new module plus one line in ``_BACKENDS``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from peerpulse.worker.delivery.base import DeliveryBackend, DeliveryOutcome, DeliveryState
from peerpulse.worker.errors import ConfigError

PathResolver = Callable[[str | Path], Path]

__all__ = ["DeliveryBackend", "DeliveryOutcome", "DeliveryState", "make_backend"]

# type -> "module:factory"; a factory takes (config, owner=..., resolve_path=...).
_BACKENDS = {
    "smtp": "peerpulse.worker.delivery:_smtp",
    "file": "peerpulse.worker.delivery:_file",
    "stdout": "peerpulse.worker.delivery:_stdout",
    "gmail": "peerpulse.worker.delivery.gmail:make_gmail_backend",
    "graph": "peerpulse.worker.delivery.graph:make_graph_backend",
}


def make_backend(
    config: Any,
    *,
    owner: str,
    resolve_path: PathResolver,
    account: Any = None,
    settings: Any = None,
) -> DeliveryBackend:
    """The backend an account's ``[delivery]`` table asks for.

    ``account`` and ``settings`` are given to backends that send with the
    account's own provider credentials (gmail); the others ignore them.
    """
    kind = getattr(config, "type", None)
    target = _BACKENDS.get(str(kind))
    if target is None:
        raise ConfigError(f"unknown delivery type {kind!r}; known: {', '.join(_BACKENDS)}",
                          key="delivery.type")
    module_name, _, factory_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise ConfigError(
            f"the {kind!r} delivery backend is not available in this installation ({exc.name})",
            key="delivery.type",
        ) from None
    factory = getattr(module, factory_name, None)
    if factory is None:
        raise ConfigError(f"the {kind!r} delivery backend is not wired in ({target} is missing)",
                          key="delivery.type")
    if kind in ("gmail", "graph"):
        backend: DeliveryBackend = factory(
            config, owner=owner, resolve_path=resolve_path, account=account, settings=settings
        )
    else:
        backend = factory(config, owner=owner, resolve_path=resolve_path)
    return backend


def _smtp(config: Any, *, owner: str, resolve_path: PathResolver) -> DeliveryBackend:
    from peerpulse.worker.delivery.smtp import SmtpBackend

    return SmtpBackend(config)


def _file(config: Any, *, owner: str, resolve_path: PathResolver) -> DeliveryBackend:
    from peerpulse.worker.delivery.files import FileBackend

    return FileBackend(resolve_path(config.dir))


def _stdout(config: Any, *, owner: str, resolve_path: PathResolver) -> DeliveryBackend:
    from peerpulse.worker.delivery.stdout import StdoutBackend

    return StdoutBackend(config.format)
