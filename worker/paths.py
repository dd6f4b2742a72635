"""Where peerpulse keeps things, following the XDG Base Directory spec.

systemd's ``StateDirectory=`` and ``ConfigurationDirectory=`` set
``$STATE_DIRECTORY`` / ``$CONFIGURATION_DIRECTORY``; they win when present so
the shipped units need no extra flags.
"""

from __future__ import annotations

import os
from pathlib import Path

APP = "peerpulse"


def _xdg(var: str, fallback: str) -> Path:
    value = os.environ.get(var)
    if value and os.path.isabs(value):
        return Path(value)
    return Path.home() / fallback


def config_dir() -> Path:
    systemd = os.environ.get("CONFIGURATION_DIRECTORY")
    if systemd:
        return Path(systemd.split(":")[0])
    return _xdg("XDG_CONFIG_HOME", ".config") / APP


def state_dir() -> Path:
    systemd = os.environ.get("STATE_DIRECTORY")
    if systemd:
        return Path(systemd.split(":")[0])
    return _xdg("XDG_STATE_HOME", ".local/state") / APP


def default_config_file() -> Path:
    return config_dir() / "config.toml"
