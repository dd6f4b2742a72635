"""Plugin discovery edge cases, on real .dist-info folders put on sys.path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from peerpulse.connectors.registry import registry

PLUGIN = '''
from peerpulse.connectors.delivery import DeliveryOutcome, DeliveryState
from peerpulse.connectors.registry import Delivery, Provider
from peerpulse.connectors.settings import ProviderSettings, StrictSettings


class Settings(ProviderSettings):
    pass


def connector(context, settings):
    raise AssertionError("never built here")


NAMED_WRONG = Provider(name="other", settings=Settings, connector=connector)
TAKES_FILES = Provider(name="files", settings=Settings, connector=connector)
NOT_A_PROVIDER = object()
PIGEON = Delivery(
    name="pigeon",
    settings=StrictSettings,
    backend=lambda config, request: None,
)
'''

ENTRY_POINTS = """\
[peerpulse.connectors]
named_wrong = peerpulse_odd:NAMED_WRONG
files = peerpulse_odd:TAKES_FILES
junk = peerpulse_odd:NOT_A_PROVIDER

[peerpulse.delivery]
pigeon = peerpulse_odd:PIGEON
"""


@pytest.fixture
def odd_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    (tmp_path / "peerpulse_odd.py").write_text(PLUGIN)
    info = tmp_path / "peerpulse_odd-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: peerpulse-odd\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    monkeypatch.syspath_prepend(str(tmp_path))
    registry.cache_clear()
    yield
    monkeypatch.undo()
    registry.cache_clear()


def test_bad_entries_are_left_out_with_the_reason_and_the_rest_still_load(odd_plugin):
    found = registry()
    assert "same name" in found.broken["named_wrong"]
    assert "is not a Provider" in found.broken["junk"]
    assert "other" not in found.providers and "junk" not in found.providers
    assert {"google", "memory"} <= set(found.providers)


def test_a_name_claimed_twice_is_refused_for_both(odd_plugin):
    found = registry()
    assert "registered twice" in found.broken["files"]
    assert "files" not in found.providers


def test_a_delivery_backend_registers_on_its_own(odd_plugin):
    assert registry().deliveries["pigeon"].name == "pigeon"


def test_without_the_plugin_the_registry_is_clean():
    registry.cache_clear()
    try:
        assert registry().broken == {}
    finally:
        registry.cache_clear()
