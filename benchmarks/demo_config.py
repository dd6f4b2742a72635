"""The config both benchmarks write: one files account over a generated demo organization."""

from __future__ import annotations

import json
from pathlib import Path


def demo_config_text(
    name: str, org: Path, state: Path, owner: str, aliases: list[str], timezone: str,
    subjects: str = "kept",
) -> str:
    """A config reading everything the demo wrote (ten years back, no retention purge)."""
    return f"""
state_dir = "{state}"
[privacy]
retention_days = 3650
subjects = "{subjects}"
[[accounts]]
name = "{name}"
owner = "{owner}"
aliases = {json.dumps(aliases)}
timezone = "{timezone}"
[accounts.source]
type = "files"
calendar = ["{org}/calendar"]
mail = ["{org}/mail"]
people = ["{org}/people.csv"]
window_past_days = 3650
window_future_days = 60
[accounts.delivery]
type = "file"
dir = "{state}/out"
"""


def write_demo_config(demo: Path, state: Path, config: Path, name: str = "demo") -> dict:
    """Write ``config`` for the demo the generator left in ``demo`` (its ``demo.json``
    names the owner, aliases, zone and subject policy); returns that metadata."""
    meta = json.loads((demo / "demo.json").read_text())
    config.write_text(demo_config_text(
        name, demo.resolve(), state.resolve(), meta["owner"], meta["aliases"],
        meta["timezone"], meta.get("privacy_subjects", "kept"),
    ))
    return meta
