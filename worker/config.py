"""The user's config: a TOML file plus ``PEERPULSE_*`` environment overrides.

Found at ``--config``, then ``$PEERPULSE_CONFIG``, then
``$XDG_CONFIG_HOME/peerpulse/config.toml``. Validated with pydantic; every
problem becomes one :class:`ConfigError` naming the file, line and key. Secrets
are never accepted inline: a password is a reference to an environment
variable or a file (systemd ``LoadCredential=`` puts one in
``$CREDENTIALS_DIRECTORY``).

Environment variables override the file, nested with ``__``:
``PEERPULSE_STATE_DIR=/var/lib/peerpulse``, ``PEERPULSE_PRIVACY__SUBJECTS=off``.
"""

from __future__ import annotations

import difflib
import functools
import os
import re
import tomllib
from collections import Counter
from datetime import time as dtime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from peerpulse.connectors.registry import registry
from peerpulse.connectors.settings import ProviderSettings, StrictSettings
from peerpulse.connectors.settings import SecretRef as BaseSecretRef
from peerpulse.rules.tomlpos import format_path, key_line
from peerpulse.worker import paths
from peerpulse.worker.errors import ConfigError
from peerpulse.worker.secrets import SecretRef as SecretRef  # re-exported for callers
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseConfig(_Strict):
    """Organization mode's shared PostgreSQL (docs/ORGANIZATION.md). Absent: the
    single-manager SQLite file under ``state_dir``, the default."""

    url: str
    password: SecretRef | None = None
    pool_size: int = Field(default=4, ge=1, le=64)

    @model_validator(mode="before")
    @classmethod
    def _from_url(cls, value: Any) -> Any:
        return {"url": value} if isinstance(value, str) else value  # database = "postgresql://…"

    @field_validator("url")
    @classmethod
    def _postgres_without_password(cls, url: str) -> str:
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        if parts.scheme not in ("postgresql", "postgres"):
            raise ValueError("must be a postgresql://user@host/dbname URL")
        if parts.password:
            raise ValueError(
                "the URL must not hold the password; give it by reference: "
                '[database] password = { env = "PEERPULSE_DB_PASSWORD" } or { file = "..." }'
            )
        return url


class PrivacyConfig(_Strict):
    subjects: Literal["off", "hashed", "kept"] = "kept"
    retention_days: int = Field(default=400, ge=30, le=3650)
    # One run never purges more than this share of an account's events and
    # messages (issue 10, item 1): a larger purge is refused loudly instead.
    max_purge_share: float = Field(default=0.5, gt=0, le=1)


@functools.cache
def _tagged(name: str, model: type[BaseModel]) -> type[BaseModel]:
    """``model`` with the ``type = "<name>"`` tag that picks it out of the union."""
    tag: Any = Literal[name]
    return create_model(
        f"{model.__name__}[{name}]", __base__=model, type=(tag, ...)
    )


def _union(members: list[type[BaseModel]]) -> Any:
    """The discriminated union of tagged models, or the single model if there is one."""
    if len(members) == 1:
        return members[0]
    return Annotated[Union[tuple(members)], Field(discriminator="type")]  # noqa: UP007


def _tag_all(models: dict[str, type[BaseModel]]) -> dict[str, type[BaseModel]]:
    """Each model tagged with its name, sorted by name, so that messages listing
    them do not depend on install order."""
    return {name: _tagged(name, model) for name, model in sorted(models.items())}


if TYPE_CHECKING:
    # The unions below are built at run time from the installed plugins, so the
    # type checker cannot see their members. What every member is, statically: a
    # provider's settings model (a delivery backend's) with the `type` tag that
    # _tagged adds.
    class SourceConfig(ProviderSettings):
        type: str

    class DeliveryConfig(StrictSettings):
        type: str


_REGISTRY = registry()
# Every installed provider's [accounts.source] model and every delivery backend's
# [accounts.delivery] model, tagged with its name (see connectors.registry).
SOURCE_MODELS = _tag_all({n: p.settings for n, p in _REGISTRY.providers.items()})
DELIVERY_MODELS = _tag_all({n: d.settings for n, d in _REGISTRY.deliveries.items()})
if not TYPE_CHECKING:
    SourceConfig = _union(list(SOURCE_MODELS.values()))
    DeliveryConfig = _union(list(DELIVERY_MODELS.values()))
# The built-in backends (always registered), as members of DeliveryConfig.
SmtpDelivery = cast("type[DeliveryConfig]", DELIVERY_MODELS["smtp"])
FileDelivery = cast("type[DeliveryConfig]", DELIVERY_MODELS["file"])
StdoutDelivery = cast("type[DeliveryConfig]", DELIVERY_MODELS["stdout"])


class DigestConfig(_Strict):
    recipient: str | None = None  # defaults to the account owner
    day: Literal[WEEKDAYS] = "monday"  # type: ignore[valid-type]
    time: dtime = dtime(7, 0)
    send_empty: bool = False  # send "nothing to do this week" rather than nothing
    attach_hold: bool = True  # attach an .ics hold for the peer of the week's first slot
    working_hours: tuple[dtime, dtime] = (dtime(9, 0), dtime(17, 0))
    working_days: list[Literal[WEEKDAYS]] = list(WEEKDAYS[:5])  # type: ignore[valid-type]
    resend_unknown: bool = False  # after a crash mid-send, resend with the same Message-ID
    # a source failed this run: "send" the digest from its last stored data with a
    # visible note naming the stale source (exit 1), or "hold" it until the sync works
    on_source_failure: Literal["send", "hold"] = "send"
    # the very first digest waits (a preview is written instead) until the directory
    # names at least this many peers and the owner appears in the records; 0: never wait
    min_peers: int = Field(default=3, ge=0)

    @field_validator("working_hours", mode="before")
    @classmethod
    def _parse_hours(cls, value: Any) -> Any:
        if isinstance(value, str) and "-" in value:
            start, _, end = value.partition("-")
            return (start.strip(), end.strip())
        return value


class AccountConfig(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    owner: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    aliases: list[str] = []
    timezone: str = "UTC"
    source: SourceConfig
    digest: DigestConfig = DigestConfig()
    delivery: DeliveryConfig = FileDelivery(type="file")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return _check_zone(value)

    @property
    def zone(self) -> ZoneInfo:
        """The account's time zone as a ``ZoneInfo``, for every caller in worker/.

        Validated above; ``ZoneInfo`` keeps one instance per key, so this is the same
        object on every call. A plain property rather than a cached one: a cached
        value would survive ``model_copy(update={"timezone": ...})`` and go stale.
        """
        return ZoneInfo(self.timezone)

    @field_validator("owner", "aliases")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        if isinstance(value, str):
            return value.strip().lower()
        return [v.strip().lower() for v in value]

    @property
    def owner_addresses(self) -> frozenset[str]:
        return frozenset([self.owner, *self.aliases])

    @property
    def recipient(self) -> str:
        return self.digest.recipient or self.owner


#: The store account under which organization mode keeps the organization's one
#: directory. Account names start with a letter or digit, so none can take it.
DIRECTORY_ACCOUNT = "_directory"
_EMAIL = r"^[^@\s]+@[^@\s]+$"


def _check_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {value!r} (use an IANA name like 'Europe/Berlin')"
        ) from None
    return value


class DirectoryConfig(_Strict):
    """``[organization.directory]``: the organization's directory, synced once for
    every manager (any provider whose connector offers a directory source: a
    directory API with domain-wide delegation, or a people file).

    ``admin`` is whom the source reads as (a service account's delegated subject)
    and the owner of the store's directory rows."""

    admin: str = Field(pattern=_EMAIL)
    source: SourceConfig
    timezone: str = "UTC"

    _zone = field_validator("timezone")(_check_zone)

    def account(self) -> AccountConfig:
        """The pseudo-account the directory is synced under (``DIRECTORY_ACCOUNT``).

        Built without validation: its name is the one no configured account can
        have, which is what keeps the directory's rows apart from every mailbox's."""
        return AccountConfig.model_construct(
            name=DIRECTORY_ACCOUNT, owner=self.admin.strip().lower(), aliases=[],
            timezone=self.timezone, source=self.source, digest=DigestConfig(),
            delivery=FileDelivery(type="file"),
        )


class ManagerTemplate(_Strict):
    """``[organization.template]``: what every enrolled manager's account gets
    (``org enroll``); ``name`` and ``owner`` come from the directory."""

    timezone: str = "UTC"
    source: SourceConfig
    digest: DigestConfig = DigestConfig()
    delivery: DeliveryConfig = FileDelivery(type="file")

    _zone = field_validator("timezone")(_check_zone)


class ManagerOverride(_Strict):
    """``[organization.overrides."lee@example.com"]``: one manager differs from the template."""

    disabled: bool = False  # never enrolled (or deactivated at the next enroll)
    recipient: str | None = Field(default=None, pattern=_EMAIL)  # digest goes here instead
    day: Literal[WEEKDAYS] | None = None  # type: ignore[valid-type]
    time: dtime | None = None
    timezone: str | None = None
    people: list[str] = []  # extra people files (CSV/TOML) layered over the directory

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        return None if value is None else _check_zone(value)


class JobRetention(_Strict):
    """``[organization.job_retention]``: how long finished task-queue jobs are kept.

    Why: Procrastinate keeps every finished job (and its events) for good; at
    100,000 managers the hourly ticks finish about 2.4 million jobs a day. Succeeded
    jobs are only history; failed ones (and cancelled or aborted) are what an
    administrator looks into, so they are kept longer."""

    succeeded_days: int = Field(default=7, ge=1, le=3650)
    failed_days: int = Field(default=30, ge=1, le=3650)  # also cancelled and aborted


class OrganizationConfig(_Strict):
    """``[organization]``: one directory for everyone, and enrollment from it
    (docs/ORGANIZATION.md). Needs ``[database]``."""

    directory: DirectoryConfig | None = None
    template: ManagerTemplate | None = None
    opt_out: list[str] = []  # addresses never enrolled
    opt_out_file: str | None = None  # one address a line, '#' comments
    overrides: dict[str, ManagerOverride] = {}
    job_retention: JobRetention = JobRetention()

    @field_validator("opt_out")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if not re.match(_EMAIL, v.strip())]
        if bad:
            raise ValueError(f"not an email address: {bad[0]!r}")
        return [v.strip().lower() for v in value]

    @field_validator("overrides")
    @classmethod
    def _override_keys(cls, value: dict[str, ManagerOverride]) -> dict[str, ManagerOverride]:
        bad = [k for k in value if not re.match(_EMAIL, k.strip())]
        if bad:
            raise ValueError(f"overrides are keyed by the manager's email address, not {bad[0]!r}")
        return {k.strip().lower(): v for k, v in value.items()}


class Settings(BaseSettings):
    """The whole config. Field names are the TOML keys."""

    model_config = SettingsConfigDict(
        env_prefix="PEERPULSE_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    state_dir: Path | None = None
    database: DatabaseConfig | None = None  # organization mode: a postgresql:// URL
    rules: list[Path] = []  # user rule files layered over rules/default.toml, in order
    privacy: PrivacyConfig = PrivacyConfig()
    organization: OrganizationConfig | None = None  # organization mode: directory, enrollment
    accounts: list[AccountConfig] = Field(default_factory=list)

    # Where the file was read from; relative paths in it resolve against its folder.
    source_file: Path | None = Field(default=None, exclude=True)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment overrides the file: order is priority, first wins.
        return (env_settings, init_settings)

    @model_validator(mode="after")
    def _some_account(self) -> Settings:
        enrolls = self.organization is not None and self.organization.template is not None
        if not self.accounts and not enrolls:
            raise ValueError(
                "no [[accounts]]: add at least one account (or, in organization mode, an "
                "[organization.template] for `peerpulse org enroll`)"
            )
        if self.organization is not None and self.database is None:
            raise ValueError("[organization] needs a shared database: add [database] url = "
                             '"postgresql://user@host/dbname"')
        return self

    @model_validator(mode="after")
    def _unique_names(self) -> Settings:
        dupes = duplicate_names([a.name for a in self.accounts])
        if dupes:
            raise ValueError(f"account names must be unique; repeated: {', '.join(dupes)}")
        return self

    @property
    def base_dir(self) -> Path:
        return self.source_file.parent if self.source_file else Path.cwd()

    def resolve_path(self, value: str | Path) -> Path:
        """A path from the config: ``~`` expanded, relative ones against the config's folder."""
        path = Path(os.path.expanduser(str(value)))
        return path if path.is_absolute() else self.base_dir / path

    @property
    def state_path(self) -> Path:
        return self.resolve_path(self.state_dir) if self.state_dir else paths.state_dir()

    @property
    def database_path(self) -> Path:
        return self.state_path / "peerpulse.sqlite3"

    def account(self, name: str) -> AccountConfig:
        for account in self.accounts:
            if account.name == name:
                return account
        raise ConfigError(
            f"no account named {name!r}; known: {', '.join(a.name for a in self.accounts)}"
        )


def duplicate_names(names: list[str]) -> list[str]:
    """The names listed more than once, sorted. One count for all (a ``names.count``
    per name was quadratic: 46 ms of a 1,000-account config, seconds at 10,000)."""
    return sorted(name for name, seen in Counter(names).items() if seen > 1)


def find_config_file(explicit: str | None) -> Path:
    """--config, then $PEERPULSE_CONFIG, then the XDG default."""
    candidate = explicit or os.environ.get("PEERPULSE_CONFIG")
    path = Path(os.path.expanduser(candidate)) if candidate else paths.default_config_file()
    if not path.is_file():
        how = (
            "--config" if explicit else "PEERPULSE_CONFIG" if candidate else "the default location"
        )
        raise ConfigError(
            f"config file not found (from {how})",
            file=str(path),
            hint=f"copy config.example.toml to {paths.default_config_file()} and edit it, "
            "or pass --config PATH",
        )
    return path


def load_settings(path: Path) -> Settings:
    """Read, parse and validate the config file; ConfigError on any problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read: {exc}", file=str(path)) from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"invalid TOML: {exc}", file=str(path), line=toml_error_line(exc)
        ) from None
    # The table becomes keyword arguments: "source_file" would be passed twice, and
    # BaseSettings reads "_env_file", "_secrets_dir"... as its own options.
    reserved = sorted(k for k in data if k == "source_file" or k.startswith("_"))
    if reserved:
        raise ConfigError(
            "unknown key", file=str(path), line=key_line(text, (reserved[0],)), key=reserved[0]
        )
    try:
        return Settings(**data, source_file=path)
    except ValidationError as exc:
        raise _explain(exc, path, text, data) from None


def toml_error_line(exc: tomllib.TOMLDecodeError) -> int | None:
    """tomllib puts the position in the message before Python 3.14 added ``lineno``."""
    line = getattr(exc, "lineno", None)
    if line is None:
        match = re.search(r"line (\d+)", str(exc))
        line = int(match.group(1)) if match else None
    return line


def _explain(exc: ValidationError, path: Path, text: str, data: dict[str, Any]) -> ConfigError:
    """Turn pydantic's first error into one message naming file, line and key."""
    error = exc.errors()[0]
    loc = _clean_loc(error["loc"], data)
    key = format_path(loc) or "(top level)"
    line = key_line(text, loc)
    kind = error["type"]
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1], data)
        name = str(loc[-1]) if loc else ""
        message = "unknown key"
        close = difflib.get_close_matches(name, allowed, n=1)
        if close:
            message += f" (did you mean {close[0]!r}?)"
        elif allowed:
            message += f"; allowed here: {', '.join(sorted(allowed))}"
        if name in {"password", "secret", "token", "client_secret", "api_key"}:
            message += '; secrets are never written inline: use {env = "VAR"} or {file = "path"}'
    elif kind == "missing":
        message = "required key is missing"
    elif kind == "union_tag_invalid" and _REGISTRY.broken.get(str(error["ctx"]["tag"])):
        tag = str(error["ctx"]["tag"])
        message = f"the {tag!r} plugin is installed but did not load: {_REGISTRY.broken[tag]}"
    elif loc and loc[-1] in _SECRET_KEYS and isinstance(error.get("input"), str):
        message = 'secrets are never written inline: use {env = "VARIABLE"} or {file = "path"}'
    else:
        message = error["msg"].removeprefix("Value error, ")
    count = len(exc.errors())
    more = f" (and {count - 1} more problem{'s' if count > 2 else ''})" if count > 1 else ""
    from_env = _env_key(loc)
    if from_env and from_env in os.environ:
        return ConfigError(message + more, file=f"environment {from_env}", key=key)
    return ConfigError(message + more, file=str(path), line=line, key=key)


_UNION_TAGS = set(SOURCE_MODELS) | set(DELIVERY_MODELS)


def _secret_keys(models: list[type[BaseModel]]) -> set[str]:
    """The keys whose value is a SecretRef: a plain string there is an inline secret."""
    import typing

    def mentions_secret(tp: Any) -> bool:
        if isinstance(tp, type) and issubclass(tp, BaseSecretRef):
            return True
        return any(mentions_secret(arg) for arg in typing.get_args(tp))

    return {
        name
        for model in models
        for name, info in model.model_fields.items()
        if mentions_secret(info.annotation)
    }


_SECRET_KEYS = _secret_keys([*SOURCE_MODELS.values(), *DELIVERY_MODELS.values()])


def _clean_loc(loc: tuple[Any, ...], data: dict[str, Any]) -> tuple[str | int, ...]:
    """Drop pydantic's union-tag segments ('files', 'smtp') that are not real keys."""
    out: list[str | int] = []
    node: Any = data
    for part in loc:
        # A discriminator tag inserted by pydantic; the key path continues below it.
        tagged = isinstance(node, dict) and isinstance(part, str) and part not in node and out
        if tagged and part in _UNION_TAGS:
            continue
        out.append(part)
        if isinstance(node, dict):
            node = node.get(part) if isinstance(part, str) else None
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            node = None
    return tuple(out)


def _allowed_keys(parent: tuple[str | int, ...], data: dict[str, Any]) -> list[str]:
    model: Any = Settings
    node: Any = data
    for part in parent:
        if isinstance(part, int):
            node = node[part] if isinstance(node, list) and part < len(node) else {}
            continue
        node = node.get(part, {}) if isinstance(node, dict) else {}
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return []
        model = _model_for(field.annotation, node)
    fields = getattr(model, "model_fields", {})
    return [name for name, info in fields.items() if not info.exclude]


def _model_for(annotation: Any, node: Any) -> Any:
    """The BaseModel class a field holds, picking the union member by its 'type' tag."""
    import typing

    candidates: list[Any] = []

    def collect(tp: Any) -> None:
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            candidates.append(tp)
            return
        for arg in typing.get_args(tp):
            collect(arg)

    collect(annotation)
    tag = node.get("type") if isinstance(node, dict) else None
    for candidate in candidates:
        type_field = candidate.model_fields.get("type")
        if (
            tag is not None
            and type_field is not None
            and tag in typing.get_args(type_field.annotation)
        ):
            return candidate
    return candidates[0] if candidates else None


def _env_key(loc: tuple[str | int, ...]) -> str | None:
    if not loc or not all(isinstance(p, str) for p in loc):
        return None
    return "PEERPULSE_" + "__".join(str(p).upper() for p in loc)


def load(explicit: str | None = None) -> Settings:
    return load_settings(find_config_file(explicit))
