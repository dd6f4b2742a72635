"""Providers, delivery backends and auth commands, found through entry points.

A provider is one :class:`Provider` object published in the ``peerpulse.connectors``
entry point group of any installed distribution (the ecosystem's plugin
convention), so a provider can live in another package. It names:

- ``name``: the ``type`` written in ``[accounts.source]``;
- ``settings``: its pydantic model (derive :class:`ProviderSettings`; every key
  and default lives there, once; the worker adds the ``type`` tag);
- ``connector``: a factory ``(SourceContext, settings) -> Connector``, importing
  its client libraries lazily so that merely being installed costs nothing;
- ``auth`` (optional): the ``peerpulse auth <name>`` command;
- ``delivery`` (optional): a backend sending with the account's own mailbox.

Delivery backends and auth commands not tied to a source register alone in the
``peerpulse.delivery`` and ``peerpulse.auth`` groups (the built-in SMTP, file
and stdout backends do). Entry point names must equal the object's name.

This module imports no provider: it reads entry point metadata and imports the
(small) objects they point at. A plugin that fails to load is left out and
remembered in ``Registry.broken``, so the config error can say why; so is a
name two plugins claim (neither is used: which one to trust is not ours to guess).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Generic, TypeVar

from peerpulse.connectors.base import Connector, SourceContext
from peerpulse.connectors.delivery import DeliveryBackend
from peerpulse.connectors.settings import ProviderSettings, StrictSettings

log = logging.getLogger(__name__)

GROUP_CONNECTORS = "peerpulse.connectors"
GROUP_DELIVERY = "peerpulse.delivery"
GROUP_AUTH = "peerpulse.auth"

S = TypeVar("S", bound=ProviderSettings)
D = TypeVar("D", bound=StrictSettings)


@dataclass(frozen=True, slots=True)
class AuthRequest(Generic[S]):
    """One ``peerpulse auth <provider> --account NAME`` invocation."""

    account: str
    settings: S  # the account's [accounts.source], validated
    state_dir: Path  # tokens live under it
    base_dir: Path  # relative paths in the config resolve against it
    console: bool  # headless: print a URL, read the answer back; never open a browser
    send: bool  # the account delivers through this provider: ask for sending rights too
    say: Callable[[str], None]


@dataclass(frozen=True, slots=True)
class AuthCommand:
    """``peerpulse auth <provider>``: run an interactive flow, store a token, return its path.

    ``run`` raises :class:`connectors.base.ConnectorError` for problems the user
    fixes in the config (the message is shown with its ``hint``).
    """

    provider: str  # the source type it authorizes, and the subcommand's name
    title: str  # "Google": used in messages
    help: str
    run: Callable[[AuthRequest[Any]], Path]
    description: str = ""


@dataclass(frozen=True, slots=True)
class DeliveryRequest:
    """What a delivery backend may know about the account it sends for."""

    account: str
    owner: str
    source: ProviderSettings | None  # the account's [accounts.source]; None: not known
    state_dir: Path
    base_dir: Path
    resolve_path: Callable[[str | Path], Path]


class DeliveryUnusable(Exception):
    """This account cannot use the backend (e.g. no matching source); a config error."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


@dataclass(frozen=True, slots=True)
class Delivery(Generic[D]):
    """A delivery backend: ``type`` in ``[accounts.delivery]``, its model, its factory."""

    name: str
    settings: type[D]
    backend: Callable[[D, DeliveryRequest], DeliveryBackend]


@dataclass(frozen=True, slots=True)
class Provider(Generic[S]):
    """A source provider; see the module docstring for the contract."""

    name: str
    settings: type[S]
    connector: Callable[[SourceContext, S], Connector]
    auth: AuthCommand | None = None
    delivery: Delivery[Any] | None = None
    # What `peerpulse init --source NAME` writes as the account's [accounts.source]
    # table (commented TOML, header included) and the next step it prints; {account}
    # in init_next is the account name. None: init cannot set this provider up.
    init_source: str | None = None
    init_next: str = ""


@dataclass(frozen=True)
class Registry:
    providers: dict[str, Provider[Any]] = field(default_factory=dict)
    deliveries: dict[str, Delivery[Any]] = field(default_factory=dict)
    auth: dict[str, AuthCommand] = field(default_factory=dict)
    broken: dict[str, str] = field(default_factory=dict)  # name -> why it did not load


@functools.cache
def registry() -> Registry:
    """Everything installed, discovered once per process."""
    found = Registry()
    for ep, delivery in _load(GROUP_DELIVERY, Delivery, found.broken):
        _add(found.deliveries, ep, delivery, delivery.name, found.broken)
    for ep, auth in _load(GROUP_AUTH, AuthCommand, found.broken):
        _add(found.auth, ep, auth, auth.provider, found.broken)
    for ep, obj in _load(GROUP_CONNECTORS, Provider, found.broken):
        if _add(found.providers, ep, obj, obj.name, found.broken):
            if obj.auth is not None:
                _add(found.auth, ep, obj.auth, obj.auth.provider, found.broken)
            if obj.delivery is not None:
                _add(found.deliveries, ep, obj.delivery, obj.delivery.name, found.broken)
    return found


def _load(group: str, kind: type, broken: dict[str, str]) -> list[tuple[Any, Any]]:
    loaded = []
    seen: set[tuple[str, str]] = set()
    for ep in entry_points(group=group):
        if (ep.name, ep.value) in seen:  # one distribution seen twice on sys.path
            continue
        seen.add((ep.name, ep.value))
        try:
            obj = ep.load()
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not stop the others
            _refuse(broken, ep.name, f"{ep.value} failed to load: {type(exc).__name__}: {exc}")
            continue
        if not isinstance(obj, kind):
            _refuse(broken, ep.name, f"{ep.value} is not a {kind.__name__}")
        elif _name_of(obj) != ep.name:
            _refuse(broken, ep.name, f"{ep.value} is named {_name_of(obj)!r}; "
                    "the entry point must carry the same name")
        else:
            loaded.append((ep, obj))
    return loaded


def _name_of(obj: Any) -> str:
    return str(obj.provider if isinstance(obj, AuthCommand) else obj.name)


def _add(table: dict[str, Any], ep: Any, obj: Any, name: str, broken: dict[str, str]) -> bool:
    """Register ``obj``; a name claimed twice is refused for both (which to trust is unclear)."""
    if name in table and table[name] is not obj:
        _refuse(broken, name, f"registered twice, by {ep.value} and by another plugin; "
                "uninstall one of them")
        del table[name]
        return False
    if name in broken and broken[name].startswith("registered twice"):
        return False
    table[name] = obj
    return True


def _refuse(broken: dict[str, str], name: str, why: str) -> None:
    broken[name] = why
    log.warning("plugin %r not loaded: %s", name, why)


def provider(type_name: str) -> Provider[Any]:
    """The provider registered as ``type_name``; KeyError if none is."""
    return registry().providers[type_name]


def load_connector(type_name: str) -> Callable[[SourceContext, Any], Connector]:
    """The connector factory for ``type_name``; KeyError if unknown."""
    return provider(type_name).connector
